"""Runs that outlive the machine they train on: pull a run pushed with `push(..., resumable=True)`
back as a run folder (`pull_run`), save a training run to the Hub in the background while it
trains (`RunSaver`), and where a Space keeps its runs when it has a storage bucket
(`default_runs_dir`).

A resumable repo holds, besides the generator and its card, the run's training state under
run/ (gan_space.hub.staging.resumable_repo_files). `pull_run` reads the repo's file list first,
refuses a repo with a pickle anywhere or without the state, downloads exactly those files and
nothing else, and places them as a run folder that `Trainer.resume` continues bit for bit:

    runs/NAME/train_config.json
    runs/NAME/held_out.safetensors              (image-to-image runs)
    runs/NAME/checkpoints/latest
    runs/NAME/checkpoints/step-N/{generator,generator_raw,discriminator}/, training_state.safetensors, state.json
"""

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from .errors import NotResumableError, _hub_errors
from .pulling import PICKLE_SUFFIXES, _check_generator_config
from .pushing import push
from .repos import FIRST_REQUEST_TIMEOUT_SECONDS, _endpoint, validate_repo_id
from .staging import (CHECKPOINT_FOLDER, CHECKPOINT_MODELS, RUN_CONFIG_NAME, RUN_FOLDER, resumable_repo_files,
                      sound_record_files)
from .tokens import _token_argument

logger = logging.getLogger(__name__)

# How often a run in the app is saved to the Hub while it trains, by default (minutes).
DEFAULT_SAVE_MINUTES = 5.0


def pull_run(repo_id: str, out_dir: str | Path, token: str | None = None, *, revision: str | None = None,
             endpoint: str | None = None) -> Path:
    """Download the run a resumable repo holds into the new run folder `out_dir` (missing or
    empty) and return it; continue it with `gan_space.training.Trainer.resume(out_dir)`.

    Only the training state's own files are fetched (safetensors and JSON, by exact name). Errors
    (all HubErrors): NotResumableError (a pickle in the repo, no training state, data this
    machine does not have), and those of `pull` (no network, no such repo, a token that cannot
    read it). Nothing is left in `out_dir` when it fails."""
    from huggingface_hub import HfApi, snapshot_download

    from ..checkpoints import latest_checkpoint

    repo_id = validate_repo_id(repo_id)
    endpoint = _endpoint(endpoint)
    out_dir = Path(out_dir)
    if out_dir.exists() and (latest_checkpoint(out_dir) is not None or (out_dir / RUN_CONFIG_NAME).exists()):
        raise NotResumableError(f"{out_dir} already holds a run: continue it with `python -m gan_space train "
                                f"--resume --out {out_dir}`, or pull {repo_id} into another folder.")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise NotResumableError(f"{out_dir} is not empty: pull {repo_id} into a new folder.")
    action = f"pull the run {repo_id}"
    with _hub_errors(action, repo_id, token, endpoint, revision):
        api = HfApi(endpoint=endpoint)
        info = api.model_info(repo_id, revision=revision, token=_token_argument(token),
                              timeout=FIRST_REQUEST_TIMEOUT_SECONDS)
        files = [sibling.rfilename for sibling in (info.siblings or [])]
        names = _resumable_names(repo_id, files)  # raises before anything is downloaded
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    download = Path(tempfile.mkdtemp(prefix=f".pull-{out_dir.name}-", dir=out_dir.parent))
    try:
        with _hub_errors(action, repo_id, token, endpoint, revision):
            # The commit the file list came from, and exact names: nothing else can arrive.
            snapshot_download(repo_id, revision=info.sha, token=_token_argument(token), local_dir=download,
                              allow_patterns=names, endpoint=endpoint)
        run = _place_run(download, repo_id, names)
        if out_dir.exists():
            out_dir.rmdir()  # (empty, checked above)
        os.replace(run, out_dir)
    finally:
        shutil.rmtree(download, ignore_errors=True)
    logger.info("pulled the run %s into %s", repo_id, out_dir)
    return out_dir


def _resumable_names(repo_id: str, files: list[str]) -> list[str]:
    """The repo paths to download; refuses a repo with a pickle or without the training state."""
    from ..pairs import HELD_OUT_FILE

    pickles = sorted(name for name in files if name.lower().endswith(PICKLE_SUFFIXES))
    if pickles:
        shown = ", ".join(pickles[:3]) + (", ..." if len(pickles) > 3 else "")
        raise NotResumableError(f"{repo_id} holds pickled files ({shown}): a resumable gan_space run is safetensors "
                                "and JSON only, and gan_space never loads pickles (unpickling can run arbitrary "
                                "code). Nothing was downloaded.")
    names = resumable_repo_files(held_out=f"{RUN_FOLDER}/{HELD_OUT_FILE}" in files)
    missing = [name for name in names if name not in files]
    if missing:
        if not any(name.startswith(RUN_FOLDER + "/") for name in files):
            raise NotResumableError(
                f"{repo_id} holds no training state to resume (no {RUN_FOLDER}/ folder): it was pushed without "
                "--resumable, so it has the generator only. Sample it with `python -m gan_space pull`, or push the "
                "run again with `python -m gan_space push --model RUN --repo ID --resumable`.")
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise NotResumableError(f"{repo_id} has an incomplete training state (missing {shown}): push the run "
                                "again with --resumable.")
    return names + [name for name in sound_record_files() if name in files]  # a run on sounds


def _place_run(download: Path, repo_id: str, names: list[str]) -> Path:
    """The downloaded files -> a run folder (download/run-folder), after checking them."""
    from ..data import UNKNOWN, dataset_location
    from ..pairs import HELD_OUT_FILE

    absent = [name for name in names if not (download / name).is_file()]
    if absent:
        raise NotResumableError(f"{repo_id} changed while it was downloaded (no {absent[0]}): try again.")
    checkpoint = download / CHECKPOINT_FOLDER
    try:
        state = json.loads((checkpoint / "state.json").read_text())
        config = json.loads((download / RUN_FOLDER / RUN_CONFIG_NAME).read_text())
        step = state["step"]
        if not (isinstance(step, int) and step >= 0 and isinstance(config, dict)
                and isinstance(state.get("train_config"), dict)):
            raise ValueError("unexpected values")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise NotResumableError(f"{repo_id}'s training state is not readable ({type(error).__name__}: "
                                f"{str(error)[:120]}): push the run again with --resumable.") from None
    for model in ("generator", "generator_raw"):
        _check_generator_config(checkpoint / model / "config.json", repo_id)
    dataset = str(state["train_config"].get("dataset", ""))
    if dataset_location(dataset) == UNKNOWN:  # a local path that is not here (one that is: LOCAL)
        raise NotResumableError(f"{repo_id} trained on pictures from a folder or file ({Path(dataset).name or dataset}) "
                                f"that is not on this machine at {dataset}: a run resumes on the same data, and a "
                                "repo carries no data. Put the pictures there, then pull again.")
    run = download / "run-folder"
    target = run / "checkpoints" / f"step-{step:07d}"
    target.mkdir(parents=True)
    for model in CHECKPOINT_MODELS:
        os.replace(checkpoint / model, target / model)
    for name in ("training_state.safetensors", "state.json"):  # state.json last: it marks the checkpoint complete
        os.replace(checkpoint / name, target / name)
    (run / "checkpoints" / "latest").write_text(target.name)
    os.replace(download / RUN_FOLDER / RUN_CONFIG_NAME, run / RUN_CONFIG_NAME)
    if (download / RUN_FOLDER / HELD_OUT_FILE).is_file():
        os.replace(download / RUN_FOLDER / HELD_OUT_FILE, run / HELD_OUT_FILE)
    return run


class RunSaver:
    """Saves a training run to a Hub repo in the background, so that it outlives the machine.

    The job that runs the trainer calls `checkpoint_written(folder, final)` for every checkpoint
    the run writes. A save is due when `every_seconds` have passed since the last one began (or
    the saver was made), and always at the end (`final`). The checkpoint is copied at once, in
    the caller's thread (the trainer waits at its event, so the folder is complete and stays
    put), and uploaded by a background thread, so training does not wait for the network.
    Never two uploads at once: a save due while one uploads waits for it, and only the newest
    waiting one is kept. A failed save is reported (`error`, `note()`, the log), never raised:
    the run goes on, and the next due checkpoint tries again.

    push(run_folder, repo_id, token): uploads one snapshot (default: a resumable, private push
    without the quality measurement, which would cost the training machine seconds).
    """

    def __init__(self, repo_id: str, token: str, every_seconds: float = DEFAULT_SAVE_MINUTES * 60, *,
                 clock=time.monotonic, push=None):
        self.repo_id = validate_repo_id(repo_id)
        self.every_seconds = every_seconds
        self._token = token
        self._clock = clock
        self._push = push or _push_resumable
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = None
        self._waiting = None  # (snapshot folder, step) to upload after the current one
        self._uploading = None  # the step being uploaded
        self._last_due = clock()
        self.saved_step = None  # the step of the last save that completed
        self.error = None  # the last save's failure, for the user; None once a save succeeds
        self.saves = 0

    def checkpoint_written(self, checkpoint: str | Path, final: bool = False) -> bool:
        """A checkpoint was written; save it when due. Returns whether a save was queued."""
        from ..checkpoints import latest_checkpoint
        from .staging import snapshot_run

        now = self._clock()
        with self._lock:
            if not final and now - self._last_due < self.every_seconds:
                return False
            self._last_due = now
        folder = Path(tempfile.mkdtemp(prefix="gan_space-save-"))
        try:
            snapshot = snapshot_run(checkpoint, folder / "run")
            step = json.loads((latest_checkpoint(snapshot) / "state.json").read_text())["step"]
        except Exception as error:  # a save is never worth stopping the run for
            shutil.rmtree(folder, ignore_errors=True)
            self._failed(error)
            return False
        with self._lock:
            if self._waiting is not None:  # an older save that never started: this one replaces it
                shutil.rmtree(self._waiting[0].parent, ignore_errors=True)
            self._waiting = (snapshot, step)
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._upload_all, name=f"save-{self.repo_id}", daemon=True)
                self._thread.start()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no save is queued or uploading; True when none is."""
        return self._idle.wait(timeout)

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def note(self) -> str | None:
        """One line for the status: what the last save did, or what is saving now."""
        with self._lock:
            uploading, saved, error = self._uploading, self.saved_step, self.error
        if uploading is not None:
            return f"saving step {uploading} to {self.repo_id}…"
        if error:
            return f"saving to {self.repo_id} failed: {error}"
        if saved is not None:
            return f"saved step {saved} to {self.repo_id} (private; resume it from the Hub)"
        return None

    def _upload_all(self) -> None:
        while True:
            with self._lock:
                if self._waiting is None:
                    self._thread = None
                    self._idle.set()
                    return
                (snapshot, step), self._waiting = self._waiting, None
                self._uploading = step
            try:
                self._push(snapshot, self.repo_id, self._token)
            except Exception as error:
                self._failed(error)
            else:
                with self._lock:
                    self.saved_step, self.error = step, None
                    self.saves += 1
            finally:
                with self._lock:
                    self._uploading = None
                shutil.rmtree(snapshot.parent, ignore_errors=True)

    def _failed(self, error: Exception) -> None:
        from .errors import HubError

        # Our errors say what to do; anything else is summarised (and logged in full), never raised.
        message = str(error) if isinstance(error, (HubError, ValueError, OSError)) else f"unexpected {type(error).__name__}"
        if not isinstance(error, (HubError, ValueError, OSError)):
            logger.error("saving a run to %s failed", self.repo_id, exc_info=error)
        else:
            logger.warning("saving a run to %s failed: %s", self.repo_id, message)
        with self._lock:
            self.error = message


def _push_resumable(run_folder: Path, repo_id: str, token: str) -> str:
    return push(run_folder, repo_id, token, resumable=True, measure_quality=False,
                commit_message="Save the run with gan_space (resumable)")


def hub_save_minutes(environ=os.environ) -> float | None:
    """How often the app saves a signed-in visitor's run to their Hub repo (minutes; it also saves
    at the end), or None for never: GAN_SPACE_HUB_SAVE_MINUTES when set (0 or "off": never), else
    DEFAULT_SAVE_MINUTES on a Space (SPACE_ID) and never elsewhere (a local app keeps its runs on
    its own disk; set the variable to save there too)."""
    value = (environ.get("GAN_SPACE_HUB_SAVE_MINUTES") or "").strip().lower()
    if not value:
        return DEFAULT_SAVE_MINUTES if environ.get("SPACE_ID") else None
    if value in ("off", "no", "false", "never"):
        return None
    try:
        minutes = float(value)
    except ValueError:
        raise ValueError(f"GAN_SPACE_HUB_SAVE_MINUTES must be a number of minutes or 'off', got {value!r}") from None
    return minutes if minutes > 0 else None


def run_repo_id(token: str, run_name: str, endpoint: str | None = None) -> str:
    """The repo a run is saved to: <the token's user>/<run name> (one whoami request)."""
    from huggingface_hub import HfApi

    endpoint = _endpoint(endpoint)
    with _hub_errors("find out whose token this is", run_name, token, endpoint):
        user = HfApi(endpoint=endpoint).whoami(token=token)["name"]
    return validate_repo_id(f"{user}/{run_name}")


def default_runs_dir(root: str | Path, environ=os.environ) -> Path:
    """Where the app keeps its runs: GAN_SPACE_RUNS when set; else, on a Space with a storage
    bucket mounted (GAN_SPACE_BUCKET names its mount path; without it, a bucket mounted at
    /data, the path Hugging Face's docs use), gan_space-runs/ in the bucket, so runs survive a
    restart; else runs/ under `root`. A Space's own disk is wiped when it restarts."""
    if environ.get("GAN_SPACE_RUNS"):
        return Path(environ["GAN_SPACE_RUNS"])
    bucket = bucket_mount(environ)
    if bucket is not None:
        return bucket / "gan_space-runs"
    return Path(root) / "runs"


def bucket_mount(environ=os.environ) -> Path | None:
    """The storage bucket mounted into this Space, when there is a writable one."""
    named = environ.get("GAN_SPACE_BUCKET")
    if named:
        candidate = Path(named)
    elif environ.get("SPACE_ID") and os.path.ismount("/data"):
        candidate = Path("/data")
    else:
        return None
    return candidate if candidate.is_dir() and os.access(candidate, os.W_OK) else None
