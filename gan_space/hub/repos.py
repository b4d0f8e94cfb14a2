"""Hub repositories as gan_space sees them: what an id looks like, which endpoint is asked,
the names of the files a pushed repository holds, and how long the first request may take."""

import re

from .errors import InvalidRepoIdError

# The first request of a push or pull: long enough for a slow Hub, short enough that a
# machine with no network hears about it in seconds.
FIRST_REQUEST_TIMEOUT_SECONDS = 10.0
SAMPLE_GRID_NAME = "sample_grid.png"
SUMMARY_NAME = "summary.json"
# Repo ids are owner/name: letters, digits, '-', '_', '.'; at most 96 characters per part.
REPO_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$", re.ASCII)


def validate_repo_id(repo_id: str) -> str:
    """The repo id, stripped; InvalidRepoIdError unless it is of the form owner/name."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id as hub_validate_repo_id

    repo_id = (repo_id or "").strip()
    problem = None
    if not REPO_ID_PATTERN.match(repo_id):
        problem = "it must look like 'owner/name' (letters, digits, '-', '_' and '.')"
    else:
        try:
            hub_validate_repo_id(repo_id)
        except HFValidationError as error:
            problem = str(error).split("\n")[0]
    if problem:
        raise InvalidRepoIdError(f"{repo_id!r} is not a Hugging Face repo id: {problem}")
    return repo_id


def _endpoint(endpoint: str | None) -> str:
    from huggingface_hub import constants

    return (endpoint or constants.ENDPOINT).rstrip("/")
