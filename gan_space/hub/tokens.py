"""Which token a call uses, and how it is handed to huggingface_hub and kept out of messages.

Every call takes its token as an argument (the app passes the signed-in user's, the CLI
passes HF_TOKEN; `resolve_token` applies that order). `token=None` means anonymous: no token
file or environment variable is read behind the caller's back.
"""

import os


def resolve_token(signed_in_token: str | None = None, typed_token: str | None = None) -> str | None:
    """The token to use for one call: the signed-in Spaces user's (gr.OAuthToken.token), else
    HF_TOKEN, else what the user typed into a token box; None when there is none."""
    for candidate in (signed_in_token, os.environ.get("HF_TOKEN"), typed_token):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def _token_argument(token: str | None):
    # huggingface_hub treats token=None as "look for one" (HF_TOKEN, the stored login);
    # False means "send none". We only ever send what the caller handed us.
    return token if token else False


def _redact(text: str, token: str | None) -> str:
    """Defence in depth: our messages never quote a token, but server text might."""
    return text.replace(token, "hf_***") if token else text
