"""What every tab shares: the app's folders, the per-session state, loaded models, and
the one way an error reaches the user (a message in the page, never a traceback)."""

from dataclasses import dataclass, field

import gradio as gr

from .jobs import describe_error
from .models import AppPaths, GeneratorCache, owner_id
from .sessions import Sessions


@dataclass
class AppContext:
    """Passed to each `build_*_tab` function."""

    paths: AppPaths
    sessions: Sessions = field(default_factory=Sessions)
    generators: GeneratorCache = field(default_factory=GeneratorCache)
    # How often the Train tab redraws the fixed latents while a run trains (seconds).
    live_preview_seconds: float = 1.0
    # Each browser session sees only the runs it made (a shared app, e.g. a public Space);
    # False: one user, who sees every run in runs/.
    private_runs: bool = True

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
