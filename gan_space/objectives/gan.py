"""The one GAN update: the discriminator step and the generator step, with their
penalties, augmentation, class labels, precision and gradient averaging across
processes. The trainer and the Lab both update through it, so every loss behaves the
same in both.

    objective = GANObjective(config, device, precision, randomness)
    fake, d_logs = objective.discriminator_step(networks, batch, step)
    g_logs = objective.generator_step(networks, batch, fake)     # reuses the fakes' graph

A loss with an extra term, or a different batch, is a subclass that overrides one of
the parts (after stylegan2-ada's `loss.accumulate_gradients(phase, ...)`):

- `generate(networks, batch, grad)`: what G makes from a batch (latents and labels
  here; an image-to-image objective maps `batch.condition` instead);
- `discriminator_terms(...)` / `generator_terms(...)`: the named, weighted terms whose
  sum each network minimises; add a term by calling super() and adding one (a paired
  L1 term);
- `discriminate(networks, images, labels, logs)`: D's pass over the D step's batch, for a
  term that needs D's inner features from that same pass (FastGAN's reconstruction,
  gan_space.models.fastgan).
"""

from dataclasses import dataclass

import torch

from ..augment import AdaptiveAugment, augment
from ..devices import autocast_context
from ..losses import RELATIVISTIC_LOSSES, discriminator_loss, generator_loss, gradient_penalty, zero_centred_penalties


@dataclass
class Batch:
    """One step's inputs, on the training device."""

    real: torch.Tensor  # what D should call real, normalised (images in [-1, 1])
    real_labels: torch.Tensor | None
    latents: torch.Tensor  # the generator's input noise
    fake_labels: torch.Tensor | None  # the classes G is asked for (None: unconditional)
    condition: torch.Tensor | None = None  # image-to-image objectives: the picture G maps


class GANObjective:
    """Adversarial loss (config.loss) + R1 and R2 (lazy, every config.r1_every steps) +
    WGAN-GP's gradient penalty, with config.augment on everything D sees (augment="ada":
    with the adaptive probability this objective keeps, see `state()`)."""

    uses_discriminator = True  # (an image-to-image step without a GAN term trains none: TranslationObjective)
    # The log of the term that keeps an output true to its input (image-to-image), and its name on
    # a plot: the pixel loss, PatchNCE or the cycle; None for a GAN from noise.
    content_loss: tuple[str, str] | None = None

    def __init__(self, config, device: torch.device, precision: str, randomness, dist=None):
        self.loss = config.loss
        self.r1_gamma, self.r1_every = config.r1_gamma, config.r1_every
        self.r2_gamma = getattr(config, "r2_gamma", 0.0)
        self.gp_weight = config.gp_weight
        self.augment_kind = config.augment
        self.device, self.precision = device, precision
        self.randomness = randomness
        self.dist = dist  # several processes: gradients are averaged before each optimiser step
        # augment="ada": the probability p lives here (it follows D) and goes into checkpoints.
        self.adaptive = AdaptiveAugment(device, dist=dist) if config.augment == "ada" else None

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        p = self.adaptive.p if self.adaptive is not None else 1.0
        return augment(images, self.augment_kind, self.randomness.noise, probability=p)

    def state(self) -> dict[str, torch.Tensor]:
        """What a checkpoint needs to resume this objective exactly (ADA's p and its sums)."""
        return self.adaptive.state() if self.adaptive is not None else {}

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        if self.adaptive is not None:
            self.adaptive.load_state(tensors)

    def autocast(self):
        return autocast_context(self.device, self.precision)

    # -- the parts a subclass may extend ------------------------------------------------

    def generate(self, networks, batch: Batch, grad: bool) -> torch.Tensor:
        with self.autocast(), torch.set_grad_enabled(grad):
            return networks.G_forward(batch.latents, batch.fake_labels)

    def discriminate(self, networks, images: torch.Tensor, labels: torch.Tensor | None, logs: dict):
        """D's logits on the D step's `images` (augmented reals, then as many fakes), and any
        extra terms computed from the same pass (a subclass: e.g. a decoder on D's features
        that reconstructs the real half). Runs under autocast."""
        return networks.D_forward(images, labels), {}

    def discriminator_terms(self, networks, batch: Batch, fake: torch.Tensor, step: int, logs: dict) -> dict:
        """The discriminator's loss as named, weighted terms. Writes what to log into `logs`."""
        D = networks.discriminator
        with self.autocast():
            # Real and generated samples go through D as one batch: larger matrix products run
            # faster (~6% of a 64x64 step on a CPU), and D has no batch statistics, so every
            # sample's logit is what it would be on its own.
            both = torch.cat([self.augment(batch.real), self.augment(fake.detach())])
            labels = torch.cat([batch.real_labels, batch.fake_labels]) if batch.real_labels is not None else None
            logits, extra_terms = self.discriminate(networks, both, labels, logs)
            real_logits, fake_logits = logits.float().chunk(2)  # equal halves, packs too
            terms = {"adversarial": discriminator_loss(self.loss, real_logits, fake_logits), **extra_terms}
        logs["d"] = terms["adversarial"].detach()  # the D curve: lazy R1 would add a spike every r1_every steps
        if self.loss in RELATIVISTIC_LOSSES:
            # Only differences of logits mean anything here (a constant added to all is free), so
            # D(x) is the chance that a real sample out-scores its paired fake, D(G(z)) the reverse.
            margin = (real_logits - fake_logits).detach()
            logs["d_real"], logs["d_fake"] = torch.sigmoid(margin).mean(), torch.sigmoid(-margin).mean()
        else:
            margin = real_logits.detach()
            logs["d_real"] = torch.sigmoid(real_logits.detach()).mean()
            logs["d_fake"] = torch.sigmoid(fake_logits.detach()).mean()
        if self.adaptive is not None:
            # ADA's overfitting signal: how sure D is that the pictures it trains on are real.
            self.adaptive.observe(margin)
            logs["augment_p"] = self.adaptive.p.clone()
        if self.loss == "wgan-gp" and self.gp_weight > 0:
            gp = gradient_penalty(D, batch.real, fake.detach().float(), batch.real_labels, generator=self.randomness.noise)
            terms["gp"] = self.gp_weight * gp
            logs["gp"] = gp.detach()
        if (self.r1_gamma > 0 or self.r2_gamma > 0) and step % self.r1_every == 0:
            # Lazy (StyleGAN2): every r1_every steps, r1_every times stronger. R1 at real samples, R2
            # at generated ones, from one pass over both. In fp32: double backward through bf16
            # loses the small gradients it measures.
            batches, labels = [], []
            if self.r1_gamma > 0:
                batches.append(batch.real)
                labels.append(batch.real_labels)
            if self.r2_gamma > 0:
                batches.append(fake.detach().float())
                labels.append(batch.fake_labels)
            penalties = zero_centred_penalties(D, batches, labels)
            for name, gamma in (("r1", self.r1_gamma), ("r2", self.r2_gamma)):
                if gamma > 0:
                    value = penalties.pop(0)
                    terms[name] = 0.5 * gamma * self.r1_every * value
                    logs[name] = value.detach() * self.r1_every  # the mean over steps is then the mean penalty
        return terms

    def generator_terms(self, networks, batch: Batch, fake: torch.Tensor, logs: dict) -> dict:
        """The generator's loss as named, weighted terms: make the updated D call its samples real."""
        with self.autocast():
            fake_logits = networks.D_forward(self.augment(fake), batch.fake_labels).float()
            real_logits = None
            if self.loss in RELATIVISTIC_LOSSES:
                # The paired real samples' logits under the updated D: constants for G, so a
                # forward pass without a graph (about a sixth of the G step's cost).
                with torch.no_grad():
                    real_logits = networks.D_forward(self.augment(batch.real), batch.real_labels).float()
            terms = {"adversarial": generator_loss(self.loss, fake_logits, real_logits)}
        logs["g_fake"] = torch.sigmoid((fake_logits if real_logits is None else fake_logits - real_logits).detach()).mean()
        return terms

    # -- the two steps --------------------------------------------------------------------

    def discriminator_step(self, networks, batch: Batch, step: int, keep_fake_graph: bool = True):
        """One D update. Returns the fakes (with their graph when `keep_fake_graph`, so the
        generator step can reuse them instead of running G again) and the logs."""
        fake = self.generate(networks, batch, grad=keep_fake_graph)
        logs = {}
        loss = _total(self.discriminator_terms(networks, batch, fake, step, logs))
        logs["d_total"] = loss.detach()
        networks.opt_d.zero_grad(set_to_none=True)
        networks.scaler_d.scale(loss).backward()
        if self.dist is not None:  # several processes: every rank steps with the mean gradient
            self.dist.average_gradients(networks.discriminator)
        networks.scaler_d.step(networks.opt_d)
        networks.scaler_d.update()
        return fake, logs

    def generator_step(self, networks, batch: Batch, fake: torch.Tensor | None = None) -> dict:
        """One G update (on `fake` when it carries its graph, else on fresh fakes of the batch)."""
        if fake is None or not fake.requires_grad:
            fake = self.generate(networks, batch, grad=True)
        D = networks.discriminator
        # D is frozen meanwhile: its weight gradients here would be thrown away, and skipping
        # them saves about a tenth of the step's arithmetic.
        D.requires_grad_(False)
        try:
            logs = {}
            loss = _total(self.generator_terms(networks, batch, fake, logs))
            logs["g"] = loss.detach()
            networks.opt_g.zero_grad(set_to_none=True)
            networks.scaler_g.scale(loss).backward()
        finally:
            D.requires_grad_(True)
        if self.dist is not None:
            self.dist.average_gradients(networks.generator)
        networks.scaler_g.step(networks.opt_g)
        networks.scaler_g.update()
        return logs


def _total(terms: dict) -> torch.Tensor:
    total = None
    for value in terms.values():
        total = value if total is None else total + value
    return total


__all__ = ["Batch", "GANObjective"]
