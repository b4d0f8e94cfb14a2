#!/usr/bin/env bash
# Trains the sound generator that ships in checkpoints/spoken-digits/ (beside digits and emoji in
# the Generate tab) with the project's own CLI and nothing set but the minutes: the sound preset
# (64 px log-mel pictures, the picture recipe in one channel) on the built-in spoken digits, 15
# minutes (on a 2-core CPU; use a quiet machine: the result depends on how many steps fit). Then it
# stages the generator as a Hub push would (weights byte for byte, sound.json, four WAV samples,
# summary.json with the spoken-digit classifier's score on fresh samples, the spectrogram grid),
# without a model card: no Hub repo is named.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${1:-runs/spoken-digits-15}
COMMAND="python -m gan_space train --dataset spoken-digits --minutes 15"
if [ ! -d "$RUN" ]; then
    $COMMAND --out "$RUN"
fi

python - "$RUN" checkpoints/spoken-digits "$COMMAND" <<'PY'
import json
import shutil
import sys
from pathlib import Path

from gan_space.hub import stage_repo_files

run, target, command = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
if target.exists():
    shutil.rmtree(target)
target.mkdir(parents=True)
described = stage_repo_files(run, target, "gan-space/spoken-digits-64")
(target / "README.md").unlink()  # the card names a Hub repo; checkpoints/README.md says what ships
summary = json.loads((target / "summary.json").read_text())
summary["command"] = command
(target / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
quality = summary["quality"]
print(f"shipped {described} -> {target}: {quality['classes_covered']}/10 digits, Inception-style score "
      f"{quality['inception_score']:.2f} (real clips {quality['real_inception_score']:.2f})")
PY
