"""Pull: download a gan_space generator repository (safetensors only, checked from its file
list before a byte of weights is fetched), load it, and list what the local cache holds."""

import json
import logging
from pathlib import Path

from .errors import HubError, HubUnreachableError, NotAGeneratorError, PickleOnlyError, _hub_errors
from .repos import FIRST_REQUEST_TIMEOUT_SECONDS, SAMPLE_GRID_NAME, SUMMARY_NAME, _endpoint, validate_repo_id
from .tokens import _token_argument

logger = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


def download(repo_id: str, revision: str | None = None, token: str | None = None, *,
             local_dir: str | Path | None = None, cache_dir: str | Path | None = None,
             local_files_only: bool = False, endpoint: str | None = None) -> Path:
    """Download a gan_space generator repo and return its local folder (load it with
    `gan_space.load_generator(folder)`).

    The folder is the Hugging Face cache's snapshot of the commit (shared with diffusers and
    anything else using the cache) unless `local_dir` names a folder. `local_files_only`
    uses what was downloaded before and makes no request. Nothing but JSON, safetensors,
    README.md and the sample grid is fetched (the WAV samples of a sound generator's card stay on
    the Hub), and a repo without safetensors weights is refused from its file list alone.
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
    from ..checkpoints import ModelLoadError, load_generator

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
    from ..checkpoints import WEIGHTS_NAME

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
    from ..models import generator_classes

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
    from ..checkpoints import SOUND_NAME, WEIGHTS_NAME
    from ..models.vocoder import VOCODER_FILE

    # sound.json: a sound generator's spectrogram transform (JSON, checked when the generator loads);
    # vocoder.safetensors: its own vocoder, if it was pushed with one.
    return [prefix + "config.json", prefix + WEIGHTS_NAME, prefix + SOUND_NAME, prefix + VOCODER_FILE, "README.md",
            SAMPLE_GRID_NAME, SUMMARY_NAME, "discriminator/config.json", "discriminator/" + WEIGHTS_NAME]


def _any_layout_names() -> list[str]:
    # Offline, the repo's layout is unknown: ask the cache for either one's files.
    return sorted(set(_download_names("")) | set(_download_names("generator/")))


def _check_downloaded(folder: Path, repo_id: str) -> Path:
    from ..checkpoints import WEIGHTS_NAME, generator_folder

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
