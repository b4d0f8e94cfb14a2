"""The training record a pushed generator carries (summary.json): its settings and summary,
with local paths reduced to names, and the data set named the way the Hub knows it."""

import json
from pathlib import Path

from .repos import SUMMARY_NAME

# Keys of summary.json besides the training summary's own.
RECORD_KEYS = ("train_config", "quality", "weights")


def _training_record(folder: Path, checkpoint: Path | None, weights: str) -> dict:
    """Settings and summary of the run a generator came from, with local paths removed."""
    record = {"weights": weights}
    if checkpoint is not None:
        state = json.loads((checkpoint / "state.json").read_text())
        record["train_config"], record["summary"] = state.get("train_config", {}), state.get("summary", {})
    elif (folder / SUMMARY_NAME).is_file():  # a shipped generator, or a pulled one pushed again
        previous = json.loads((folder / SUMMARY_NAME).read_text())
        record.update({key: previous[key] for key in ("train_config", "quality") if key in previous})
        # "command" (how a shipped generator was made) names local folders: left out.
        record["summary"] = {k: v for k, v in previous.items() if k not in RECORD_KEYS and k != "command"}
    config = dict(record.get("train_config") or {})
    if config:
        # A local folder's full path says things about the user's machine: keep its name only.
        dataset = str(config.get("dataset", ""))
        public = public_dataset_name(dataset)
        config["dataset"] = public
        config.pop("out_dir", None)
        record["train_config"] = config
        summary = dict(record.get("summary") or {})
        if dataset and public != dataset and isinstance(summary.get("dataset"), str):
            summary["dataset"] = summary["dataset"].replace(dataset, public)
        record["summary"] = summary
    return record


def record_parts(record: dict) -> tuple[dict, dict, dict, str | None, str | None]:
    """What every model card reads of a training record: (train_config, summary, quality, the data
    set's name, its Hub dataset id when it is one), each empty or None when the record lacks it."""
    train_config = record.get("train_config") or {}
    dataset = train_config.get("dataset")
    return (train_config, record.get("summary") or {}, record.get("quality") or {}, dataset,
            hub_dataset_id(dataset) if dataset else None)


def public_dataset_name(dataset: str) -> str:
    """A built-in or Hub dataset id as it is; a local folder or file by its name only."""
    from ..data import BUILTIN_DATASETS

    if dataset in BUILTIN_DATASETS or hub_dataset_id(dataset):
        return dataset
    return Path(dataset).name or dataset


def hub_dataset_id(dataset: str) -> str | None:
    """The dataset as a Hub id when training read it from the Hub (gan_space.data's rule:
    an existing local path wins over an owner/name that looks like an id)."""
    from ..data import HUB, dataset_location

    return dataset if dataset and dataset_location(dataset) == HUB else None
