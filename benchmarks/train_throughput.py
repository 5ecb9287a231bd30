"""Training throughput: ganyard's training iteration vs a plain DCGAN loop; prints figures, asserts nothing.

    PYTHONPATH=src python benchmarks/train_throughput.py [--rounds 7] [--iterations 40] [--start trained]
        [--reference-workers 0] [--reference-data images|tensors]

The reference is written the way pytorch/examples' dcgan/main.py writes it: a torchvision-style dataset
that keeps the images as uint8 and makes each item a PIL image through ToTensor and Normalize, a
shuffling DataLoader over it, BCE on D(x) and D(G(z).detach()), then the generator step on the same
G(z), Adam with the default (per-parameter) implementation, ``zero_grad()``, tensors in torch's default
memory layout. main.py's data workers default to 2; on a 2-core machine they compete with the training
threads and the reference measured slower with them, so 0 is the default here (``--reference-workers``).
``--reference-data tensors`` gives the reference the prepared float images as a TensorDataset instead
(per-item indexing and stacking, no decoding), to show what loading costs it. Two ganyard loops run
beside it, both at main.py's settings (``DCGAN_TRAIN``: Adam 2e-4, no R1 penalty, no moving average):
Algorithm 1 (``train.generator_noise: fresh``, fresh noise for the generator update) and
``train.generator_noise: reuse`` (the generator update on the discriminator update's G(z), as main.py
and ganyard's default recipe). All use the same networks (the default ``model`` params, the same
weights), batch size, images and thread count. They run in alternating rounds, so that a slower or faster spell of the machine falls on
all alike; the median of the per-round ratios is printed, with the GFLOP/s each achieves (floating-point
operations counted by torch's FlopCounterMode over one iteration). ``--start trained`` starts all from
the end of the default run (the networks and Adam states in models/checkpoints/last.pt) instead of from
initialization: a trained discriminator's small values are where flushing denormals shows.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms

from ganyard import paths
from ganyard.models import build_discriminator, build_generator
from ganyard.models.image_layers import ImageConv2d, ImageConvTranspose2d
from ganyard.params import Params
from ganyard.training import make_gan, train

# main.py's training settings, which the loops here are measured at (the default recipe adds R1 and a moving
# average, which cost time per iteration: benchmarks/time_to_quality.py weighs them against what they buy)
DCGAN_TRAIN = {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "batch_size": 64, "r1_gamma": 0.0, "ema": None, "generator_noise": "fresh"}


def dcgan_params(**train_changes) -> Params:
    """The default params with main.py's training settings (``DCGAN_TRAIN``), changed by ``train_changes``."""
    defaults = Params()
    return defaults.model_copy(update={"train": defaults.train.model_copy(update={**DCGAN_TRAIN, **train_changes})})


def training_images(count: int) -> torch.Tensor:
    """The prepared training digits when `dvc repro` made them, else uniform noise of their shape (N, 1, 32, 32) in [-1, 1]."""
    path = paths.TRAIN_DATA
    if path.is_file():
        images = torch.load(path, weights_only=True)["images"]
        return images[torch.arange(count) % len(images)]
    return torch.rand(count, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1


def networks(params: Params, images: torch.Tensor, seed: int = 0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    channels, size = images.shape[1], images.shape[-1]
    return build_generator(params.model, channels=channels, image_size=size), build_discriminator(params.model, channels=channels, image_size=size)


def with_torchs_own_layers(network: nn.Module) -> nn.Module:
    """``network`` with ganyard's image-side convolutions (ganyard.models.image_layers) replaced, in
    place, by the plain torch layers main.py uses, holding the same weights."""
    for parent in list(network.modules()):
        for name, child in parent.named_children():
            if isinstance(child, (ImageConv2d, ImageConvTranspose2d)):
                plain_type = nn.Conv2d if isinstance(child, ImageConv2d) else nn.ConvTranspose2d
                plain = plain_type(child.in_channels, child.out_channels, child.kernel_size, child.stride, child.padding, bias=child.bias is not None)
                plain.load_state_dict(child.state_dict())
                setattr(parent, name, plain)
    return network


class ImagesAsTorchvisionKeepsThem(Dataset):
    """The images as torchvision's MNIST dataset holds and serves them: uint8 storage, and per item a
    PIL image through the transform main.py gives it (ToTensor, Normalize to [-1, 1])."""

    def __init__(self, images: torch.Tensor):
        self.data = ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).squeeze(-1).numpy()
        channels = images.shape[1]
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * channels, (0.5,) * channels)])

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.data[index])), 0


class ReferenceLoop:
    """pytorch/examples dcgan/main.py's inner loop, with the same networks and optimizer settings."""

    def __init__(self, params: Params, images: torch.Tensor, workers: int = 0, data: str = "images"):
        self.generator, self.discriminator = map(with_torchs_own_layers, networks(params, images))
        betas = (params.train.beta1, params.train.beta2)
        self.generator_optimizer = torch.optim.Adam(self.generator.parameters(), lr=params.train.lr, betas=betas, foreach=False)
        self.discriminator_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=params.train.lr, betas=betas, foreach=False)
        dataset = ImagesAsTorchvisionKeepsThem(images) if data == "images" else TensorDataset(images)
        self.loader = DataLoader(dataset, batch_size=params.train.batch_size, shuffle=True, drop_last=True, num_workers=workers, persistent_workers=workers > 0)
        self.latent_dim = params.model.latent_dim
        self.criterion = nn.BCEWithLogitsLoss()  # the networks give logits; main.py's Sigmoid + BCELoss in one

    def run(self, iterations: int) -> None:
        done = 0
        while done < iterations:
            for data in self.loader:
                real = data[0]
                batch_size = real.shape[0]
                self.discriminator.zero_grad()
                output = self.discriminator(real)
                error_real = self.criterion(output, torch.full((batch_size,), 1.0))
                error_real.backward()
                noise = torch.randn(batch_size, self.latent_dim)
                fake = self.generator(noise)
                output = self.discriminator(fake.detach())
                error_fake = self.criterion(output, torch.full((batch_size,), 0.0))
                error_fake.backward()
                self.discriminator_optimizer.step()
                self.generator.zero_grad()
                output = self.discriminator(fake)
                error_generator = self.criterion(output, torch.full((batch_size,), 1.0))
                error_generator.backward()
                self.generator_optimizer.step()
                done += 1
                if done == iterations:
                    return


def load_trained_state(loop, checkpoint: dict) -> None:
    """Both networks and both Adam states of a ganyard checkpoint, into either loop."""
    if isinstance(loop, GanyardLoop):
        loop.gan.load_state_dict(checkpoint["gan"])
        return
    state = checkpoint["gan"]
    for network, optimizer, name in (
        (loop.generator, loop.generator_optimizer, "generator"),
        (loop.discriminator, loop.discriminator_optimizer, "discriminator"),
    ):
        network.load_state_dict(state[name])
        optimizer.load_state_dict(state[f"{name}_optimizer"])
        for group in optimizer.param_groups:  # the loaded groups carry ganyard's fused flag; keep the reference's own
            group.update(fused=None, foreach=False)


class GanyardLoop:
    """ganyard.training.train on the given train params, as the train stage runs it."""

    def __init__(self, params: Params, images: torch.Tensor):
        self.params, self.images = params, images
        self.gan = make_gan(*networks(params, images), params.train)

        self.rng = torch.Generator().manual_seed(0)

    def run(self, iterations: int) -> None:
        batch = self.params.train.batch_size * self.params.train.discriminator_steps
        one_epoch = self.params.train.model_copy(update={"epochs": 1})
        train(self.gan, self.images[: iterations * batch], one_epoch, self.rng, progress=False)


def seconds_for(loop, iterations: int) -> float:
    started = time.perf_counter()
    loop.run(iterations)
    return time.perf_counter() - started


def flops_per_iteration(loop) -> float:
    with FlopCounterMode(display=False) as counter:
        loop.run(1)
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds of each loop (default 7)")
    parser.add_argument("--iterations", type=int, default=40, help="training iterations per round (default 40)")
    parser.add_argument("--start", choices=("init", "trained"), default="init", help="from initialization (default) or the default run's final state")
    parser.add_argument("--reference-workers", type=int, default=0, help="DataLoader workers of the reference (default 0; main.py's default is 2)")
    parser.add_argument(
        "--reference-data",
        choices=("images", "tensors"),
        default="images",
        help="the reference loads uint8 images through PIL and transforms, as main.py (default), or float tensors",
    )
    args = parser.parse_args()
    params = dcgan_params()
    reusing = dcgan_params(generator_noise="reuse")
    batch_size = params.train.batch_size
    images = training_images(max(5000, args.iterations * batch_size))
    loops = {
        "reference": ReferenceLoop(params, images, args.reference_workers, args.reference_data),
        "ganyard, generator_noise: fresh": GanyardLoop(params, images),
        "ganyard, generator_noise: reuse": GanyardLoop(reusing, images),
    }
    if args.start == "trained":
        path = paths.CHECKPOINT
        if not path.is_file():
            raise SystemExit(f"--start trained needs {path}: run `dvc repro` first")
        checkpoint = torch.load(path, weights_only=True)
        for loop in loops.values():
            load_trained_state(loop, checkpoint)
    flops = {name: flops_per_iteration(loop) for name, loop in loops.items()}
    for loop in loops.values():  # warm-up: allocator, oneDNN primitive caches
        loop.run(5)
    seconds = {name: [] for name in loops}
    for _ in range(args.rounds):
        for name, loop in loops.items():
            seconds[name].append(seconds_for(loop, args.iterations))
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(
        f"default model (dcgan, width {params.model.generator_width}/{params.model.discriminator_width}), batch {batch_size}, "
        f"{images.shape[1]}x{images.shape[2]}x{images.shape[3]} images, {args.rounds} rounds of {args.iterations} iterations each, "
        f"from {'the default run' if args.start == 'trained' else 'initialization'}, reference data: {args.reference_data}, {args.reference_workers} DataLoader workers"
    )
    width = max(map(len, loops))
    for name in loops:
        median = statistics.median(seconds[name])
        rate = args.iterations / median
        print(
            f"{name:>{width}}: {rate * batch_size:6.0f} images/s ({rate:.1f} it/s), {flops[name] / 1e9:.2f} GFLOP per iteration, "
            f"{flops[name] * rate / 1e9:.1f} GFLOP/s"
        )
    for name in list(loops)[1:]:
        ratios = [reference / ours for reference, ours in zip(seconds["reference"], seconds[name])]
        print(
            f"{name} / reference images per second: median {statistics.median(ratios):.2f}x over {args.rounds} rounds "
            f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)"
        )


if __name__ == "__main__":
    main()
