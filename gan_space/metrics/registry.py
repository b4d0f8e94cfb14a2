"""The registry of metrics: which measurements a data set or a task gets.

Two kinds, after stylegan2-ada's `metric_main`:

- a `SampleMetric` judges a generator's samples against its data (the digits judge's
  Fréchet distance and classes, a mixture's modes, the picture score). It declares which
  data it applies to; the live measurements (gan_space.diagnostics), the app and the Hub
  card ask `sample_metrics(dataset, kind)` and run what it returns.
- a `PairMetric` compares an image-to-image model's outputs with their targets (PSNR, SSIM,
  a Fréchet distance); a task (gan_space.tasks) names the ones it reports.

Adding a metric is one module that calls `register_metric` (and, for a built-in one, a
line in gan_space/metrics/__init__.py):

    register_metric(SampleMetric(name="sharpness", description=..., applies=..., prepare=..., measure=...))
"""

from dataclasses import dataclass
from typing import Callable

from ..registry import Registry


def _always_ready(data, num_samples):
    return True


@dataclass(frozen=True)
class SampleMetric:
    name: str
    description: str  # one line: what it measures, in what
    # (dataset name, data kind "images" or "points") -> whether it measures such data
    applies: Callable
    # (state from prepare, samples (N, ...) as the generator makes them) -> {QualityPoint field or own name: value}
    measure: Callable
    # (data: gan_space.data.Dataset, num_samples) -> state fitted once per run (a judge, reference
    # statistics), or None when this data cannot be measured (too few pictures)
    prepare: Callable = _always_ready
    # A fallback measures only data that no other (specific) metric applies to: the picture
    # score measures every picture set but the digits, which have their own judge.
    fallback: bool = False
    num_samples: int = 256  # samples a live measurement draws
    # (state, num_samples) -> seconds one measurement of that many samples costs, beyond sampling
    estimate_seconds: Callable | None = None
    warm_up: Callable | None = None  # () -> None: a one-off fit a process may start early (in a thread)
    # The Hub card: (generator, dataset name, pictures or None) -> the measured values; `card_pictures` says whether it
    # needs the pictures the generator was trained on (None when they are not on this machine: not measured)
    card_measure: Callable | None = None
    card_pictures: bool = False
    card_lines: Callable | None = None  # (the measured values) -> the card's lines (Markdown)
    card_key: str = ""  # a key only its card values hold (cards written before they named their metric)


@dataclass(frozen=True)
class PairMetric:
    name: str  # the Scores field it fills ("psnr")
    label: str  # how a table names it ("PSNR")
    # (outputs, targets), both (N, C, H, W) in [0, 1] -> one number
    measure: Callable
    higher_is_better: bool = True
    min_pictures: int = 1  # fewer pictures say too little (a Fréchet distance needs a distribution)
    format: str = "{:.3f}"  # how a value is written
    # A score line lists these metrics for the model, then for the baseline; the others follow one
    # by one, each with the baseline's value beside it.
    in_summary: bool = True
    # It compares each output with its own target (PSNR, SSIM): it says nothing where the targets
    # are unrelated pictures of another domain (unpaired translation without a known alignment).
    per_picture: bool = True


METRICS = Registry("a metric", setting="metric")  # SampleMetric and PairMetric entries
register_metric = METRICS.add  # a metric's module calls this once, at import
unregister_metric = METRICS.remove


def sample_metrics(dataset: str | None, kind: str) -> list[SampleMetric]:
    """The sample metrics for this data: every specific one that applies, else the fallbacks that do."""
    applicable = [m for m in METRICS.values() if isinstance(m, SampleMetric) and m.applies(dataset, kind)]
    specific = [m for m in applicable if not m.fallback]
    return specific or applicable


def pair_metric(name: str) -> PairMetric:
    metric = METRICS.get(name)
    if not isinstance(metric, PairMetric):
        names = [m.name for m in METRICS.values() if isinstance(m, PairMetric)]
        raise ValueError(f"{name!r} is not a held-out metric: one of {', '.join(names)}")
    return metric


def pair_metric_names() -> list[str]:
    return [m.name for m in METRICS.values() if isinstance(m, PairMetric)]


def metric_for_card(quality: dict) -> SampleMetric | None:
    """The metric that measured a card's quality table (its `metric` key)."""
    metric = METRICS.get(quality.get("metric"))
    if isinstance(metric, SampleMetric):
        return metric
    return next((m for m in METRICS.values() if isinstance(m, SampleMetric) and m.card_key and m.card_key in quality),
                None)
