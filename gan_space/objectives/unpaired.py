"""The update steps of unpaired translation: A pictures (`batch.condition`) and B pictures
(`batch.real`) that are not pairs, and a generator that should make B pictures out of A
ones while keeping what each picture shows.

- `CUTObjective` (Park et al., 2020): the adversarial loss on G(A) plus PatchNCE: each
  sampled patch of G(A), seen through G's own encoder, must match the patch of A at the
  same place better than A's patches elsewhere (`patch_nce_loss`); the same on B -> G(B)
  is CUT's identity term.
- `CycleGANObjective` (Zhu et al., 2017): adversarial losses both ways, with each
  discriminator shown a mix of this batch's and earlier fakes (`HistoryBuffer`), the cycle
  loss and the identity loss.

The losses are plain functions, each written to be checked by hand. Every random draw
(patch places, the history buffers' coins) comes from the run's noise stream, and the
buffers' pictures go into checkpoints (`state()`), so a resumed run continues exactly.
"""

from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F

from .gan import Batch, GANObjective

NCE_TEMPERATURE = 0.07  # CUT's
NCE_PATCHES = 256  # patches sampled per picture and layer (CUT's)


# ---------------------------------------------------------------------------
# The losses


def patch_nce_loss(query: torch.Tensor, key: torch.Tensor, temperature: float = NCE_TEMPERATURE) -> torch.Tensor:
    """PatchNCE: `query` and `key` are (N, P, C) features of P patches of N pictures, the
    output's (queries) and the input's at the same places (keys). For picture n and patch
    i the logits are <query[n, i], key[n, j]> / temperature over the patches j of the same
    picture; patch i is the right answer (the positive), the others the negatives; the loss
    is the cross-entropy, averaged over pictures and patches. The keys are constants (CUT:
    only the output is pulled towards its input, not the input's features towards it)."""
    if query.dim() != 3 or query.shape != key.shape:
        raise ValueError(f"query and key must both be (pictures, patches, features), got {tuple(query.shape)} and "
                         f"{tuple(key.shape)}")
    logits = torch.bmm(query.float(), key.detach().float().transpose(1, 2)) / temperature  # (N, P, P)
    pictures, patches = logits.shape[:2]
    targets = torch.arange(patches, device=logits.device).expand(pictures, patches)
    return F.cross_entropy(logits.reshape(pictures * patches, patches), targets.reshape(-1))


def cycle_loss(original: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """CycleGAN's cycle consistency: the mean absolute difference between a picture and the
    picture translated there and back."""
    return (reconstructed.float() - original.float()).abs().mean()


def identity_loss(picture: torch.Tensor, translated: torch.Tensor) -> torch.Tensor:
    """CycleGAN's identity loss: a picture already of the target domain, given to the
    translator into that domain, should come out unchanged (mean absolute difference)."""
    return (translated.float() - picture.float()).abs().mean()


class HistoryBuffer:
    """The last `size` generated pictures a discriminator saw (Shrivastava et al., 2017;
    CycleGAN's 50): D is shown a mix of this batch's fakes and older ones, so it does not
    forget what G used to make and G cannot win by jumping back to it.

    `query(fakes, generator)`: while the buffer fills, each fake is stored and shown as is;
    once full, each fake is, by a fair coin, either shown as is or stored in place of a
    random old one, which is shown instead (distinct slots within one call). `size=0`: no
    buffer, the fakes pass through."""

    def __init__(self, size: int = 50):
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be a whole number of pictures (0: no buffer), got {size!r}")
        self.size = size
        self.images: torch.Tensor | None = None  # (stored, C, H, W), float32, on the fakes' device

    def __len__(self) -> int:
        return 0 if self.images is None else self.images.shape[0]

    @torch.no_grad()
    def query(self, fakes: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.size == 0:
            return fakes
        fakes = fakes.detach()
        shown = []
        for chunk in fakes.split(self.size):  # (a batch larger than the buffer: one buffer's worth at a time)
            shown.append(self._query(chunk, generator))
        return torch.cat(shown).to(fakes.dtype)

    def _query(self, fakes: torch.Tensor, generator) -> torch.Tensor:
        count = fakes.shape[0]
        # Every call draws the same numbers whether the buffer is full or not: the stream's
        # position depends only on the steps taken.
        device = fakes.device
        coins = torch.rand(count, device=device, generator=generator)
        slots = torch.randperm(self.size, device=device, generator=generator)[:count]
        fakes = fakes.float()
        room = self.size - len(self)
        filling = min(room, count)
        if filling:  # the buffer fills first: these are stored and shown as they are
            stored = fakes[:filling].clone()
            self.images = stored if self.images is None else torch.cat([self.images, stored])
        rest = fakes[filling:]
        if rest.shape[0] == 0:
            return fakes
        swap = (coins[filling:] < 0.5).reshape(-1, 1, 1, 1)
        slots = slots[filling:]
        old = self.images[slots]
        self.images[slots] = torch.where(swap, rest, old)
        return torch.cat([fakes[:filling], torch.where(swap, old, rest)])

    def state(self, prefix: str) -> dict[str, torch.Tensor]:
        """The stored pictures as `{prefix}.images` (nothing while empty)."""
        return {} if self.images is None else {f"{prefix}.images": self.images.detach().cpu().clone()}

    def load_state(self, tensors: dict[str, torch.Tensor], prefix: str, device) -> None:
        images = tensors.get(f"{prefix}.images")
        if images is not None and images.shape[0] > self.size:
            raise ValueError(f"the checkpoint's history buffer holds {images.shape[0]} pictures, more than "
                             f"history_size={self.size}")
        self.images = None if images is None else images.to(device=device, dtype=torch.float32).clone()


# ---------------------------------------------------------------------------
# CUT


class CUTObjective(GANObjective):
    """GANObjective for CUT: D tells B pictures from G(A) (the base class's terms: config.loss,
    least-squares in the paper, with its penalties and augmentation); G's loss is

        the adversarial loss on G(A)
        + nce_weight * PatchNCE(A, G(A))              (content kept, patch by patch)
        [averaged with PatchNCE(B, G(B)) when identity_weight > 0: CUT's identity term;
         identity_weight = 0 leaves it out, FastCUT's choice].

    PatchNCE is averaged over the generator's `nce_layers`; on each layer NCE_PATCHES
    places are drawn (the same places for the input's and the output's features)."""

    content_loss = ("nce", "PatchNCE (G)")

    def __init__(self, config, device, precision, randomness, dist=None):
        super().__init__(config, device, precision, randomness, dist)
        self.nce_weight = config.nce_weight
        self.nce_identity = config.identity_weight > 0
        self.patches = NCE_PATCHES

    def generate(self, networks, batch: Batch, grad: bool) -> torch.Tensor:
        with self.autocast(), torch.set_grad_enabled(grad):
            return networks.G_forward(batch.condition)

    def patch_nce(self, generator, source: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """PatchNCE between `source` pictures and what G made of them, over G's nce_layers."""
        with self.autocast():
            with torch.no_grad():  # the keys are constants
                source_features = generator.encode_features(source)
            output_features = generator.encode_features(output)
        total = 0.0
        for head, (keys, queries) in enumerate(zip(source_features, output_features)):
            places = keys.shape[-2] * keys.shape[-1]
            positions = torch.randperm(places, device=keys.device, generator=self.randomness.noise)[:self.patches]
            with self.autocast():
                with torch.no_grad():
                    key = generator.project(head, keys, positions)
                query = generator.project(head, queries, positions)
            total = total + patch_nce_loss(query, key)
        return total / len(source_features)

    def generator_terms(self, networks, batch: Batch, fake: torch.Tensor, logs: dict) -> dict:
        terms = super().generator_terms(networks, batch, fake, logs)
        logs["adversarial"] = terms["adversarial"].detach()
        if self.nce_weight > 0:
            generator = networks.generator
            nce = self.patch_nce(generator, batch.condition, fake)
            logs["nce"] = nce.detach()
            if self.nce_identity and batch.real.shape[1] == batch.condition.shape[1]:
                with self.autocast():
                    same = networks.G_forward(batch.real)
                nce_identity = self.patch_nce(generator, batch.real, same)
                logs["nce_identity"] = nce_identity.detach()
                nce = (nce + nce_identity) / 2
            terms["nce"] = self.nce_weight * nce
        return terms


# ---------------------------------------------------------------------------
# CycleGAN


@dataclass
class CycleFakes:
    """One step's translations both ways, handed from the D step to the G step like the
    single tensor of other objectives (with their graphs when `requires_grad`)."""

    to_b: torch.Tensor  # G(A)
    to_a: torch.Tensor  # F(B)

    @property
    def requires_grad(self) -> bool:
        return self.to_b.requires_grad


@dataclass
class _OneDomain:
    """The discriminator of one domain, as the base class's terms use `networks`."""

    discriminator: Callable
    D_forward: Callable


def _one_domain(networks, domain: str) -> _OneDomain:
    return _OneDomain(partial(networks.discriminator, domain=domain), partial(networks.D_forward, domain=domain))


class CycleGANObjective(GANObjective):
    """GANObjective for CycleGAN: two games, D_B on B pictures vs G(A) and D_A on A pictures
    vs F(B), each D shown its history buffer's mix of fakes (history_size pictures; each
    game has the base class's terms: config.loss, penalties, augmentation). G's loss is

        the adversarial losses of G(A) and F(B)
        + cycle_weight * (|F(G(A)) - A| + |G(F(B)) - B|)
        + cycle_weight * identity_weight * (|G(B) - B| + |F(A) - A|)   (same channels only)."""

    content_loss = ("cycle", "cycle (G)")

    def __init__(self, config, device, precision, randomness, dist=None):
        super().__init__(config, device, precision, randomness, dist)
        self.cycle_weight = config.cycle_weight
        self.identity_weight = config.identity_weight
        self.history = {"B": HistoryBuffer(config.history_size), "A": HistoryBuffer(config.history_size)}

    def state(self) -> dict[str, torch.Tensor]:
        tensors = super().state()
        for domain, buffer in self.history.items():
            tensors.update(buffer.state(f"history.{domain.lower()}"))
        return tensors

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        super().load_state(tensors)
        for domain, buffer in self.history.items():
            buffer.load_state(tensors, f"history.{domain.lower()}", self.device)

    def generate(self, networks, batch: Batch, grad: bool) -> CycleFakes:
        with self.autocast(), torch.set_grad_enabled(grad):
            return CycleFakes(to_b=networks.G_forward(batch.condition),
                              to_a=networks.G_forward(batch.real, direction="BtoA"))

    @staticmethod
    def _games(batch: Batch, fakes: CycleFakes):
        """(domain, that domain's batch with its real pictures, the fakes made into it)."""
        return (("B", batch, fakes.to_b), ("A", replace(batch, real=batch.condition), fakes.to_a))

    def discriminator_terms(self, networks, batch: Batch, fakes: CycleFakes, step: int, logs: dict) -> dict:
        terms, games = {}, []
        for domain, domain_batch, fake in self._games(batch, fakes):
            shown = self.history[domain].query(fake.detach(), self.randomness.noise)
            game_logs = {}
            game_terms = super().discriminator_terms(_one_domain(networks, domain), domain_batch, shown, step,
                                                     game_logs)
            terms.update({f"{name}_{domain.lower()}": value for name, value in game_terms.items()})
            games.append(game_logs)
        _merge_logs(logs, games)
        return terms

    def generator_terms(self, networks, batch: Batch, fakes: CycleFakes, logs: dict) -> dict:
        terms, games = {}, []
        for domain, domain_batch, fake in self._games(batch, fakes):
            game_logs = {}
            game_terms = super().generator_terms(_one_domain(networks, domain), domain_batch, fake, game_logs)
            terms[f"adversarial_{domain.lower()}"] = game_terms["adversarial"]
            games.append(game_logs)
        _merge_logs(logs, games)
        logs["adversarial"] = (terms["adversarial_b"] + terms["adversarial_a"]).detach()
        a, b = batch.condition, batch.real
        with self.autocast():
            back_to_a = networks.G_forward(fakes.to_b, direction="BtoA")
            back_to_b = networks.G_forward(fakes.to_a)
        cycle = cycle_loss(a, back_to_a) + cycle_loss(b, back_to_b)
        logs["cycle"] = cycle.detach()
        terms["cycle"] = self.cycle_weight * cycle
        if self.identity_weight > 0 and a.shape[1] == b.shape[1]:
            with self.autocast():
                b_kept, a_kept = networks.G_forward(b), networks.G_forward(a, direction="BtoA")
            identity = identity_loss(b, b_kept) + identity_loss(a, a_kept)
            logs["identity"] = identity.detach()
            terms["identity"] = self.cycle_weight * self.identity_weight * identity
        return terms


def _merge_logs(logs: dict, games: list[dict]) -> None:
    """Both games' logs as one: losses and penalties summed (what D, or G, minimises),
    probabilities averaged, ADA's p as it is now."""
    for name in games[0]:
        values = [game[name] for game in games if name in game]
        if name in ("d_real", "d_fake", "g_fake"):
            logs[name] = sum(values) / len(values)
        elif name == "augment_p":
            logs[name] = values[-1]
        else:
            logs[name] = sum(values)


__all__ = ["patch_nce_loss", "cycle_loss", "identity_loss", "HistoryBuffer", "CUTObjective", "CycleGANObjective",
           "CycleFakes", "NCE_TEMPERATURE", "NCE_PATCHES"]
