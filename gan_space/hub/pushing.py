"""Push: upload a generator's staged files (gan_space.hub.staging) to a Hub repository,
creating it when missing; the first request fails fast when the Hub cannot be reached."""

import logging
import tempfile
from pathlib import Path

from .errors import HubAuthError, HubError, _hub_errors
from .repos import FIRST_REQUEST_TIMEOUT_SECONDS, _endpoint, validate_repo_id
from .staging import RUN_FOLDER, resumable_card_section, snapshot_run, stage_repo_files, stage_run_state

logger = logging.getLogger(__name__)


def push(model_dir: str | Path, repo_id: str, token: str | None, private: bool | None = None,
         commit_message: str | None = None, *, ema: bool = True, include_discriminator: bool = False,
         license: str = "apache-2.0", measure_quality: bool = True, resumable: bool = False,
         endpoint: str | None = None) -> str:
    """Upload a generator to the Hub and return the repository URL.

    `model_dir` is a run folder, a checkpoint folder or a generator folder. The repo is created
    when missing (`private=True` creates it private, or makes an existing public one private;
    False leaves an existing repo's visibility alone). `ema=False` pushes the raw trained
    weights instead of their moving average; `include_discriminator` adds `discriminator/`
    (for fine-tuning). The model card gets the settings, the training summary and, for the
    built-in data sets, quality metrics (`measure_quality`, a few seconds for digits). A sound
    generator (trained on sounds) also uploads its sound.json, WAV samples its card plays and its
    spectrograms (gan_space.hub.sound_card), and its card gives the sound score of its data.

    `resumable=True` (model_dir: a run folder, or one of its checkpoint folders) also uploads the
    run's training state under run/ (gan_space.hub.staging.resumable_repo_files: the checkpoint's
    D, raw and EMA generators, optimiser moments and random streams, the settings and any
    held-out pictures; safetensors and JSON only), and the card says how to resume it
    (`gan_space.hub.pull_run`, `train --resume-from`). It is taken from a copy of the newest
    checkpoint made first, so a run may keep training meanwhile. `private=None` means private for
    a resumable push (it holds training state), else as the repo is (public when new); a push
    without `resumable` removes the run/ of an earlier resumable push (it would not match).
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    from ..checkpoints import generator_folder, read_generator_config

    repo_id = validate_repo_id(repo_id)
    if not token:
        raise HubAuthError("pushing needs a Hugging Face token with write access: sign in, set HF_TOKEN or "
                           "paste one (https://huggingface.co/settings/tokens).")
    endpoint = _endpoint(endpoint)
    read_generator_config(generator_folder(model_dir))  # a wrong folder fails before any request
    if private is None:
        private = resumable
    with tempfile.TemporaryDirectory(prefix="gan_space-push-") as work:
        # A resumable push copies the run's newest checkpoint first (no network: a folder without
        # one fails here, before any request).
        source = snapshot_run(model_dir, Path(work) / "run") if resumable else model_dir
        api = HfApi(endpoint=endpoint)
        action = f"push to {repo_id}"
        # The first request, with a short timeout: no network, a bad token or a bad endpoint fail
        # here, in seconds, before the sample grid and the metrics are computed.
        with _hub_errors(action, repo_id, token, endpoint):
            try:
                existing = api.model_info(repo_id, token=token, timeout=FIRST_REQUEST_TIMEOUT_SECONDS)
            except RepositoryNotFoundError:
                existing = None
        staging = Path(work) / "staging"
        staging.mkdir()
        description = stage_repo_files(source, staging, repo_id, ema=ema,
                                       include_discriminator=include_discriminator, license=license,
                                       measure_quality=measure_quality, endpoint=endpoint)
        if resumable:
            state = stage_run_state(source, staging)
            with open(staging / "README.md", "a") as card:
                card.write(resumable_card_section(repo_id, int(state["step"]),
                                                  float(state.get("train_config", {}).get("minutes") or 0.0),
                                                  float(state.get("elapsed_seconds") or 0.0)))
            description += " (resumable: with its training state)"
        # What an earlier push left that would not match this one: its discriminator, its training state.
        stale = ([] if include_discriminator else ["discriminator/*"]) + ([] if resumable else [f"{RUN_FOLDER}/*"])
        try:
            with _hub_errors(action, repo_id, token, endpoint):
                url = api.create_repo(repo_id, token=token, private=private, exist_ok=True, repo_type="model")
                if private and existing is not None and not existing.private:
                    api.update_repo_settings(repo_id, private=True, token=token)
                api.upload_folder(
                    repo_id=repo_id, folder_path=staging, token=token, repo_type="model",
                    commit_message=commit_message or f"Upload {description} with gan_space",
                    delete_patterns=stale or None)
        except HubError as error:
            # A push only reads model_dir (its files are staged in a temporary folder): say so,
            # so nobody fears for the only copy of a run.
            raise type(error)(f"{error} The push did not complete; the generator in {model_dir} is unchanged: "
                              "push again once this is fixed.") from None
    logger.info("pushed %s to %s", description, url)
    return str(url)
