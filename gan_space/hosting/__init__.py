"""Hosting: where the app runs (a laptop, a CPU Space, a GPU Space, ZeroGPU) and what that means
for its defaults and its device; the modules here read the Space's variables, never a token's value."""
