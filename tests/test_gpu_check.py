"""benchmarks/gpu_check.py: its dry run trains, scores and draws on the CPU through the same
code as on a GPU and leaves RESULTS.md alone; the GPU table it writes keeps other GPUs' rows;
without a GPU the real check says so and how to dry-run instead."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
RESULTS = REPO / "benchmarks" / "RESULTS.md"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dry_run_trains_scores_and_draws_both_recipes_and_leaves_results_alone(tmp_path):
    results_before = RESULTS.read_bytes()
    out = tmp_path / "check"
    done = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["dry_run"] is True and report["environment"]["device"] == "cpu"
    assert [r["resolution"] for r in report["results"]] == [16, 32]
    for result in report["results"]:
        assert result["steps"] >= 1 and result["images_per_second"] > 0
        assert result["precision"] in ("bf16", "fp32")  # 'auto' on this CPU
        assert math.isfinite(result["frechet_distance"]) and result["frechet_distance"] > result["real_frechet_distance"]
        assert result["peak_memory_bytes"] is None  # a GPU's figure only
        with Image.open(result["grid"]) as grid:  # 64 samples: an 8 x 8 grid of the recipe's pictures
            assert grid.width >= 8 * result["resolution"] and grid.height >= 8 * result["resolution"]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert len(table) == 3 and "emoji 32 px (resnet, batch 32)" in table[2]
    assert RESULTS.read_bytes() == results_before  # a dry run writes the table only when asked


def row(gpu_check, gpu, resolution, fd):
    cells = ["2026-12-01", gpu, "2.13.0 / 12.8", f"emoji {resolution} px (resnet, batch 32)", "bf16", "5.0",
             "10,000", "5,000 (4,800)", f"{fd} (3.80)", "0.100 (-0.017)", "1.2 GiB", "`results/grid.png`"]
    assert len(cells) == len(gpu_check.COLUMNS)
    return cells


def test_the_gpu_table_gets_the_new_rows_and_keeps_other_gpus(gpu_check):
    text = RESULTS.read_text()
    assert "not measured yet" in text  # the placeholder, until a GPU runs the check
    first = gpu_check.update_results_table(text, [row(gpu_check, "NVIDIA A", 64, 20.0),
                                                  row(gpu_check, "NVIDIA A", 128, 30.0)])
    assert "not measured yet: no GPU" not in first
    start, end = first.index(gpu_check.TABLE_START), first.index(gpu_check.TABLE_END)
    # Only the table changed.
    assert first[:start] == text[:text.index(gpu_check.TABLE_START)]
    assert first[end:] == text[text.index(gpu_check.TABLE_END):]
    second = gpu_check.update_results_table(first, [row(gpu_check, "NVIDIA B", 64, 25.0),
                                                    row(gpu_check, "NVIDIA A", 64, 19.0)])
    rows = [line for line in second[second.index(gpu_check.TABLE_START):second.index(gpu_check.TABLE_END)].splitlines()
            if line.startswith("| 2026")]
    assert [(r.split(" | ")[1], r.split(" | ")[3], r.split(" | ")[8]) for r in rows] == [
        ("NVIDIA A", "emoji 128 px (resnet, batch 32)", "30.0 (3.80)"),
        ("NVIDIA B", "emoji 64 px (resnet, batch 32)", "25.0 (3.80)"),
        ("NVIDIA A", "emoji 64 px (resnet, batch 32)", "19.0 (3.80)")]  # A's 64 px replaced, not added


def test_a_results_file_without_the_table_is_a_clear_error(gpu_check):
    with pytest.raises(ValueError, match="no GPU table: add the lines"):
        gpu_check.update_results_table("# results\n", [row(gpu_check, "NVIDIA A", 64, 20.0)])


def test_without_a_gpu_the_check_says_so_and_names_the_dry_run(gpu_check, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main(["--results", "/nonexistent/RESULTS.md"]) == 2
    error = capsys.readouterr().err
    assert "no usable CUDA GPU" in error and "run it with --dry-run" in error
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert gpu_check.main(["--device", "mps"]) == 2  # the check is for CUDA GPUs
    assert "is not a CUDA GPU" in capsys.readouterr().err
