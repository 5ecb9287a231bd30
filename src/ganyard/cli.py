"""What every stage script shares: read and validate params, turn known failures into clear messages."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from ganyard.io import ArtifactError
from ganyard.params import Params, ParamsError, load_params


class StageError(RuntimeError):
    """A failure with a message meant for the user (bad input, impossible combination of params)."""


def run_stage(name: str, main: Callable[[Params], None], params_path: str | Path = "params.yaml") -> None:
    """Validate ``params_path`` before any compute, then call ``main(params)``.

    Known failures print one clear message on stderr and exit with status 2; nothing is written.
    """
    try:
        params = load_params(params_path)
        main(params)
    except (ParamsError, ArtifactError, StageError) as error:
        print(f"ganyard {name}: {error}", file=sys.stderr)
        sys.exit(2)
