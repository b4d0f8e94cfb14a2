"""The names a user chooses from: losses, augmentations, precisions, devices, pixel
losses, pair directions, super-resolution scales, the built-in data sets (and sounds).

Every face of the library shows these same tables: TrainConfig's validation, the CLI's
choices (gan_space.cli) and the app's dropdowns (gan_space.ui). The implementations key
off them: gan_space.losses and gan_space.augment check at import that each name here has
an implementation and each implementation a name here (`implemented`).

This module imports no torch and nothing of gan_space: it is the bottom layer, so the app
can build its page from it before torch is loaded. Network families and tasks are
registries (gan_space.models, gan_space.tasks): ask them (`family_names()`, `task_names()`).
"""

LOSSES = ("non-saturating", "hinge", "least-squares", "wgan-gp", "rpgan")
AUGMENTATIONS = ("none", "flip", "diffaugment", "ada")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# A device is one of these, or "cuda:N" for the N-th GPU.
DEVICE_KINDS = ("auto", "cpu", "cuda", "mps")
CHANNELS = (1, 3)
# Image-to-image (gan_space.tasks, gan_space.objectives.translation)
PIXEL_LOSSES = ("l1", "charbonnier", "mse")  # mse: L2, the loss that averages possible futures into a blur
DIRECTIONS = ("AtoB", "BtoA")  # paired data: which side is the input
SCALES = (2, 4)  # super-resolution factors
FRAMES = (1, 2, 3, 4)  # next-frame prediction: how many past frames the model sees
# The built-in data sets (gan_space.data makes them): pictures, and 2-D points (the mixtures of
# Gaussians have modes to count: gan_space.metrics.mixtures)
BUILTIN_IMAGE_SETS = ("digits", "emoji", "emoji-flat")
# The built-in emoji sets: the same emoji drawn in different styles (Noto; Fluent Emoji Flat), their
# pictures aligned by code point (gan_space.data.builtin.aligned_rows): unpaired translation's
# built-in pair of styles, the alignment for measuring only
EMOJI_STYLES = ("emoji", "emoji-flat")
MIXTURE_SETS = ("ring8", "grid25")
BUILTIN_POINT_SETS = MIXTURE_SETS + ("moons", "spiral")
# Built-in sounds (gan_space.data.spoken_digits makes them with eSpeak NG, on first use); they
# train as spectrogram pictures (gan_space.data.sound_pictures)
BUILTIN_SOUND_SETS = ("spoken-digits",)
# How a sound generator's spectrograms become sound: a vocoder when there is one for them, else
# Griffin-Lim ("auto"), or one of the two by name.
SOUND_INVERTERS = ("auto", "vocoder", "griffin-lim")
# What the trainer and the Train tab offer
BUILTIN_DATASETS = BUILTIN_IMAGE_SETS + BUILTIN_POINT_SETS + BUILTIN_SOUND_SETS
# Built-in sequences for next-frame prediction (gan_space.data.sequences makes them, on the fly)
BUILTIN_SEQUENCE_SETS = ("moving-emoji",)


def implemented(what: str, names: tuple, implementations: dict) -> dict:
    """`implementations` (name -> implementation), after checking that it holds exactly the
    names of the table `names`: a module calls this at import, so a name without an
    implementation, or an implementation without a name, fails there."""
    missing = [name for name in names if name not in implementations]
    unnamed = [name for name in implementations if name not in names]
    if missing or unnamed:
        raise ImportError(f"the {what} table (gan_space.names) and its implementations differ: "
                          + "; ".join(filter(None, [missing and f"no implementation for {', '.join(missing)}",
                                                    unnamed and f"not in the table: {', '.join(unnamed)}"])))
    return {name: implementations[name] for name in names}  # in the table's order
