"""Generated data for classifiers: N pictures of every class from a class-conditional generator,
written as an image folder (one sub-folder per class, named as the run named its classes), as a
.zip of the same, or pushed to a Hub dataset repo in the Hub's image-folder layout
(`train/<class>/...`, which the Hub's dataset viewer and the `datasets` library read as an
image-classification set), each with a card saying how it was made.

Picture i of every class comes from latent seed `seed + i` (gan_space.sampling: one latent per
seed), so any picture can be made again with `generate --seed S --class C`; the same seed gives
the same latent in every class.

Everything written goes to a temporary name beside the target first and is renamed at the end,
so a failed export leaves nothing half-written, and an existing folder with files in it or an
existing file is never overwritten.
"""

import io
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .generator_output import generator_output

MAX_PER_CLASS = 100_000
BATCH = 256  # pictures a generator call makes: bounded memory for any count
CARD_NAME = "README.md"
HUB_SPLIT = "train"  # the Hub reads a top folder named train/ as the split, the folders under it as labels
# A class name is used as a folder name as it is when it is plainly one (no separators, no
# control characters, not hidden, not '.' or '..'); otherwise the folder is class-<index>.
_PLAIN_FOLDER_NAME = re.compile(r"^[^/\\\x00-\x1f.][^/\\\x00-\x1f]{0,99}$")


class NotConditionalError(ValueError):
    """The generator cannot be asked for a class: it was trained without labels."""


@dataclass
class ExportSource:
    """A class-conditional generator and what its run recorded about it."""

    generator: object
    name: str  # as the card shows it: a Hub id, or a local folder's last part (local paths stay here)
    class_names: list[str]  # one per class index, as the run named them
    summary: dict = field(default_factory=dict)  # the run's training summary, when known
    train_config: dict = field(default_factory=dict)  # the run's settings, when known

    @property
    def dataset(self) -> str | None:
        """The data set the run trained on, as its settings name it."""
        return str(self.train_config.get("dataset") or "").strip() or None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass
class ExportResult:
    path: Path  # the folder or the .zip written
    counts: dict[str, int]  # folder name -> pictures
    seeds: tuple[int, int]  # first and last latent seed used
    card: str

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def load_conditional(model, device: str = "cpu", token: str | None = None) -> ExportSource:
    """The generator `model` names (a run, checkpoint or generator folder, or a Hub id, pulled
    with `token`) and its class names; NotConditionalError for a generator without classes,
    ValueError for one that does not make pictures from noise."""
    from .checkpoints import generator_folder, generator_record, load_generator
    from .hub import HUB, download, model_location

    kind, where = model_location(model)
    folder = download(where, token=token) if kind == HUB else generator_folder(where)
    generator = load_generator(folder, device)
    shown = str(where) if kind == HUB else (Path(where).resolve().name or str(where))
    if getattr(generator, "is_translator", False):
        raise ValueError(f"{shown} is an image-to-image model ({generator.config.task}): export needs a "
                         "class-conditional generator that samples from noise")
    output = generator_output(generator.config)
    if output.kind != "images":
        raise ValueError(f"{shown} makes {output.describe()}: export writes pictures, so it needs an image generator")
    num_classes = int(generator.config.num_classes or 0)
    if not num_classes:
        raise NotConditionalError(
            f"{shown} was trained without class labels (num_classes 0), so it cannot be asked for a class: export "
            "needs a class-conditional generator. Train one on a set with classes (digits, emoji, a folder with one "
            "sub-folder per class) with --conditional, e.g. `python -m gan_space train --dataset digits "
            "--conditional --out runs/digits-by-class`.")
    summary, train_config = generator_record(folder)
    recorded = [str(name) for name in summary.get("class_names") or []]
    class_names = recorded if len(recorded) == num_classes else [str(i) for i in range(num_classes)]
    return ExportSource(generator, shown, class_names, summary, train_config)


def class_folder_names(class_names: list[str]) -> list[str]:
    """A folder name for each class: its own name when that is a plain, unique folder name
    (case-insensitively, for the file systems and zip readers that ignore case), else class-<index>."""
    names, taken = [], set()
    for index, name in enumerate(class_names):
        name = str(name).strip()
        folder = name if _PLAIN_FOLDER_NAME.match(name) and name.lower() not in taken else f"class-{index}"
        if folder.lower() in taken:
            folder = f"class-{index}"
        taken.add(folder.lower())
        names.append(folder)
    return names


def generated_pictures(generator, label: int, count: int, seed: int = 0, truncation: float = 1.0):
    """`count` pictures of class `label`, uint8 (N, C, H, W), from latent seeds seed .. seed+count-1."""
    import torch

    from .sampling import generate

    batches = []
    for start in range(0, count, BATCH):
        samples = generate(generator, num=min(BATCH, count - start), seed=seed + start, truncation=truncation,
                           labels=label)
        batches.append(((samples.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    return torch.cat(batches)


def _png(picture) -> bytes:
    from PIL import Image

    array = picture.permute(1, 2, 0).numpy()
    image = Image.fromarray(array[:, :, 0], mode="L") if array.shape[2] == 1 else Image.fromarray(array, mode="RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _picture_name(seed: int) -> str:
    return f"seed-{seed:06d}.png"


def export_pictures(source: ExportSource, per_class: int, out: str | os.PathLike, *, as_zip: bool = False,
                    seed: int = 0, truncation: float = 1.0) -> ExportResult:
    """Write `per_class` pictures of every class of `source` (load_conditional) to `out`: a folder
    with one sub-folder per class and the card README.md, or with `as_zip` (or an `out` ending
    in .zip) a .zip file of the same. `out` must not be a file already, nor a folder with files."""
    if isinstance(per_class, bool) or not isinstance(per_class, int) or not 1 <= per_class <= MAX_PER_CLASS:
        raise ValueError(f"pictures per class must be a whole number from 1 to {MAX_PER_CLASS:,}, got {per_class!r}")
    if not 0 < truncation <= 1:
        raise ValueError(f"truncation must be above 0 and at most 1, got {truncation}")
    out = Path(os.path.expanduser(str(out)))
    as_zip = as_zip or out.suffix.lower() == ".zip"
    if as_zip and out.suffix.lower() != ".zip":
        out = out.with_name(out.name + ".zip")
    _check_target(out, as_zip)
    out.parent.mkdir(parents=True, exist_ok=True)
    folders = class_folder_names(source.class_names)
    counts = {folder: per_class for folder in folders}
    card = dataset_card(source, per_class, seed, truncation, folders)
    temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        if as_zip:
            written = temporary / out.name
            with zipfile.ZipFile(written, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
                archive.writestr(CARD_NAME, card)
                for label, folder in enumerate(folders):
                    pictures = generated_pictures(source.generator, label, per_class, seed, truncation)
                    for index, picture in enumerate(pictures):
                        archive.writestr(f"{folder}/{_picture_name(seed + index)}", _png(picture))
            os.replace(written, out)
        else:
            written = temporary / "export"
            written.mkdir()
            (written / CARD_NAME).write_text(card)
            for label, folder in enumerate(folders):
                (written / folder).mkdir()
                pictures = generated_pictures(source.generator, label, per_class, seed, truncation)
                for index, picture in enumerate(pictures):
                    (written / folder / _picture_name(seed + index)).write_bytes(_png(picture))
            if out.is_dir():
                out.rmdir()  # empty (checked): the export takes its place
            os.replace(written, out)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return ExportResult(out, counts, (seed, seed + per_class - 1), card)


def _check_target(out: Path, as_zip: bool) -> None:
    if as_zip:
        if out.exists():
            raise ValueError(f"{out} exists already: give a new file name for the .zip")
    elif out.is_dir():
        if any(out.iterdir()):
            raise ValueError(f"{out} already holds files: give a new or empty folder")
    elif out.exists():
        raise ValueError(f"{out} is a file: give a new or empty folder (or --zip for a .zip file)")


def dataset_card(source: ExportSource, per_class: int, seed: int, truncation: float, folders: list[str]) -> str:
    """The card (README.md with YAML metadata for the Hub) of an exported set: what made it and how."""
    output = generator_output(source.generator.config)
    total = per_class * len(folders)
    size = next(label for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                                           (1_000_000, "100K<n<1M"), (float("inf"), "n>1M")) if total < bound)
    summary = source.summary
    trained = []
    if summary.get("step"):
        trained.append(f"{summary['step']} steps")
    if source.dataset:
        trained.append(f"on {Path(source.dataset).name or source.dataset}")
    family = type(source.generator).__name__ + (f", trained {' '.join(trained)}" if trained else "")
    colour = "grey" if output.channels == 1 else "RGB"
    rows = "\n".join(f"| {index} | {name} | `{folder}/` | {per_class} |"
                     for index, (name, folder) in enumerate(zip(source.class_names, folders)))
    last = seed + per_class - 1
    return f"""---
task_categories:
- image-classification
tags:
- gan_space
- synthetic
- generated
size_categories:
- {size}
---

# Pictures generated by {source.name}

{per_class} pictures of each of {len(folders)} classes ({total} in all), {output.resolution}x{output.resolution} {colour}
PNG, sampled with gan_space from the class-conditional generator `{source.name}`
({family}).

**How they were made.** Picture `<class>/seed-S.png` is the generator's picture of that class for latent
seed S (one Gaussian latent per seed, truncation {truncation:g}), seeds {seed} to {last}: the same seed
gives the same latent in every class. Make one again with
`python -m gan_space generate --model {source.name} --seed S --num 1 --class INDEX --out picture.png`.
On the Hub the class folders sit under `{HUB_SPLIT}/`, the layout the dataset viewer and the `datasets`
library read as an image-classification set (the label is the folder's name).

| class index | class | folder | pictures |
|---|---|---|---|
{rows}

**These are generated pictures, not real ones.** A classifier trained on generated pictures alone
usually does worse on real pictures than one trained on real pictures (Classification Accuracy Score,
Ravuri & Vinyals 2019); added to a few real pictures per class they may help or not. Measure it for this
generator with `python -m gan_space classify-test --model {source.name}`.
"""


def push_dataset(folder: str | os.PathLike, repo_id: str, token: str | None, *, private: bool | None = None,
                 commit_message: str | None = None, endpoint: str | None = None) -> str:
    """Upload an exported folder (export_pictures, not as a zip) to the Hub dataset repo
    `repo_id` in the Hub's image-folder layout: its card at the root, its class folders under
    train/. Creates the repo when missing (`private`: as for hub.push); pictures of an earlier
    push that this one does not have are removed. Returns the repo's URL. HubError subclasses
    for every Hub failure (the message never holds the token)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    from .hub.errors import HubAuthError, HubError, _hub_errors
    from .hub.repos import FIRST_REQUEST_TIMEOUT_SECONDS, _endpoint, validate_repo_id

    folder = Path(folder)
    repo_id = validate_repo_id(repo_id)
    classes = sorted(item for item in folder.iterdir() if item.is_dir()) if folder.is_dir() else []
    if not (folder / CARD_NAME).is_file() or not classes:
        raise ValueError(f"{folder} is not an exported set (a {CARD_NAME} and one sub-folder per class): make one with "
                         "`python -m gan_space export`")
    if not token:
        raise HubAuthError("pushing needs a Hugging Face token with write access: sign in, set HF_TOKEN or paste one "
                           "(https://huggingface.co/settings/tokens).")
    endpoint = _endpoint(endpoint)
    api = HfApi(endpoint=endpoint)
    action = f"push the dataset to {repo_id}"
    with tempfile.TemporaryDirectory(prefix="gan_space-dataset-") as work:
        staging = Path(work)
        shutil.copy2(folder / CARD_NAME, staging / CARD_NAME)
        for class_folder in classes:
            shutil.copytree(class_folder, staging / HUB_SPLIT / class_folder.name, symlinks=True)
        try:
            with _hub_errors(action, repo_id, token, endpoint):
                try:  # the first request, with a short timeout: no network or a bad token fail in seconds
                    existing = api.repo_info(repo_id, repo_type="dataset", token=token,
                                             timeout=FIRST_REQUEST_TIMEOUT_SECONDS)
                except RepositoryNotFoundError:
                    existing = None
                url = api.create_repo(repo_id, token=token, private=bool(private), exist_ok=True, repo_type="dataset")
                if private and existing is not None and not existing.private:
                    api.update_repo_settings(repo_id, private=True, token=token, repo_type="dataset")
                api.upload_folder(repo_id=repo_id, folder_path=staging, token=token, repo_type="dataset",
                                  commit_message=commit_message or "Upload pictures generated with gan_space",
                                  delete_patterns=[f"{HUB_SPLIT}/**"])
        except HubError as error:
            raise type(error)(f"{error} The push did not complete; {folder} is unchanged: push again once this is "
                              "fixed.") from None
    return str(url)


__all__ = ["CARD_NAME", "HUB_SPLIT", "MAX_PER_CLASS", "ExportResult", "ExportSource", "NotConditionalError",
           "class_folder_names", "dataset_card", "export_pictures", "generated_pictures", "load_conditional",
           "push_dataset"]
