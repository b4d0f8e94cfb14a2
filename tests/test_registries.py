"""A new metric and a new task are one module each: registered, they are measured, offered and
described everywhere (the live measurements, the CLI, the app's API and choices, the Hub card)
with no other edit. tests/tiny_metric.py and tests/tiny_task.py are those modules."""

from pathlib import Path

import pytest

import tiny_metric
import tiny_task
from gan_space.diagnostics import SampleWatcher
from gan_space.hub import stage_repo_files
from gan_space.metrics import sample_metrics
from gan_space.training import TrainConfig, Trainer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def moons_metric():
    tiny_metric.register()
    try:
        yield tiny_metric.METRIC
    finally:
        tiny_metric.unregister()


def _moons_run(out_dir, steps=30):
    config = TrainConfig.for_dataset("moons", out_dir=str(out_dir), steps=steps, width=32, batch_size=64,
                                     log_every=10, sample_every=steps, checkpoint_every=steps)
    trainer = Trainer(config)
    for _ in trainer.run():
        pass
    return trainer


def test_a_metric_in_one_module_is_measured_live_and_on_the_hub_card(tmp_path, moons_metric):
    assert sample_metrics("moons", "points") == [moons_metric]
    assert moons_metric not in sample_metrics("ring8", "points") + sample_metrics("emoji", "images")
    trainer = _moons_run(tmp_path / "moons")
    point = SampleWatcher(trainer).measure()
    assert 0 <= point.others["near_arcs"] <= 1
    assert point.modes is None  # the mixtures' metric does not apply to moons
    staging = tmp_path / "staging"
    staging.mkdir()
    stage_repo_files(tmp_path / "moons", staging, "someone/moons-gan")
    card = (staging / "README.md").read_text()
    assert "share of samples near the arcs" in card


def test_without_the_module_the_same_run_has_no_such_measurement(tmp_path):
    assert sample_metrics("moons", "points") == []
    trainer = _moons_run(tmp_path / "moons", steps=10)
    assert SampleWatcher(trainer).measure().others == {}


@pytest.fixture
def invert_task():
    tiny_task.register()
    try:
        yield tiny_task.TASK
    finally:
        tiny_task.unregister()


def test_a_task_in_one_module_is_in_the_cli_the_api_the_translate_tab_and_the_hub_card(tmp_path, invert_task,
                                                                                       capsys):
    from gradio_client import Client

    from app_fixtures import free_port
    from gan_space.cli import build_parser, main
    from gan_space.tasks import task_names
    from gan_space.ui import build_demo

    # The CLI: offered, and it trains (the held-out scores against its baseline, the input).
    train = next(a for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions
                 if "--task" in a.option_strings)
    assert "invert" in train.choices and "invert" in task_names(pairs=True)
    run = tmp_path / "runs" / "invert-cli"
    assert main(["train", "--dataset", "emoji", "--task", "invert", "--out", str(run), "--steps", "6",
                 "--batch-size", "4", "--resolution", "16", "--max-images", "40", "--pixel-warmup", "2",
                 "--device", "cpu"]) == 0
    assert "held-out" in capsys.readouterr().out and (run / "held_out.safetensors").is_file()

    # The Hub card: its words, its instructions, its held-out table against the input.
    staging = tmp_path / "staging"
    staging.mkdir()
    stage_repo_files(run, staging, "someone/emoji-invert")
    card = (staging / "README.md").read_text()
    assert "**negative -> picture**" in card and "Give it a negative" in card and "| input |" in card

    # The app: the Translate tab offers it, and the API trains it.
    demo = build_demo(checkpoints_dir=REPO / "checkpoints", runs_dir=tmp_path / "app-runs",
                      sessions_dir=tmp_path / "sessions", live_preview_seconds=0.3)
    task_radio = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "translate-task")
    assert ("Invert (negative → picture)", "invert") in [tuple(choice) for choice in task_radio.choices]
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, ssr_mode=False, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False,
                        download_files=str(tmp_path / "downloads"))
        outputs = list(client.submit(task="invert", steps=6, batch_size=4, resolution=16, run_name="api-invert",
                                     api_name="/translate_train"))
        assert "finished 6 steps" in outputs[-1][3], outputs[-1][3]
        client.close()
    finally:
        demo.close()
    assert (tmp_path / "app-runs" / "api-invert" / "held_out.safetensors").is_file()


def test_a_task_that_is_not_registered_is_refused_by_name(tmp_path):
    from gan_space.training import ConfigError

    with pytest.raises(ConfigError, match="task='invert'.*one of generate, super-resolution"):
        TrainConfig.for_dataset("emoji", task="invert", out_dir=str(tmp_path / "x"))
