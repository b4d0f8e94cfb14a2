"""What every loader returns: a `Dataset` of samples, and `DatasetError` for a source that
cannot be loaded (its message says why and what to do)."""

from dataclasses import dataclass, field

import torch

DEFAULT_MAX_IMAGES = 50_000  # pictures a source gives at most, unless told otherwise


class DatasetError(ValueError):
    """A dataset could not be loaded; the message says why and what to do."""


@dataclass
class Dataset:
    """Samples. Images: uint8 (N, C, H, W), in memory or (`cache_file`) a read-only memory
    map of the decoded cache. Points: float32 (N, D) in data coordinates, with
    `offset`/`scale` that normalise them for training. Sounds: int16 clips (N, samples) at
    `sample_rate`, with `scale` 32767 (gan_space.data.sounds). Sounds to train on are
    images (their spectrograms) with a `sound` record (gan_space.data.sound_pictures)."""

    name: str
    kind: str  # "images", "points" or "sounds"
    samples: torch.Tensor
    labels: torch.Tensor | None = None
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "file: reason" for each unusable file
    offset: list[float] | None = None
    scale: float = 1.0
    cache_file: str | None = None  # the file `samples` maps, when they were decoded into a cache
    # Rows holding two pictures side by side in channels (image-to-image): whether a row's two
    # pictures belong together. False for two unpaired domains (gan_space.tasks.unpaired), whose
    # held-out pictures can then only be compared as distributions, not picture by picture.
    aligned: bool = True
    sample_rate: int = 0  # sounds: samples per second
    # Pictures made from sounds (gan_space.data.sound_pictures): how to turn a picture back into
    # sound (JSON: the transform and its sample rate), which the trainer keeps with the model.
    sound: dict | None = None

    def __len__(self) -> int:
        return self.samples.shape[0]

    @property
    def data_shape(self) -> list[int]:
        return list(self.samples.shape[1:])

    @property
    def row_bytes(self) -> int:
        """Bytes of one sample as stored (uint8 images, float32 points, int16 sounds)."""
        return self.samples[:1].numel() * self.samples.element_size()

    def normalise(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows of `samples` (on any device) in the space the networks work in: images in
        [-1, 1], points centred and scaled to unit standard deviation, sounds in [-1, 1]."""
        if self.kind == "images":
            return rows.to(torch.float32, copy=True).div_(127.5).sub_(1.0)  # (x / 127.5 - 1, without temporaries)
        return (rows - torch.tensor(self.offset, device=rows.device)) / self.scale

    def normalised(self) -> torch.Tensor:
        """All samples normalised: a float32 copy of the whole set. For a large set use
        `normalised_subset` (or gan_space.datasource for batches)."""
        return self.normalise(self.samples)

    def normalised_subset(self, index: torch.Tensor) -> torch.Tensor:
        """Only the rows at `index` (a CPU index tensor), normalised."""
        return self.normalise(self.samples[torch.as_tensor(index, dtype=torch.long)])

    def summary(self) -> str:
        shape = "x".join(str(s) for s in self.data_shape)
        text = f"{self.name}: {len(self)} {self.kind} of shape {shape}"
        if self.num_classes:
            text += f", {self.num_classes} classes"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} unusable file(s)"
        return text


def images_dataset(name: str, samples: torch.Tensor, labels: list[int] | None, class_names: list[str],
                   skipped: list[str], cache_file: str | None = None) -> Dataset:
    """A set of pictures; `labels` (one class index a picture) or None for a set without classes."""
    dataset = Dataset(name=name, kind="images", samples=samples, skipped=skipped, cache_file=cache_file)
    if labels is not None:
        dataset.labels = torch.tensor(labels, dtype=torch.long)
        dataset.num_classes, dataset.class_names = len(class_names), list(class_names)
    return dataset
