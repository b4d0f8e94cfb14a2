"""Image files (or .zip files of images) in a Hugging Face dataset repository: the only data
source that uses the network. The files are fetched into huggingface_hub's cache and read
from there as a folder or a .zip is; a repo in the Hub's split layout (train/<class>/...,
test/...) is read from its train/ folder."""

import os
import re
from pathlib import Path

from .dataset import DEFAULT_MAX_IMAGES, Dataset, DatasetError
from .decode import IMAGE_EXTENSIONS, is_image_name
from .files import load_image_folder, load_image_zip
from .pool import ProgressCallback

# The Hub's image-folder layout names splits by top folders (train/<class>/..., test/<class>/...):
# training reads the train split, whose sub-folders are the classes.
TRAIN_SPLIT = "train"
HF_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$", re.ASCII)


def load_hf_dataset(repo_id: str, resolution: int, channels: int, token: str | bool | None = None,
                    max_images: int = DEFAULT_MAX_IMAGES, cache_dir: str | os.PathLike | None = None,
                    progress: ProgressCallback | None = None, workers: int | None = None) -> Dataset:
    """Image files (or .zip files of images) in a Hugging Face dataset repository.
    This is the only data source that uses the network. token=None: huggingface_hub's own
    (HF_TOKEN, a stored login); False: none. The files are decoded (into `cache_dir`, when
    given) as a folder or a .zip is."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    try:
        folder = snapshot_download(repo_id, repo_type="dataset", token=token,
                                   allow_patterns=[f"*{ext}" for ext in IMAGE_EXTENSIONS] + ["*.zip"])
    except RepositoryNotFoundError:
        raise DatasetError(f"no dataset {repo_id!r} on the Hugging Face Hub (or it is private: pass a token)") from None
    except (HfHubHTTPError, OSError) as error:
        raise DatasetError(f"could not reach the Hugging Face Hub to fetch dataset {repo_id!r}: "
                           f"{type(error).__name__}. Check the network, or use a built-in dataset, "
                           f"a folder or a .zip of images.") from None
    zips = sorted(Path(folder).rglob("*.zip"))
    if zips and not any(is_image_name(p.name) for p in Path(folder).rglob("*")):
        return load_image_zip(zips[0], resolution, channels, max_images, cache_dir, progress, workers)
    # The snapshot's files are links into the repo's blob folder, two levels up.
    dataset = load_image_folder(training_split(Path(folder)), resolution, channels, max_images,
                                links_within=Path(folder).parents[1], cache_dir=cache_dir, progress=progress,
                                workers=workers)
    dataset.name = repo_id
    return dataset


def training_split(folder: Path) -> Path:
    """The folder to read classes from: a repo's train/ when it has one (the Hub's layout for
    splits, where train/ and test/ are not classes), else the repo itself."""
    split = folder / TRAIN_SPLIT
    return split if split.is_dir() and not split.is_symlink() else folder
