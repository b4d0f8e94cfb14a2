"""Share generators through the Hugging Face Hub: `push` a trained generator, `pull` one back.

What a pushed repository holds (the generator sits at the root, so every loader finds it in
one call):

    config.json                          the generator's diffusers config (names its class)
    diffusion_pytorch_model.safetensors  its weights: EMA weights by default, or the raw trained ones
    discriminator/                       config.json + safetensors, only when asked for
    sample_grid.png                      64 samples (images) or 2,500 (points), seeds from 0
    summary.json                         training summary, settings and quality metrics (the format
                                         of the generators shipped in checkpoints/)
    README.md                            the model card: YAML metadata, samples, how to load it

    DCGANGenerator.from_pretrained("alice/digits-gan")      # diffusers, with gan_space installed
    GANPipeline.from_pretrained("alice/digits-gan")         # images as ImagePipelineOutput
    gan_space.hub.pull("alice/digits-gan")                  # the generator, ready for gan_space.generate

There is no model_index.json: it would describe a `generator/` sub-folder layout, and stock
`DiffusionPipeline.from_pretrained` cannot load a class from outside diffusers anyway.
`GANPipeline.from_pretrained` loads the root layout (and the sub-folder layout its own
`save_pretrained` writes).

Safety: only JSON, safetensors, the card and the sample grid are ever downloaded. `pull` reads
the repository's file list first and refuses a repo whose weights are pickles before a byte
of them is fetched; the download itself is restricted to an explicit list of file names.

Where pulls go: into the Hugging Face cache (HF_HUB_CACHE, shared with diffusers), one
read-only snapshot per commit, unless `local_dir` names a folder. `pulled_generators()` lists
what the cache holds, offline, and `download(..., local_files_only=True)` loads from it.

Tokens: every call takes its token as an argument (the app passes the signed-in user's, the
CLI passes HF_TOKEN; `resolve_token` applies that order). `token=None` means anonymous: no
token file or environment variable is read behind the caller's back. A token is never
stored globally (no `login()`), never logged, and never written to a file or a card; error
messages are built here and never quote it.

Errors: each failure has its own `HubError` subclass whose message says what happened and
what to do. The first request of every push or pull has a short timeout, so with no network
they fail in seconds instead of waiting on retries.

All traffic goes through `huggingface_hub`. This module imports it (and torch) only when a
function runs, so importing `gan_space.hub` stays cheap.
"""

import json
import logging
import math
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .generator_output import generator_output

logger = logging.getLogger(__name__)

# The first request of a push or pull: long enough for a slow Hub, short enough that a
# machine with no network hears about it in seconds.
FIRST_REQUEST_TIMEOUT_SECONDS = 10.0
NUM_GRID_IMAGES, NUM_GRID_POINTS = 64, 2500  # a grid of images; a scatter plot of points
SAMPLE_GRID_NAME = "sample_grid.png"
SUMMARY_NAME = "summary.json"
# Keys of summary.json besides the training summary's own.
RECORD_KEYS = ("train_config", "quality", "weights")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
# Repo ids are owner/name: letters, digits, '-', '_', '.'; at most 96 characters per part.
REPO_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$", re.ASCII)


class HubError(Exception):
    """A Hub action failed. The message says what happened and what to do; it never contains a token."""


class InvalidRepoIdError(HubError, ValueError):
    """The repo id is not of the form owner/name."""


class HubUnreachableError(HubError, ConnectionError):
    """No connection to the Hub (no network, a wrong HF_ENDPOINT, or HF_HUB_OFFLINE=1)."""


class HubAuthError(HubError, PermissionError):
    """No token, a token the Hub rejects, or a token without the rights the action needs."""


class HubRepoNotFoundError(HubError, LookupError):
    """No such repository, or a private one the caller cannot read (the Hub does not say which)."""


class HubRevisionNotFoundError(HubError, LookupError):
    """The repository exists but has no such branch, tag or commit."""


class NotAGeneratorError(HubError):
    """The repository is not a gan_space generator (no config.json, another model class, no weights)."""


class PickleOnlyError(NotAGeneratorError):
    """The repository's weights are pickles only; gan_space never loads pickles."""


# ---------------------------------------------------------------------------
# Tokens


def resolve_token(signed_in_token: str | None = None, typed_token: str | None = None) -> str | None:
    """The token to use for one call: the signed-in Spaces user's (gr.OAuthToken.token), else
    HF_TOKEN, else what the user typed into a token box; None when there is none."""
    for candidate in (signed_in_token, os.environ.get("HF_TOKEN"), typed_token):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def _token_argument(token: str | None):
    # huggingface_hub treats token=None as "look for one" (HF_TOKEN, the stored login);
    # False means "send none". We only ever send what the caller handed us.
    return token if token else False


def _redact(text: str, token: str | None) -> str:
    """Defence in depth: our messages never quote a token, but server text might."""
    return text.replace(token, "hf_***") if token else text


# ---------------------------------------------------------------------------
# Repo ids and folders


def validate_repo_id(repo_id: str) -> str:
    """The repo id, stripped; InvalidRepoIdError unless it is of the form owner/name."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id as hub_validate_repo_id

    repo_id = (repo_id or "").strip()
    problem = None
    if not REPO_ID_PATTERN.match(repo_id):
        problem = "it must look like 'owner/name' (letters, digits, '-', '_' and '.')"
    else:
        try:
            hub_validate_repo_id(repo_id)
        except HFValidationError as error:
            problem = str(error).split("\n")[0]
    if problem:
        raise InvalidRepoIdError(f"{repo_id!r} is not a Hugging Face repo id: {problem}")
    return repo_id


def _endpoint(endpoint: str | None) -> str:
    from huggingface_hub import constants

    return (endpoint or constants.ENDPOINT).rstrip("/")


# ---------------------------------------------------------------------------
# Turning huggingface_hub / network exceptions into our errors


def _translate_error(error: Exception, *, action: str, repo_id: str, revision: str | None,
                     token: str | None, endpoint: str) -> Exception:
    """The HubError for an exception raised by huggingface_hub, or the exception itself when it
    is not a Hub failure (a bug should surface as one)."""
    import httpx2
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError,
                                        OfflineModeIsEnabled, RemoteEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    where = f"the Hugging Face Hub at {endpoint}"
    if isinstance(error, OfflineModeIsEnabled):
        message = f"cannot {action}: HF_HUB_OFFLINE is set, so huggingface_hub makes no network requests. " \
                  "Unset it to push or pull; everything else works offline."
        return HubUnreachableError(message)
    if isinstance(error, GatedRepoError):
        return HubAuthError(f"cannot {action}: {repo_id} is gated. Accept its conditions on its Hub page, then "
                            "use a token of that account.")
    if isinstance(error, RepositoryNotFoundError):
        if token:
            hint = "or it is private and the token you gave cannot read it"
        else:
            hint = "or it is private: sign in or give a token that can read it (HF_TOKEN for the CLI)"
        return HubRepoNotFoundError(f"cannot {action}: no model repository {repo_id} on {where}, {hint}. "
                                    "Check the spelling of the repo id.")
    if isinstance(error, RevisionNotFoundError):
        return HubRevisionNotFoundError(f"cannot {action}: {repo_id} has no revision {revision!r} (no such "
                                        "branch, tag or commit). Leave the revision out for the latest (main).")
    if isinstance(error, RemoteEntryNotFoundError):
        return NotAGeneratorError(f"cannot {action}: a file of {repo_id} vanished while it was downloaded "
                                  "(the repo changed meanwhile?). Try again.")
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code if error.response is not None else None
        if status == 401:
            what = "a token" if not token else "the token: it is invalid or expired"
            return HubAuthError(f"cannot {action}: the Hub refused the request (401 unauthorized). Check {what}; "
                                "create one at https://huggingface.co/settings/tokens.")
        if status == 403 and action.startswith("push"):
            owner = repo_id.split("/")[0]
            return HubAuthError(f"cannot {action}: the token may not write to {repo_id} (403 forbidden). Use a "
                                f"token with write access for '{owner}' (your own account or an organisation "
                                "you belong to).")
        if status == 403:
            return HubAuthError(f"cannot {action}: the token may not read {repo_id} (403 forbidden). Use a token "
                                "of an account that has access.")
        detail = _redact(error.server_message or "", token).strip().split("\n")[0][:200]
        return HubError(f"cannot {action}: {where} answered {status}" + (f" ({detail})" if detail else "") +
                        ". Try again later.")
    if isinstance(error, (httpx2.TransportError, LocalEntryNotFoundError, ConnectionError, TimeoutError)):
        return HubUnreachableError(f"cannot {action}: could not reach {where} ({type(error).__name__}). Check "
                                   "the network connection (and HF_ENDPOINT if you set it); everything that "
                                   "needs no Hub keeps working offline.")
    return error


@contextmanager
def _hub_errors(action: str, repo_id: str, token: str | None, endpoint: str, revision: str | None = None):
    """Turns huggingface_hub and network failures inside the block into our HubErrors."""
    try:
        yield
    except HubError:
        raise
    except Exception as error:
        translated = _translate_error(error, action=action, repo_id=repo_id, revision=revision, token=token,
                                      endpoint=endpoint)
        if translated is error:
            raise
        raise translated from None  # `from None`: an HTTP error holds its request, Authorization header included


# ---------------------------------------------------------------------------
# Pull


def download(repo_id: str, revision: str | None = None, token: str | None = None, *,
             local_dir: str | Path | None = None, cache_dir: str | Path | None = None,
             local_files_only: bool = False, endpoint: str | None = None) -> Path:
    """Download a gan_space generator repo and return its local folder (load it with
    `gan_space.load_generator(folder)`).

    The folder is the Hugging Face cache's snapshot of the commit (shared with diffusers and
    anything else using the cache) unless `local_dir` names a folder. `local_files_only`
    uses what was downloaded before and makes no request. Nothing but JSON, safetensors,
    README.md and the sample grid is fetched, and a repo without safetensors weights is
    refused from its file list alone.
    """
    from huggingface_hub import HfApi, snapshot_download

    repo_id = validate_repo_id(repo_id)
    endpoint = _endpoint(endpoint)
    if local_files_only:
        with _hub_errors("load the cached copy", repo_id, token, endpoint, revision):
            try:
                folder = snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, local_dir=local_dir,
                                           local_files_only=True, allow_patterns=_any_layout_names())
            except FileNotFoundError:  # LocalEntryNotFoundError: nothing in the cache
                raise HubError(f"{repo_id} has not been pulled on this machine yet (no copy in the cache): pull "
                               "it once with a network connection.") from None
        return _check_downloaded(Path(folder), repo_id)

    try:
        with _hub_errors(f"pull {repo_id}", repo_id, token, endpoint, revision):
            api = HfApi(endpoint=endpoint)
            info = api.model_info(repo_id, revision=revision, token=_token_argument(token),
                                  timeout=FIRST_REQUEST_TIMEOUT_SECONDS)
            files = [sibling.rfilename for sibling in (info.siblings or [])]
            prefix = _generator_prefix(repo_id, files)  # raises before anything is downloaded
            config_path = api.hf_hub_download(repo_id, prefix + "config.json", revision=info.sha,
                                              token=_token_argument(token), cache_dir=cache_dir, local_dir=local_dir)
            _check_generator_config(Path(config_path), repo_id)
            # The revision as the caller named it, so the cache remembers where "main" points
            # (what an offline `local_files_only` load looks up).
            folder = snapshot_download(repo_id, revision=revision, token=_token_argument(token),
                                       cache_dir=cache_dir, local_dir=local_dir,
                                       allow_patterns=_download_names(prefix), endpoint=endpoint)
        # The branch may have moved since the checks above: check what actually arrived.
        _check_downloaded(Path(folder), repo_id)
    except HubUnreachableError as error:
        cached = _cached_copy(repo_id, revision, cache_dir, local_dir)
        if cached is None:
            raise
        raise HubUnreachableError(f"{error} A copy pulled earlier is in {cached}: load that folder "
                                  "instead.") from None
    logger.info("pulled %s (%s) into %s", repo_id, revision or "main", folder)
    return Path(folder)


def _cached_copy(repo_id: str, revision: str | None, cache_dir, local_dir) -> Path | None:
    """The folder of an earlier pull of this repo and revision, if there is one (no request)."""
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, local_dir=local_dir,
                                   local_files_only=True, allow_patterns=_any_layout_names())
        return _check_downloaded(Path(folder), repo_id)
    except (FileNotFoundError, HubError, ValueError):  # nothing cached, or nothing usable
        return None


def pull(repo_id: str, revision: str | None = None, token: str | None = None, *,
         local_dir: str | Path | None = None, cache_dir: str | Path | None = None,
         local_files_only: bool = False, endpoint: str | None = None, device: str = "cpu"):
    """Download a gan_space generator from the Hub and load it (eval mode, safetensors only).

    Errors: InvalidRepoIdError, HubUnreachableError, HubRepoNotFoundError (missing, or private
    without access), HubRevisionNotFoundError, HubAuthError (rejected token, gated repo),
    PickleOnlyError and NotAGeneratorError; all are HubErrors.
    """
    from .checkpoints import ModelLoadError, load_generator

    folder = download(repo_id, revision, token, local_dir=local_dir, cache_dir=cache_dir,
                      local_files_only=local_files_only, endpoint=endpoint)
    try:
        return load_generator(folder, device)
    except ModelLoadError as error:
        raise NotAGeneratorError(f"{repo_id} downloaded but does not load as a gan_space generator: {error}") \
            from None


def _generator_prefix(repo_id: str, files: list[str]) -> str:
    """Where the generator sits in the repo: the root (what `push` writes) or `generator/`
    (what GANPipeline.save_pretrained writes). Refuses pickle-only and foreign repos."""
    from .checkpoints import WEIGHTS_NAME

    for prefix in ("", "generator/"):
        if prefix + WEIGHTS_NAME in files and prefix + "config.json" in files:
            return prefix
    pickles = [name for name in files if name.lower().endswith(PICKLE_SUFFIXES)]
    if pickles:
        shown = ", ".join(sorted(pickles)[:3]) + (", ..." if len(pickles) > 3 else "")
        raise PickleOnlyError(f"{repo_id} has pickled weights only ({shown}) and no {WEIGHTS_NAME}. gan_space "
                              "never loads pickles, since unpickling can run arbitrary code: ask the author to "
                              "push safetensors weights.")
    if "config.json" not in files and "generator/config.json" not in files:
        raise NotAGeneratorError(f"{repo_id} is not a gan_space generator: it has no config.json (files: "
                                 f"{', '.join(sorted(files)[:6]) or 'none'}).")
    raise NotAGeneratorError(f"{repo_id} is not a gan_space generator: it has no {WEIGHTS_NAME} next to its "
                             "config.json.")


def _check_generator_config(path: Path, repo_id: str) -> None:
    from .models import generator_classes

    try:
        class_name = json.loads(path.read_text()).get("_class_name")
    except (OSError, ValueError, AttributeError):
        raise NotAGeneratorError(f"{repo_id} is not a gan_space generator: its config.json is not a JSON "
                                 "object.") from None
    if class_name not in generator_classes():
        raise NotAGeneratorError(f"{repo_id} is not a gan_space generator: its config.json names "
                                 f"{class_name!r}, expected one of {', '.join(generator_classes())}.")


def _download_names(prefix: str) -> list[str]:
    """Exact file names (no wildcards), so nothing else, above all no pickle, is ever fetched."""
    from .checkpoints import WEIGHTS_NAME

    return [prefix + "config.json", prefix + WEIGHTS_NAME, "README.md", SAMPLE_GRID_NAME, SUMMARY_NAME,
            "discriminator/config.json", "discriminator/" + WEIGHTS_NAME]


def _any_layout_names() -> list[str]:
    # Offline, the repo's layout is unknown: ask the cache for either one's files.
    return sorted(set(_download_names("")) | set(_download_names("generator/")))


def _check_downloaded(folder: Path, repo_id: str) -> Path:
    from .checkpoints import WEIGHTS_NAME, generator_folder

    try:
        generator = generator_folder(folder)
    except ValueError:
        raise NotAGeneratorError(f"the cached copy of {repo_id} holds no generator: pull it again.") from None
    if not (generator / WEIGHTS_NAME).is_file():
        raise NotAGeneratorError(f"the cached copy of {repo_id} has no {WEIGHTS_NAME}: pull it again.")
    _check_generator_config(generator / "config.json", repo_id)
    return folder


def pulled_generators(cache_dir: str | Path | None = None) -> list[dict]:
    """gan_space generators in the local Hugging Face cache, newest first: one dict per cached
    commit with `repo_id`, `commit`, `refs` (e.g. ["main"]) and `folder`. Makes no request."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        cache = scan_cache_dir(cache_dir)
    except CacheNotFound:
        return []
    found = []
    for repo in cache.repos:
        if repo.repo_type != "model":
            continue
        for revision in repo.revisions:
            try:
                folder = _check_downloaded(Path(revision.snapshot_path), repo.repo_id)
            except HubError:
                continue
            found.append({"repo_id": repo.repo_id, "commit": revision.commit_hash, "refs": sorted(revision.refs),
                          "folder": folder, "modified": revision.last_modified})
    found.sort(key=lambda item: item["modified"], reverse=True)
    return found


# ---------------------------------------------------------------------------
# Push


def push(model_dir: str | Path, repo_id: str, token: str | None, private: bool = False,
         commit_message: str | None = None, *, ema: bool = True, include_discriminator: bool = False,
         license: str = "apache-2.0", measure_quality: bool = True, endpoint: str | None = None) -> str:
    """Upload a generator to the Hub and return the repository URL.

    `model_dir` is a run folder, a checkpoint folder or a generator folder. The repo is created
    when missing (`private=True` creates it private, or makes an existing public one private;
    False leaves an existing repo's visibility alone). `ema=False` pushes the raw trained
    weights instead of their moving average; `include_discriminator` adds `discriminator/`
    (for fine-tuning). The model card gets the settings, the training summary and, for the
    built-in data sets, quality metrics (`measure_quality`, a few seconds for digits).
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    from .checkpoints import generator_folder, read_generator_config

    repo_id = validate_repo_id(repo_id)
    if not token:
        raise HubAuthError("pushing needs a Hugging Face token with write access: sign in, set HF_TOKEN or "
                           "paste one (https://huggingface.co/settings/tokens).")
    endpoint = _endpoint(endpoint)
    read_generator_config(generator_folder(model_dir))  # a wrong folder fails before any request
    api = HfApi(endpoint=endpoint)
    action = f"push to {repo_id}"
    # The first request, with a short timeout: no network, a bad token or a bad endpoint fail
    # here, in seconds, before the sample grid and the metrics are computed.
    with _hub_errors(action, repo_id, token, endpoint):
        try:
            existing = api.model_info(repo_id, token=token, timeout=FIRST_REQUEST_TIMEOUT_SECONDS)
        except RepositoryNotFoundError:
            existing = None
    with tempfile.TemporaryDirectory(prefix="gan_space-push-") as staging:
        staging = Path(staging)
        description = stage_repo_files(model_dir, staging, repo_id, ema=ema,
                                       include_discriminator=include_discriminator, license=license,
                                       measure_quality=measure_quality)
        try:
            with _hub_errors(action, repo_id, token, endpoint):
                url = api.create_repo(repo_id, token=token, private=private, exist_ok=True, repo_type="model")
                if private and existing is not None and not existing.private:
                    api.update_repo_settings(repo_id, private=True, token=token)
                api.upload_folder(
                    repo_id=repo_id, folder_path=staging, token=token, repo_type="model",
                    commit_message=commit_message or f"Upload {description} with gan_space",
                    # A discriminator from an earlier push would not match this generator.
                    delete_patterns=None if include_discriminator else ["discriminator/*"])
        except HubError as error:
            # A push only reads model_dir (its files are staged in a temporary folder): say so,
            # so nobody fears for the only copy of a run.
            raise type(error)(f"{error} The push did not complete; the generator in {model_dir} is unchanged: "
                              "push again once this is fixed.") from None
    logger.info("pushed %s to %s", description, url)
    return str(url)


def stage_repo_files(model_dir: str | Path, staging: str | Path, repo_id: str, *, ema: bool = True,
                     include_discriminator: bool = False, license: str = "apache-2.0",
                     measure_quality: bool = True) -> str:
    """Write everything `push` uploads into the folder `staging` (no network); returns a short
    description of the generator for the commit message. Useful to preview a push."""
    from .checkpoints import WEIGHTS_NAME, ModelLoadError, generator_folder, load_generator

    staging = Path(staging)
    folder = generator_folder(model_dir)
    checkpoint = folder.parent if (folder.parent / "state.json").is_file() else None
    if not ema:
        if checkpoint is None or not (checkpoint / "generator_raw" / WEIGHTS_NAME).is_file():
            raise ModelLoadError(f"{model_dir} keeps no raw (non-averaged) generator: only a training checkpoint "
                                 "does. Push the generator as it is (ema=True).")
        folder = checkpoint / "generator_raw"
    generator = load_generator(folder)  # validates the config and the safetensors before anything is copied
    for name in ("config.json", WEIGHTS_NAME):
        shutil.copyfile(folder / name, staging / name)  # byte for byte: the pulled tensors are identical
    if include_discriminator:
        source = checkpoint / "discriminator" if checkpoint is not None else folder / "discriminator"
        if not (source / WEIGHTS_NAME).is_file() or not (source / "config.json").is_file():
            raise ModelLoadError(f"{model_dir} has no discriminator to push (only training checkpoints keep one).")
        (staging / "discriminator").mkdir()
        for name in ("config.json", WEIGHTS_NAME):
            shutil.copyfile(source / name, staging / "discriminator" / name)

    record = _training_record(folder, checkpoint, weights="raw" if not ema else "ema")
    if getattr(generator, "is_translator", False):  # image-to-image: before/after pictures and held-out scores
        from .translation_hub import stage_translator

        return stage_translator(generator, folder, checkpoint, staging, repo_id, record, license=license,
                                include_discriminator=include_discriminator, measure_quality=measure_quality)
    if measure_quality and record.get("train_config"):
        measured = _quality_metrics(generator, record["train_config"].get("dataset"),
                                    run_dir=checkpoint.parent.parent if checkpoint is not None else None)
        if measured or "quality" not in record:  # (a generator pushed again away from its data keeps its scores)
            record["quality"] = measured
    flat = {**record.get("summary", {}), **{key: record[key] for key in RECORD_KEYS if key in record}}
    (staging / SUMMARY_NAME).write_text(json.dumps(flat, indent=2) + "\n")

    from .sampling import generate, preview_image

    preview_image(generate(generator, _num_grid_samples(generator), seed=0)).save(staging / SAMPLE_GRID_NAME)
    card = model_card(repo_id, generator, record, license=license,
                      include_discriminator=include_discriminator)
    (staging / "README.md").write_text(card)
    steps = record.get("summary", {}).get("step")
    return f"{type(generator).__name__}" + (f" after {steps} steps" if steps else "")


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


def public_dataset_name(dataset: str) -> str:
    """A built-in or Hub dataset id as it is; a local folder or file by its name only."""
    from .data import BUILTIN_DATASETS

    if dataset in BUILTIN_DATASETS or hub_dataset_id(dataset):
        return dataset
    return Path(dataset).name or dataset


def hub_dataset_id(dataset: str) -> str | None:
    """The dataset as a Hub id when training read it from the Hub (the rule `load_dataset`
    applies: an existing local path wins over an owner/name that looks like an id)."""
    from .data import BUILTIN_DATASETS

    if (not dataset or dataset in BUILTIN_DATASETS or dataset.startswith((".", "/", "~"))
            or not REPO_ID_PATTERN.match(dataset) or Path(dataset).exists()):
        return None
    return dataset


def _quality_metrics(generator, dataset: str | None, run_dir: Path | None = None) -> dict:
    """Quality measured on fresh samples: for the built-in data sets, and for other pictures
    whose run's data is on this machine (FD and KID in random-network features against the
    run's own pictures; gan_space.scores). Empty otherwise."""
    from .data import BUILTIN_IMAGE_SETS, MIXTURE_SETS, load_dataset
    from .sampling import generate

    if dataset == "digits":
        from .metrics import digits_metrics

        measured = digits_metrics(generate(generator, 1000, seed=1_000_000))
        keys = ("num_samples", "frechet_distance", "real_frechet_distance", "classes_covered", "min_class_fraction",
                "median_nn_distance", "real_median_nn_distance")
    elif dataset in MIXTURE_SETS:  # moons and spiral have no modes to count
        from .metrics import mode_metrics

        measured = mode_metrics(generate(generator, 2500, seed=1_000_000), dataset)
        measured["num_samples"] = 2500
        keys = ("num_samples", "modes", "total_modes", "high_quality", "reverse_kl")
    elif _makes_images(generator) and (run_dir is not None or dataset in BUILTIN_IMAGE_SETS):
        from .scores import generator_score, run_pictures

        output = generator_output(generator.config)
        if run_dir is not None:
            found = run_pictures(run_dir, output.resolution, output.channels)
        else:  # a built-in set is everywhere, run folder or not
            found = (load_dataset(dataset, output.resolution, output.channels).samples, dataset)
        if found is None:
            return {}
        measured = generator_score(generator, found[0], num=1000, seed=1_000_000)
        keys = ("num_samples", "features", "network", "frechet_distance", "kid", "kid_std", "num_real",
                "num_held_out", "real_frechet_distance", "real_kid")
    else:
        return {}
    return {key: measured[key] for key in keys if key in measured}


# ---------------------------------------------------------------------------
# The model card


def model_card(repo_id: str, generator, record: dict, *, license: str = "apache-2.0",
               include_discriminator: bool = False) -> str:
    """README.md for a pushed generator: YAML metadata, then what it is, samples, how to load
    it, how it was trained and how good it is."""
    from huggingface_hub import ModelCardData

    config = {k: v for k, v in generator.config.items() if not k.startswith("_")}
    class_name = type(generator).__name__
    train_config = record.get("train_config") or {}
    summary = record.get("summary") or {}
    quality = record.get("quality") or {}
    makes_images = _makes_images(generator)
    dataset = train_config.get("dataset")
    hub_dataset = hub_dataset_id(dataset) if dataset else None

    from .models import family_of

    tags = ["gan", "gan_space", "pytorch", *family_of(generator).tags]
    tags += ["unconditional-image-generation"] if makes_images else ["2d-points", "toy-data"]
    if config.get("num_classes"):
        tags.append("class-conditional")
    metadata = ModelCardData(
        library_name="diffusers", license=license, tags=tags,
        pipeline_tag="unconditional-image-generation" if makes_images else "other",
        datasets=[hub_dataset] if hub_dataset else None)

    output = _output_description(generator)
    num_parameters = sum(p.numel() for p in generator.parameters())
    trained_on = f" trained on **{dataset}**" if dataset else ""
    lines = [f"# {repo_id.split('/')[1]}", "",
             f"A GAN generator ({class_name}, {num_parameters:,} parameters){trained_on} with "
             f"gan_space. It maps {config['latent_dim']}-dimensional Gaussian latents "
             f"{'and class labels ' if config.get('num_classes') else ''}to {output}. The weights are "
             f"safetensors: loading them runs no pickled code.", ""]
    num_grid = _num_grid_samples(generator)
    lines += [f"![{num_grid} samples, seeds 0-{num_grid - 1}]({SAMPLE_GRID_NAME})", "",
              f"*{num_grid:,} samples, seeds 0 to {num_grid - 1}"
              + (" (the classes in turn)" if config.get("num_classes") else "") + ".*", ""]

    lines += ["## How to use it", ""]
    if makes_images:
        lines += ["With diffusers and gan_space installed, one call loads it as a pipeline that returns "
                  "`ImagePipelineOutput` images:", "",
                  "```python", "from gan_space import GANPipeline", "",
                  f'pipe = GANPipeline.from_pretrained("{repo_id}")',
                  "images = pipe(batch_size=16, seed=0).images   # PIL images; sample k comes from seed 0+k",
                  'images[0].save("sample.png")', "```", ""]
    lines += ["With gan_space:", "", "```python", "from gan_space import generate, image_grid, hub", "",
              f'generator = hub.pull("{repo_id}")   # downloads safetensors only',
              "samples = generate(generator, num=64, seed=0, truncation=1.0)"
              + ("   # images in [-1, 1], (N, C, H, W)" if makes_images else "   # points, (N, 2)"),
              "```", "",
              "From a terminal:", "", "```bash",
              f"python -m gan_space generate --model {repo_id} --num 64 --out samples."
              + ("png" if makes_images else "npy"),
              f"python -m gan_space pull --repo {repo_id} --out {repo_id.split('/')[1]}", "```", "",
              f"The generator alone, as a diffusers model: `{class_name}.from_pretrained(\"{repo_id}\")` "
              f"(`from gan_space import {class_name}`).", ""]

    lines += ["## Model", "", "| | |", "|---|---|", f"| architecture | {class_name} |",
              f"| output | {output} |", f"| latent size | {config['latent_dim']} |",
              f"| classes | {config.get('num_classes') or 'none (unconditional)'} |",
              f"| parameters | {num_parameters:,} |"]
    weights = record.get("weights", "ema")
    ema_decay = train_config.get("ema_decay")
    if weights == "raw":
        lines.append("| weights | the trained weights (not averaged) |")
    elif ema_decay:
        lines.append(f"| weights | exponential moving average of the trained weights (decay {ema_decay}) |")
    else:
        lines.append("| weights | the trained weights |")
    if include_discriminator:
        lines.append("| discriminator | included in `discriminator/`, for fine-tuning |")
    lines.append("")

    if train_config or summary:
        lines += ["## Training", ""]
        if summary:
            lines.append(f"- **data**: {summary.get('dataset', dataset)}")
            if summary.get("class_names"):
                lines.append(f"- **classes**: {', '.join(map(str, summary['class_names']))}")
            seconds = summary.get("training_seconds")
            lines.append(f"- **steps**: {summary.get('step')} of {summary.get('total_steps')}"
                         + (f" in {_duration(seconds)}" if seconds is not None else "")
                         + (f" ({summary.get('precision')})" if summary.get("precision") else ""))
            losses = summary.get("last_losses") or {}
            if losses:
                names = {"d": "D", "g": "G", "r1": "R1", "gp": "GP"}
                lines.append("- **last losses**: " + ", ".join(f"{names.get(k, k)} {v:.3f}" for k, v in losses.items()
                                                               if isinstance(v, (int, float))))
        if train_config:
            keys = ("arch", "loss", "batch_size", "lr_g", "lr_d", "beta1", "beta2", "r1_gamma", "ema_decay",
                    "augment", "spectral_norm", "pack", "seed")
            shown = [f"{k}={train_config[k]}" for k in keys if k in train_config]
            lines.append("- **settings**: " + ", ".join(shown))
            lines += ["", f"<details><summary>All settings ({SUMMARY_NAME})</summary>", "", "```json",
                      json.dumps(train_config, indent=2, sort_keys=True), "```", "", "</details>"]
        lines.append("")

    if quality:
        lines += ["## Quality", ""]
        lines += _quality_lines(quality)
        lines.append("")

    lines += ["## Limitations", "",
              "A small GAN trained from scratch" + (f" on {dataset}" if dataset else "") + ": it imitates that "
              "data" + (" at its resolution" if makes_images else "") + " and nothing more. GANs can drop modes "
              "(parts of the data they never generate); look at the samples before relying on it.", "",
              "## Files", "", "- `config.json`, `diffusion_pytorch_model.safetensors`: the generator",
              f"- `{SAMPLE_GRID_NAME}`: the samples above",
              f"- `{SUMMARY_NAME}`: training summary, settings and quality metrics, as JSON"]
    if include_discriminator:
        lines.append("- `discriminator/`: the discriminator, same format")
    lines.append("")
    return f"---\n{metadata.to_yaml()}\n---\n\n" + "\n".join(lines)


def _num_grid_samples(generator) -> int:
    return NUM_GRID_IMAGES if _makes_images(generator) else NUM_GRID_POINTS


def _makes_images(generator) -> bool:
    return generator_output(generator.config).kind == "images"


def _output_description(generator) -> str:
    return generator_output(generator.config).describe()


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _quality_lines(quality: dict) -> list[str]:
    lines = []
    n = quality.get("num_samples")
    if quality.get("features"):  # pictures other than digits: gan_space.scores
        lines += [f"Measured on {n} fresh samples against {quality.get('num_real')} of the pictures it was trained "
                  f"on, next to what {quality.get('num_held_out')} real held-out pictures score against the same "
                  f"ones, in the features of {quality.get('network')}. Lower is better for both; the Fréchet "
                  "distance is biased upwards by few samples, so read it against the real pictures' value. These "
                  "numbers compare models scored the same way (`python -m gan_space score`), not published FIDs:",
                  "", "| metric | generated | real held-out pictures |", "|---|---|---|",
                  f"| Fréchet distance ({quality['features']} features) | {quality['frechet_distance']:.3f} | "
                  f"{quality.get('real_frechet_distance', math.nan):.3f} |",
                  f"| KID ({quality['features']} features) | {quality['kid']:.5f} ± {quality.get('kid_std', math.nan):.5f} "
                  f"| {quality.get('real_kid', math.nan):.5f} |"]
    elif "frechet_distance" in quality:
        lines += [f"Measured on {n} fresh samples with a small classifier trained on real digits, next to what "
                  f"{n} real held-out digits score. A lower Fréchet distance is better; a nearest-neighbour distance "
                  "far below the real one would mean copying:", "",
                  "| metric | generated | real digits |", "|---|---|---|",
                  f"| Fréchet distance (classifier features) | {quality['frechet_distance']:.2f} | "
                  f"{quality.get('real_frechet_distance', math.nan):.2f} |"]
        if "classes_covered" in quality:
            lines.append(f"| classes covered (>= 2% of samples) | {quality['classes_covered']} of 10 | 10 of 10 |")
        if "min_class_fraction" in quality:
            lines.append(f"| rarest class | {quality['min_class_fraction']:.1%} | ~10% |")
        if "median_nn_distance" in quality:
            lines.append(f"| median distance to nearest training digit | {quality['median_nn_distance']:.2f} | "
                         f"{quality.get('real_median_nn_distance', math.nan):.2f} |")
    elif "modes" in quality:
        lines += [f"Measured on {n} fresh samples (PacGAN's protocol: a sample is high quality within 3 standard "
                  "deviations of a mode):", "", "| metric | value |", "|---|---|",
                  f"| modes captured | {quality['modes']} of {quality.get('total_modes')} |",
                  f"| high-quality samples | {quality.get('high_quality', math.nan):.1%} |",
                  f"| reverse KL to uniform over modes | {quality.get('reverse_kl', math.nan):.3f} |"]
    return lines
