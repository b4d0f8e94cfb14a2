"""Training diagnostics: what a run's numbers say, in plain words.

- The game: D(x) against D(G(z)) (D's mean probabilities that real and generated
  samples are real), read by `read_game`.
- Sample diversity: the mean distance between generated samples of fixed latents over
  the mean distance between real samples, so 1 means "as varied as the data". A
  generator that collapses onto a few outputs drives it towards 0 while its losses can
  look fine, so the warning watches for a drop from the best seen in the run.
- What the metrics registry (gan_space.metrics) has for the data: for `digits` the Fréchet
  distance in the judge classifier's features and the classes covered; for other pictures
  the Fréchet distance and KID in a fixed random network's features against a fixed subset
  of the run's pictures, next to what real held-out pictures score; for the 2-D mixtures
  (ring8, grid25) the modes captured.

No gradio here: the app's TrainingJob calls `SampleWatcher.measure()` between steps.
"""

import math
import time
from dataclasses import dataclass, field, fields

import torch

from .metrics import sample_metrics
from .sampling import generate, sample_latents

# A sample set whose diversity fell under this share of the best seen so far...
COLLAPSE_DROP = 0.5
# ...and under this share of the data's own diversity has collapsed.
COLLAPSE_LEVEL = 0.5
# Losing this many digit classes (or mixture modes) from the best seen is collapse too.
COVERAGE_DROP = 3
# The seed of the watcher's fixed latents, apart from the preview's (config.seed).
WATCH_SEED = 1_000_003
PROBE_SAMPLES = 32  # estimate_seconds() samples this many
RECALIBRATION_SAMPLES = 256  # samples each EMA BatchNorm recalibration draws (gan_space.ema: 4 x 64)


@dataclass
class QualityPoint:
    """One measurement of a run's samples."""

    step: int
    diversity: float  # mean distance between samples / the same for real samples
    frechet_distance: float | None = None  # digits (classifier features) and other pictures (random features)
    real_frechet_distance: float | None = None  # held-out real pictures at the same sample count
    kid: float | None = None  # pictures other than digits: KID in the same random features
    real_kid: float | None = None
    frechet_features: str | None = None  # "digits classifier" or "random network"
    classes_covered: int | None = None  # digits: classes with at least 2% of the samples
    modes: int | None = None  # ring8 / grid25: modes with at least one high-quality sample
    total_modes: int | None = None
    others: dict = field(default_factory=dict)  # what other registered metrics measured, by name

    def record(self, values: dict) -> None:
        """A metric's values: the fields above by their names, anything else in `others`."""
        for name, value in values.items():
            if name in QUALITY_FIELDS:
                setattr(self, name, value)
            else:
                self.others[name] = value


QUALITY_FIELDS = {f.name for f in fields(QualityPoint)} - {"step", "diversity", "others"}


def mean_pairwise_distance(samples: torch.Tensor) -> float:
    """Mean Euclidean distance between two different samples of the set."""
    flat = samples.reshape(samples.shape[0], -1).double()
    n = flat.shape[0]
    if n < 2:
        raise ValueError("diversity needs at least 2 samples")
    return float(torch.cdist(flat, flat).sum() / (n * (n - 1)))


# What to tell the user in each state of the game, by where they watch it: the Train tab
# (settings to change) or the Lab (buttons to press).
TRAIN_ADVICE = {
    "no reading": "No reading yet: D(x) and D(G(z)) appear after the first logged steps.",
    "d winning": "If the samples stop improving, try a lower D learning rate, a stronger R1 penalty or "
                 "DiffAugment (Advanced settings).",
    "g winning": "D lags behind and its feedback is weak. Try a higher D learning rate or a weaker R1 penalty.",
    "balanced": "neither network dominates, so both keep learning.",
}
LAB_ADVICE = {
    "no reading": "Only one side has moved so far: step both networks to compare D(x) and D(G(z)).",
    "d winning": "Try more G steps, a lower D learning rate, or an R1 penalty.",
    "g winning": "Give D more steps or a higher learning rate.",
    "balanced": "both networks are learning; watch the samples spread over the modes.",
}


def read_game(d_real: float, d_fake: float, advice: dict = TRAIN_ADVICE) -> str:
    """A plain-words reading of D(x) and D(G(z)) (means of D's probabilities that real
    and generated samples are real), with what to try."""
    if not (math.isfinite(d_real) and math.isfinite(d_fake)):
        return advice["no reading"]
    if d_real - d_fake > 0.6:
        return (f"The discriminator is winning (D(x) {d_real:.2f} vs D(G(z)) {d_fake:.2f}): the generator gets "
                f"little signal. {advice['d winning']}")
    if d_fake > d_real + 0.1:
        return (f"The generator is fooling the discriminator (D(G(z)) {d_fake:.2f} > D(x) {d_real:.2f}): "
                f"{advice['g winning']}")
    return f"Balanced game (D(x) {d_real:.2f}, D(G(z)) {d_fake:.2f}): {advice['balanced']}"


def collapse_warning(history: list[QualityPoint]) -> str | None:
    """A warning when the latest measurement shows mode collapse, else None."""
    if len(history) < 2:
        return None
    latest, earlier = history[-1], history[:-1]
    best = max(point.diversity for point in earlier)
    if latest.diversity < COLLAPSE_DROP * best and latest.diversity < COLLAPSE_LEVEL:
        return (f"Mode collapse: sample diversity fell to {latest.diversity:.2f} of the data's (best so far "
                f"{best:.2f}); the generator is making near-identical samples. Stop (the checkpoint is kept), "
                f"then train again with a stronger R1 penalty, lower learning rates or DiffAugment.")
    for name, unit in (("classes_covered", "digit classes"), ("modes", "modes")):
        if getattr(latest, name) is None:
            continue
        best_coverage = max(getattr(point, name) for point in earlier)
        if best_coverage - getattr(latest, name) >= COVERAGE_DROP:
            return (f"Mode collapse: the samples cover {getattr(latest, name)} {unit}, down from {best_coverage}; "
                    f"the generator is dropping whole kinds of sample. Stop (the checkpoint is kept), then train "
                    f"again with a stronger R1 penalty, lower learning rates or DiffAugment.")
    return None


def quality_line(point: QualityPoint) -> str:
    """The latest measurement in one line."""
    parts = [f"diversity {point.diversity:.2f} of the data's"]
    if point.frechet_distance is not None and point.frechet_features == "random network":
        parts.append(f"Fréchet distance {point.frechet_distance:.2f} (real held-out pictures: "
                     f"{point.real_frechet_distance:.2f}) and KID {point.kid:.4f} (real: {point.real_kid:.4f}) in "
                     "random-network features")
    elif point.frechet_distance is not None:
        parts.append(f"Fréchet distance {point.frechet_distance:.2f} (real digits: {point.real_frechet_distance:.2f})")
    if point.classes_covered is not None:
        parts.append(f"{point.classes_covered}/10 digit classes")
    if point.modes is not None:
        parts.append(f"{point.modes}/{point.total_modes} modes")
    return f"Samples at step {point.step}: " + ", ".join(parts) + "."


class SampleWatcher:
    """Measures a trainer's samples of fixed latents: diversity always, and the metrics the
    registry (gan_space.metrics) has for the data (the digits judge, a mixture's modes, the
    picture score).

    num_samples: how many samples each measurement draws (default: what the data's metrics
    need: 1,000 for digits and 2-D data, 256 for other images).
    """

    def __init__(self, trainer, num_samples: int | None = None):
        self.trainer = trainer
        data = trainer.data
        metrics = sample_metrics(trainer.config.dataset if data.kind == "images" else data.name, data.kind)
        if num_samples is None:
            num_samples = max([m.num_samples for m in metrics] + [1000 if data.kind == "points" else 256])
        self.num_samples = num_samples
        self.latents = sample_latents(num_samples, trainer.config.latent_dim, seed=WATCH_SEED)
        self.labels = (torch.arange(num_samples) % trainer.num_classes) if trainer.num_classes else None
        # The data's own diversity, on a fixed random subset, in the space samples come in
        # (images in [-1, 1], points in data coordinates).
        subset = torch.randperm(len(data), generator=torch.Generator().manual_seed(WATCH_SEED))[:512]
        # Only the subset is converted: a float copy of a large set would not fit in memory.
        real = data.normalised_subset(subset) if data.kind == "images" else data.samples[subset]
        # (Data that are all one sample have no diversity: any spread then reads as large.)
        self.real_diversity = max(mean_pairwise_distance(real), 1e-6)
        # Each metric prepares what it measures against once, here (a judge fitted, reference
        # statistics taken), so a measurement only pays for the samples; None: it cannot measure this data.
        self.metrics = [(metric, state) for metric in metrics
                        if (state := metric.prepare(data, num_samples)) is not None]

    def state_of(self, metric_name: str):
        """What a metric prepared for this run (the picture score's ImageReference, say); None
        when that metric does not measure this data."""
        return next((state for metric, state in self.metrics if metric.name == metric_name), None)

    def estimate_seconds(self, num_samples: int | None = None) -> float:
        """What one `measure()` of `num_samples` (default: this watcher's) will take,
        from one forward pass of a few latents, so that measurements can keep to a time
        budget from the first one on."""
        num_samples = num_samples or self.num_samples
        generator = self.trainer.sampling_generator()
        probe = self.latents[:PROBE_SAMPLES]
        labels = self.labels[:PROBE_SAMPLES] if self.labels is not None else None
        seconds = []
        for _ in range(2):  # the first pass of a fresh network pays one-off set-up costs
            start = time.perf_counter()
            generate(generator, latents=probe, labels=labels)
            seconds.append(time.perf_counter() - start)
        # Sampling the EMA generator also redraws its BatchNorm statistics (when it has
        # any); allow 50% for the metrics.
        has_batchnorm = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in generator.modules())
        fixed = RECALIBRATION_SAMPLES if self.trainer.networks.ema is not None and has_batchnorm else 0
        scoring = sum(metric.estimate_seconds(state, num_samples) for metric, state in self.metrics
                      if metric.estimate_seconds is not None)
        return 1.5 * seconds[-1] * (fixed + num_samples) / len(probe) + scoring

    def measure(self) -> QualityPoint:
        """Sample the fixed latents (EMA generator when there is one) and measure them.
        Call it between training steps."""
        samples = self.trainer.sample(self.latents, self.labels)
        diversity = mean_pairwise_distance(samples[:512]) / self.real_diversity
        point = QualityPoint(step=self.trainer.step, diversity=diversity)
        for metric, state in self.metrics:
            point.record(metric.measure(state, samples))
        return point


__all__ = ["QualityPoint", "SampleWatcher", "read_game", "TRAIN_ADVICE", "LAB_ADVICE", "collapse_warning",
           "quality_line", "mean_pairwise_distance"]
