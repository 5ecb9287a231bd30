"""Training the evaluator CNN, and its accuracy.

On labelled data it learns the classes; on unlabelled data (``labels`` None) it learns which of four
rotations each image was given (and, with ``unlabelled_task`` "rotation_colour", in which order its colour
channels were put), a label-free task whose features still separate real from generated images (see
``ganyard.models.evaluator``).
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ganyard.models.evaluator import EvaluatorCNN
from ganyard.params import EvaluatorParams, ParamsError
from ganyard.progress import progress_bar


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


def random_brightness(images: torch.Tensor, brightness: float, rng: torch.Generator) -> torch.Tensor:
    """Add to each image (N, C, H, W) in [-1, 1] one offset drawn uniformly from [-brightness, brightness],
    clamped to [-1, 1]: a generator's grey background (-0.8 instead of -1) must not read as another class."""
    if brightness == 0:
        return images  # no draw, so the evaluator of an earlier run is trained bit for bit again
    offsets = (torch.rand(len(images), 1, 1, 1, generator=rng) * 2 - 1) * brightness
    return (images + offsets).clamp(-1.0, 1.0)


ROTATIONS = 4

# The evaluator trains on this many threads whatever the process runs: threads split the sums of each operation
# differently, training amplifies the difference, and the evaluator is the measuring instrument. A study running
# two experiments at a time with OMP_NUM_THREADS=1 must score on the evaluator `dvc repro` trains on 2 cores (its
# metrics/environment.json says 2 threads). The mode study's runs had two (real FID 0.665 and 0.77) before this.
TRAINING_THREADS = 2


@contextmanager
def torch_threads(count: int):
    """Within: torch's intra-op threads set to ``count``; the process's own count after."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def rotate(images: torch.Tensor, quarter_turns: torch.Tensor) -> torch.Tensor:
    """Rotate each square image (N, C, S, S) by its ``quarter_turns`` (N,) x 90 degrees counter-clockwise."""
    rotated = images.clone()
    for turns in range(1, ROTATIONS):
        chosen = quarter_turns == turns
        rotated[chosen] = torch.rot90(images[chosen], turns, dims=(2, 3))
    return rotated


# The six orders of three colour channels; order 0 leaves an image as it is.
CHANNEL_ORDERS = tuple(itertools.permutations(range(3)))
TASK_CLASSES = {"rotation": ROTATIONS, "rotation_colour": ROTATIONS * len(CHANNEL_ORDERS)}


def rotate_and_reorder(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Colour images (N, 3, S, S), each rotated by ``targets // 6`` quarter turns (as ``rotate``) and its channels
    put in CHANNEL_ORDERS[targets % 6]: the transform whose target (N,) in [0, 24) the task "rotation_colour" predicts."""
    orders = torch.tensor(CHANNEL_ORDERS)[targets % len(CHANNEL_ORDERS)]  # (N, 3): the source channel of each output channel
    rotated = rotate(images, targets // len(CHANNEL_ORDERS))
    return rotated[torch.arange(len(images))[:, None], orders]


def transform_for_task(images: torch.Tensor, targets: torch.Tensor, task: str) -> torch.Tensor:
    """Images (N, C, S, S) transformed as the label-free ``task`` ("rotation" or "rotation_colour") says targets (N,) mean."""
    return rotate(images, targets) if task == "rotation" else rotate_and_reorder(images, targets)


def label_free_task(images: torch.Tensor, task: str, positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image (N, C, S, S) under each of the task's K transforms: images (K N, C, S, S), targets (K N,), target-major
    (position p is image p % N under transform p // N). ``positions`` (M,): only those of the K N, (M, C, S, S) and (M,)."""
    targets = torch.arange(TASK_CLASSES[task]).repeat_interleave(len(images))
    positions = torch.arange(len(targets)) if positions is None else positions
    return transform_for_task(images[positions % len(images)], targets[positions], task), targets[positions]


def train_evaluator(
    images: torch.Tensor, labels: torch.Tensor | None, params: EvaluatorParams, seed: int, classes: int | None = None, progress: bool = True
) -> EvaluatorCNN:
    """Train the evaluator on images (N, C, S, S) in [-1, 1] and labels (N,) of ``classes`` classes
    (default: max label + 1); with ``labels`` None, on the rotation task. Returns it in eval mode. It trains
    on TRAINING_THREADS threads, so that the same params give the same evaluator however the process was started."""
    with torch_threads(TRAINING_THREADS):
        return _train_evaluator(images, labels, params, seed, classes, progress)


def _train_evaluator(
    images: torch.Tensor, labels: torch.Tensor | None, params: EvaluatorParams, seed: int, classes: int | None, progress: bool
) -> EvaluatorCNN:
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    task = params.unlabelled_task
    if labels is None:
        if task == "rotation_colour" and images.shape[1] != 3:
            raise ParamsError(
                f"evaluator.unlabelled_task = 'rotation_colour' reorders 3 colour channels, and these images have {images.shape[1]}; use rotation"
            )
        model = EvaluatorCNN(images.shape[1], TASK_CLASSES[task], params.width, params.feature_dim, task=task)
    else:
        model = EvaluatorCNN(images.shape[1], classes or int(labels.max()) + 1, params.width, params.feature_dim)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    steps_per_epoch = len(images) // params.batch_size
    if steps_per_epoch == 0:
        raise ParamsError(f"evaluator.batch_size = {params.batch_size} is more than the {len(images)} training images; lower it")
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=params.lr, total_steps=params.epochs * steps_per_epoch)
    model.train()
    bar = progress_bar(desc="train_evaluator", unit="it", total=params.epochs * steps_per_epoch, enabled=progress)
    for _ in range(params.epochs):
        order = torch.randperm(len(images), generator=rng)[: steps_per_epoch * params.batch_size]
        for batch in order.split(params.batch_size):
            if labels is None:  # a random rotation (and channel order) per image, and that is the target
                targets = torch.randint(0, TASK_CLASSES[task], (len(batch),), generator=rng)
                inputs = transform_for_task(images[batch], targets, task)
            else:
                inputs, targets = images[batch], labels[batch]
            inputs = random_brightness(random_shift(inputs, params.shift_pixels, rng), params.brightness, rng)
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    bar.close()
    return model.eval()


def stacked_evaluator(digit_classifier: EvaluatorCNN, channels: int) -> EvaluatorCNN:
    """The evaluator of images whose ``channels`` channels are each a digit (Stacked MNIST), from a classifier
    of single-channel digits (``train_evaluator`` on the split's digits): the same weights applied to each channel,
    in eval mode. Its classes are the digits ** channels modes (``EvaluatorCNN``'s task "stacked")."""
    config = digit_classifier.config
    if config["channels"] != 1 or config["task"] != "classes":
        raise ValueError(f"a stacked evaluator is built from a classifier of single-channel digits, not of {config}")
    model = EvaluatorCNN(**{**config, "channels": channels, "classes": config["classes"] ** channels, "task": "stacked"})
    model.load_state_dict(digit_classifier.state_dict())
    return model.eval()


@torch.inference_mode()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor | None, batch_size: int = 500) -> float:
    """Share of images (N, C, S, S) whose argmax logit equals the label; with ``labels`` None, the share of the
    images' four rotations (times six channel orders, for the task "rotation_colour") that are recognized."""
    model.eval()
    if labels is None:
        # the K transforms of every image a batch at a time: all at once would hold K times the data (5.4 GB for
        # 1,147 emoji of 128 px under 24 transforms)
        batches = (label_free_task(images, model.task, positions) for positions in torch.arange(TASK_CLASSES[model.task] * len(images)).split(batch_size))
    else:
        batches = zip(images.split(batch_size), labels.split(batch_size))
    return torch.cat([model(inputs).argmax(1) == targets for inputs, targets in batches]).float().mean().item()
