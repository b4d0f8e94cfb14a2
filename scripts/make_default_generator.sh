#!/usr/bin/env bash
# Trains the generator that ships in checkpoints/digits/ (the Generate tab's default on
# first launch) with the project's own CLI and its digits preset, then copies only the
# generator (config.json + safetensors) and a small summary.json out of the run folder.
# A few minutes on a 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=runs/default-digits
rm -rf "$RUN"
python -m gan_space train --dataset digits --out "$RUN"

python - "$RUN" checkpoints/digits <<'PY'
import json
import shutil
import sys
from pathlib import Path

from gan_space.checkpoints import WEIGHTS_NAME, latest_checkpoint

run, target = Path(sys.argv[1]), Path(sys.argv[2])
checkpoint = latest_checkpoint(run)
state = json.loads((checkpoint / "state.json").read_text())
if target.exists():
    shutil.rmtree(target)
target.mkdir(parents=True)
for name in ("config.json", WEIGHTS_NAME):
    shutil.copyfile(checkpoint / "generator" / name, target / name)
summary = {**state["summary"], "command": f"python -m gan_space train --dataset digits --out {run}",
           "train_config": state["train_config"]}
(target / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(f"shipped {checkpoint / 'generator'} -> {target}")
PY
