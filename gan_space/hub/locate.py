"""Where a model named by a string lives: a folder on this machine or a Hugging Face Hub
repository. The one rule that the CLI, `GANPipeline.from_pretrained`, apply
(`load_translator`) and anything else taking a model's name share:

- a `pathlib.Path`, or a name that exists on this machine, is local (a run folder, a
  checkpoint folder, a generator folder);
- a name that looks like a path is local even when it does not exist, so that a typo reads
  "no such folder" and its name is never sent to the Hub: it starts with '.', '/' or '~',
  has no '/' (Hub ids are owner/name) or has a '\\', or its first part is a folder here
  (`runs/my-gan` when there is a `runs/`);
- anything else is a Hub repo id, checked at once: a malformed one fails before any request.
"""

import os
from pathlib import Path

from .errors import InvalidRepoIdError
from .pulling import pull
from .repos import validate_repo_id

LOCAL, HUB = "local", "hub"


def model_location(name: str | Path) -> tuple[str, Path | str]:
    """("local", the folder's Path) or ("hub", the validated repo id) for a model's name.

    Raises InvalidRepoIdError (a HubError and a ValueError) for an empty name and for a name
    that is neither a path nor an owner/name id. Makes no request and imports no torch."""
    if isinstance(name, Path):
        return LOCAL, Path(os.path.expanduser(name))
    text = str(name).strip()
    if not text:
        raise InvalidRepoIdError("no model named: give a run or generator folder, or a Hugging Face repo id like "
                                 "'owner/name'")
    path = Path(os.path.expanduser(text))  # (Path.expanduser raises for '~nobody/x'; this leaves it as it is)
    if os.path.exists(path) or _looks_like_a_path(text):
        return LOCAL, path
    try:
        return HUB, validate_repo_id(text)
    except InvalidRepoIdError as error:
        raise InvalidRepoIdError(f"there is no folder {text!r} on this machine, and {str(error).rstrip('.')}. Give "
                                 "an existing run or generator folder, or a Hub repo id like 'owner/name'.") from None


def _looks_like_a_path(text: str) -> bool:
    first_part = text.split("/")[0]
    return (text.startswith((".", "/", "~")) or "/" not in text or "\\" in text
            or os.path.isdir(os.path.expanduser(first_part)))


def load_model(name: str | Path, device: str = "cpu", token: str | None = None, *, revision: str | None = None):
    """The generator `name` names (eval mode, safetensors only): loaded from a run, checkpoint
    or generator folder on this machine, or pulled from the Hub first (with `token`, at
    `revision`). Errors: ModelLoadError for a folder, a HubError for a Hub repo."""
    kind, where = model_location(name)
    if kind == LOCAL:
        from ..checkpoints import load_generator

        return load_generator(where, device)
    return pull(where, revision=revision, token=token, device=device)


def load_translator(name: str | Path, device: str = "cpu", token: str | None = None):
    """An image-to-image generator (gan_space.tasks) by name, as `load_model` finds it. Raises
    ValueError when it is another kind of model."""
    from ..tasks import task_names
    from ..translation import is_translator

    generator = load_model(name, device, token)
    if not is_translator(generator):
        raise ValueError(f"{name} is a {type(generator).__name__}, which samples from noise: apply needs an "
                         f"image-to-image model (trained with --task {', '.join(task_names(pairs=True))})")
    return generator
