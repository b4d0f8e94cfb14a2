#!/usr/bin/env bash
# Trains the colour generator that ships in checkpoints/emoji/ (beside digits in the Generate
# tab) with the project's own CLI and nothing set but the size and the minutes: the default
# picture recipe on the built-in emoji set, 64 px, 30 minutes (on a 2-core CPU; use a quiet
# machine: the result depends on how many steps fit in the time). Then it stages the generator
# as a Hub push would (weights byte for byte, summary.json with the score measured on fresh
# samples against the emoji, sample_grid.png), without a model card: no Hub repo is named.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${1:-runs/emoji-64}  # or an existing run folder to ship (e.g. image_quality.py's default/run)
COMMAND="python -m gan_space train --dataset emoji --resolution 64 --minutes 30"
if [ ! -d "$RUN" ]; then
    $COMMAND --out "$RUN"
fi

python - "$RUN" checkpoints/emoji "$COMMAND" <<'PY'
import json
import shutil
import sys
from pathlib import Path

from gan_space.hub import stage_repo_files

run, target, command = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
if target.exists():
    shutil.rmtree(target)
target.mkdir(parents=True)
described = stage_repo_files(run, target, "gan-space/emoji-64")
(target / "README.md").unlink()  # the card names a Hub repo; checkpoints/README.md says what ships
summary = json.loads((target / "summary.json").read_text())
summary["command"] = command
(target / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(f"shipped {described} -> {target}: Fréchet distance {summary['quality']['frechet_distance']:.3g} "
      f"(real pictures {summary['quality']['real_frechet_distance']:.3g})")
PY
