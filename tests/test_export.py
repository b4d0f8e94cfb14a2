"""Generated data for classifiers: export N pictures per class of a class-conditional generator
(a folder, a .zip, a Hub dataset repo read back by id from the loopback Hub), a non-conditional
generator refused clearly, and the classifier test's four accuracies."""

import json
import zipfile
from pathlib import Path

import pytest
import torch

from gan_space import cli
from gan_space.classification import CONDITIONS, classifier_test
from gan_space.data import load_dataset
from gan_space.export import (HUB_SPLIT, NotConditionalError, class_folder_names, export_pictures,
                              generated_pictures, load_conditional, push_dataset)
from gan_space.training import TrainConfig, train

SHIPPED_DIGITS = Path(__file__).resolve().parent.parent / "checkpoints" / "digits"  # num_classes 0


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    """A tiny class-conditional digits run: 40 steps (its pictures are rough; the tests check the
    plumbing and the classifier test, not the generator's quality)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is faster on a shared machine
    try:
        out = tmp_path_factory.mktemp("runs") / "digits-by-class"
        config = TrainConfig.for_dataset("digits", out_dir=str(out), conditional=True, steps=40, sample_every=40,
                                         checkpoint_every=40)
        assert train(config).status == "finished"
        yield out
    finally:
        torch.set_num_threads(threads)


def test_the_exported_folder_loads_as_a_data_set_with_the_runs_classes_and_trains(conditional_run, tmp_path):
    source = load_conditional(conditional_run)
    assert source.class_names == [str(i) for i in range(10)] and source.dataset == "digits"
    result = export_pictures(source, 4, tmp_path / "generated", seed=7)
    assert result.total == 40 and result.seeds == (7, 10)
    assert sorted(p.name for p in (tmp_path / "generated" / "3").iterdir()) == [
        "seed-000007.png", "seed-000008.png", "seed-000009.png", "seed-000010.png"]

    data = load_dataset(str(tmp_path / "generated"), 8, 1)
    assert data.class_names == [str(i) for i in range(10)]
    assert torch.bincount(data.labels).tolist() == [4] * 10
    assert data.skipped == ["README.md: not an image file extension"]  # the card, nothing else
    # Lossless: the pictures read back are those the generator makes for these seeds and classes.
    assert torch.equal(data.samples[data.labels == 3], generated_pictures(source.generator, 3, 4, seed=7))
    card = (tmp_path / "generated" / "README.md").read_text()
    assert "image-classification" in card and "seeds 7 to 10" in card and "digits-by-class" in card

    # The project trains on it, with its classes.
    config = TrainConfig.for_dataset(str(tmp_path / "generated"), out_dir=str(tmp_path / "again"), conditional=True,
                                     steps=2, resolution=8, channels=1, arch="mlp")
    assert train(config).status == "finished"
    assert load_conditional(tmp_path / "again").class_names == [str(i) for i in range(10)]


def test_the_zip_holds_the_same_layout_and_nothing_is_overwritten(conditional_run, tmp_path):
    source = load_conditional(conditional_run)
    result = export_pictures(source, 3, tmp_path / "generated", as_zip=True)
    assert result.path == tmp_path / "generated.zip"
    with zipfile.ZipFile(result.path) as archive:
        assert "README.md" in archive.namelist() and "9/seed-000002.png" in archive.namelist()
    data = load_dataset(str(result.path), 8, 1)
    assert data.class_names == [str(i) for i in range(10)] and torch.bincount(data.labels).tolist() == [3] * 10

    with pytest.raises(ValueError, match="exists already"):
        export_pictures(source, 3, result.path)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep")
    with pytest.raises(ValueError, match="already holds files"):
        export_pictures(source, 3, tmp_path / "busy")
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["mine.txt"]
    with pytest.raises(ValueError, match="per class"):
        export_pictures(source, 0, tmp_path / "none")
    assert not list(tmp_path.glob(".*partial*"))  # no temporary left behind


def test_a_generator_without_classes_is_refused_clearly(tmp_path, capsys):
    with pytest.raises(NotConditionalError, match=r"without class labels.*--conditional"):
        load_conditional(SHIPPED_DIGITS)
    code = cli.main(["export", "--model", str(SHIPPED_DIGITS), "--per-class", "2", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and err.startswith("error: ") and "class-conditional" in err
    assert "Traceback" not in err and not (tmp_path / "x").exists()


def test_class_folder_names_are_plain_and_unique():
    assert class_folder_names(["cats", "Smileys & Emotion", "../up", ".hidden", "a/b", "", "CATS", "x\x00"]) == [
        "cats", "Smileys & Emotion", "class-2", "class-3", "class-4", "class-5", "class-6", "class-7"]


def test_the_hub_dataset_reads_back_by_id(conditional_run, fake_hub, hub_repo_id, tmp_path, monkeypatch, capsys):
    from huggingface_hub import HfApi

    monkeypatch.setenv("HF_TOKEN", fake_hub.token)
    code = cli.main(["export", "--model", str(conditional_run), "--per-class", "3", "--out", str(tmp_path / "set"),
                     "--repo", hub_repo_id])
    assert code == 0, capsys.readouterr().err
    assert hub_repo_id in capsys.readouterr().out
    files = HfApi().list_repo_files(hub_repo_id, repo_type="dataset", token=fake_hub.token)
    assert "README.md" in files and f"{HUB_SPLIT}/4/seed-000001.png" in files
    assert len([f for f in files if f.endswith(".png")]) == 30

    data = load_dataset(hub_repo_id, 8, 1, token=fake_hub.token)
    assert data.name == hub_repo_id and data.class_names == [str(i) for i in range(10)]
    assert torch.bincount(data.labels).tolist() == [3] * 10
    local = load_dataset(str(tmp_path / "set"), 8, 1)
    assert torch.equal(data.samples, local.samples)

    # A second push replaces the pictures of the first (none left over).
    source = load_conditional(conditional_run)
    export_pictures(source, 2, tmp_path / "smaller")
    push_dataset(tmp_path / "smaller", hub_repo_id, fake_hub.token)
    files = HfApi().list_repo_files(hub_repo_id, repo_type="dataset", token=fake_hub.token)
    assert len([f for f in files if f.endswith(".png")]) == 20
    card = HfApi().hf_hub_download(hub_repo_id, "README.md", repo_type="dataset", token=fake_hub.token)
    assert "task_categories" in Path(card).read_text() and fake_hub.token not in Path(card).read_text()


def test_pushing_needs_a_token_and_an_exported_folder(conditional_run, fake_hub, hub_repo_id, tmp_path):
    from gan_space.hub import HubAuthError

    export_pictures(load_conditional(conditional_run), 1, tmp_path / "set")
    with pytest.raises(HubAuthError, match="token"):
        push_dataset(tmp_path / "set", hub_repo_id, None)
    with pytest.raises(ValueError, match="not an exported set"):
        push_dataset(tmp_path, hub_repo_id, fake_hub.token)


def test_the_classifier_test_reports_four_accuracies_with_their_spread(conditional_run, tmp_path, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = classifier_test(load_conditional(conditional_run), few_per_class=5, seeds=2, steps=80)
    finally:
        torch.set_num_threads(threads)
    assert list(result.accuracies) == list(CONDITIONS)
    for condition in CONDITIONS:
        assert len(result.accuracies[condition]) == 2
        assert all(0.0 <= value <= 1.0 for value in result.accuracies[condition])
        assert result.spread(condition) >= 0.0
    assert result.chance == pytest.approx(0.1)
    assert result.mean("real") > 3 * result.chance  # real digits are easy: far above chance
    lines = result.lines()
    assert len(lines) == 6 and "(b) generated only (CAS)" in lines[2] and "±" in lines[1]


def test_classify_test_cli(conditional_run, tmp_path, capsys):
    code = cli.main(["classify-test", "--model", str(conditional_run), "--few-per-class", "3", "--seeds", "1",
                     "--steps", "20", "--generated-per-class", "10", "--json", str(tmp_path / "numbers.json")])
    out = capsys.readouterr().out
    assert code == 0 and "(a) real" in out and "(d) 3 real per class + generated" in out
    numbers = json.loads((tmp_path / "numbers.json").read_text())
    assert set(numbers["mean"]) == set(CONDITIONS) and numbers["generated_per_class"] == 10

    code = cli.main(["classify-test", "--model", str(conditional_run), "--real", "emoji", "--seeds", "1"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and "classes" in err and "Traceback" not in err


def test_a_generator_on_the_hub_exports_with_the_class_names_its_run_recorded(conditional_run, fake_hub, hub_repo_id,
                                                                                tmp_path):
    from gan_space import hub

    hub.push(conditional_run, hub_repo_id, token=fake_hub.token, measure_quality=False)
    source = load_conditional(hub_repo_id, token=fake_hub.token)
    assert source.name == hub_repo_id and source.class_names == [str(i) for i in range(10)]
    assert source.dataset == "digits"
    result = export_pictures(source, 1, tmp_path / "from-hub")
    assert f"--model {hub_repo_id}" in result.card and sorted(result.counts) == [str(i) for i in range(10)]
