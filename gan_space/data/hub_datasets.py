"""Image files (or .zip files of images) or sound files in a Hugging Face dataset repository:
the only data source that uses the network. The files are fetched into huggingface_hub's cache
and read from there as a folder or a .zip is; a repo in the Hub's split layout
(train/<class>/..., test/...) is read from its train/ folder.

A repo whose files are mostly sounds (WAV, FLAC, OGG, MP3) is read as sounds are from a folder
(gan_space.data.sounds: the same safe reader, each file bounded), and comes as their spectrogram
pictures (gan_space.data.sound_pictures). Its classes are its sub-folders, or, in the Hub's
audiofolder layout, the `label` column of a metadata.csv beside the files (`file_name`: each
file's path from there; only the files it lists are read)."""

import csv
import io
import os
import re
from pathlib import Path

from .dataset import DEFAULT_MAX_IMAGES, Dataset, DatasetError
from .decode import IMAGE_EXTENSIONS, is_image_name, name_parts
from .files import folder_entries, load_image_folder, load_image_zip
from .pool import Entry, ProgressCallback
from .sound_pictures import (MEL_SETTINGS, clip_settings, clips_as_pictures, is_mostly_sounds, is_sound_source,
                             picture_settings)
from .sounds import SOUND_EXTENSIONS, decode_sound_entries, load_sound_zip

# The Hub's image-folder layout names splits by top folders (train/<class>/..., test/<class>/...):
# training reads the train split, whose sub-folders are the classes.
TRAIN_SPLIT = "train"
HF_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$", re.ASCII)
# The Hub's audiofolder layout: metadata.csv beside the files, one row a file.
METADATA_NAME, FILE_COLUMN, LABEL_COLUMN = "metadata.csv", "file_name", "label"
MAX_METADATA_BYTES = 16 * 2**20  # a row a file: far more than any set of sounds this reads


def load_hf_dataset(repo_id: str, resolution: int, channels: int, token: str | bool | None = None,
                    max_images: int = DEFAULT_MAX_IMAGES, cache_dir: str | os.PathLike | None = None,
                    progress: ProgressCallback | None = None, workers: int | None = None) -> Dataset:
    """Image files (or .zip files of images), or sound files, in a Hugging Face dataset repository.
    This is the only data source that uses the network. token=None: huggingface_hub's own
    (HF_TOKEN, a stored login); False: none. Pictures are decoded (into `cache_dir`, when given)
    as a folder or a .zip is; sounds (most of the files: load_hub_sounds) as their spectrogram
    pictures, in memory, at `resolution` 64 or 128 in one channel."""
    # Names only (fnmatch is case-sensitive here: .WAV as well as .wav); never a script or a pickle.
    extensions = sorted(IMAGE_EXTENSIONS | SOUND_EXTENSIONS | {".zip"})
    folder = _fetch(repo_id, token, [f"*{ext}" for ext in extensions] + [f"*{ext.upper()}" for ext in extensions])
    split = training_split(folder)
    zips = sorted(folder.rglob("*.zip"))
    loose = [p.name for p in split.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS | SOUND_EXTENSIONS]
    if is_mostly_sounds(loose) or (zips and not loose and is_sound_source(str(zips[0]))):
        # The audiofolder layout's metadata.csv, of the same commit (a picture repo's is never fetched).
        _fetch(repo_id, token, [METADATA_NAME, f"*/{METADATA_NAME}"], revision=folder.name)
        return load_hub_sounds(repo_id, folder, split, zips[0] if zips and not loose else None, resolution,
                               channels, max_images, progress, workers)
    if zips and not any(is_image_name(p.name) for p in folder.rglob("*")):
        return load_image_zip(zips[0], resolution, channels, max_images, cache_dir, progress, workers)
    # The snapshot's files are links into the repo's blob folder, two levels up.
    dataset = load_image_folder(split, resolution, channels, max_images, links_within=folder.parents[1],
                                cache_dir=cache_dir, progress=progress, workers=workers)
    dataset.name = repo_id
    return dataset


def hub_holds_sounds(repo_id: str, token: str | bool | None = None) -> bool:
    """Whether a Hugging Face dataset repo's files are mostly sounds, by its list of files alone
    (one request, nothing downloaded): the sound and picture files of its train/ split when it
    has one, else of the whole repo, as load_hf_dataset reads it. A repo whose only files are
    .zip archives cannot be told by names: False, as for a list that cannot be had (no network,
    no such repo; loading it then says what is wrong)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    try:
        names = HfApi().list_repo_files(repo_id, repo_type="dataset", token=token)
    except (HfHubHTTPError, OSError, ValueError):  # (ValueError: huggingface_hub's check of the id)
        return False
    media = [name for name in names if Path(name).suffix.lower() in IMAGE_EXTENSIONS | SOUND_EXTENSIONS]
    in_split = [name for name in media if name_parts(name)[:1] == [TRAIN_SPLIT]]
    return is_mostly_sounds(in_split or media)


def _fetch(repo_id: str, token: str | bool | None, patterns: list[str], revision: str | None = None) -> Path:
    """The snapshot folder of the repo's files matching `patterns` (huggingface_hub's cache)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(repo_id, repo_type="dataset", token=token, revision=revision,
                                      allow_patterns=patterns))
    except RepositoryNotFoundError:
        raise DatasetError(f"no dataset {repo_id!r} on the Hugging Face Hub (or it is private: pass a token)") from None
    except (HfHubHTTPError, OSError) as error:
        raise DatasetError(f"could not reach the Hugging Face Hub to fetch dataset {repo_id!r}: "
                           f"{type(error).__name__}. Check the network, or use a built-in dataset, "
                           f"a folder or a .zip of images.") from None


def training_split(folder: Path) -> Path:
    """The folder to read classes from: a repo's train/ when it has one (the Hub's layout for
    splits, where train/ and test/ are not classes), else the repo itself."""
    split = folder / TRAIN_SPLIT
    return split if split.is_dir() and not split.is_symlink() else folder


def load_hub_sounds(repo_id: str, snapshot: Path, split: Path, archive: Path | None, resolution: int, channels: int,
                    max_sounds: int, progress: ProgressCallback | None = None, workers: int | None = None) -> Dataset:
    """The sounds of a downloaded dataset repo (its split folder, or the .zip `archive` it holds
    instead of loose files) as spectrogram pictures. DatasetError names the repo: pictures of a
    size sounds cannot have, no usable sound (with the first reasons), a bad metadata.csv."""
    try:
        settings = picture_settings(resolution, channels)
    except DatasetError as error:
        # (Whether a Hub id holds sounds is known only once its files are listed: say every setting at once.)
        raise DatasetError(f"{repo_id} holds sounds, which train as one-channel spectrogram pictures of "
                           f"{' or '.join(map(str, MEL_SETTINGS))} pixels: set resolution to one of them and channels "
                           f"to 1 (--resolution 64 --channels 1). Here: {error}") from None
    clips = clip_settings(settings)
    if archive is not None:
        try:
            data = load_sound_zip(archive, clips, max_sounds, progress, workers)
        except DatasetError as error:  # (it names the archive)
            raise DatasetError(f"the Hugging Face dataset {repo_id}: {error}") from None
    else:
        # The snapshot's files are links into the repo's blob folder, two levels up.
        entries = folder_entries(split, links_within=snapshot.parents[1])
        data = decode_sound_entries(repo_id, _labelled_entries(repo_id, split, entries), clips, max_sounds, progress,
                                    workers)
    data.name = repo_id
    return clips_as_pictures(data, settings)


def _labelled_entries(repo_id: str, split: Path, entries: list[Entry]) -> list[Entry]:
    """The entries as classes are read from them (a first folder is the class): as they are, or,
    when the split has a metadata.csv, the files it lists, each under its `label` (when the
    file has that column; else in its own folder). Files it does not list are left out, as the
    Hub's audiofolder does."""
    metadata = split / METADATA_NAME
    if not metadata.is_file():
        return [entry for entry in entries if entry.name != METADATA_NAME]
    if metadata.stat().st_size > MAX_METADATA_BYTES:
        raise DatasetError(f"{repo_id}'s {METADATA_NAME} is over {MAX_METADATA_BYTES // 2**20} MiB: it is not a "
                           "list of sound files")
    try:
        rows = list(csv.DictReader(io.StringIO(metadata.read_text(encoding="utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(f"{repo_id}'s {METADATA_NAME} is not a readable CSV file ({error})") from None
    if not rows or FILE_COLUMN not in rows[0]:
        raise DatasetError(f"{repo_id}'s {METADATA_NAME} has no {FILE_COLUMN!r} column (the Hub's audiofolder "
                           f"layout: {FILE_COLUMN},{LABEL_COLUMN} then one row a file)")
    by_name = {entry.name: entry for entry in entries}
    listed = []
    for row in rows:
        name = "/".join(name_parts(str(row.get(FILE_COLUMN) or "")))
        entry = by_name.get(name)
        if entry is None:  # (a path out of the folder, '../x', matches no entry either)
            listed.append(Entry(name or "(empty file_name)", _missing(name), None))
            continue
        label = str(row.get(LABEL_COLUMN) or "").strip().replace("/", "_") if LABEL_COLUMN in row else ""
        # The label as the first folder: what decode_sound_entries reads classes from.
        listed.append(Entry(f"{label}/{name}" if label else name, entry.read, entry.stamp))
    return listed


def _missing(name: str):
    def read():
        raise ValueError(f"listed in {METADATA_NAME} but not in the dataset")
    return read
