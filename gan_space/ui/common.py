"""What every tab shares: the app's folders, the per-session state, loaded models, the one
way an error reaches the user (a message in the page, never a traceback), a model list's
dropdown and the push of a listed model to the Hub."""

from dataclasses import dataclass, field

import gradio as gr

from gan_space.hosting.environment import Hosting

from .jobs import describe_error
from .models import AppPaths, GeneratorCache, ModelKind, find_model, list_models, owner_id
from .sessions import Sessions
from .sound_previews import SOUND_PREVIEW_SECONDS


@dataclass
class AppContext:
    """Passed to each `build_*_tab` function."""

    paths: AppPaths
    sessions: Sessions = field(default_factory=Sessions)
    generators: GeneratorCache = field(default_factory=GeneratorCache)
    # How often the Train tab redraws the fixed latents while a run trains (seconds).
    live_preview_seconds: float = 1.0
    # How often a run on sounds remakes its players' clips at most (Griffin-Lim costs more than pictures).
    sound_preview_seconds: float = SOUND_PREVIEW_SECONDS
    # Each browser session sees only the runs it made (a shared app, e.g. a public Space);
    # False: one user, who sees every run in runs/.
    private_runs: bool = True
    # Where the app runs (a Space's variables): the tabs' defaults and the page's header follow it.
    hosting: Hosting = field(default_factory=Hosting.from_environment)
    # Save a run to its trainer's Hub repo every this many minutes and at its end, when a token
    # is at hand (a signed-in visitor's; gan_space.hub.hub_save_minutes); None: never.
    hub_save_minutes: float | None = None

    def owner(self, request: gr.Request | None) -> str | None:
        """Whose runs a request may see: None when runs are not private."""
        return owner_id(session_hash(request)) if self.private_runs else None

    def hub_token(self, signed_in: str | None, typed: str | None) -> str | None:
        """The token for one Hub call: the signed-in user's, else the typed one. In a shared app
        the server's own HF_TOKEN is not lent to visitors (it would let anyone read the owner's
        private repos and push to them); for one user it comes before the typed one, as on the
        command line (gan_space.hub.resolve_token)."""
        from gan_space.hub import resolve_token

        if not self.private_runs:
            return resolve_token(signed_in, typed)
        for candidate in (signed_in, typed):
            if candidate and candidate.strip():
                return candidate.strip()
        return None


def user_error(error: BaseException) -> gr.Error:
    """An exception -> the gr.Error the page shows (our errors carry their own clear message)."""
    if isinstance(error, gr.Error):
        return error
    return gr.Error(describe_error(error), print_exception=False)


def session_hash(request: gr.Request | None) -> str:
    return (getattr(request, "session_hash", None) or "anonymous") if request is not None else "anonymous"


def model_dropdown(context: AppContext, kind: ModelKind, request: gr.Request | None, *preferred: str | None):
    """The dropdown update listing every model of `kind` the request's session may use, selecting
    the first of the `preferred` keys that is listed, else the first model."""
    entries = list_models(context.paths, kind, context.owner(request))
    keys = [entry.key for entry in entries]
    value = next((key for key in preferred if key in keys), keys[0] if keys else None)
    return gr.update(choices=[(entry.label, entry.key) for entry in entries], value=value)


def push_to_hub(context: AppContext, kind: ModelKind, model: str | None, repo_id: str | None, private,
                typed_token: str | None, oauth_token: gr.OAuthToken | None, request: gr.Request | None,
                progress=None) -> str:
    """Push the listed model `model` of `kind` to the Hub repo `repo_id` (its card and pictures
    are gan_space.hub's); returns Markdown with the repo URL. The Hub tab's /push and the
    Translate tab's /translate_push."""
    from gan_space import hub

    try:
        repo_id = hub.validate_repo_id(repo_id)
        secret = context.hub_token(oauth_token.token if oauth_token else None, typed_token)
        if not secret:
            raise hub.HubAuthError("pushing needs a Hugging Face token with write access: sign in or paste a "
                                   "token (https://huggingface.co/settings/tokens).")
        entry = find_model(context.paths, kind, model, context.owner(request))
        if progress is not None:
            progress(0.1, desc=f"pushing {entry.key} to {repo_id} (card, pictures, scores, upload)")
        url = hub.push(entry.folder, repo_id, secret, private=bool(private))
    except Exception as error:
        raise user_error(error) from None
    return f"Pushed **{entry.key}** to [{repo_id}]({url})"
