#!/usr/bin/env bash
# Trains the speech vocoder that ships in gan_space/builtin/spoken-digits-vocoder-64.safetensors
# (what turns the 64 px spectrograms of a spoken-digits generator into sound, in place of
# Griffin-Lim) with the project's own CLI: the built-in spoken digits, 3,000 mel-loss-only steps
# then the critics join, 7,000 steps in all (about 40 minutes on a quiet 2-core CPU; steps, not
# minutes, so a busy machine gives the same vocoder, later). The last tenth of the speakers is held
# out; the file's metadata record how it and Griffin-Lim bring those clips back.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${1:-runs/speech-vocoder-64}
python -m gan_space train-vocoder --dataset spoken-digits --resolution 64 --steps 7000 --out "$RUN"
cp "$RUN/vocoder.safetensors" gan_space/builtin/spoken-digits-vocoder-64.safetensors
ls -l gan_space/builtin/spoken-digits-vocoder-64.safetensors
