"""Unpaired translation: pictures of domain A (`--dataset`) turned into the style of domain B
(`--dataset-b`), learnt from two picture sets that need not belong together ("summer ->
winter": nobody has the same photo in both seasons).

The update step is the network family's (gan_space.models): CUT (Park et al. 2020, the
default: one generator, a contrastive loss that keeps each output patch close to its input
patch) or CycleGAN (Zhu et al. 2017: both directions, cycle-consistency and identity losses).
Each training row pairs an A picture with a B picture drawn at random (gan_space.pairs
`unpaired_rows`); no loss compares a translation with the B picture of its row.

The held-out scores: the Fréchet distance of translated A pictures to held-out B pictures,
next to the untranslated A pictures' (is the output closer to B?), and where the two sets are
known to align (the built-in emoji styles, aligned by code point) the distance of each
translation to its true counterpart (PSNR, SSIM: is the content kept?)."""

from .image_to_image import check_picture_to_picture
from .registry import Task, register_task

# CUT at 64 px in CPU minutes; anything the user sets wins. Least-squares GAN as in CycleGAN and
# CUT; Adam (0.5, 0.999) and lr 2e-4 as both papers; the learning rate decays over the second half
# of the run as theirs do. FastCUT's choice of no identity term (identity_weight=0; CycleGAN's
# family recipe puts its identity loss back): on the emoji styles at 64 px, 4 minutes on one
# thread each, width 16 without it took 903 steps to width 32 with it 251, and came closer to B
# (Fréchet distance to B 46.7 against 48.2; untranslated 52.2).
PRESET = dict(resolution=64, channels=3, arch="cut", width=16, identity_weight=0.0, batch_size=8, steps=4000,
              lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, loss="least-squares", r1_gamma=0.0, ema_decay=0.999,
              lr_decay_fraction=0.5, augment="flip", pixel_warmup=0, sample_every=200, checkpoint_every=1000)
# Fréchet distance to B for every run; PSNR and SSIM to the true counterpart only where the held-out
# pictures are aligned (gan_space.held_out skips per-picture metrics otherwise).
METRICS = ("frechet_distance", "psnr", "ssim")


def load_domains(config, cache_dir=None, progress=None, token=None):
    """Both domains, at the run's size, as rows of an A and a B picture (gan_space.pairs)."""
    from pathlib import Path

    from ..data import aligned_rows
    from ..pairs import unpaired_rows
    from .image_to_image import load_pictures

    domains = []
    for side, source in (("a", config.dataset), ("b", config.dataset_b)):
        cache = Path(cache_dir) / side if cache_dir is not None else None
        domains.append(load_pictures(config, cache, progress, token, source=source))
    return unpaired_rows(*domains, alignment=aligned_rows(config.dataset, config.dataset_b), seed=config.seed)


def check_settings(config, check) -> None:
    check("dataset_b", isinstance(config.dataset_b, str) and config.dataset_b.strip() != "",
          "name domain B (the style to translate into): a built-in, a folder, a .zip or a Hugging Face dataset id")
    check_picture_to_picture(config, check)
    check("pixel_warmup", config.pixel_warmup == 0, "0 for unpaired translation (there is no target to warm up on)")


def card_lines(config) -> list[str]:
    return ["Give it a picture of domain A (any size: it is applied in tiles); it returns the picture in domain B's "
            "style: `python -m gan_space apply --model MODEL --input PICTURE_OR_FOLDER --out OUT`. A CycleGAN model "
            "learnt both directions: `--direction BtoA` turns B pictures into A's style.", ""]


TASK = register_task(Task(
    name="unpaired", label="Unpaired styles (A → B)",
    help="Two picture sets that need not match picture for picture (e.g. summer and winter photos, two emoji "
         "styles): the model learns to draw A's pictures in B's style.",
    words="unpaired translation (domain A -> domain B)", run_prefix="unpaired", preset=PRESET,
    settings=("dataset_b",), load_data=load_domains, baseline_name="untranslated", check_settings=check_settings,
    metrics=METRICS, hub_tag="image-to-image", card_lines=card_lines, data_kind="unpaired",
    describe=lambda pairing: "domain A -> domain B (unpaired)"))
