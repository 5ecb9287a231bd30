"""Feature backbones: networks that map images to (features, class probabilities).

- ``evaluator``: the domain classifier trained by the train_evaluator stage (its penultimate layer
  and softmax);
- ``inception``: the FID Inception network of pytorch-fid (2048-d pool features) with IS from its
  1008 logits without bias, as torch-fidelity computes them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganyard.io import ArtifactError, load_torch
from ganyard.models.evaluator import load_evaluator
from ganyard.params import EvaluateParams
from ganyard.progress import progress_bar

INCEPTION_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{INCEPTION_WEIGHTS_FILE}"

# A backbone maps images (N, C, S, S) in [-1, 1] to features (N, d) and logits (N, classes).
Backbone = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


# torchvision's InceptionV3 forward up to the pool, without the auxiliary head, dropout and fc.
_FORWARD_BLOCKS = (
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2",
    "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
    "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool",
)  # fmt: skip


class FIDInceptionV3(nn.Module):
    """pytorch-fid's Inception network: images (N, 1 or 3, S, S) in [-1, 1] -> (pool features (N, 2048), logits (N, 1008)).

    torchvision's InceptionV3 with the blocks pytorch-fid patches to match the TensorFlow graph
    the FID weights come from. Input is taken to [0, 1], grey is repeated to RGB, resized to 299x299
    bilinearly (align_corners=False), then scaled to [-1, 1], as pytorch-fid does. The logits are
    the pool features times the final layer's weights without its bias (torch-fidelity's IS).
    """

    def __init__(self):
        super().__init__()
        # Imported here: torchvision takes over a second to import, and only this optional backbone needs it.
        import torchvision
        from pytorch_fid.inception import FIDInceptionA, FIDInceptionC, FIDInceptionE_1, FIDInceptionE_2

        net = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=False)
        net.Mixed_5b = FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = FIDInceptionE_1(1280)
        net.Mixed_7c = FIDInceptionE_2(2048)
        self.net = net.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        unit = (images + 1) / 2
        if unit.shape[1] == 1:
            unit = unit.expand(-1, 3, -1, -1)
        resized = F.interpolate(unit, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * resized - 1
        for name in _FORWARD_BLOCKS:
            x = getattr(self.net, name)(x)
        features = x.flatten(1)
        return features, features @ self.net.fc.weight.T

    def load_weights(self, state_dict: dict) -> None:
        """Load a state dict in torchvision/pytorch-fid naming (the ``.pth`` file's own keys)."""
        self.net.load_state_dict(state_dict)


def inception_weights_path(configured: str | None) -> Path:
    """Where the FID Inception weights are: the configured path, else the torch hub cache."""
    if configured:
        return Path(configured).expanduser()
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE


def missing_inception_weights_message(path: Path, configured: bool) -> str:
    where = "evaluate.inception_weights points to" if configured else "the torch hub cache has no"
    return (
        f"FID Inception weights not found: {where} {path}.\n"
        f"Download {INCEPTION_WEIGHTS_URL}\n"
        f"and put it at {inception_weights_path(None)} (the torch hub cache), or set evaluate.inception_weights "
        f"to the file's path. Or use evaluate.backbone: evaluator, which needs no download."
    )


@torch.inference_mode()
def extract(
    backbone: Backbone, images: torch.Tensor, batch_size: int = 250, desc: str = "features", progress: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a backbone over images (N, C, S, S) in batches: features (N, d) float64, probabilities (N, classes) float64.

    Batches go in channels-last layout: oneDNN's CPU convolutions take 42% less time on it (10,000
    images through the evaluator: 1.74 s instead of 3.02 s), the features agree to float round-off.
    """
    features, logits = [], []
    for chunk in progress_bar(images.split(batch_size), desc=desc, unit="batch", leave=False, enabled=progress):
        chunk_features, chunk_logits = backbone(chunk.contiguous(memory_format=torch.channels_last))
        features.append(chunk_features.double())
        logits.append(chunk_logits.double())
    return torch.cat(features), torch.cat(logits).softmax(dim=1)


def load_backbones(params: EvaluateParams) -> tuple[nn.Module, FIDInceptionV3 | None]:
    """(evaluator, Inception or None) as ``evaluate.backbone`` asks, in eval mode; ArtifactError for missing or foreign weights."""
    evaluator = load_evaluator()
    if params.backbone == "evaluator":
        return evaluator, None
    path = inception_weights_path(params.inception_weights)
    if not path.is_file():
        raise ArtifactError(missing_inception_weights_message(path, configured=bool(params.inception_weights)))
    inception = FIDInceptionV3()
    try:
        inception.load_weights(load_torch(path, "FID Inception weights"))
    except RuntimeError as error:
        raise ArtifactError(
            f"{path} does not hold the FID Inception weights (expected pytorch-fid's {INCEPTION_WEIGHTS_FILE}): {str(error).splitlines()[0]}"
        ) from None
    return evaluator, inception.to(memory_format=torch.channels_last).eval()
