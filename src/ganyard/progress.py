"""The one progress bar that every long step shows: training, the evaluator, features, image folders, style transfer."""

from __future__ import annotations

from collections.abc import Iterable

from tqdm import tqdm


def progress_bar(
    iterable: Iterable | None = None, *, desc: str, unit: str, total: int | None = None, initial: int = 0, leave: bool = True, enabled: bool = True
) -> tqdm:
    """A tqdm bar on stderr over ``iterable`` (or updated by hand up to ``total``), starting at ``initial``.

    Redrawn at most twice a second, so it costs nothing in tight loops and keeps DVC's captured logs
    short; as wide as the terminal; ``leave=False`` clears it when done (for inner steps);
    ``enabled=False`` shows nothing (tests, the other processes under torchrun).
    """
    return tqdm(iterable, desc=desc, unit=unit, total=total, initial=initial, leave=leave, disable=not enabled, dynamic_ncols=True, mininterval=0.5)
