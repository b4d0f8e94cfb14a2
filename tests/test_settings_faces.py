"""Every TrainConfig setting reaches every face: a CLI flag with the library's choices, the
app's API (its own parameter or the settings JSON), and the UI's choice lists are the
library's tables (gan_space.names), not copies."""

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gan_space import augment, losses, names
from gan_space.objectives.translation import PIXEL_LOSS_FUNCTIONS
from gan_space.cli import build_parser, main
from gan_space.models import family_names
from gan_space.training import ConfigError, TrainConfig, check_resume_overrides, setting_choices
from gan_space.tasks import task_names
from gan_space.ui import train_tab

REPO = Path(__file__).resolve().parent.parent
FIELDS = dataclasses.fields(TrainConfig)


def train_parser() -> argparse.ArgumentParser:
    verbs = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return verbs.choices["train"]


def train_flags() -> dict:
    """dest -> the train parser's action."""
    return {action.dest: action for action in train_parser()._actions}


def test_the_names_module_imports_no_torch():
    code = "import sys, gan_space.names; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr[-2000:]


def test_every_field_is_a_described_setting():
    for setting_field in FIELDS:
        assert setting_field.metadata.get("help"), f"TrainConfig.{setting_field.name} has no help: declare it with setting()"
        assert setting_field.type in (bool, int, float, str), setting_field


@pytest.mark.parametrize("setting_field", FIELDS, ids=[f.name for f in FIELDS])
def test_the_cli_sets_every_field(setting_field):
    action = train_flags().get(setting_field.name)
    assert action is not None, f"TrainConfig.{setting_field.name} has no flag in `python -m gan_space train`"
    assert action.default is None  # left out: the preset decides
    flag = action.option_strings[0]
    if setting_field.type is bool:
        assert isinstance(action, argparse.BooleanOptionalAction)
        for given, value in ((flag, True), ("--no-" + flag[2:], False)):
            assert getattr(train_parser().parse_args([given]), setting_field.name) is value
        return
    assert action.type is setting_field.type
    choices = setting_choices(setting_field)
    assert (tuple(action.choices) if action.choices is not None else None) == choices
    value = choices[-1] if choices else setting_field.default
    parsed = getattr(train_parser().parse_args([flag, str(value)]), setting_field.name)
    assert parsed == value and type(parsed) is setting_field.type


def test_the_old_flag_names_still_work():
    args = train_parser().parse_args([
        "--dataset", "digits", "--out", "runs/x", "--steps", "3", "--minutes", "1", "--seed", "2", "--resolution", "8",
        "--channels", "1", "--batch-size", "4", "--arch", "mlp", "--width", "8", "--num-layers", "1",
        "--latent-dim", "4", "--loss", "hinge", "--lr-g", "0.01", "--lr-d", "0.01", "--r1-gamma", "0",
        "--spectral-norm", "--pack", "2", "--ema-decay", "0", "--augment", "flip", "--conditional", "--device", "cpu",
        "--precision", "fp32", "--max-images", "10", "--in-memory-limit-mb", "5", "--task", "generate",
        "--scale", "2", "--blur", "1", "--noise", "1", "--jpeg", "50", "--direction", "BtoA", "--pixel-loss", "l1",
        "--pixel-weight", "1", "--adversarial-weight", "0", "--feature-weight", "0", "--pixel-warmup", "2",
        "--perceptual-weight", "0", "--checkpoint-minutes", "0", "--resume"])
    assert args.out_dir == "runs/x" and args.spectral_norm is True and args.conditional is True and args.resume


def test_the_choice_lists_are_the_library_tables(tmp_path):
    flags = train_flags()
    library = {"loss": losses.LOSSES, "augment": augment.AUGMENTATIONS, "arch": tuple(family_names()),
               "task": tuple(task_names()), "scale": names.SCALES, "direction": names.DIRECTIONS,
               "pixel_loss": tuple(PIXEL_LOSS_FUNCTIONS), "precision": names.PRECISIONS, "channels": names.CHANNELS}
    for name, table in library.items():
        assert tuple(flags[name].choices) == tuple(table), name
    # The implementations are the names' tables, in their order.
    assert losses.LOSSES == names.LOSSES and augment.AUGMENTATIONS == names.AUGMENTATIONS
    assert "rpgan" in flags["loss"].choices and "ada" in flags["augment"].choices

    # The app: the Train and Translate tabs' choices.
    from gan_space.ui import build_demo

    demo = build_demo(runs_dir=tmp_path / "runs", sessions_dir=tmp_path / "sessions")
    components = {getattr(block, "elem_id", None) or getattr(block, "label", None): block
                  for block in demo.blocks.values()}

    def values(label):
        return tuple(value for _, value in components[label].choices)

    assert values("Loss") == losses.LOSSES and values("Augmentation") == augment.AUGMENTATIONS
    assert values("Pixel loss") == tuple(PIXEL_LOSS_FUNCTIONS) and values("Scale") == names.SCALES
    # The Translate tab's tasks: the registry's image-to-image tasks on pictures (the Train tab's is
    # "generate"; next-frame prediction takes sequences, from the CLI).
    from gan_space.tasks import get_task

    assert values("translate-task") == tuple(task for task in task_names(pairs=True)
                                              if not get_task(task).takes_sequences)
    assert "super-resolution" in values("translate-task") and "next-frame" not in values("translate-task")
    # The architecture lists are the registry's, for the chosen data.
    arch = train_tab.preset_values("digits")[train_tab.PRESET_FIELDS.index("arch")]
    assert arch["choices"] == family_names("images")


def test_a_table_name_without_an_implementation_fails_at_import():
    with pytest.raises(ImportError, match="no implementation for b"):
        names.implemented("loss", ("a", "b"), {"a": 1})
    with pytest.raises(ImportError, match="not in the table: c"):
        names.implemented("loss", ("a",), {"a": 1, "c": 2})
    assert list(names.implemented("loss", ("b", "a"), {"a": 1, "b": 2})) == ["b", "a"]


@pytest.mark.parametrize("setting_field", FIELDS, ids=[f.name for f in FIELDS])
def test_the_api_settings_take_every_field_the_page_does_not_set(setting_field):
    name = setting_field.name
    if name in train_tab.SET_BY_THE_PAGE:  # /train's own parameters (dataset, run_name)
        with pytest.raises(ValueError, match=f"{name} is set by the '{train_tab.SET_BY_THE_PAGE[name]}' input"):
            train_tab.json_settings(json.dumps({name: setting_field.default}))
        return
    assert train_tab.json_settings(json.dumps({name: setting_field.default})) == {name: setting_field.default}


def test_a_resume_keeps_the_runs_data_networks_and_task():
    saved = TrainConfig().to_dict()
    check_resume_overrides(saved, {"steps": 10, "lr_d": 5e-4, "loss": "hinge", "checkpoint_every": 1})
    check_resume_overrides(saved, {"width": saved["width"], "arch": saved["arch"]})  # the same: no change
    for name in ("dataset", "arch", "width", "resolution", "latent_dim", "spectral_norm", "task", "scale"):
        setting_field = next(f for f in FIELDS if f.name == name)
        assert not setting_field.metadata["may_change_on_resume"], name
    with pytest.raises(ConfigError, match=r"width, spectral_norm cannot change when resuming \(width=256 -> 32, "
                                          r"spectral_norm=False -> True\)"):
        check_resume_overrides(saved, {"width": 32, "spectral_norm": True, "steps": 5})


@pytest.mark.parametrize("text, message", [
    ('{"r2gamma": 0.2}', "'r2gamma' is not a training setting; the settings are steps, minutes"),
    ('{"r2_gamma": "0.2"}', "r2_gamma must be a number, got '0.2'"),
    ('{"steps": 2.5}', "steps must be a whole number, got 2.5"),
    ('{"compile": 1}', "compile must be true or false, got 1"),
    ('{"steps": true}', "steps must be a whole number, got True"),
    ('{"loss": 3}', "loss must be a string, got 3"),
    ('[1, 2]', "settings must be a JSON object"),
    ('{"r2_gamma": 0.2', "settings are not JSON"),
])
def test_bad_api_settings_are_named(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        train_tab.json_settings(text)


def test_the_cli_trains_the_picture_recipe_by_name(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--dataset", "digits", "--out", str(run), "--steps", "3", "--batch-size", "8",
                 "--width", "16", "--loss", "rpgan", "--augment", "ada", "--r2-gamma", "0.2",
                 "--lr-decay-fraction", "0.5", "--r1-every", "2", "--no-compile", "--log-every", "1"]) == 0
    saved = json.loads((run / "train_config.json").read_text())
    assert (saved["loss"], saved["augment"], saved["r2_gamma"]) == ("rpgan", "ada", 0.2)
    assert (saved["lr_decay_fraction"], saved["r1_every"], saved["compile"], saved["steps"]) == (0.5, 2, False, 3)
    assert saved["r1_gamma"] == 1.0 and saved["arch"] == "mlp"  # what was left out: the digits preset's

    # A resume may change the budget, the optimisation and the machinery, and says which
    # settings it keeps (the networks here).
    assert main(["train", "--resume", "--out", str(run), "--steps", "5", "--checkpoint-every", "1", "--loss", "hinge",
                 "--dataset", "digits", "--width", "16"]) == 0  # the run's own data and width: no change
    assert (run / "checkpoints" / "latest").read_text() == "step-0000005"
    saved = json.loads((run / "train_config.json").read_text())
    assert (saved["loss"], saved["checkpoint_every"], saved["r2_gamma"]) == ("hinge", 1, 0.2)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(run), "--steps", "6", "--width", "32"]) == 2
    assert "width cannot change when resuming (width=16 -> 32)" in capsys.readouterr().err
