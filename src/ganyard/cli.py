"""What every stage script shares: read and validate params, turn known failures into clear messages."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from pathlib import Path

from ganyard.io import ArtifactError, DataError, load_torch, write_error_message
from ganyard.params import EvaluateParams, Params, ParamsError, load_params


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


def load_evaluator(path: str | Path = "models/evaluator.pt"):
    """The trained evaluator CNN from the train_evaluator stage, in eval mode."""
    import torch

    from ganyard.models.evaluator import EvaluatorCNN

    saved = load_torch(path, "evaluator")
    model = EvaluatorCNN(**saved["config"])
    model.load_state_dict(saved["state_dict"])
    return model.to(memory_format=torch.channels_last).eval()  # the layout its inputs get (backbones.extract)


def load_backbones(params: EvaluateParams):
    """(evaluator, inception or None) as ``evaluate.backbone`` asks; clear errors for missing weights."""
    evaluator = load_evaluator()
    if params.backbone == "evaluator":
        return evaluator, None
    import torch

    from ganyard.metrics.backbones import FIDInceptionV3, inception_weights_path, missing_inception_weights_message

    path = inception_weights_path(params.inception_weights)
    if not path.is_file():
        raise StageError(missing_inception_weights_message(path, configured=bool(params.inception_weights)))
    inception = FIDInceptionV3()
    try:
        inception.load_weights(load_torch(path, "FID Inception weights"))
    except RuntimeError as error:
        raise StageError(f"{path} does not hold the FID Inception weights (expected pytorch-fid's pt_inception-2015-12-05-6726825d.pth): {str(error).splitlines()[0]}") from None
    return evaluator, inception.to(memory_format=torch.channels_last).eval()
