"""Experience replay for the discriminator (Shrivastava et al. 2017; Pfau & Vinyals 2016).

The discriminator sees a mix of the current generator's images and images kept from earlier
generators, so it cannot forget what old modes looked like and the generator cannot cycle back to them.
"""

from __future__ import annotations

import torch


class ReplayBuffer:
    """Holds up to ``size`` generated images (on the CPU) and mixes them into batches.

    ``mix(fake)`` returns a batch of the same shape in which round(fraction * N) images are drawn
    at random from the buffer (once it holds that many) and the rest are the current ones; then the
    current images enter the buffer, filling it first and afterwards replacing random entries.
    """

    def __init__(self, size: int, fraction: float, rng: torch.Generator):
        self.size, self.fraction, self.rng = size, fraction, rng
        self.images: torch.Tensor | None = None
        self.count = 0

    def mix(self, fake: torch.Tensor) -> torch.Tensor:
        old_count = round(self.fraction * len(fake))
        mixed = fake
        if old_count and self.count >= old_count:
            chosen = torch.randperm(self.count, generator=self.rng)[:old_count]
            mixed = torch.cat([self.images[chosen].to(fake.device), fake[old_count:]])
        self.push(fake)
        return mixed

    def push(self, fake: torch.Tensor) -> None:
        fake = fake.detach().cpu()
        if self.images is None:
            self.images = torch.empty((self.size, *fake.shape[1:]), dtype=fake.dtype)
        free = min(self.size - self.count, len(fake))
        self.images[self.count : self.count + free] = fake[:free]
        self.count += free
        rest = fake[free:]
        if len(rest):
            slots = torch.randperm(self.size, generator=self.rng)[: len(rest)]
            self.images[slots] = rest[: len(slots)]

    def state_dict(self) -> dict:
        """The buffer's contents, for checkpoints (its random generator is the training run's)."""
        return {"size": self.size, "fraction": self.fraction, "images": self.images, "count": self.count}

    @classmethod
    def from_state_dict(cls, state: dict, rng: torch.Generator) -> ReplayBuffer:
        buffer = cls(state["size"], state["fraction"], rng)
        buffer.images, buffer.count = state["images"], state["count"]
        return buffer
