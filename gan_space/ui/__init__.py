"""gan_space's Gradio app: one module per tab, put together by `build_demo()`.

The UI turns clicks into library calls and results into pictures; the training
maths lives in the library (gan_space.training, gan_space.sampling), which never
imports gradio.
"""

from .app import build_demo, main, warm_up

__all__ = ["build_demo", "main", "warm_up"]
