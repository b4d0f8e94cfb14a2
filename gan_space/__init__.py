"""gan_space: train, explore and share GANs.

    from gan_space import TrainConfig, Trainer, load_generator, generate
    for event in Trainer(TrainConfig.for_dataset("digits", out_dir="runs/digits")).run():
        print(event.status_line())

Names are imported on first use, so `import gan_space` stays cheap (torch and
diffusers load only when a model or the trainer is touched).
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "TrainConfig": "training", "TrainEvent": "training", "Trainer": "training", "train": "training",
    "ConfigError": "training",
    "load_dataset": "data", "Dataset": "data", "DatasetError": "data",
    "load_generator": "checkpoints", "ModelLoadError": "checkpoints",
    "generate": "sampling", "interpolate": "sampling", "sample_latents": "sampling", "image_grid": "sampling",
    "DCGANGenerator": "models", "DCGANDiscriminator": "models", "MLPGenerator": "models",
    "MLPDiscriminator": "models",
    "GANPipeline": "pipeline",
    "push": "hub", "pull": "hub", "HubError": "hub",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'gan_space' has no attribute {name!r}")
