"""Share generators through the Hugging Face Hub: `push` a trained generator, `pull` one back.

What a pushed repository holds (the generator sits at the root, so every loader finds it in
one call):

    config.json                          the generator's diffusers config (names its class)
    diffusion_pytorch_model.safetensors  its weights: EMA weights by default, or the raw trained ones
    discriminator/                       config.json + safetensors, only when asked for
    sample_grid.png                      64 samples (images) or 2,500 (points), seeds from 0; for an
                                         image-to-image model, held-out pictures before and after
    summary.json                         training summary, settings and quality metrics (the format
                                         of the generators shipped in checkpoints/)
    sound.json, samples/sound-K.wav      a sound generator only: how its spectrograms become sound, and
                                         the sounds its card plays (sample_grid.png: its spectrograms)
    README.md                            the model card: YAML metadata, samples, how to load it
    run/                                 a resumable push only (`push(..., resumable=True)`): the run's
                                         training state, safetensors and JSON; `pull_run` makes it a run
                                         folder again and `Trainer.resume` continues it exactly

    DCGANGenerator.from_pretrained("alice/digits-gan")      # diffusers, with gan_space installed
    GANPipeline.from_pretrained("alice/digits-gan")         # images as ImagePipelineOutput
    gan_space.hub.pull("alice/digits-gan")                  # the generator, ready for gan_space.generate

There is no model_index.json: it would describe a `generator/` sub-folder layout, and stock
`DiffusionPipeline.from_pretrained` cannot load a class from outside diffusers anyway.
`GANPipeline.from_pretrained` loads the root layout (and the sub-folder layout its own
`save_pretrained` writes).

Safety: only JSON, safetensors, the card and the sample grid are ever downloaded (a sound
generator's sound.json is JSON, checked when it loads). `pull` reads
the repository's file list first and refuses a repo whose weights are pickles before a byte
of them is fetched; the download itself is restricted to an explicit list of file names.

Where pulls go: into the Hugging Face cache (HF_HUB_CACHE, shared with diffusers), one
read-only snapshot per commit, unless `local_dir` names a folder. `pulled_generators()` lists
what the cache holds, offline, and `download(..., local_files_only=True)` loads from it.

Tokens: every call takes its token as an argument (the app passes the signed-in user's, the
CLI passes HF_TOKEN; `resolve_token` applies that order). `token=None` means anonymous: no
token file or environment variable is read behind the caller's back. A token is never
stored globally (no `login()`), never logged, and never written to a file or a card; error
messages are built here and never quote it.

Errors: each failure has its own `HubError` subclass whose message says what happened and
what to do. The first request of every push or pull has a short timeout, so with no network
they fail in seconds instead of waiting on retries.

All traffic goes through `huggingface_hub`. The package imports it (and torch) only when a
function runs, so importing `gan_space.hub` stays cheap.

The modules, each importing only those above it in this list:

    tokens           which token a call uses; keeping it out of messages
    errors           HubError and its subclasses; huggingface_hub's exceptions turned into them
    repos            repo ids, the endpoint, the names of a repo's files
    record           the training record (summary.json) with local paths removed
    card             the model card of a generator that samples from noise, and its quality metrics
    translator_card  the card, picture and scores of an image-to-image model
    sound_card       the card, sounds and spectrograms of a sound generator
    staging          everything a push uploads, written into a local folder (no network)
    pulling          download, pull, pulled_generators
    pushing          push (resumable: with the run's training state)
    resumable        pull_run, RunSaver (a run saved to the Hub while it trains), default_runs_dir
    locate           "a local folder or a Hub id", decided once: model_location, load_model, load_translator
"""

from .card import NUM_GRID_IMAGES, NUM_GRID_POINTS, model_card
from .errors import (HubAuthError, HubError, HubRepoNotFoundError, HubRevisionNotFoundError, HubUnreachableError,
                     InvalidRepoIdError, NotAGeneratorError, NotResumableError, PickleOnlyError)
from .locate import HUB, LOCAL, load_model, load_translator, model_location
from .pulling import PICKLE_SUFFIXES, download, pull, pulled_generators
from .pushing import push
from .resumable import (DEFAULT_SAVE_MINUTES, RunSaver, bucket_mount, default_runs_dir, hub_save_minutes, pull_run,
                        run_repo_id)
from .record import RECORD_KEYS, hub_dataset_id, public_dataset_name
from .repos import FIRST_REQUEST_TIMEOUT_SECONDS, REPO_ID_PATTERN, SAMPLE_GRID_NAME, SUMMARY_NAME, validate_repo_id
from .sound_card import NUM_CARD_SOUNDS, SOUND_PIPELINE_TAG, SOUND_TAGS, sound_model_card, sound_sample_names
from .staging import resumable_repo_files, stage_repo_files
from .tokens import resolve_token
from .translator_card import stage_translator, translator_model_card

__all__ = [
    "DEFAULT_SAVE_MINUTES", "FIRST_REQUEST_TIMEOUT_SECONDS", "HUB", "LOCAL", "NUM_GRID_IMAGES", "NUM_GRID_POINTS", "PICKLE_SUFFIXES",
    "NUM_CARD_SOUNDS", "SOUND_PIPELINE_TAG", "SOUND_TAGS", "sound_model_card", "sound_sample_names",
    "RECORD_KEYS", "REPO_ID_PATTERN", "SAMPLE_GRID_NAME", "SUMMARY_NAME",
    "HubAuthError", "HubError", "HubRepoNotFoundError", "HubRevisionNotFoundError", "HubUnreachableError",
    "InvalidRepoIdError", "NotAGeneratorError", "NotResumableError", "PickleOnlyError", "RunSaver",
    "download", "hub_dataset_id", "load_model", "load_translator", "model_card", "model_location", "public_dataset_name", "pull",
    "pull_run", "pulled_generators", "push", "resumable_repo_files", "bucket_mount", "default_runs_dir",
    "hub_save_minutes", "run_repo_id", "resolve_token", "stage_repo_files", "stage_translator", "translator_model_card",
    "validate_repo_id",
]
