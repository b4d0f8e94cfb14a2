"""The Hub tab: push a generator to the Hugging Face Hub, pull one back into runs/hub/.

Token order (AppContext.hub_token): the signed-in user's (the Login button, on a Space with
`hf_oauth: true`), then the pasted token; HF_TOKEN of the server too, but only when the app has
one user (served on loopback), never for the visitors of a shared app. The token is only handed
to gan_space.hub for the one call: it is never logged, printed or stored.

API: /push (model key, repo id, private, token) -> Markdown with the repo URL;
/pull (repo id, revision, token) -> Markdown status and the Generate tab's model list,
which then holds the pulled generator as "hub/<owner>--<name>".
"""

import os
import shutil
import tempfile
from pathlib import Path

import gradio as gr

from .common import AppContext, push_to_hub, user_error
from .generate_tab import GenerateTab, model_choices
from .models import GENERATORS, mark_owner, may_use


def _pull_folder_name(repo_id: str) -> str:
    return repo_id.replace("/", "--", 1)


def _oauth_available() -> bool:
    """Sign-in works on a Space with `hf_oauth: true` (it sets OAUTH_CLIENT_ID). Elsewhere Gradio's
    LoginButton would sign in with the machine's own stored token, and fail to start without one,
    so there is no button: use the token box or HF_TOKEN."""
    return bool(os.environ.get("SPACE_ID") and os.environ.get("OAUTH_CLIENT_ID"))


def build_hub_tab(context: AppContext, demo: gr.Blocks, generate: GenerateTab) -> None:
    choices = model_choices(context)
    gr.Markdown("Share a generator as a Hugging Face model repo, or pull one to sample it in **Generate**.")
    with gr.Row():
        if _oauth_available():
            gr.LoginButton()
        token = gr.Textbox(label="Hugging Face token", type="password", placeholder="hf_...",
                           info="or paste a token. It is used for this one action and never stored.")
    with gr.Row():
        with gr.Column():
            gr.Markdown("### Push")
            with gr.Row():
                model = gr.Dropdown(choices, value=choices[0][1] if choices else None, label="Generator",
                                    allow_custom_value=True, scale=5)
                refresh_button = gr.Button("↻", scale=0, min_width=48)
            push_repo = gr.Textbox(label="Repo id", placeholder="you/digits-gan")
            private = gr.Checkbox(label="Private repo", value=False)
            push_button = gr.Button("Push", variant="primary")
            push_status = gr.Markdown(elem_id="push-status")
        with gr.Column():
            gr.Markdown("### Pull")
            pull_repo = gr.Textbox(label="Repo id", placeholder="owner/name")
            revision = gr.Textbox(label="Revision (optional)", placeholder="main, a branch, tag or commit")
            pull_button = gr.Button("Pull", variant="primary")
            pull_status = gr.Markdown(elem_id="pull-status")

    def push_model(model, repo_id, private, typed_token, oauth_token: gr.OAuthToken | None,
                   request: gr.Request, progress=gr.Progress()):
        """Push the generator `model` (a key from /models) to the Hub repo `repo_id`; returns its URL (Markdown)."""
        return push_to_hub(context, GENERATORS, model, repo_id, private, typed_token, oauth_token, request, progress)

    def pull_model(repo_id, revision, typed_token, oauth_token: gr.OAuthToken | None,
                   request: gr.Request, progress=gr.Progress()):
        """Pull the Hub repo `repo_id` (optionally at `revision`) into runs/hub/; it then shows in /models
        as hub/<owner>--<name>."""
        from gan_space import hub

        owner = context.owner(request)
        try:
            repo_id = hub.validate_repo_id(repo_id)
            secret = context.hub_token(oauth_token.token if oauth_token else None, typed_token)
            target = context.paths.hub_dir / _pull_folder_name(repo_id)
            if target.exists() and not may_use(target, owner):
                raise hub.HubError(f"{repo_id} was pulled by another session of this app: pull it under "
                                   "another name (fork or duplicate the repo) or use that session.")
            progress(0.1, desc=f"pulling {repo_id}")
            context.paths.hub_dir.mkdir(parents=True, exist_ok=True)
            # Download next to the target (a dot-folder the model list skips), then swap it in,
            # so files of an earlier pull never mix with this one.
            staging = Path(tempfile.mkdtemp(prefix=".pull-", dir=context.paths.hub_dir))
            try:
                hub.download(repo_id, (revision or "").strip() or None, secret, local_dir=staging)
                mark_owner(staging, owner)
                if target.exists():
                    shutil.rmtree(target)
                staging.rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        except Exception as error:
            raise user_error(error) from None
        key = f"hub/{target.name}"
        from .translate_tab import translator_config

        if translator_config(target) is not None:  # an image-to-image model: it is applied, not sampled
            return (f"Pulled **{repo_id}**: pick `{key}` in **Translate** (Apply a model).",
                    generate.refresh(None, request))
        return f"Pulled **{repo_id}**: pick `{key}` in **Generate**.", generate.refresh(key, request)

    def refresh_models(selected, request: gr.Request):
        return generate.refresh(selected, request)

    refresh_button.click(refresh_models, model, model, queue=False, api_visibility="private")
    demo.load(refresh_models, model, model, queue=False, api_visibility="private")
    push_button.click(push_model, [model, push_repo, private, token], push_status, api_name="push",
                      concurrency_limit=1, concurrency_id="hub")
    pull_button.click(pull_model, [pull_repo, revision, token], [pull_status, generate.model], api_name="pull",
                      concurrency_limit=1, concurrency_id="hub")
