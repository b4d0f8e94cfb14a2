"""Hosting: where the app runs (a laptop, a CPU Space, a GPU Space, ZeroGPU) and what it does
differently there.

- `environment`: the Space's variables (never a token's value), the device and the defaults
  per hardware, `doctor`'s report;
- `zerogpu`: training on ZeroGPU in slices, and short GPU calls for sampling.

The layer sits below the UI and the CLI: they ask it how to run; it never imports them.
"""
