"""Where the app keeps things, and which generators it can sample.

`list_generators()` scans three places and is cheap (JSON only, no torch), so any tab
can call it to refresh its model list:

    checkpoints/<name>/          generators shipped with the app
    runs/<name>/                 runs trained here (their newest complete checkpoint)
    runs/hub/<owner>--<name>/    generators pulled from the Hugging Face Hub

A generator is chosen by its `key` ("shipped/digits", "runs/my-run", "hub/owner--name"),
never by a path: the UI only loads what this scan found, so no user input becomes a
file path.
"""

import hashlib
import json
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gan_space import names
from gan_space.generator_output import generator_output

WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
# Beside config.json in the folder of a generator trained on sounds: how its pictures (log-mel
# spectrograms) become sound. gan_space.checkpoints.SOUND_NAME (that module imports torch).
SOUND_RECORD_NAME = "sound.json"
BUILTIN_DATASETS = names.BUILTIN_DATASETS

# Run names become folder names: letters, digits, '.', '_' and '-', starting with a
# letter or digit, so a name can never climb out of runs/ or hide as a dot-folder.
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RESERVED_RUN_NAMES = ("hub",)
# In a shared app (a public Space) each run folder made through the app holds the hashed id of
# the session that made it; other sessions neither list it nor load, resume or overwrite it.
OWNER_FILE = ".owner"


@dataclass(frozen=True)
class AppPaths:
    """The folders one app instance reads and writes."""

    checkpoints_dir: Path
    runs_dir: Path
    sessions_dir: Path  # per-session scratch space: uploads, generated PNGs and GIFs

    @classmethod
    def create(cls, checkpoints_dir="checkpoints", runs_dir="runs", sessions_dir=None) -> "AppPaths":
        if sessions_dir is None:
            sessions_dir = tempfile.mkdtemp(prefix="gan_space-sessions-")
        paths = cls(Path(checkpoints_dir).resolve(), Path(runs_dir).resolve(), Path(sessions_dir).resolve())
        paths.runs_dir.mkdir(parents=True, exist_ok=True)
        paths.sessions_dir.mkdir(parents=True, exist_ok=True)
        return paths

    @property
    def hub_dir(self) -> Path:
        """Where the Hub tab puts pulled generators (one folder per repo: owner--name)."""
        return self.runs_dir / "hub"

    def session_dir(self, session_hash: str) -> Path:
        """A scratch folder for one browser session (created on first use)."""
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", session_hash or "anonymous")[:64]
        folder = self.sessions_dir / safe
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def remove_session_dir(self, session_hash: str) -> None:
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", session_hash or "anonymous")[:64]
        shutil.rmtree(self.sessions_dir / safe, ignore_errors=True)

    def run_dir(self, run_name: str) -> Path:
        """runs/<run_name>, after checking the name cannot point anywhere else."""
        check_run_name(run_name)
        return self.runs_dir / run_name


def owner_id(session_hash: str) -> str:
    """What an owner file holds: a hash, so the session's own id is never written down."""
    return hashlib.sha256(f"gan_space-owner:{session_hash}".encode()).hexdigest()


def mark_owner(folder: Path, owner: str | None) -> None:
    if owner is not None:
        (folder / OWNER_FILE).write_text(owner)


def may_use(folder: Path, owner: str | None) -> bool:
    """Whether `owner` may see the run or pulled model in `folder` (runs/<name>, runs/hub/<x>).
    owner=None: no checks (one user: the CLI, a local app). Folders without an owner file
    (made with the command line, say) belong to everyone."""
    if owner is None:
        return True
    try:
        return (folder / OWNER_FILE).read_text().strip() == owner
    except FileNotFoundError:
        return True
    except OSError:
        return False


def check_run_name(run_name: str) -> str:
    if not isinstance(run_name, str) or not RUN_NAME.match(run_name) or ".." in run_name:
        raise ValueError(f"run name {run_name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
                         f"starting with a letter or digit (no slashes, no '..')")
    if run_name.lower() in RESERVED_RUN_NAMES:
        raise ValueError(f"run name {run_name!r} is reserved (runs/{run_name}/ holds pulled Hub models)")
    return run_name


@dataclass(frozen=True)
class GeneratorEntry:
    key: str  # what the UI passes around: "shipped/<name>", "runs/<name>" or "hub/<folder>"
    label: str  # what the user reads in the model list
    folder: Path  # the generator folder: config.json + safetensors weights
    source: str  # "shipped", "trained" or "hub"
    config: dict = field(default_factory=dict, compare=False)
    summary: dict = field(default_factory=dict, compare=False)  # how it was trained, when known

    @property
    def num_classes(self) -> int:
        return int(self.config.get("num_classes", 0) or 0)

    @property
    def is_points(self) -> bool:
        """2-D point generators are drawn as scatter plots, not image grids."""
        return generator_output(self.config).kind == "points"

    @property
    def is_sound(self) -> bool:
        """Whether its pictures are spectrograms of sounds (its folder has a sound record)."""
        return (self.folder / SOUND_RECORD_NAME).is_file()

    @property
    def class_names(self) -> list[str]:
        names = list(self.summary.get("class_names") or [])
        return names if len(names) == self.num_classes else [str(i) for i in range(self.num_classes)]

    def describe(self) -> str:
        """One Markdown line: what the model is and how it was trained."""
        c = self.config
        kind = "2-D points" if self.is_points else f"{generator_output(c).resolution} px images"
        if self.is_sound:
            kind = self._sound_kind() or kind
        parts = [f"**{c.get('_class_name', '?')}**", kind, f"latent dim {c.get('latent_dim', '?')}"]
        if self.num_classes:
            parts.append(f"{self.num_classes} classes")
        s = self.summary
        minutes = s.get("minutes") or (s.get("train_config") or {}).get("minutes")
        if s.get("step") and minutes:  # by the clock: the step count is only a cap
            parts.append(f"trained {s['step']} steps in {s.get('training_seconds', 0) / 60:.0f} of {minutes:g} minutes")
        elif s.get("step"):
            parts.append(f"trained {s['step']}/{s.get('total_steps', s['step'])} steps"
                         + (f" in {s['training_seconds']:.0f}s" if s.get("training_seconds") else ""))
        if s.get("dataset"):
            parts.append(f"on {s['dataset']}")
        quality = s.get("quality") or {}
        if isinstance(quality.get("frechet_distance"), (int, float)):
            # Read against the line real pictures draw in the same features (gan_space.scores).
            real = quality.get("real_frechet_distance")
            parts.append(f"Fréchet distance {quality['frechet_distance']:.3g}"
                         + (f" (real pictures {real:.3g})" if isinstance(real, (int, float)) else ""))
        return " · ".join(parts)


    def _sound_kind(self) -> str | None:
        """"1 s sounds at 16 kHz (64x64 spectrograms)", from its sound record (None: unreadable)."""
        record = read_json(self.folder / SOUND_RECORD_NAME)
        mel = record.get("mel") if isinstance(record.get("mel"), dict) else {}
        try:
            return (f"sounds: {float(record['seconds']):g} s at {int(record['sample_rate']) / 1000:g} kHz "
                    f"({int(mel['n_mels'])}x{int(mel['frames'])} spectrograms)")
        except (KeyError, TypeError, ValueError):
            return None


def read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _generator_config(folder: Path) -> dict | None:
    """The config of a gan_space generator folder (one that says what it generates, with
    safetensors weights beside it), else None. Which family's class loads it is checked
    when it is loaded (gan_space.checkpoints.load_generator, through the registry): listing
    stays free of torch, so the app starts fast."""
    config = read_json(folder / "config.json")
    try:
        generator_output(config)
    except ValueError:
        return None
    if isinstance(config.get("_class_name"), str) and "latent_dim" in config and (folder / WEIGHTS_NAME).is_file():
        return config
    return None


def latest_generator_folder(run_dir: Path) -> Path | None:
    """runs/<name> -> its newest complete checkpoint's generator folder.

    Mirrors gan_space.checkpoints.latest_checkpoint (the `latest` pointer, else the
    highest complete step) without importing torch, so the app starts fast.
    """
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return None
    pointer = root / "latest"
    candidates = []
    if pointer.is_file():
        try:
            candidates.append(root / pointer.read_text().strip())
        except OSError:
            pass
    candidates += sorted((p for p in root.glob("step-*")), reverse=True)
    for checkpoint in candidates:
        if checkpoint.parent == root and (checkpoint / "state.json").is_file():
            return checkpoint / "generator"
    return None


def _subfolders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.name.lower())


@dataclass(frozen=True)
class ModelKind:
    """One kind of model list: the Generate tab's generators (GENERATORS) or the Translate tab's
    image-to-image models (gan_space.ui.translate_tab.TRANSLATORS). `list_models` scans the same
    places for every kind; a kind says which folders hold its models and how they are named."""

    noun: str  # "generator": what the errors call one model of the list
    config: Callable[[Path], dict | None]  # a folder -> its config when it holds a model of this kind, else None
    run_label: Callable[[str, dict, dict], str]  # (run name, config, summary) -> what the list shows
    hub_label: Callable[[str, dict], str]  # (repo id, config) -> what the list shows
    none_yet: str  # the error when the list is empty: where to get one
    shipped: bool = False  # whether checkpoints/ (the models shipped with the app) are of this kind
    hub_layouts: tuple[str, ...] = ("",)  # where a pulled repo may hold the model: its top or a subfolder


def _generator_run_label(run_name: str, config: dict, summary: dict) -> str:
    done = summary.get("finished", summary.get("step") == summary.get("total_steps"))
    if summary.get("minutes"):  # by the clock: how far through its minutes
        so_far = f"{summary.get('training_seconds', 0) / 60:.1f} of {summary['minutes']:g} minutes"
    else:
        so_far = f"step {summary.get('step')}/{summary.get('total_steps')}"
    progress = "" if done or not summary else f", {so_far}"
    return f"{run_name} (trained here{progress})"


GENERATORS = ModelKind(
    noun="generator", config=_generator_config, run_label=_generator_run_label,
    hub_label=lambda repo_id, config: f"{repo_id} (Hub)",
    none_yet="no generators available: train one in the Train tab first",
    # A pulled repo holds the generator at its top or in generator/ (a pipeline layout).
    shipped=True, hub_layouts=("", "generator"))


def list_models(paths: AppPaths, kind: ModelKind, owner: str | None = None) -> list[GeneratorEntry]:
    """Every model of `kind` the app can use: shipped first (when the kind has them), then runs
    (their newest checkpoint), then Hub pulls (with `owner`: only the runs and pulls that owner
    may use)."""
    entries = []
    for folder in _subfolders(paths.checkpoints_dir) if kind.shipped else []:
        config = kind.config(folder)
        if config is not None:
            summary = read_json(folder / "summary.json")
            entries.append(GeneratorEntry(f"shipped/{folder.name}", f"{folder.name} (shipped)", folder, "shipped",
                                          config, summary))
    for run in _subfolders(paths.runs_dir):
        if run.name in RESERVED_RUN_NAMES or not may_use(run, owner):
            continue
        folder = latest_generator_folder(run)
        config = kind.config(folder) if folder is not None else None
        if config is not None:
            summary = read_json(folder.parent / "state.json").get("summary", {})
            entries.append(GeneratorEntry(f"runs/{run.name}", kind.run_label(run.name, config, summary), folder,
                                          "trained", config, summary))
    for pulled in _subfolders(paths.hub_dir):
        if not may_use(pulled, owner):
            continue
        for folder in (pulled / layout for layout in kind.hub_layouts):
            config = kind.config(folder)
            if config is not None:
                summary = read_json(folder / "summary.json")
                label = kind.hub_label(pulled.name.replace("--", "/", 1), config)
                entries.append(GeneratorEntry(f"hub/{pulled.name}", label, folder, "hub", config, summary))
                break
    return entries


def find_model(paths: AppPaths, kind: ModelKind, key: str | None, owner: str | None = None) -> GeneratorEntry:
    """The model of `kind` a model-list key names; ValueError with the choices if none does."""
    entries = list_models(paths, kind, owner)
    for entry in entries:
        if entry.key == key:
            return entry
    if not entries:
        raise ValueError(kind.none_yet)
    raise ValueError(f"no {kind.noun} {key!r}: choose one of {', '.join(e.key for e in entries)}")


def list_generators(paths: AppPaths, owner: str | None = None) -> list[GeneratorEntry]:
    """Every generator the Generate tab can sample: shipped first, then runs, then Hub pulls
    (with `owner`: only the runs and pulls that owner may use)."""
    return list_models(paths, GENERATORS, owner)


def find_generator(paths: AppPaths, key: str, owner: str | None = None) -> GeneratorEntry:
    """The generator a model-list key names; ValueError with the choices if none does."""
    return find_model(paths, GENERATORS, key, owner)


class GeneratorCache:
    """Loaded generators, reloaded when their weights file changes (a run that keeps
    checkpointing, a model pulled again)."""

    def __init__(self, max_models: int = 4):
        self.max_models = max_models
        self._models: dict[str, tuple[tuple, object]] = {}
        self._lock = threading.Lock()

    def get(self, entry: GeneratorEntry):
        from gan_space.checkpoints import load_generator

        weights = entry.folder / WEIGHTS_NAME
        stat = weights.stat()
        version = (str(entry.folder), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._models.get(entry.key)
            if cached is not None and cached[0] == version:
                return cached[1]
        generator = load_generator(entry.folder, "cpu")
        with self._lock:
            self._models[entry.key] = (version, generator)
            while len(self._models) > self.max_models:
                self._models.pop(next(iter(self._models)))
        return generator
