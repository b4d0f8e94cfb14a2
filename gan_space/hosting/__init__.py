"""Hosting: what the app does differently where it is hosted (Hugging Face Spaces).

`gan_space.hosting.zerogpu`: training on ZeroGPU in slices, and short GPU calls for sampling.
The layer sits between the UI and the CLI: the UI asks it how to run; it never imports the UI.
"""
