#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, then runs them.
# This is the README's test command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install -q -r requirements-dev.txt

# Debian packages the tests need, installed when missing: the browser tests drive Debian's
# Chromium (Playwright's own browser download does not work offline); eSpeak NG speaks the
# built-in spoken digits (packages.txt lists the app's for a Space).
MISSING=""
if ! command -v chromium >/dev/null 2>&1; then MISSING="$MISSING chromium"; fi
if ! command -v espeak-ng >/dev/null 2>&1; then MISSING="$MISSING espeak-ng"; fi
if [ -n "$MISSING" ]; then
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq $MISSING
fi

export GRADIO_ANALYTICS_ENABLED=False HF_HUB_DISABLE_TELEMETRY=1
# Two worker processes (pytest-xdist; one per core, at most two): the suite is mostly
# single-threaded Python, so two cores run it in a little over half the time. A module's tests
# stay on one worker (--dist loadfile): module fixtures are set up once. Modules are handed out in
# the order tests/conftest.py gives them, longest first (--no-loadscope-reorder: xdist's own order
# left the longest modules to the end). `-p no:xdist` runs in one.
# pytest's own exit status is the result: 5 (no tests collected) fails too.
exec python -m pytest -n auto --maxprocesses 2 --dist loadfile --no-loadscope-reorder "$@"
