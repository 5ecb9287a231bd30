"""Training the evaluator CNN, and its accuracy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ganyard.models.evaluator import EvaluatorCNN
from ganyard.params import EvaluatorParams


def random_shift(images: torch.Tensor, pixels: int, rng: torch.Generator) -> torch.Tensor:
    """Translate each image by up to ``pixels`` in x and y, filling with background (-1)."""
    if pixels == 0:
        return images
    count, _, height, width = images.shape
    padded = F.pad(images, (pixels, pixels, pixels, pixels), value=-1.0)
    offsets = torch.randint(0, 2 * pixels + 1, (count, 2), generator=rng)
    rows = (offsets[:, 0, None] + torch.arange(height)[None, :])[:, None, :, None]
    cols = (offsets[:, 1, None] + torch.arange(width)[None, :])[:, None, None, :]
    batch = torch.arange(count)[:, None, None, None]
    channel = torch.arange(images.shape[1])[None, :, None, None]
    return padded[batch, channel, rows, cols]


def train_evaluator(images: torch.Tensor, labels: torch.Tensor, params: EvaluatorParams, seed: int, progress: bool = True) -> EvaluatorCNN:
    """Train the classifier on images (N, C, S, S) in [-1, 1] and labels (N,); returns it in eval mode."""
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    classes = int(labels.max()) + 1
    model = EvaluatorCNN(images.shape[1], classes, params.width, params.feature_dim)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    steps_per_epoch = len(images) // params.batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=params.lr, total_steps=params.epochs * steps_per_epoch)
    model.train()
    bar = tqdm(total=params.epochs * steps_per_epoch, desc="train_evaluator", unit="it", disable=not progress, mininterval=0.5)
    for _ in range(params.epochs):
        order = torch.randperm(len(images), generator=rng)[: steps_per_epoch * params.batch_size]
        for batch in order.split(params.batch_size):
            loss = F.cross_entropy(model(random_shift(images[batch], params.shift_pixels, rng)), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    bar.close()
    return model.eval()


@torch.inference_mode()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    """Share of images (N, C, S, S) whose argmax logit equals the label."""
    model.eval()
    predictions = torch.cat([model(chunk).argmax(1) for chunk in images.split(batch_size)])
    return (predictions == labels).float().mean().item()
