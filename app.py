"""gan_space's Gradio app: `python app.py`, then open http://127.0.0.1:7860.

The same file runs as a Hugging Face Space (GRADIO_SERVER_NAME/PORT are honoured).
Everything is built in gan_space/ui/.
"""

import os

# Before gradio and huggingface_hub are imported: they read these once.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from gan_space.ui import main  # noqa: E402

if __name__ == "__main__":
    main()
