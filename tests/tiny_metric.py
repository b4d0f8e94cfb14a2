"""A metric in one module, as a user would add one: the share of samples near the two moons'
arcs (the built-in "moons" points have no metric of their own). `register()` adds it to the
registry (gan_space.metrics), `unregister()` removes it again."""

import torch

from gan_space.metrics import SampleMetric, register_metric, unregister_metric
from gan_space.sampling import generate

NAME = "near the arcs"
CARD_SAMPLES = 500


def near_arcs(points: torch.Tensor) -> float:
    """Share of points within 0.2 of either unit half circle (centres (0, 0) and (1, 0.5))."""
    points = torch.as_tensor(points, dtype=torch.float32)
    upper = ((points - torch.tensor([0.0, 0.0])).norm(dim=1) - 1).abs()
    lower = ((points - torch.tensor([1.0, 0.5])).norm(dim=1) - 1).abs()
    return float((torch.minimum(upper, lower) < 0.2).float().mean())


def _card_measure(generator, dataset, pictures) -> dict:
    return {"near_arcs": near_arcs(generate(generator, CARD_SAMPLES, seed=0)), "num_samples": CARD_SAMPLES}


def _card_lines(quality: dict) -> list[str]:
    return ["| metric | value |", "|---|---|", f"| share of samples near the arcs | {quality['near_arcs']:.1%} |"]


METRIC = SampleMetric(
    name=NAME, description="share of samples near the two moons' arcs",
    applies=lambda dataset, kind: kind == "points" and dataset == "moons",
    measure=lambda state, samples: {"near_arcs": near_arcs(samples)},
    card_measure=_card_measure, card_lines=_card_lines)


def register() -> SampleMetric:
    return register_metric(METRIC)


def unregister() -> None:
    unregister_metric(NAME)
