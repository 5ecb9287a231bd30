"""The log of a training run, by dvclive: per-epoch metrics and preview grids, and a summary at the end.

dvclive appends to its files in place, so a kill could leave half a line in a curve DVC tracks. It
writes into a staging folder instead, and after every epoch the files that changed are published,
each whole (``ganyard.io.publish``), to the output folder that dvc.yaml declares.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from dvclive import Live

from ganyard.io import publish
from ganyard.runs import BestGenerator
from ganyard.training import EpochStats


class TrainingLog:
    """dvclive's ``Live`` writing into ``staging``, published file by file to ``output``.

    Use as a context manager: on leaving without an error, dvclive writes its summary (metrics.json)
    and every file goes to ``output``, where the files of a previous, longer run are removed.
    """

    def __init__(self, staging: str | Path, output: str | Path):
        self.staging, self.output = Path(staging), Path(output)
        self.live = Live(str(self.staging), dvcyaml=None, save_dvc_exp=False, report=None)
        self._published: dict = {}  # what publish() has seen of the staging folder, so unchanged files are not read again

    def __enter__(self) -> TrainingLog:
        self.live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        self.live.__exit__(kind, error, traceback)  # writes metrics.json into the staging folder
        if kind is None:
            publish(self.staging, self.output, remove_others=True)

    def write(self, epoch: int, record: dict) -> None:
        """Log one epoch's ``record`` (``{"metrics": {name: value}, "preview": uint8 tensor (H, W, 3)}``) at step ``epoch``."""
        self.live.step = epoch
        for name, value in record["metrics"].items():
            self.live.log_metric(name, value)
        self.live.log_image(f"preview/epoch_{epoch:04d}.png", record["preview"].numpy())

    def publish(self) -> None:
        """Copy what changed in the staging folder to the output folder, each file whole."""
        publish(self.staging, self.output, seen=self._published)

    def summarize(self, history: list[EpochStats], best: BestGenerator) -> None:
        """The run's totals of updates and skips, and the epoch and quick FID of the best generator when one was chosen."""
        self.live.summary["generator_updates"] = sum(stats.generator_updates for stats in history)
        self.live.summary["discriminator_updates"] = sum(stats.discriminator_updates for stats in history)
        self.live.summary["discriminator_skipped"] = sum(stats.discriminator_skipped for stats in history)
        if best.epoch is not None:
            self.live.summary["best_epoch"], self.live.summary["best_fid"] = best.epoch, best.fid
