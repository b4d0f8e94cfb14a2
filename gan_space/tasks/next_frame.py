"""Next-frame prediction: the model is given the last `frames` frames of a clip (stacked in
channels, oldest first) and draws the next one. Sequences come from animated pictures (GIF,
WebP, APNG), folders of numbered frames, or the built-in moving emoji (gan_space.data.sequences:
each training row holds `frames + 1` consecutive frames, so the pairs come from the data).

The NIPS 2016 GAN tutorial's example: trained with L2 alone (`adversarial_weight=0`), a model
averages the futures it cannot tell apart into a blur; with the adversarial loss it picks
one and stays sharp. The held-out scores put PSNR and sharpness (gan_space.metrics.sharpness)
next to copying the last frame. The generator is residual on the last frame: it starts as
that copy and learns the motion."""

from .image_to_image import OBJECTIVE, PIX2PIX_PRESET, check_pair_settings
from .registry import Task, register_task

# A small U-Net at 32 px: a few CPU minutes. The L2 loss (mse) so that the L2-only model
# (adversarial_weight=0, feature_weight=0) is the tutorial's blur, and the preset adds the GAN to it.
PRESET = dict(PIX2PIX_PRESET, resolution=32, frames=2, pixel_loss="mse", steps=2000, pixel_warmup=300,
              adversarial_weight=0.01, feature_weight=0.1, sample_every=200)
METRICS = ("psnr", "sharpness", "ssim", "frechet_distance")


def load_frames(config, cache_dir=None, progress=None, token=None):
    """Rows of frames + 1 consecutive frames (the built-in moving emoji, animations, numbered frames)."""
    from ..data import load_sequences

    return load_sequences(config.dataset, config.frames, config.resolution, config.channels,
                          max_images=config.max_images, seed=config.seed)


def last_frame(condition, target_size: tuple, channels: int):
    """The baseline: copy the last frame given (the input's last `channels` channels)."""
    return condition[:, -channels:].float()


def check_settings(config, check) -> None:
    check_pair_settings(config, check)
    check("arch", config.arch == "unet", "'unet' for next-frame prediction (its U-Net takes the past frames stacked "
                                         "in channels)")


def card_lines(config) -> list[str]:
    frames = config.get("frames", 1) if isinstance(config, dict) else getattr(config, "frames", 1)
    return [f"Give it the last {frames} frame(s) of a clip, stacked in channels (oldest first); it draws the next. "
            f"`python -m gan_space apply --model MODEL --input CLIP.gif --out OUT --rollout N` feeds its "
            f"predictions back for N frames and writes them as a GIF.", ""]


TASK = register_task(Task(
    name="next-frame", label="Next frame (last frames → next)",
    help="The model sees the last few frames of a clip and draws the next one: animated GIFs, folders of numbered "
         "frames, or the built-in moving emoji.",
    words="next-frame prediction (last frames -> next frame)", run_prefix="next-frame", preset=PRESET,
    settings=("frames",), frames=lambda config: config.frames, load_data=load_frames, baseline=last_frame,
    baseline_name="copy the last frame", check_settings=check_settings, residual=True,
    objective=OBJECTIVE, metrics=METRICS, hub_tag="image-to-video", card_lines=card_lines,
    takes_sequences=True,
    describe=lambda pairing: f"next frame from the last {pairing.frames}"))
