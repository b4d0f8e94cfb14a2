"""Where the app runs, read from the variables a Hugging Face Space sets, and what follows from it:
the device, the defaults the Train and Translate tabs propose, what the page tells a visitor, and
what `python -m gan_space doctor` prints.

The variables (Hugging Face's docs: spaces-overview "Helper environment variables", spaces-oauth,
spaces-zerogpu; the `spaces` package reads SPACES_ZERO_GPU): SYSTEM=spaces on every Space;
SPACE_ID (owner/name), SPACE_AUTHOR_NAME, SPACE_HOST; SPACES_ZERO_GPU=true on ZeroGPU hardware;
ACCELERATOR, CPU_CORES and MEMORY describe the hardware; OAUTH_SCOPES (with OAUTH_CLIENT_ID) when the
README asks for `hf_oauth: true`. Off a Space none is set and nothing here changes the app.

Torch-free and token-free: this module never reads a token's value, only whether one is set.
"""

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..hub.errors import REPO_WRITE_SCOPES

LOCAL, CPU_SPACE, GPU_SPACE, ZERO_GPU = "local", "cpu-space", "gpu-space", "zerogpu"

# What ACCELERATOR holds on CPU hardware (the variable may also be unset there).
_CPU_ACCELERATORS = ("", "none", "cpu")


@dataclass(frozen=True)
class TrainingDefaults:
    """What the tabs propose on some hardware. None: the library's preset (steps, resolution)."""

    # Train tab, picture data (emoji, uploads, Hub datasets) and sounds (spectrogram pictures): a time budget
    picture_minutes: float | None
    # Train tab, picture data only: sounds keep their spectrogram size, 64 or 128 px (the only sizes
    # gan_space.data.sound_pictures turns back into sound; the UI's train_tab.is_pictures leaves them out)
    picture_resolution: int | None
    translate_minutes: float | None  # Translate tab's "Train for (minutes)"
    expect: str  # what a visitor gets, in one or two sentences ("{cores}" is filled in)


# One entry per kind of hardware (a registry, not a switch): the numbers for a CPU come from the
# README's measured table ("Pictures: the default recipe, and what to expect": 32 px for 15 minutes
# on 2 vCPU gives about half the emoji recognisable at a glance); the GPU ones are not measured yet.
DEFAULTS: dict[str, TrainingDefaults] = {
    LOCAL: TrainingDefaults(None, None, None, ""),
    CPU_SPACE: TrainingDefaults(
        15, 32, None,
        "Training runs on the CPU ({cores}). Digits and the 2-D sets train in a minute or two; pictures "
        "(the built-in emoji, your images) train for 15 minutes at 32 px, after which about half the emoji "
        "are recognisable at a glance (measured on 2 vCPU; a busy Space gets fewer steps and blurrier "
        "pictures). Image-to-image presets take about 2 minutes."),
    GPU_SPACE: TrainingDefaults(
        30, 64, None,
        "Training runs on the GPU. Pictures train for 30 minutes at 64 px (not measured on a GPU yet; on 2 CPU "
        "cores the same recipe gives faces, figures and flags)."),
    ZERO_GPU: TrainingDefaults(
        3, 64, 3,
        "Training runs on a slice of a shared GPU (ZeroGPU), a few minutes at a time, within each visitor's daily "
        "GPU quota (a few minutes for a free account, more with PRO). Pictures train at 64 px for 3 minutes; a "
        "run that stops keeps its checkpoint and resumes later (not measured on a GPU yet)."),
}

_WHERE = {LOCAL: "on this computer", CPU_SPACE: "on a CPU Space", GPU_SPACE: "on a GPU Space",
          ZERO_GPU: "on a ZeroGPU Space"}


@dataclass(frozen=True)
class Storage:
    """Where runs are kept and how long they last."""

    runs_dir: Path
    free_bytes: int | None  # on the runs folder's disk (None: not readable)
    mounted: bool  # on a volume of its own (a mounted storage bucket on a Space), not the root disk

    def lasting(self, on_space: bool) -> str:
        if not on_space:
            return "the local disk"
        if self.mounted:
            return "a mounted volume (a storage bucket): runs outlive a restart"
        return "the Space's own disk: wiped when the Space restarts (push a run to the Hub to keep it)"


@dataclass(frozen=True)
class Hosting:
    """One description of where the app runs, from the environment (see the module's docstring)."""

    kind: str = LOCAL
    space_id: str | None = None
    space_author: str | None = None
    space_host: str | None = None
    accelerator: str | None = None
    cpu_cores: int | None = None
    memory: str | None = None  # as the Space gives it (e.g. "16Gi")
    oauth_scopes: tuple[str, ...] = ()  # what the Space's sign-in asks for; () without a sign-in
    token_set: bool = False  # HF_TOKEN is set (its value is never kept here)

    @classmethod
    def from_environment(cls, environ=None) -> "Hosting":
        env = dict(os.environ if environ is None else environ)
        on_space = env.get("SYSTEM", "").strip().lower() == "spaces"
        accelerator = env.get("ACCELERATOR", "").strip() or None
        if not on_space:
            kind = LOCAL
        elif env.get("SPACES_ZERO_GPU", "").strip().lower() in ("1", "t", "true"):  # as `spaces` reads it
            kind = ZERO_GPU
        elif (accelerator or "").lower() not in _CPU_ACCELERATORS and not (accelerator or "").lower().startswith("cpu"):
            kind = GPU_SPACE
        else:
            kind = CPU_SPACE
        scopes = tuple(env.get("OAUTH_SCOPES", "").split()) if env.get("OAUTH_CLIENT_ID") else ()
        return cls(kind=kind, space_id=env.get("SPACE_ID") or None, space_author=env.get("SPACE_AUTHOR_NAME") or None,
                   space_host=env.get("SPACE_HOST") or None, accelerator=accelerator,
                   cpu_cores=_whole_number(env.get("CPU_CORES")), memory=env.get("MEMORY") or None,
                   oauth_scopes=scopes, token_set=bool(env.get("HF_TOKEN", "").strip()))

    # -- what it is

    @property
    def on_space(self) -> bool:
        return self.kind != LOCAL

    @property
    def device(self) -> str:
        """The device training uses: 'cuda' on GPU hardware, 'cpu' on a CPU Space, 'auto' locally (the
        trainer picks CUDA, then MPS, then the CPU)."""
        return {LOCAL: "auto", CPU_SPACE: "cpu", GPU_SPACE: "cuda", ZERO_GPU: "cuda"}[self.kind]

    @property
    def app_device(self) -> str | None:
        """The device the app's own process builds a run on, when it must not be the training
        device: on ZeroGPU the GPU exists only inside @spaces.GPU calls (the slices resume the run
        on it, gan_space.hosting.zerogpu), so the app process stays on the CPU. None elsewhere."""
        return "cpu" if self.kind == ZERO_GPU else None

    @property
    def cores(self) -> int:
        return self.cpu_cores or os.cpu_count() or 1

    @property
    def memory_gib(self) -> float | None:
        return parse_memory_gib(self.memory)

    @property
    def defaults(self) -> TrainingDefaults:
        return DEFAULTS[self.kind]

    @property
    def can_push_when_signed_in(self) -> bool:
        """The sign-in's token may create and write the visitor's own repos."""
        return bool(set(self.oauth_scopes) & set(REPO_WRITE_SCOPES))

    def where(self) -> str:
        """'on a CPU Space (someone/gan_space, 2 vCPU, 16Gi)' and the like."""
        details = [self.space_id] if self.space_id else []
        if self.kind == GPU_SPACE and self.accelerator:
            details.append(self.accelerator)
        if self.on_space:
            details.append(f"{self.cores} vCPU")
            if self.memory:
                details.append(self.memory)
        return _WHERE[self.kind] + (f" ({', '.join(details)})" if details else "")

    def duplicate_url(self) -> str | None:
        return f"https://huggingface.co/spaces/{self.space_id}?duplicate=true" if self.on_space and self.space_id \
            else None

    def duplicate_hint(self, visitor: str | None = None) -> str | None:
        """On a shared Space, how to get one's own copy; None off a Space and for the Space's own author
        (who is on their own copy)."""
        url = self.duplicate_url()
        if url is None or (visitor and self.space_author and visitor == self.space_author):
            return None
        return (f"This Space is shared by everyone who visits it. For private and longer runs, "
                f"[duplicate this Space]({url}) into your account (then pick its hardware in its settings).")

    def header_markdown(self, visitor: str | None = None) -> str:
        """The page's line about where it runs and what to expect; '' locally (nothing changes there)."""
        if not self.on_space:
            return ""
        lines = [f"**Running {self.where()}.** " + self.defaults.expect.format(cores=f"{self.cores} vCPU")]
        hint = self.duplicate_hint(visitor)
        if hint:
            lines.append(hint)
        return "\n\n".join(lines)


def storage_of(runs_dir) -> Storage:
    """The runs folder, the free space on its disk, and whether it sits on a volume of its own (a
    storage bucket mounted into a Space lives on another device than the container's root)."""
    path = Path(runs_dir).resolve()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        free = None
    try:
        mounted = existing.stat().st_dev != Path("/").stat().st_dev
    except OSError:
        mounted = False
    return Storage(runs_dir=path, free_bytes=free, mounted=mounted)


_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def parse_memory_gib(text: str | None) -> float | None:
    """'16Gi', '16G', '16GB', '17179869184' -> GiB; a bare number under 4096 is taken as GiB. None
    when absent or unreadable."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]i?)?b?\s*", (text or "").lower())
    if not match:
        return None
    value, unit = float(match.group(1)), match.group(2) or ""
    if not unit and value < 4096:
        return value
    return value * _UNITS[unit] / 2**30


def _whole_number(text: str | None) -> int | None:
    try:
        value = int(float((text or "").strip()))
    except ValueError:
        return None
    return value if value > 0 else None


# ZeroGPU's documented PyTorch versions (hub-docs spaces-zerogpu: "almost all versions from 2.1.0 to
# latest", with this list); the doctor says when the installed one is not among them.
ZEROGPU_LISTED_TORCH = ("2.1.0", "2.1.1", "2.1.2", "2.2.0", "2.2.2", "2.4.0", "2.5.1", "2.6.0", "2.7.1", "2.8.0")

# The Space's variables the doctor shows by value; secrets (HF_TOKEN, OAUTH_CLIENT_SECRET) only as set/unset.
SPACE_VARIABLES = ("SYSTEM", "SPACE_ID", "SPACE_AUTHOR_NAME", "SPACE_HOST", "SPACES_ZERO_GPU", "ACCELERATOR",
                   "CPU_CORES", "MEMORY", "OAUTH_CLIENT_ID", "OPENID_PROVIDER_URL")
SECRET_VARIABLES = ("HF_TOKEN", "OAUTH_CLIENT_SECRET")


def doctor_report(runs_dir, environ=None) -> list[str]:
    """What the app sees, one line each (`python -m gan_space doctor`): for people debugging their Space.
    Prints no secret: a token or client secret shows only as set or not set."""
    import platform
    import sys

    env = dict(os.environ if environ is None else environ)
    hosting = Hosting.from_environment(env)
    memory = _machine_memory_gib()
    lines = [f"where: {hosting.where()}",
             f"hardware: {cpu_model()}, {os.cpu_count() or '?'} cores seen"
             + (f" (CPU_CORES={hosting.cpu_cores})" if hosting.cpu_cores else "")
             + (f", {memory:.1f} GiB memory" if memory else "")
             + (f" (MEMORY={hosting.memory})" if hosting.memory else ""),
             f"python: {platform.python_version()} ({sys.executable})"]
    lines += _torch_lines(hosting)
    lines.append(f"spaces package: {_spaces_package(hosting)}")
    variables = [f"{name}={env[name]}" for name in SPACE_VARIABLES if env.get(name)]
    lines.append("space variables: " + (" ".join(variables) if variables else "none (not on a Space)"))
    lines.append("secrets: " + ", ".join(f"{name} {'set' if env.get(name, '').strip() else 'not set'}"
                                         for name in SECRET_VARIABLES) + " (values never shown)")
    if env.get("OAUTH_CLIENT_ID"):
        scopes = " ".join(hosting.oauth_scopes) or "(none)"
        verdict = ("a signed-in visitor can create and push to their own repos" if hosting.can_push_when_signed_in
                   else "a signed-in visitor CANNOT push: add hf_oauth_scopes: [contribute-repos] to the README's "
                        "front matter")
        lines.append(f"sign-in scopes: {scopes} ({verdict})")
    else:
        lines.append("sign-in: off (no OAUTH_CLIENT_ID: the README's hf_oauth: true sets it on a Space; "
                     "elsewhere paste a token or set HF_TOKEN)")
    storage = storage_of(runs_dir)
    free = f"{storage.free_bytes / 2**30:.1f} GiB free" if storage.free_bytes is not None else "free space unknown"
    lines.append(f"runs: {storage.runs_dir} ({'exists' if storage.runs_dir.exists() else 'not created yet'}; "
                 f"{free}; on {storage.lasting(hosting.on_space)})")
    defaults = hosting.defaults
    if defaults.picture_minutes is not None:
        lines.append(f"defaults here: pictures train {defaults.picture_minutes:g} minutes at "
                     f"{defaults.picture_resolution} px; training device {hosting.device}")
    else:
        lines.append(f"defaults here: the library's presets; training device {hosting.device}")
    return lines


def _torch_lines(hosting: Hosting) -> list[str]:
    try:
        import torch
    except ImportError as error:
        return [f"torch: not importable ({error})"]
    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU build"
    lines = [f"torch: {torch.__version__} ({build})"]
    from ..devices import visible_gpus

    gpus = visible_gpus()
    if gpus:
        lines.append(f"cuda: available, {len(gpus)} device(s): {gpus[0]}")
    elif hosting.kind == ZERO_GPU:
        lines.append("cuda: not visible outside a @spaces.GPU call (normal on ZeroGPU)")
    else:
        lines.append("cuda: not available")
    mps = getattr(torch.backends, "mps", None)
    lines.append(f"mps: {'available' if mps is not None and mps.is_available() else 'not available'}")
    if hosting.kind == ZERO_GPU:
        base = torch.__version__.split("+")[0]
        listed = base in ZEROGPU_LISTED_TORCH
        lines.append(f"zerogpu torch: {base} is {'in' if listed else 'not in'} the list ZeroGPU's docs give "
                     f"({', '.join(ZEROGPU_LISTED_TORCH[-3:])}, ...; 'almost all versions to latest')")
    return lines


def _spaces_package(hosting: Hosting) -> str:
    from importlib import metadata

    try:
        return f"installed, {metadata.version('spaces')}"
    except metadata.PackageNotFoundError:
        return "not installed" + (" (ZeroGPU needs it: add `spaces` to requirements.txt)"
                                  if hosting.kind == ZERO_GPU else "")


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what the platform says (benchmarks name their machine by it)."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU (model unknown)"


def _machine_memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None
