"""What the tasks that map a picture to a picture share: the preset they start from, the
checks every one of them needs, their update step and loading their pictures.

Like every task module, this one imports no torch at import (the app builds its page from
the registry before torch loads): what needs torch is imported where it is used."""

# Settings that train each task in a few CPU minutes on 64x64 pictures; anything the user
# sets wins (TrainConfig.for_dataset).
# pixel_warmup: the L1 model first, then the GAN from it (ESRGAN). On the emoji benchmark (x4, 400 L1
# steps, then 200 more) the GAN phase took the held-out Fréchet distance from 134 to 114 (L1 alone:
# 125) for 0.2 dB of PSNR (21.75 vs 21.96); from scratch the same 400+200 steps lost 1 dB to L1 alone.
COMMON_PRESET = dict(resolution=64, channels=3, width=32, num_layers=2, batch_size=16, steps=2000, pixel_warmup=500,
                     lr_g=2e-4, lr_d=2e-4, beta1=0.9, beta2=0.99, r1_gamma=0.0, ema_decay=0.999,
                     lr_decay_fraction=0.3, augment="flip", sample_every=250, checkpoint_every=1000, pixel_loss="l1",
                     pixel_weight=1.0)
# pix2pix: U-Net, conditional PatchGAN, L1 at 100x the adversarial loss.
# (width 16: a U-Net convolves at the full size, where width 32 costs 4x as much on a CPU)
PIX2PIX_PRESET = dict(COMMON_PRESET, arch="unet", width=16, loss="non-saturating", adversarial_weight=0.01,
                      feature_weight=0.1)
# Held-out metrics of every image-to-image task (gan_space.metrics).
PAIR_METRICS = ("psnr", "ssim", "frechet_distance")


def objective(config, device, precision, randomness, dist=None):
    """The image-to-image update step (gan_space.objectives.TranslationObjective)."""
    from ..objectives import TranslationObjective

    return TranslationObjective(config, device, precision, randomness, dist)


OBJECTIVE = objective
SUPER_RESOLUTION_ONLY = ("blur", "noise", "jpeg")  # degradations of the input


def check_pair_settings(config, check) -> None:
    """The checks every image-to-image run with a pixel loss needs; `check(name, ok, allowed)` raises
    the ConfigError."""
    check("pixel_weight", config.pixel_weight + config.adversarial_weight + config.feature_weight
          + config.perceptual_weight > 0, "above 0 when every other loss weight is 0 too: nothing would be learnt")
    check("pixel_warmup", config.pixel_warmup == 0 or config.pixel_weight > 0,
          "0 when pixel_weight is 0 (the warm-up trains with the pixel loss alone)")
    check_picture_to_picture(config, check)
    if config.perceptual_weight > 0:
        from ..objectives.translation import DEFAULT_VGG_WEIGHTS, VGG_WEIGHTS_ENV, vgg_weights_path

        check("perceptual_weight", vgg_weights_path() is not None,
              f"0, unless VGG-19 weights are present: put torchvision's vgg19 'features.*' weights as a safetensors "
              f"file at {DEFAULT_VGG_WEIGHTS} or name it in ${VGG_WEIGHTS_ENV}. Feature matching in D's features "
              f"(feature_weight) is the perceptual term that needs no download")


def check_picture_to_picture(config, check) -> None:
    """The checks of every task that maps a picture to a picture (unpaired translation too)."""
    if config.task != "super-resolution":
        for name in SUPER_RESOLUTION_ONLY:
            check(name, getattr(config, name) == 0, "0: degradations are for task='super-resolution' only")
    check("resolution", isinstance(config.resolution, int) and 16 <= config.resolution <= 256
          and config.resolution % 8 == 0, "a multiple of 8 from 16 to 256 for image-to-image tasks")
    check("augment", config.augment in ("none", "flip"),
          "'none' or 'flip' for image-to-image tasks (flips mirror input and target alike; D's other "
          "augmentations would separate them)")
    check("pack", config.pack == 1, "1 for image-to-image tasks (D judges one pair at a time)")
    check("conditional", not config.conditional, "False for image-to-image tasks: the input picture is the condition")


def load_pictures(config, cache_dir=None, progress=None, token=None, source: str | None = None):
    """The targets (or `source`'s pictures): any picture set load_dataset reads (files are decoded
    once into the run's cache)."""
    from ..data import BUILTIN_DATASETS, load_dataset

    source = config.dataset if source is None else source
    files = {} if source in BUILTIN_DATASETS else dict(cache_dir=cache_dir, progress=progress)
    return load_dataset(source, config.resolution, config.channels, max_images=config.max_images,
                        seed=config.seed, token=token, **files)
