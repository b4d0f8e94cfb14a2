"""Differentiable augmentations applied to everything the discriminator sees, real
and generated alike, so the generator does not learn the augmentations
(DiffAugment, Zhao et al., 2020). They keep D from memorising small datasets.

"ada" applies DiffAugment's colour, translation and cutout to each sample with a
probability p that `AdaptiveAugment` raises while D overfits and lowers while it does
not (the heuristic of StyleGAN2-ADA, Karras et al., 2020): a large set trains on plain
pictures, a small one gets as much augmentation as it needs, without the user choosing.
"""

import torch
import torch.distributed
import torch.nn.functional as F

from . import names


def augment(images: torch.Tensor, kind: str, generator: torch.Generator | None = None,
            probability: torch.Tensor | float = 1.0) -> torch.Tensor:
    """`generator`: the run's noise stream (on the images' device); None draws from torch's global one.
    `probability`: for "ada", the chance that each sample gets each augmentation (p)."""
    if kind not in _AUGMENT_FUNCTIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {kind!r}")
    if images.dim() != 4:  # 2-D points: nothing to augment
        return images
    return _AUGMENT_FUNCTIONS[kind](images, generator, probability)


def _diffaugment(x: torch.Tensor, generator=None) -> torch.Tensor:
    return _cutout(_translate(_brightness_contrast(_random_flip(x, generator), generator), generator=generator),
                   generator=generator)


def adaptive_augment(x: torch.Tensor, probability: torch.Tensor | float, generator=None) -> torch.Tensor:
    """Colour, translation and cutout, each applied to each sample with `probability`
    (a number, or a 0-d tensor on x's device so that no value is read back to the host).

    Every augmentation is computed for the whole batch and kept where chosen: the same
    random draws every step whatever p is, so a run's stream stays reproducible, and on
    these image sizes the element-wise work is a few percent of a step."""
    def chosen():
        return torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=generator) < probability

    x = torch.where(chosen(), _colour(x, generator), x)
    x = torch.where(chosen(), _translate(x, generator=generator), x)
    return torch.where(chosen(), _cutout(x, generator=generator), x)


class AdaptiveAugment:
    """The probability p of "ada" and how it follows D's overfitting.

    D's logits on the (augmented) real samples it trains on are watched: r_t =
    E[sign(logit)] over the last `interval` steps. When D calls almost all training
    pictures real (r_t above `target`, 0.6 as in ADA), it is memorising them and p goes
    up; otherwise down. ADA moves p by at most 1 per 500k images, for runs of tens of
    millions; CPU runs here see 0.1-1M images, so p moves by at most 1 per
    `images_to_full` = 100k images (0 -> 1 within ~7 minutes of a 32 px run on a 2-core
    CPU): fast enough to act within a short run, slow enough to average over hundreds of
    steps.

    Everything is a tensor on the training device (no host sync per step); `state()` /
    `load_state()` carry p and the running sums through checkpoints for an exact resume.
    """

    def __init__(self, device: torch.device, target: float = 0.6, interval: int = 4,
                 images_to_full: int = 100_000, dist=None):
        self.target, self.interval, self.images_to_full = target, interval, images_to_full
        self.dist = dist  # several processes: every rank adjusts p by the same, all-rank r_t
        self.p = torch.zeros((), device=device)
        self.sign_sum = torch.zeros((), device=device)
        self.count = torch.zeros((), device=device)
        self.observed = 0  # D steps seen (several per step with d_steps > 1)

    @torch.no_grad()
    def observe(self, real_logits: torch.Tensor) -> None:
        """Count the signs of one D step's real logits; adjust p every `interval` D steps
        (counted here, so several D steps per training step count as many)."""
        self.sign_sum += real_logits.detach().float().sign().sum()
        self.count += real_logits.numel()
        self.observed += 1
        if self.observed % self.interval == 0:
            sums = torch.stack([self.sign_sum, self.count])
            if self.dist is not None:
                torch.distributed.all_reduce(sums)
            r_t = sums[0] / sums[1].clamp(min=1)
            self.p.add_(torch.sign(r_t - self.target) * sums[1] / self.images_to_full).clamp_(0.0, 1.0)
            self.sign_sum.zero_()
            self.count.zero_()

    def state(self) -> dict[str, torch.Tensor]:
        return {"augment.p": self.p.detach().cpu().clone(), "augment.sign_sum": self.sign_sum.detach().cpu().clone(),
                "augment.count": self.count.detach().cpu().clone(),
                "augment.observed": torch.tensor(self.observed, dtype=torch.int64)}

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        for name in ("p", "sign_sum", "count"):
            if f"augment.{name}" in tensors:
                getattr(self, name).copy_(tensors[f"augment.{name}"])
        if "augment.observed" in tensors:
            self.observed = int(tensors["augment.observed"])


def _random_flip(x: torch.Tensor, generator=None) -> torch.Tensor:
    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=generator) < 0.5
    return torch.where(flip, x.flip(3), x)


def _brightness_contrast(x: torch.Tensor, generator=None) -> torch.Tensor:
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, generator=generator).to(x.dtype) - 0.5)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, generator=generator).to(x.dtype) + 0.5) + mean


def _colour(x: torch.Tensor, generator=None) -> torch.Tensor:
    """DiffAugment's colour: brightness, saturation and contrast, each by a random amount."""
    n = x.shape[0]

    def uniform():
        return torch.rand(n, 1, 1, 1, device=x.device, generator=generator).to(x.dtype)

    x = x + (uniform() - 0.5)
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * (uniform() * 2) + grey
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (uniform() + 0.5) + mean


def _translate(x: torch.Tensor, ratio: float = 0.125, generator=None) -> torch.Tensor:
    n, _, h, w = x.shape
    pad = max(1, int(h * ratio + 0.5))
    padded = F.pad(x, (pad, pad, pad, pad))
    dx = torch.randint(0, 2 * pad + 1, (n,), device=x.device, generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), device=x.device, generator=generator)
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])  # (n, h)
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])  # (n, w)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def _cutout(x: torch.Tensor, ratio: float = 0.5, generator=None) -> torch.Tensor:
    n, _, h, w = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h, (n, 1, 1), device=x.device, generator=generator)
    cx = torch.randint(0, w, (n, 1, 1), device=x.device, generator=generator)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    keep = ((ys - cy).abs() >= size_h // 2) | ((xs - cx).abs() >= size_w // 2)
    return x * keep[:, None].to(x.dtype)


# kind -> (images, generator, probability) -> augmented images, for exactly the names of
# gan_space.names.AUGMENTATIONS (checked here, at import).
_AUGMENT_FUNCTIONS = names.implemented("augmentation", names.AUGMENTATIONS, {
    "none": lambda x, generator, probability: x,
    "flip": lambda x, generator, probability: _random_flip(x, generator),
    "diffaugment": lambda x, generator, probability: _diffaugment(x, generator),
    "ada": lambda x, generator, probability: adaptive_augment(x, probability, generator),
})
AUGMENTATIONS = tuple(_AUGMENT_FUNCTIONS)
