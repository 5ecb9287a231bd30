"""Walks through a generator's inputs: spherical interpolation between latent points, and morphs between classes.

A row of an interpolation figure runs from one fixed z to another by ``slerp`` (z ~ N(0, I) lives near a
sphere of radius sqrt(latent_dim), which a straight line would leave through its inside, where the
generator saw no z in training); a row of a class morph keeps one z and moves the class input from one
class's one-hot row to the next's. Both are drawn as a still grid (a row per walk) and as an animated GIF
in which every tile walks its row there and back.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from ganyard import paths
from ganyard.images import to_grid
from ganyard.io import save_png, write_atomic
from ganyard.sampling import draw_noise, generate

FRAME_MILLISECONDS = 120  # per GIF frame: ten steps there and back in about two seconds
GIF_WIDTH = 256  # pixels at least, where a whole multiple of the grid's width allows


def slerp(start: torch.Tensor, end: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: rows ``start``, ``end`` (N, D) and ``fractions`` (T,) in [0, 1] -> (N, T, D).

    The direction moves along the great circle between the two directions, the norm linearly between the
    two norms; where the directions are (anti)parallel, the direction moves along the straight line.
    """
    t = fractions.view(1, -1, 1).to(start.dtype)
    start_norm, end_norm = start.norm(dim=1, keepdim=True).unsqueeze(1), end.norm(dim=1, keepdim=True).unsqueeze(1)  # (N, 1, 1)
    a, b = start.unsqueeze(1) / start_norm, end.unsqueeze(1) / end_norm
    angle = torch.arccos((a * b).sum(dim=2, keepdim=True).clamp(-1, 1))
    sine = torch.sin(angle)
    parallel = sine.abs() < 1e-6
    circle = (torch.sin((1 - t) * angle) * a + torch.sin(t * angle) * b) / torch.where(parallel, torch.ones_like(sine), sine)
    direction = torch.where(parallel, torch.lerp(a, b, t), circle)
    return direction / direction.norm(dim=2, keepdim=True).clamp_min(1e-12) * torch.lerp(start_norm, end_norm, t)


def latent_walks(generator: nn.Module, rows: int, steps: int, rng: torch.Generator, truncation: float | None = None) -> torch.Tensor:
    """(rows * steps, latent_dim): ``rows`` walks of ``steps`` z each, by ``slerp`` from one drawn z to another
    (drawn as ``draw_noise`` draws, truncated alike), row by row."""
    ends = draw_noise(generator, 2 * rows, rng, truncation)
    return slerp(ends[:rows], ends[rows:], torch.linspace(0, 1, steps)).reshape(rows * steps, -1)


def class_morphs(classes: int, steps: int) -> torch.Tensor:
    """(classes * steps, classes) class weights: row c moves from class c's one-hot row to class c + 1's (the last to class 0)."""
    eye = torch.eye(classes)
    fractions = torch.linspace(0, 1, steps).view(1, -1, 1)
    return torch.lerp(eye.unsqueeze(1), eye.roll(-1, dims=0).unsqueeze(1), fractions).reshape(classes * steps, classes)


def save_walk_gif(images: torch.Tensor, rows: int, path: str | Path) -> Path:
    """An animated GIF of ``images`` (rows * steps, C, H, W) in [-1, 1]: one tile per row, in a square-ish grid,
    each stepping along its row and back, looping forever; enlarged by a whole factor to about ``GIF_WIDTH``."""
    steps = len(images) // rows
    walks = images.view(rows, steps, *images.shape[1:])
    order = [*range(steps), *range(steps - 2, 0, -1)]  # there and back, the ends shown once
    columns = math.ceil(math.sqrt(rows))
    frames = [to_grid(walks[:, step], columns=columns) for step in order]
    zoom = max(1, GIF_WIDTH // frames[0].width)  # small images drawn larger, pixels kept sharp
    frames = [frame.resize((frame.width * zoom, frame.height * zoom), Image.Resampling.NEAREST) for frame in frames]
    frames = [frame.convert("P", palette=Image.Palette.ADAPTIVE) if frame.mode == "RGB" else frame for frame in frames]  # GIF: 256 colours
    return write_atomic(
        path, lambda temporary: frames[0].save(temporary, format="GIF", save_all=True, append_images=frames[1:], duration=FRAME_MILLISECONDS, loop=0)
    )


def write_walks(generator: nn.Module, rows: int, steps: int, rng: torch.Generator, truncation: float | None = None) -> list[Path]:
    """Draw and write the sample stage's walks: ``paths.SAMPLE_INTERPOLATION`` .png and .gif, ``rows`` latent walks of
    ``steps`` images (row r of a conditional generator in class r mod classes), and for a conditional generator
    ``paths.SAMPLE_CLASS_MORPH`` .png and .gif, a morph from each class to the next at one fixed z per row.
    The z come from ``rng`` in that order. Returns the paths written."""
    classes = generator.classes
    labels = (torch.arange(rows) % classes).repeat_interleave(steps) if classes else None
    walks = {paths.SAMPLE_INTERPOLATION: (latent_walks(generator, rows, steps, rng, truncation), labels)}
    if classes:
        walks[paths.SAMPLE_CLASS_MORPH] = (draw_noise(generator, classes, rng, truncation).repeat_interleave(steps, dim=0), class_morphs(classes, steps))
    written = []
    for stem, (noise, walk_labels) in walks.items():
        images = generate(generator, noise, walk_labels, truncation=truncation)
        written.append(save_png(to_grid(images, columns=steps), stem.with_suffix(".png")))
        written.append(save_walk_gif(images, len(images) // steps, stem.with_suffix(".gif")))
    return written
