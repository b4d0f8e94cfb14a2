"""gan_space.hosting.environment: where the app runs, read from the variables a Hugging Face Space
sets (set here with monkeypatch), the defaults each kind of hardware proposes in the Train and
Translate tabs, the page's header, `python -m gan_space doctor`, and requirements that fit a Space."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import gradio as gr
import pytest
import torch
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from gan_space.hosting.environment import (CPU_SPACE, DEFAULTS, GPU_SPACE, LOCAL, ZERO_GPU, Hosting,
                                           parse_memory_gib, storage_of)
from gan_space.training import TrainConfig
from gan_space.ui import train_tab

REPO = Path(__file__).resolve().parent.parent
SPACE_VARIABLES = ("SYSTEM", "SPACE_ID", "SPACE_AUTHOR_NAME", "SPACE_HOST", "SPACES_ZERO_GPU", "ACCELERATOR",
                   "CPU_CORES", "MEMORY", "OAUTH_CLIENT_ID", "OAUTH_SCOPES", "OAUTH_CLIENT_SECRET", "HF_TOKEN")


@pytest.fixture
def space(monkeypatch):
    """Sets a Space's variables (none of this machine's leak in); returns a function of the extra ones."""
    for name in SPACE_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def on_space(**variables):
        for name, value in {"SYSTEM": "spaces", "SPACE_ID": "someone/gan_space", "SPACE_AUTHOR_NAME": "someone",
                            "SPACE_HOST": "someone-gan-space.hf.space", **variables}.items():
            monkeypatch.setenv(name, value)
        return Hosting.from_environment()

    return on_space


def test_off_a_space_nothing_changes(space):
    hosting = Hosting.from_environment()
    assert hosting.kind == LOCAL and not hosting.on_space and hosting.device == "auto"
    assert hosting.header_markdown() == "" and hosting.duplicate_hint() is None
    defaults = hosting.defaults
    assert (defaults.picture_minutes, defaults.picture_resolution, defaults.translate_minutes) == (None, None, None)
    # The Train tab keeps the library's presets and leaves the minutes box alone.
    preset = TrainConfig.for_dataset("emoji")
    resolution = train_tab.preset_values("emoji", hosting)[train_tab.PRESET_FIELDS.index("resolution")]
    assert resolution["value"] == preset.resolution
    assert train_tab.minutes_value("emoji", hosting) == gr.skip()


def test_a_cpu_space_proposes_the_measured_picture_budget(space):
    hosting = space(CPU_CORES="2", MEMORY="16Gi")
    assert hosting.kind == CPU_SPACE and hosting.device == "cpu" and hosting.cores == 2
    assert hosting.memory_gib == 16
    # README "What to expect on a CPU": 32 px for 15 minutes gives recognisable emoji on 2 vCPU,
    # where the preset's 20,000 steps would take an hour and a half there.
    index = train_tab.PRESET_FIELDS.index("resolution")
    for pictures in ("emoji", train_tab.UPLOAD, train_tab.HUB_DATASET):
        assert train_tab.minutes_value(pictures, hosting) == 15
        assert train_tab.preset_values(pictures, hosting)[index]["value"] == 32
    for quick in ("digits", "ring8"):  # a minute or two by steps: the minutes box is blanked
        assert train_tab.minutes_value(quick, hosting) is None
    assert train_tab.preset_values("digits", hosting)[index]["value"] == TrainConfig.for_dataset("digits").resolution
    header = hosting.header_markdown()
    assert header.startswith("**Running on a CPU Space (someone/gan_space, 2 vCPU, 16Gi).**")
    assert "15 minutes at 32 px" in header and "2 vCPU" in header


def test_a_gpu_space_proposes_larger_pictures(space):
    hosting = space(ACCELERATOR="t4-small", CPU_CORES="4")
    assert hosting.kind == GPU_SPACE and hosting.device == "cuda"
    index = train_tab.PRESET_FIELDS.index("resolution")
    assert train_tab.preset_values("emoji", hosting)[index]["value"] == 64
    assert train_tab.minutes_value("emoji", hosting) == DEFAULTS[GPU_SPACE].picture_minutes > DEFAULTS[
        CPU_SPACE].picture_minutes
    assert "t4-small" in hosting.where() and "not measured on a GPU yet" in hosting.header_markdown()


@pytest.mark.parametrize("value, zero", [("true", True), ("1", True), ("True", True), ("false", False), ("", False)])
def test_zerogpu_is_read_as_the_spaces_package_reads_it(space, value, zero):
    hosting = space(SPACES_ZERO_GPU=value)
    assert (hosting.kind == ZERO_GPU) is zero
    if zero:
        assert hosting.device == "cuda" and hosting.defaults.translate_minutes is not None
        assert "ZeroGPU" in hosting.header_markdown() and "quota" in hosting.header_markdown()
        # The app's own process never touches the GPU there: it builds runs on the CPU, the slices train.
        assert hosting.app_device == "cpu"
    else:
        assert hosting.app_device is None


def test_cpu_accelerator_values_are_a_cpu_space(space):
    for value in ("cpu", "cpu-basic", "cpu-upgrade", "none"):
        assert space(ACCELERATOR=value).kind == CPU_SPACE


def test_a_visitor_of_a_shared_space_is_told_how_to_duplicate_it_and_its_author_is_not(space):
    hosting = space()
    hint = hosting.duplicate_hint(visitor="a-visitor")
    assert "https://huggingface.co/spaces/someone/gan_space?duplicate=true" in hint
    assert hosting.duplicate_hint(visitor=None) == hint  # not signed in: could be anyone
    assert hosting.duplicate_hint(visitor="someone") is None  # the author, on their own copy
    assert "duplicate" not in hosting.header_markdown(visitor="someone")


def test_sign_in_scopes_and_whether_they_can_push(space):
    assert space().oauth_scopes == ()  # no sign-in on this Space
    assert not space(OAUTH_CLIENT_ID="c", OAUTH_SCOPES="openid profile").can_push_when_signed_in
    signed_in = space(OAUTH_CLIENT_ID="c", OAUTH_SCOPES="openid profile contribute-repos", HF_TOKEN="hf_x")
    assert signed_in.oauth_scopes == ("openid", "profile", "contribute-repos") and signed_in.can_push_when_signed_in
    assert signed_in.token_set and "hf_x" not in repr(signed_in)


@pytest.mark.parametrize("text, gib", [("16Gi", 16), ("16GiB", 16), ("16G", 16e9 / 2**30), (str(2**34), 16),
                                       ("32", 32), ("", None), (None, None), ("lots", None)])
def test_memory_as_a_space_may_give_it(text, gib):
    assert parse_memory_gib(text) == (pytest.approx(gib) if gib is not None else None)


def test_storage_tells_the_space_disk_from_a_mounted_volume(tmp_path):
    storage = storage_of(tmp_path / "runs" / "not-yet")
    assert storage.runs_dir == (tmp_path / "runs" / "not-yet").resolve() and storage.free_bytes > 0
    assert "wiped" in storage_of("/").lasting(on_space=True) and not storage_of("/").mounted
    assert storage_of("/").lasting(on_space=False) == "the local disk"


def test_the_page_says_where_it_runs_and_the_tabs_propose_its_defaults(tmp_path, space):
    from gan_space.ui.app import build_demo

    def blocks(demo, elem_id):
        return next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == elem_id)

    local = build_demo(runs_dir=tmp_path / "local", sessions_dir=tmp_path / "s1", hosting=Hosting())
    assert not blocks(local, "hosting-note").visible

    hosting = space(CPU_CORES="2", SPACES_ZERO_GPU="true")
    demo = build_demo(runs_dir=tmp_path / "runs", sessions_dir=tmp_path / "s2", hosting=hosting)
    note = blocks(demo, "hosting-note")
    assert note.visible and note.value.startswith("**Running on a ZeroGPU Space")
    assert "?duplicate=true" in note.value
    assert demo.context.hosting is hosting
    minutes = [block for block in demo.blocks.values() if isinstance(block, gr.Number)
               and block.label == "Train for (minutes)"]
    # The Translate tab's box starts at the hardware's budget (the Train tab's is set on load, per data).
    assert DEFAULTS[ZERO_GPU].translate_minutes in [block.value for block in minutes]


def test_doctor_prints_what_the_app_sees_and_never_a_secret(tmp_path):
    secret, client_secret = "hf_doctor_secret_4242", "oauth-client-secret-4242"
    env = {**os.environ, "SYSTEM": "spaces", "SPACE_ID": "someone/gan_space", "SPACE_AUTHOR_NAME": "someone",
           "SPACE_HOST": "someone-gan-space.hf.space", "CPU_CORES": "2", "MEMORY": "16Gi",
           "HF_TOKEN": secret, "OAUTH_CLIENT_ID": "client-1234", "OAUTH_CLIENT_SECRET": client_secret,
           "OAUTH_SCOPES": "openid profile contribute-repos", "GAN_SPACE_RUNS": str(tmp_path / "runs")}
    env.pop("SPACES_ZERO_GPU", None)
    env.pop("ACCELERATOR", None)
    done = subprocess.run([sys.executable, "-m", "gan_space", "doctor"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    lines = {line.strip().split(":", 1)[0]: line.strip() for line in out.splitlines()[1:]}
    assert lines["where"] == "where: on a CPU Space (someone/gan_space, 2 vCPU, 16Gi)"
    assert "cores seen (CPU_CORES=2)" in lines["hardware"] and "GiB memory (MEMORY=16Gi)" in lines["hardware"]
    assert lines["torch"].startswith(f"torch: {torch.__version__}")
    assert lines["cuda"] == ("cuda: not available" if not torch.cuda.is_available() else lines["cuda"])
    assert "SPACE_ID=someone/gan_space" in lines["space variables"]
    assert lines["secrets"] == "secrets: HF_TOKEN set, OAUTH_CLIENT_SECRET set (values never shown)"
    assert lines["sign-in scopes"].startswith("sign-in scopes: openid profile contribute-repos (a signed-in visitor "
                                              "can create and push")
    assert lines["runs"].startswith(f"runs: {(tmp_path / 'runs').resolve()} (not created yet;")
    assert "wiped when the Space restarts" in lines["runs"]
    assert lines["defaults here"] == "defaults here: pictures train 15 minutes at 32 px; training device cpu"
    assert secret not in out + done.stderr and client_secret not in out + done.stderr


# ---------------------------------------------------------------------------
# Requirements that fit a Space (README "On Hugging Face Spaces": what each hardware installs)


def _requirements(name: str) -> dict[str, Requirement]:
    lines = (REPO / name).read_text().splitlines()
    return {Requirement(line).name: Requirement(line) for line in (line.split("#")[0].strip() for line in lines)
            if line and not line.startswith("-")}


def test_requirements_give_a_space_pypis_torch_and_this_machine_its_cpu_wheel():
    text = (REPO / "requirements.txt").read_text()
    # No index of CPU wheels and no local label: a Space resolves torch from PyPI, whose Linux wheel is
    # the CUDA build; this machine's pip finds the +cpu wheel of the same version (its find-links).
    assert "index-url" not in text and "download.pytorch.org" not in text and "+cpu" not in text
    torch_pin = _requirements("requirements.txt")["torch"]
    (spec,) = torch_pin.specifier
    assert spec.operator == "==" and not torch_pin.marker
    pinned = Version(spec.version)
    assert Version(torch.__version__).base_version == str(pinned), "the installed torch is not the pinned one"
    # ZeroGPU's documented range: 2.1.0 to the latest, 2.3.x excluded (a PyTorch bug).
    assert pinned >= Version("2.1.0") and pinned.release[:2] != (2, 3)


def test_the_space_runs_the_gradio_it_pins_with_the_sign_in_extra():
    front = yaml.safe_load((REPO / "README.md").read_text(encoding="utf-8").split("---\n", 2)[1])
    gradio_pin = _requirements("requirements.txt")["gradio"]
    assert "oauth" in gradio_pin.extras  # hf_oauth: true needs authlib, or the app does not start on a Space
    assert str(gradio_pin.specifier) == f"=={front['sdk_version']}"
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py"


def test_the_code_runs_on_zerogpus_python():
    """ZeroGPU runs Python 3.10 (hub-docs: spaces-zerogpu); this machine runs 3.11: no 3.11-only syntax."""
    files = [REPO / "app.py", *sorted((REPO / "gan_space").rglob("*.py"))]
    for path in files:
        ast.parse(path.read_text(encoding="utf-8"), str(path), feature_version=(3, 10))
