"""A run's held-out pairs (image-to-image tasks): the previews that show them as
(input | output | target), the before/after picture of the Hub card, and the scores of a
model on them next to its task's baseline (bicubic for super-resolution, else the input),
in the held-out metrics its task declares (gan_space.metrics)."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .image_metrics import to_unit
from .metrics import pair_metric, pair_metric_names
from .pairs import HeldOut, match_channels
from .sampling import image_grid
from .tasks import get_task
from .translation import translate

PREVIEW_PAIRS = 8


def triplets(condition: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(input | output | target) for each pair, as one batch of pictures of the target's size
    (the input enlarged by nearest neighbour: the pixels the model was given)."""
    size = target.shape[-2:]
    shown = condition.float()
    if shown.shape[-2:] != size:
        shown = F.interpolate(shown, size=size, mode="nearest")
    channels = target.shape[1]
    if shown.shape[1] > 3 or shown.shape[1] == 2:  # past frames stacked in channels (next-frame): the last one
        shown = shown[:, -channels:]
    rows = [match_channels(shown, channels), output.float(), target.float()]
    return torch.stack(rows, 1).flatten(0, 1)


def triplet_picture(condition, output, target, pairs_per_row: int = 2):
    """A grid: each row holds `pairs_per_row` (input | output | target) triplets."""
    cells = triplets(condition, output, target)
    return image_grid(cells, min_cell=64, columns=3 * min(pairs_per_row, len(target)), padding=4)


def preview_picture(networks, held_out: HeldOut, count: int = PREVIEW_PAIRS):
    """The held-out triplets with the sampling generator (the EMA weights when kept)."""
    condition, target = held_out.normalised()
    condition, target = condition[:count], target[:count]
    with networks.sampling_weights() as generator:
        output = translate(generator, condition)
    return triplet_picture(condition, output, target)


def before_after_picture(generator, held_out: HeldOut, task: str, count: int = 4):
    """Rows of held-out pictures: before (the task's baseline: bicubic for super-resolution, else
    the input) | the model's output | the original, enlarged to at least 128 pixels a cell."""
    condition, target = held_out.normalised()
    condition, target = condition[:count], target[:count]
    output = translate(generator, condition)
    before = get_task(task).baseline(condition, tuple(target.shape[-2:]), target.shape[1])
    cells = torch.stack([before, output, target.float()], 1).flatten(0, 1)
    return image_grid(cells, min_cell=128, columns=3, padding=4, padding_value=255)


@dataclass
class Scores:
    """Held-out scores of a model next to its task's baseline (bicubic, or the input itself), in
    the metrics the task reports (gan_space.metrics: psnr, ssim, frechet_distance)."""

    num_pictures: int
    baseline: str  # "bicubic" or "input"
    values: dict  # metric name -> the model's value
    baseline_values: dict  # metric name -> the baseline's value
    aligned: bool = True  # each held-out target belongs to its input (per-picture metrics were measured)

    def __getattr__(self, name: str):
        """A metric's value by its name (`scores.psnr`, `scores.baseline_psnr`); None when this
        model's task does not report it, or it was not measured (too few pictures)."""
        if name.startswith("__") or name in ("values", "baseline_values", "aligned"):
            raise AttributeError(name)
        if name.startswith("baseline_") and name[len("baseline_"):] in pair_metric_names():
            return self.baseline_values.get(name[len("baseline_"):])
        if name in pair_metric_names():
            return self.values.get(name)
        raise AttributeError(f"Scores has no {name!r}: the metrics are {', '.join(pair_metric_names())}")

    def to_dict(self) -> dict:
        return {"num_pictures": self.num_pictures, "baseline": self.baseline, "aligned": self.aligned, **self.values,
                **{f"baseline_{name}": value for name, value in self.baseline_values.items()}}

    def line(self) -> str:
        def listed(values):
            return ", ".join(f"{pair_metric(name).label} {pair_metric(name).format.format(value)}"
                             for name, value in values.items() if pair_metric(name).in_summary)

        text = f"held-out ({self.num_pictures} pictures): {listed(self.values)}; {self.baseline}: " \
               f"{listed(self.baseline_values)}"
        for name, value in self.values.items():
            metric = pair_metric(name)
            if not metric.in_summary:
                text += (f"; {metric.label} {metric.format.format(value)} ({self.baseline} "
                         f"{metric.format.format(self.baseline_values[name])})")
        return text


def held_out_scores(generator, held_out: HeldOut, task: str, frechet: bool = True) -> Scores:
    """The model's outputs and the task's baseline against the held-out targets, in each metric
    the task reports that has enough pictures (a Fréchet distance from 16 pictures up: fewer say
    little about a distribution). frechet=False leaves the Fréchet distance out (it costs most)."""
    the_task = get_task(task)
    condition, target = held_out.normalised()
    outputs = torch.cat([translate(generator, chunk) for chunk in condition.split(32)])
    baseline = the_task.baseline(condition, tuple(target.shape[-2:]), target.shape[1])
    out, base, ref = to_unit(outputs), to_unit(baseline), to_unit(target)
    values, baseline_values = {}, {}
    for name in the_task.metrics:
        metric = pair_metric(name)
        if len(target) < metric.min_pictures or (name == "frechet_distance" and not frechet):
            continue
        if metric.per_picture and not held_out.aligned:  # unpaired: no output has a true counterpart
            continue
        values[name], baseline_values[name] = metric.measure(out, ref), metric.measure(base, ref)
    return Scores(num_pictures=len(target), baseline=the_task.baseline_name, values=values,
                  baseline_values=baseline_values, aligned=held_out.aligned)


__all__ = ["triplets", "triplet_picture", "preview_picture", "before_after_picture", "Scores", "held_out_scores"]
