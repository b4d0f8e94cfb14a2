"""gan_space's Gradio app. The Train and Generate tabs arrive with the UI issue; until
then this prints how to use the library from the command line."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

if __name__ == "__main__":
    print("The gan_space app arrives with the UI issue. Meanwhile: python -m gan_space --help")
