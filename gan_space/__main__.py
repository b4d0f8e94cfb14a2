import os
import sys

# Offline by default: no telemetry from huggingface_hub.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from .cli import main

sys.exit(main())
