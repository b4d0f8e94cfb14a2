"""The image-to-image update step: `TranslationObjective`, a GANObjective whose generator
maps `batch.condition`, with a pixel loss (L1 or Charbonnier), the adversarial loss,
feature matching in D's features (a perceptual term that needs no download) and, when
VGG-19 weights are present, a VGG perceptual term. The tasks that map a picture to a
picture (gan_space.tasks) train with it."""

import os
from dataclasses import replace
from pathlib import Path

import torch

from ..losses import RELATIVISTIC_LOSSES, generator_loss
from ..names import PIXEL_LOSSES, implemented
from ..pairs import match_channels
from .gan import Batch, GANObjective

CHARBONNIER_EPSILON = 1e-3
VGG_WEIGHTS_ENV = "GAN_SPACE_VGG19"  # a safetensors file of torchvision's vgg19 `features.*` weights
DEFAULT_VGG_WEIGHTS = Path("~/.cache/gan_space/vgg19.safetensors")


def _l1(difference: torch.Tensor) -> torch.Tensor:
    return difference.abs().mean()


def _charbonnier(difference: torch.Tensor) -> torch.Tensor:
    """A smooth L1 (LapSRN): the same optimum, no kink at zero."""
    return torch.sqrt(difference**2 + CHARBONNIER_EPSILON**2).mean()


def _mse(difference: torch.Tensor) -> torch.Tensor:
    """L2: its optimum is the mean of the possible targets (next frames: a blur of the possible futures)."""
    return (difference**2).mean()


PIXEL_LOSS_FUNCTIONS = implemented("pixel loss", PIXEL_LOSSES,
                                   {"l1": _l1, "charbonnier": _charbonnier, "mse": _mse})
PIXEL_LOSS_LABELS = implemented("pixel loss label", PIXEL_LOSSES, {"l1": "L1", "charbonnier": "Charbonnier", "mse": "L2"})


def pixel_loss(kind: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return PIXEL_LOSS_FUNCTIONS[kind](output.float() - target.float())


class TranslationObjective(GANObjective):
    """GANObjective for pairs: G maps `batch.condition`; G's loss is

        pixel_weight * L1 (or Charbonnier) to the target
        + adversarial_weight * the adversarial loss (config.loss; "rpgan" pairs each target
          with the output made from its own input: ESRGAN's relativistic game)
        + feature_weight * L1 between D's features of output and target (feature matching,
          pix2pixHD: a perceptual term learnt with D, no download)
        + perceptual_weight * L1 between VGG-19 features (only with the weights present).

    A conditional discriminator (pix2pix's) takes the input where class-conditional ones
    take labels, so D's terms, R1/R2 and the gradient penalty are the base class's. With
    adversarial_weight = feature_weight = 0 the discriminator is not trained at all (the
    L1-only "SRResNet" baseline costs only the generator's steps), nor is it during the
    first `pixel_warmup` steps: ESRGAN's recipe, a PSNR-oriented model first and the GAN
    from there, in one run (the phase follows the step, so a resumed run is in the same one)."""

    def __init__(self, config, device, precision, randomness, dist=None):
        super().__init__(config, device, precision, randomness, dist)
        self.pixel_kind = config.pixel_loss
        self.content_loss = ("pixel", f"pixel {PIXEL_LOSS_LABELS[config.pixel_loss]} (G)")
        self.pixel_weight = config.pixel_weight
        self.adversarial_weight = config.adversarial_weight
        self.feature_weight = config.feature_weight
        self.perceptual_weight = config.perceptual_weight
        self.pixel_warmup = config.pixel_warmup
        self.adversarial_now = self.uses_discriminator and self.pixel_warmup == 0  # set by each D step
        # Flips are made on the pairs (gan_space.pairs.Pairing), both sides alike; augmenting what
        # D sees would mirror an output but not the input it is judged with.
        self.augment_kind = "none"
        self.perceptual = VGGFeatures.load(vgg_weights_path()).to(device) if self.perceptual_weight > 0 else None

    @property
    def uses_discriminator(self) -> bool:
        return self.adversarial_weight > 0 or self.feature_weight > 0

    def generate(self, networks, batch: Batch, grad: bool) -> torch.Tensor:
        with self.autocast(), torch.set_grad_enabled(grad):
            return networks.G_forward(batch.condition)

    @staticmethod
    def judged(networks, batch: Batch) -> Batch:
        """The batch as D sees it: a conditional D gets the input where labels go."""
        if networks.discriminator.config.condition_channels:
            return replace(batch, real_labels=batch.condition, fake_labels=batch.condition)
        return batch

    def discriminator_terms(self, networks, batch: Batch, fake: torch.Tensor, step: int, logs: dict) -> dict:
        return super().discriminator_terms(networks, self.judged(networks, batch), fake, step, logs)

    def discriminator_step(self, networks, batch: Batch, step: int, keep_fake_graph: bool = True):
        self.adversarial_now = self.uses_discriminator and step >= self.pixel_warmup
        if self.adversarial_now:
            return super().discriminator_step(networks, batch, step, keep_fake_graph)
        fake = self.generate(networks, batch, grad=keep_fake_graph)
        zero = torch.zeros((), device=fake.device)
        nan = torch.full((), float("nan"), device=fake.device)
        return fake, {"d": zero, "d_total": zero, "d_real": nan, "d_fake": nan}

    def generator_terms(self, networks, batch: Batch, fake: torch.Tensor, logs: dict) -> dict:
        target = batch.real
        pixel = pixel_loss(self.pixel_kind, fake, target)
        logs["pixel"] = pixel.detach()
        terms = {"pixel": self.pixel_weight * pixel} if self.pixel_weight > 0 else {}
        if self.adversarial_now:
            judged = self.judged(networks, batch)
            need_real = self.loss in RELATIVISTIC_LOSSES or self.feature_weight > 0
            with self.autocast():
                fake_logits, fake_features = networks.D_forward(fake, judged.fake_labels, return_features=True)
                real_logits = real_features = None
                if need_real:  # constants for G: no graph
                    with torch.no_grad():
                        real_logits, real_features = networks.D_forward(target, judged.real_labels,
                                                                        return_features=True)
            fake_logits = fake_logits.float()
            real_logits = real_logits.float() if real_logits is not None else None
            if self.adversarial_weight > 0:
                adversarial = generator_loss(self.loss, fake_logits, real_logits)
                terms["adversarial"] = self.adversarial_weight * adversarial
                logs["adversarial"] = adversarial.detach()
            if self.feature_weight > 0:
                matching = sum((f.float() - r.float()).abs().mean() for f, r in zip(fake_features, real_features))
                terms["features"] = self.feature_weight * matching / len(fake_features)
            relative = fake_logits if real_logits is None else fake_logits - real_logits
            logs["g_fake"] = torch.sigmoid(relative.detach()).mean()
        if self.perceptual is not None:
            with self.autocast():
                terms["perceptual"] = self.perceptual_weight * self.perceptual.distance(fake, target)
        return terms


# ---------------------------------------------------------------------------
# A VGG-19 perceptual term, only from weights the user has


def vgg_weights_path() -> Path | None:
    for candidate in (os.environ.get(VGG_WEIGHTS_ENV), DEFAULT_VGG_WEIGHTS):
        if candidate and Path(candidate).expanduser().is_file():
            return Path(candidate).expanduser()
    return None


class VGGFeatures(torch.nn.Module):
    """VGG-19's convolutions up to conv5_4 before its activation (ESRGAN's perceptual layer),
    loaded from a safetensors file with torchvision's key names (`features.0.weight`, ...).
    Nothing is downloaded and nothing is unpickled."""

    LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
    MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def __init__(self):
        super().__init__()
        layers, channels = [], 3
        for item in self.LAYOUT:
            if item == "M":
                layers.append(torch.nn.MaxPool2d(2))
            else:
                layers += [torch.nn.Conv2d(channels, item, 3, 1, 1), torch.nn.ReLU()]
                channels = item
        self.features = torch.nn.Sequential(*layers[:-1])  # conv5_4 before its ReLU
        self.register_buffer("mean", torch.tensor(self.MEAN).reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(self.STD).reshape(1, 3, 1, 1))
        self.requires_grad_(False)

    @classmethod
    def load(cls, path: Path) -> "VGGFeatures":
        from safetensors.torch import load_file

        network = cls()
        tensors = {key: value for key, value in load_file(path).items() if key.startswith("features.")}
        try:
            network.load_state_dict({**tensors, "mean": network.mean, "std": network.std})
        except RuntimeError as error:
            raise ValueError(f"{path} does not hold torchvision's VGG-19 'features.*' weights ({str(error)[:200]})") \
                from None
        return network.eval()

    def distance(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        def features(x):
            x = match_channels(x.float(), 3)
            return self.features(((x + 1) / 2 - self.mean) / self.std)

        with torch.no_grad():
            reference = features(target)
        return (features(output) - reference).abs().mean()


__all__ = ["TranslationObjective", "pixel_loss", "VGGFeatures", "vgg_weights_path",
           "VGG_WEIGHTS_ENV", "DEFAULT_VGG_WEIGHTS"]
