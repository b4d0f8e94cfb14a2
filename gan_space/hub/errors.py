"""What can go wrong talking to the Hub: one HubError subclass per failure, each message
saying what happened and what to do (never quoting a token), and the translation of
huggingface_hub's and the network's exceptions into them."""

import os
from contextlib import contextmanager

from .tokens import _redact

# The sign-in scopes (README front matter `hf_oauth_scopes`) that let a Space's signed-in token create
# and write the visitor's own repos, least privilege first: contribute-repos creates repos and writes
# those this app created (and nothing else); write-repos and manage-repos reach all the user's repos.
REPO_WRITE_SCOPES = ("contribute-repos", "write-repos", "manage-repos")


class HubError(Exception):
    """A Hub action failed. The message says what happened and what to do; it never contains a token."""


class InvalidRepoIdError(HubError, ValueError):
    """The repo id is not of the form owner/name."""


class HubUnreachableError(HubError, ConnectionError):
    """No connection to the Hub (no network, a wrong HF_ENDPOINT, or HF_HUB_OFFLINE=1)."""


class HubAuthError(HubError, PermissionError):
    """No token, a token the Hub rejects, or a token without the rights the action needs."""


class HubRepoNotFoundError(HubError, LookupError):
    """No such repository, or a private one the caller cannot read (the Hub does not say which)."""


class HubRevisionNotFoundError(HubError, LookupError):
    """The repository exists but has no such branch, tag or commit."""


class NotAGeneratorError(HubError):
    """The repository is not a gan_space generator (no config.json, another model class, no weights)."""


class PickleOnlyError(NotAGeneratorError):
    """The repository's weights are pickles only; gan_space never loads pickles."""


class NotResumableError(HubError):
    """The repository holds no run to resume (pushed without --resumable, incomplete, holding
    pickles, or trained on data this machine does not have)."""


def _translate_error(error: Exception, *, action: str, repo_id: str, revision: str | None,
                     token: str | None, endpoint: str) -> Exception:
    """The HubError for an exception raised by huggingface_hub, or the exception itself when it
    is not a Hub failure (a bug should surface as one)."""
    import httpx2
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError,
                                        OfflineModeIsEnabled, RemoteEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    where = f"the Hugging Face Hub at {endpoint}"
    if isinstance(error, OfflineModeIsEnabled):
        message = f"cannot {action}: HF_HUB_OFFLINE is set, so huggingface_hub makes no network requests. " \
                  "Unset it to push or pull; everything else works offline."
        return HubUnreachableError(message)
    if isinstance(error, GatedRepoError):
        return HubAuthError(f"cannot {action}: {repo_id} is gated. Accept its conditions on its Hub page, then "
                            "use a token of that account.")
    if isinstance(error, RepositoryNotFoundError):
        if token:
            hint = "or it is private and the token you gave cannot read it"
        else:
            hint = "or it is private: sign in or give a token that can read it (HF_TOKEN for the CLI)"
        return HubRepoNotFoundError(f"cannot {action}: no model repository {repo_id} on {where}, {hint}. "
                                    "Check the spelling of the repo id.")
    if isinstance(error, RevisionNotFoundError):
        return HubRevisionNotFoundError(f"cannot {action}: {repo_id} has no revision {revision!r} (no such "
                                        "branch, tag or commit). Leave the revision out for the latest (main).")
    if isinstance(error, RemoteEntryNotFoundError):
        return NotAGeneratorError(f"cannot {action}: a file of {repo_id} vanished while it was downloaded "
                                  "(the repo changed meanwhile?). Try again.")
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code if error.response is not None else None
        if status == 401:
            what = "a token" if not token else "the token: it is invalid or expired"
            hint = f" {_write_rights_hint()}" if token and action.startswith("push") else ""
            return HubAuthError(f"cannot {action}: the Hub refused the request (401 unauthorized). Check {what}; "
                                f"create one at https://huggingface.co/settings/tokens.{hint}")
        if status == 403 and action.startswith("push"):
            owner = repo_id.split("/")[0]
            return HubAuthError(f"cannot {action}: the token may not write to {repo_id} (403 forbidden). Use a "
                                f"token with write access for '{owner}' (your own account or an organisation "
                                f"you belong to). {_write_rights_hint()}")
        if status == 403:
            return HubAuthError(f"cannot {action}: the token may not read {repo_id} (403 forbidden). Use a token "
                                "of an account that has access.")
        detail = _redact(error.server_message or "", token).strip().split("\n")[0][:200]
        return HubError(f"cannot {action}: {where} answered {status}" + (f" ({detail})" if detail else "") +
                        ". Try again later.")
    if isinstance(error, (httpx2.TransportError, LocalEntryNotFoundError, ConnectionError, TimeoutError)):
        return HubUnreachableError(f"cannot {action}: could not reach {where} ({type(error).__name__}). Check "
                                   "the network connection (and HF_ENDPOINT if you set it); everything that "
                                   "needs no Hub keeps working offline.")
    return error


def _write_rights_hint() -> str:
    """Which scope or token type a push lacks. A Space's sign-in token can create and write repos only
    with a write scope in the Space's README (`hf_oauth_scopes`; the Space hands it to the app as
    OAUTH_SCOPES); a pasted token must be a write token."""
    scopes = os.environ.get("OAUTH_SCOPES", "").split() if os.environ.get("OAUTH_CLIENT_ID") else []
    if scopes and not set(scopes) & set(REPO_WRITE_SCOPES):
        signed_in = (f"The signed-in token cannot create or write repos: this Space's sign-in asks only for "
                     f"'{' '.join(scopes)}'; its README needs `hf_oauth_scopes: [contribute-repos]` (or "
                     "write-repos), then sign in again.")
    else:
        signed_in = ("Signed in on a Space: the sign-in's token creates and writes only what its scopes allow "
                     "(with contribute-repos, only repos this Space created: pick a new repo name), and a Space "
                     "whose README lacks `hf_oauth_scopes: [contribute-repos]` (or write-repos) gives a token "
                     "that cannot write at all.")
    return (f"{signed_in} Or paste a token of type 'Write' (a fine-grained token needs write access to the "
            "repo's owner).")


@contextmanager
def _hub_errors(action: str, repo_id: str, token: str | None, endpoint: str, revision: str | None = None):
    """Turns huggingface_hub and network failures inside the block into our HubErrors."""
    try:
        yield
    except HubError:
        raise
    except Exception as error:
        translated = _translate_error(error, action=action, repo_id=repo_id, revision=revision, token=token,
                                      endpoint=endpoint)
        if translated is error:
            raise
        raise translated from None  # `from None`: an HTTP error holds its request, Authorization header included
