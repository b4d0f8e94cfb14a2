"""A run's own random streams.

Nothing in training draws from torch's global generator: latents, class labels,
augmentation and the penalties' random points come from the run's `noise` stream (on
the training device), batches from the data source's own stream, and the EMA
generator's BatchNorm recalibration from a fixed seed of its own. So a run started from
the CLI, the Python API or the app (where previews fire on the wall clock, and Lab and
Generate threads sample beside it) gives the same weights for the same settings, and a
checkpoint carries every stream's state for an exact resume.
"""

import contextlib
import threading

import torch

# Network initialisation uses torch's global generator (every layer's default init does):
# one construction at a time, seeded, with the global state restored afterwards.
_construction_lock = threading.Lock()


@contextlib.contextmanager
def seeded_construction(seed: int):
    """Build networks under `seed`, whatever other threads do with the global generator."""
    with _construction_lock, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class RunRandomness:
    """The noise stream of one run: latents, fake labels, augmentation, penalty points."""

    def __init__(self, seed: int, device: torch.device):
        self.device = torch.device(device)
        self.noise = torch.Generator(device=self.device)
        self.noise.manual_seed(seed)

    def latents(self, num: int, latent_dim: int) -> torch.Tensor:
        return torch.randn(num, latent_dim, device=self.device, generator=self.noise)

    def labels(self, num: int, num_classes: int) -> torch.Tensor | None:
        if not num_classes:
            return None
        return torch.randint(num_classes, (num,), device=self.device, generator=self.noise)

    def reseed(self, seed: int) -> None:
        self.noise.manual_seed(seed)

    def state(self) -> dict[str, torch.Tensor]:
        return {"rng.noise": self.noise.get_state()}

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        self.noise.set_state(tensors["rng.noise"])


def recalibration_generator(device: torch.device, seed: int = 20_151_119) -> torch.Generator:
    """A fresh stream for redrawing BatchNorm statistics: the same draws every time, none of the run's."""
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(seed)
    return generator
