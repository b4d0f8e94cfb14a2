"""The GAN of the primers: a generator that samples new pictures (or points) from noise.
Its presets are the data's (gan_space.training), its metrics the data set's
(gan_space.metrics), its update step the network family's."""

from .registry import Task, register_task

TASK = register_task(Task(
    name="generate", label="Generate from noise",
    help="A generator learns to make new samples like the data from random latent vectors.",
    words="samples from noise", run_prefix="gan", makes_pairs=False))
