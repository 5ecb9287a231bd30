"""What every stage script shares: ``run_stage`` reads and validates params and turns known failures into
one clear message and exit status 2 (``StageError`` for the failures a stage names itself)."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from pathlib import Path

from ganyard.io import ArtifactError, DataError, write_error_message
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
    except (ParamsError, ArtifactError, StageError, DataError) as error:
        print(f"ganyard {name}: {error}", file=sys.stderr)
        sys.exit(2)
    except OSError as error:  # a write outside ganyard.io (dvclive's logs, a library's cache): still no traceback
        if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        print(f"ganyard {name}: {write_error_message(Path(error.filename or '?'), error)}", file=sys.stderr)
        sys.exit(2)
