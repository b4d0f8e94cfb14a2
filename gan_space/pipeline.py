"""`GANPipeline`: a gan_space generator as a diffusers `DiffusionPipeline`.

    from gan_space import GANPipeline

    pipe = GANPipeline.from_pretrained("alice/digits-gan")   # a Hub repo id or a local folder
    images = pipe(batch_size=16, seed=0).images               # PIL images (ImagePipelineOutput)

A GAN needs one forward pass, so there is no scheduler and no step loop. `seed=s` gives
sample k from seed s+k, exactly like `gan_space.generate(generator, num, seed=s)`; diffusers'
usual `generator=torch.Generator(...)` works too.
"""

from pathlib import Path

import torch
from diffusers import DiffusionPipeline, ImagePipelineOutput

from .checkpoints import load_generator
from .sampling import generate, sample_latents


class GANPipeline(DiffusionPipeline):
    """Samples images from a gan_space image generator (any network family)."""

    model_cpu_offload_seq = "generator"

    def __init__(self, generator):
        super().__init__()
        self.register_modules(generator=generator)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, *, revision: str | None = None,
                        token: str | bool | None = None, cache_dir: str | Path | None = None,
                        local_files_only: bool = False, torch_dtype: torch.dtype | None = None,
                        use_safetensors: bool | None = None) -> "GANPipeline":
        """Load from a local folder (a repo pushed by gan_space, a folder written by
        `save_pretrained`, or a gan_space run folder) or from a Hub repo id.

        From the Hub, only JSON and safetensors are downloaded (see `gan_space.hub.download`).
        Like diffusers, `token=None` uses the token huggingface_hub finds (HF_TOKEN or a stored
        login); pass `token=False` to send none.

        Stock `DiffusionPipeline.from_pretrained` cannot do this: it looks up every component's
        class in diffusers or transformers and refuses one from another package.
        """
        from . import hub

        if use_safetensors is False:
            raise ValueError("GANPipeline loads safetensors only: pickled weights are never loaded")
        kind, folder = hub.model_location(pretrained_model_name_or_path)
        if kind == hub.HUB:
            if token is None:
                from huggingface_hub import get_token

                token = get_token()
            folder = hub.download(folder, revision=revision, token=token or None,
                                  cache_dir=cache_dir, local_files_only=local_files_only)
        generator = load_generator(folder)
        if torch_dtype is not None:
            generator = generator.to(torch_dtype)
        return cls(generator=generator)

    @torch.no_grad()
    def __call__(self, batch_size: int = 1, seed: int | None = None, generator: torch.Generator | None = None,
                 truncation: float = 1.0, class_labels: int | list[int] | torch.Tensor | None = None,
                 latents: torch.Tensor | None = None, output_type: str = "pil",
                 return_dict: bool = True) -> ImagePipelineOutput | tuple:
        """Generate images.

        batch_size: how many. seed: sample k comes from seed+k (reproducible one by one).
        generator: a torch.Generator, diffusers' way to seed (used when `seed` is None).
        truncation: 1 = off; lower pulls latents towards the mean (less variety).
        class_labels: for class-conditional generators (default: cycling through the classes).
        latents: your own (batch, latent_dim) latents instead. output_type: "pil", "np"
        (float32 (N, H, W, C) in [0, 1]) or "pt" (float32 (N, C, H, W) in [0, 1]).
        """
        if output_type not in ("pil", "np", "pt"):
            raise ValueError(f"output_type must be 'pil', 'np' or 'pt', got {output_type!r}")
        if seed is not None and generator is not None:
            raise ValueError("pass either seed or generator (a torch.Generator), not both")
        network = self.generator
        if latents is None:
            latent_dim = network.config.latent_dim
            if seed is not None:
                latents = sample_latents(batch_size, latent_dim, seed, truncation)
            else:
                if not 0 < truncation <= 1:
                    raise ValueError(f"truncation must be above 0 and at most 1, got {truncation}")
                latents = torch.randn(batch_size, latent_dim, generator=generator) * truncation
        samples = generate(network, latents=latents, labels=class_labels)
        if samples.dim() != 4:
            raise ValueError("this generator makes points, not images: sample it with gan_space.generate")
        images = (samples / 2 + 0.5).clamp(0, 1)
        if output_type == "pt":
            output = images
        else:
            output = images.permute(0, 2, 3, 1).numpy()
            if output_type == "pil":
                output = self.numpy_to_pil(output)
        if not return_dict:
            return (output,)
        return ImagePipelineOutput(images=output)
