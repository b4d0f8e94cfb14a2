"""The classifier test: is a class-conditional generator's output useful training data?

A small CNN is trained four ways and each is tested on the same real held-out pictures:

    real                  the real training pictures (the ceiling)
    generated             generated pictures only: the Classification Accuracy Score (CAS, Ravuri &
                          Vinyals 2019), which is usually well below the real ceiling
    few real              K real pictures per class (a small set)
    few real + generated  the same K per class plus the generated pictures (augmentation)

Each is repeated over seeds (the classifier's initialisation and batches, which K real pictures,
which generated ones) and reported as mean and standard deviation, whatever they show. Beside
the accuracy, the balanced accuracy (the mean of the per-class accuracies): on a set whose
classes are uneven (the emoji categories: 60% are People & Body) always answering the largest
class already scores its share, which the report names too. The
held-out pictures are one fixed stratified split of the real set; a generator trained on the
whole real set has seen them, which favours (b) and (d): say so when reporting, or train the
generator on `training_split` (the pictures the test trains on, and only those) for a fair test.

The generated pictures are quantised to uint8 exactly as `export` writes them, so the test
measures the pictures a user would export.
"""

from dataclasses import dataclass, field, replace

import torch

from .data import Dataset, load_dataset
from .export import ExportSource, generated_pictures

CONDITIONS = ("real", "generated", "few real", "few real + generated")
TEST_FRACTION = 0.3  # of every class held out for testing
MAX_SIDE = 32  # larger pictures are shrunk (area average) to this for the classifier: seconds, not minutes


@dataclass
class ClassifierTestResult:
    model: str
    real: str
    class_names: list[str]
    few_per_class: int
    generated_per_class: int
    train_count: int
    test_count: int
    accuracies: dict[str, list[float]] = field(default_factory=dict)  # condition -> one accuracy per seed
    balanced: dict[str, list[float]] = field(default_factory=dict)  # condition -> one balanced accuracy per seed
    test_class_counts: list[int] = field(default_factory=list)  # held-out pictures of each class

    @property
    def chance(self) -> float:
        return 1.0 / len(self.class_names)

    @property
    def majority(self) -> float:
        """The accuracy of always answering the held-out set's largest class."""
        return max(self.test_class_counts) / sum(self.test_class_counts) if self.test_class_counts else self.chance

    def mean(self, condition: str, balanced: bool = False) -> float:
        return float(torch.tensor((self.balanced if balanced else self.accuracies)[condition]).mean())

    def spread(self, condition: str, balanced: bool = False) -> float:
        """Standard deviation over seeds (0 for one seed)."""
        values = torch.tensor((self.balanced if balanced else self.accuracies)[condition], dtype=torch.float64)
        return float(values.std()) if len(values) > 1 else 0.0

    def lines(self) -> list[str]:
        k, g, classes = self.few_per_class, self.generated_per_class, len(self.class_names)
        sizes = {"real": f"{self.train_count} real", "generated": f"{g * classes} generated",
                 "few real": f"{k * classes} real", "few real + generated": f"{k * classes} real + {g * classes} generated"}
        labels = {"real": "(a) real", "generated": "(b) generated only (CAS)", "few real": f"(c) {k} real per class",
                  "few real + generated": f"(d) {k} real per class + generated"}
        seeds = len(next(iter(self.accuracies.values())))
        lines = [f"classifier test of {self.model} on {self.real}: {classes} classes, {self.train_count} real training "
                 f"pictures, tested on {self.test_count} real held-out pictures (chance {self.chance:.1%}, always the "
                 f"largest class {self.majority:.1%})"]
        for condition in CONDITIONS:
            lines.append(f"  {labels[condition]:<36} {self.mean(condition):6.1%} ± {self.spread(condition):.1%}   "
                         f"balanced {self.mean(condition, True):6.1%} ± {self.spread(condition, True):.1%}   "
                         f"({sizes[condition]})")
        lines.append(f"  mean ± standard deviation over {seeds} seed(s): the classifier's initialisation and batches, "
                     "the few real pictures and the generated ones; the held-out pictures stay the same (a generator "
                     "that trained on them has seen them: train it on classification.training_split for a fair test)")
        return lines

    def as_dict(self) -> dict:
        return {"model": self.model, "real": self.real, "classes": self.class_names, "chance": self.chance,
                "few_per_class": self.few_per_class, "generated_per_class": self.generated_per_class,
                "train_count": self.train_count, "test_count": self.test_count,
                "majority": self.majority, "test_class_counts": self.test_class_counts,
                "accuracies": self.accuracies, "balanced_accuracies": self.balanced,
                "mean": {c: self.mean(c) for c in CONDITIONS}, "spread": {c: self.spread(c) for c in CONDITIONS},
                "balanced_mean": {c: self.mean(c, True) for c in CONDITIONS},
                "balanced_spread": {c: self.spread(c, True) for c in CONDITIONS}}


def classifier_test(source: ExportSource, real: str | None = None, *, few_per_class: int = 10,
                    generated_per_class: int | None = None, seeds: int = 3, steps: int = 300,
                    test_fraction: float = TEST_FRACTION, token: str | None = None, progress=None) -> ClassifierTestResult:
    """Train the small classifier on (a) the real set, (b) generated pictures only, (c)
    `few_per_class` real pictures per class, (d) those plus the generated ones, over `seeds`
    seeds, each tested on the same real held-out pictures. `real` names the real set (default:
    the one the run trained on); its classes must be the generator's. `generated_per_class`
    defaults to the real training pictures per class (so (a) and (b) train on as many).
    progress(done, total) is called after each training."""
    from .generator_output import generator_output

    if not 1 <= seeds <= 20:
        raise ValueError(f"seeds must be from 1 to 20, got {seeds}")
    if not 1 <= steps <= 100_000:
        raise ValueError(f"steps must be from 1 to 100,000, got {steps}")
    real = real or source.dataset
    if not real:
        raise ValueError(f"the run of {source.name} does not say which pictures it trained on: name the real labelled "
                         "pictures (--real: a built-in, a folder with one sub-folder per class, a .zip or a Hub id)")
    output = generator_output(source.generator.config)
    data = load_dataset(real, output.resolution, output.channels, token=token)
    train_index, test_index = split_indices(data, real, test_fraction)
    labels = _generator_labels(data.labels, data.class_names, source.class_names, real, source.name)
    train_counts = torch.bincount(labels[train_index], minlength=len(source.class_names))
    if int(train_counts.min()) < few_per_class or few_per_class < 1:
        raise ValueError(f"few per class must be from 1 to {int(train_counts.min())} (the real training pictures of "
                         f"the smallest class), got {few_per_class}")
    generated_per_class = generated_per_class or max(1, round(len(train_index) / len(source.class_names)))
    pictures = _classifier_input(data.samples)
    result = ClassifierTestResult(source.name, real, list(source.class_names), few_per_class, generated_per_class,
                                  len(train_index), len(test_index), {condition: [] for condition in CONDITIONS},
                                  {condition: [] for condition in CONDITIONS},
                                  torch.bincount(labels[test_index], minlength=len(source.class_names)).tolist())
    test = (pictures[test_index], labels[test_index])
    done, total = 0, seeds * len(CONDITIONS)
    for seed in range(seeds):
        stream = torch.Generator().manual_seed(seed)
        few = torch.cat([train_index[labels[train_index] == c][torch.randperm(int(train_counts[c]), generator=stream)
                                                                [:few_per_class]]
                         for c in range(len(source.class_names))])
        made = [generated_pictures(source.generator, c, generated_per_class, seed=seed * generated_per_class)
                for c in range(len(source.class_names))]
        fake = _classifier_input(torch.cat(made))
        fake_labels = torch.arange(len(source.class_names)).repeat_interleave(generated_per_class)
        sets = {"real": (pictures[train_index], labels[train_index]), "generated": (fake, fake_labels),
                "few real": (pictures[few], labels[few]),
                "few real + generated": (torch.cat([pictures[few], fake]), torch.cat([labels[few], fake_labels]))}
        for condition in CONDITIONS:
            model = train_classifier(*sets[condition], len(source.class_names), seed=seed, steps=steps)
            predicted = predict(model, test[0])
            result.accuracies[condition].append(float((predicted == test[1]).float().mean()))
            result.balanced[condition].append(balanced_accuracy(predicted, test[1], len(source.class_names)))
            done += 1
            if progress is not None:
                progress(done, total)
    return result


def _generator_labels(labels: torch.Tensor, real_names: list[str], generator_names: list[str], real: str,
                      model: str) -> torch.Tensor:
    """The real set's labels as the generator's class indices: matched by name, or by index
    when the generator recorded no names (then they are '0', '1', ...)."""
    if len(real_names) != len(generator_names):
        raise ValueError(f"{real} has {len(real_names)} classes but {model} makes {len(generator_names)}: give the real "
                         "pictures of the generator's classes (--real)")
    if sorted(map(str, real_names)) == sorted(map(str, generator_names)):
        index = {str(name): i for i, name in enumerate(generator_names)}
        return torch.tensor([index[str(real_names[label])] for label in labels.tolist()], dtype=torch.long)
    if list(generator_names) == [str(i) for i in range(len(generator_names))]:
        return labels.clone().long()
    raise ValueError(f"the classes of {real} ({', '.join(map(str, real_names[:5]))}, ...) are not those of {model} "
                     f"({', '.join(map(str, generator_names[:5]))}, ...): give the real pictures it imitates (--real)")


def split_indices(data: Dataset, real: str, test_fraction: float = TEST_FRACTION) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier test's split of the labelled real set `data` (named `real` in errors): the
    indices of its training pictures and of its held-out ones. It depends only on the set's own
    labels (not on the generator tested), so every generator is tested on the same pictures."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"the held-out fraction must be between 0 and 1, got {test_fraction}")
    if data.kind != "images" or data.labels is None:
        raise ValueError(f"{real} has no classes: the classifier test needs labelled real pictures (a built-in with "
                         "classes, or a folder with one sub-folder per class)")
    return _stratified_split(data.labels, data.num_classes, test_fraction)


def training_split(real: str, resolution: int, channels: int, *, test_fraction: float = TEST_FRACTION,
                   token: str | None = None) -> tuple[Dataset, Dataset]:
    """The real set `real` (a built-in, a folder, a .zip or a Hub id) at `resolution` and
    `channels`, split exactly as `classifier_test` splits it: (training pictures, held-out
    pictures), each a labelled Dataset with the set's classes. Train a generator on the first
    (`Trainer(TrainConfig.for_dataset(real, conditional=True, ...), dataset=train)`) and the
    classifier test's held-out pictures are ones it never saw."""
    data = load_dataset(real, resolution, channels, token=token)
    train_index, test_index = split_indices(data, real, test_fraction)

    def part(index: torch.Tensor, what: str) -> Dataset:
        # The run records the setting's name of the set (`--dataset`), so classify-test finds it again.
        return replace(data, name=f"{data.name} ({what} of the classifier test)",
                       samples=data.samples[index].contiguous(), labels=data.labels[index].clone(), cache_file=None)

    return part(train_index, "training split"), part(test_index, "held-out split")


def _stratified_split(labels: torch.Tensor, num_classes: int, test_fraction: float):
    """One fixed split (seed 0): `test_fraction` of every class held out, at least one picture a side."""
    stream = torch.Generator().manual_seed(0)
    train, test = [], []
    for c in range(num_classes):
        members = torch.nonzero(labels == c).flatten()
        if len(members) < 2:
            raise ValueError(f"class {c} has {len(members)} real picture(s): the test needs at least 2 a class "
                             "(one to train on, one to test on)")
        members = members[torch.randperm(len(members), generator=stream)]
        held = min(len(members) - 1, max(1, round(len(members) * test_fraction)))
        test.append(members[:held])
        train.append(members[held:])
    return torch.cat(train), torch.cat(test)


def _classifier_input(pictures: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [-1, 1], shrunk to MAX_SIDE pixels a side at most."""
    x = pictures.float().div(127.5).sub(1.0)
    if x.shape[-1] > MAX_SIDE:
        x = torch.nn.functional.interpolate(x, size=(MAX_SIDE, MAX_SIDE), mode="area")
    return x


def small_classifier(channels: int, num_classes: int) -> torch.nn.Module:
    """Three convolutions and a linear layer: seconds on a CPU for 8-32 px pictures."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
        nn.Flatten(), nn.Linear(64 * 16, num_classes))


def train_classifier(pictures: torch.Tensor, labels: torch.Tensor, num_classes: int, *, seed: int = 0,
                     steps: int = 300, batch_size: int = 64) -> torch.nn.Module:
    """The small classifier trained with Adam for `steps` batches; its initialisation and batches
    come from `seed` (torch's global random state is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = small_classifier(pictures.shape[1], num_classes)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    stream = torch.Generator().manual_seed(10_000 + seed)
    model.train()
    for _ in range(steps):
        batch = torch.randint(len(pictures), (min(batch_size, len(pictures)),), generator=stream)
        loss = torch.nn.functional.cross_entropy(model(pictures[batch]), labels[batch])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return model.eval()


@torch.no_grad()
def predict(model: torch.nn.Module, pictures: torch.Tensor) -> torch.Tensor:
    """The class the model gives each picture."""
    return torch.cat([model(pictures[i:i + 512]).argmax(1) for i in range(0, len(pictures), 512)])


def accuracy(model: torch.nn.Module, pictures: torch.Tensor, labels: torch.Tensor) -> float:
    return float((predict(model, pictures) == labels).float().mean())


def balanced_accuracy(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    """The mean over the classes present in `labels` of the share of their pictures predicted right."""
    right = torch.bincount(labels[predicted == labels], minlength=num_classes).double()
    present = torch.bincount(labels, minlength=num_classes).double()
    return float((right[present > 0] / present[present > 0]).mean())


__all__ = ["CONDITIONS", "TEST_FRACTION", "ClassifierTestResult", "accuracy", "balanced_accuracy", "classifier_test",
           "predict", "small_classifier", "split_indices", "train_classifier", "training_split"]
