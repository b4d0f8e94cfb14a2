"""The whole app: `build_demo()` puts the tabs together; `main()` serves it.

Each tab is one module with a `build_*_tab(context, demo)` function, so a new tab (the
Hub tab) is one more module and two lines here.
"""

import logging
import os
import threading

import gradio as gr

from gan_space.hosting.environment import Hosting

from .common import AppContext, session_hash
from .generate_tab import build_generate_tab
from .hub_tab import build_hub_tab
from .lab_tab import build_lab_tab
from .models import AppPaths, find_generator, list_generators
from .train_tab import build_train_tab
from .translate_tab import build_translate_tab

logger = logging.getLogger(__name__)

INTRO = """# gan_space
Train a GAN and watch its samples sharpen live, then sample what you trained.
**Train**: pick data (or upload images or sounds), press Train; Stop keeps a checkpoint, Resume continues it.
**Generate**: pick a generator, choose a seed and press Generate.
**Translate**: image-to-image GANs: super-resolution, colourisation, sketches or your pairs; train, then apply."""


def build_demo(checkpoints_dir="checkpoints", runs_dir="runs", sessions_dir=None,
               live_preview_seconds: float = 1.0, private_runs: bool = True,
               hosting: Hosting | None = None, hub_save_minutes: float | None = None) -> gr.Blocks:
    """The Gradio app over the given folders (relative paths are resolved now).

    private_runs: each browser session sees, samples and resumes only the runs it made (for an
    app many people use, like a public Space); False shows everyone every run in runs/.
    hosting: where the app runs (default: read from the environment, see gan_space.hosting); on a
    Space the header says where and what to expect, and the tabs propose that hardware's defaults.
    hub_save_minutes: save a run to its trainer's own private Hub repo this often and at its end,
    when a token is at hand (a signed-in visitor's); None: never."""
    context = AppContext(paths=AppPaths.create(checkpoints_dir, runs_dir, sessions_dir),
                         live_preview_seconds=live_preview_seconds, private_runs=private_runs,
                         hosting=hosting or Hosting.from_environment(), hub_save_minutes=hub_save_minutes)
    # Preview images go to Gradio's cache on every update: clear files older than an hour.
    with gr.Blocks(title="gan_space", analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO)
        where = context.hosting.header_markdown()
        hosting_note = gr.Markdown(where, visible=bool(where), elem_id="hosting-note")
        with gr.Tabs():
            with gr.Tab("Train", id="train"):
                train = build_train_tab(context, demo)
            with gr.Tab("Generate", id="generate") as generate_tab:
                generate = build_generate_tab(context, demo)
            with gr.Tab("Translate", id="translate"):
                build_translate_tab(context, demo)
            with gr.Tab("Hub", id="hub"):
                build_hub_tab(context, demo, generate)
            with gr.Tab("Lab", id="lab") as lab_tab:
                build_lab_tab(context, demo, lab_tab)

        def show_trained_run(selected: str | None, request: gr.Request):
            """After a run ends, list it in the Generate tab (selected, when it has a checkpoint)."""
            last_run = context.sessions.get(session_hash(request)).last_run
            return generate.refresh(f"runs/{last_run}" if last_run else selected, request)

        for event in train.run_events:
            event.then(show_trained_run, generate.model, generate.model, queue=False, api_visibility="private")
        generate_tab.select(generate.refresh, generate.model, generate.model, queue=False,
                            api_visibility="private")

        def remove_session_files(request: gr.Request):
            # Pictures already shown were copied into Gradio's cache; the session's own copies can go.
            context.paths.remove_session_dir(session_hash(request))

        demo.unload(remove_session_files)
        if context.hosting.duplicate_hint() is not None:
            def note_for_visitor(profile: gr.OAuthProfile | None):
                # The Space's own author is on their own copy: no "duplicate this Space" for them.
                return context.hosting.header_markdown(profile.username if profile is not None else None)

            demo.load(note_for_visitor, None, hosting_note, queue=False, api_visibility="private")
    demo.context = context  # for tests and for warm_up
    return demo


def warm_up(demo: gr.Blocks) -> threading.Thread:
    """Import torch and diffusers and draw one grid in the background, so the first
    Generate and Train clicks do not wait for them. Start it after launch: the page
    serves first."""

    def work():
        try:
            from gan_space import training  # noqa: F401  (torch, diffusers, the models)
            from gan_space.sampling import generate

            from .pictures import grid_picture

            entries = list_generators(demo.context.paths)
            if entries:
                generator = demo.context.generators.get(find_generator(demo.context.paths, entries[0].key))
                if not entries[0].is_points:
                    grid_picture(generate(generator, 4))
        except Exception:  # a failed warm-up only costs time later; the click reports the error
            logger.exception("warm-up failed")

    thread = threading.Thread(target=work, name="warm-up", daemon=True)
    thread.start()
    return thread


def main() -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # Spaces sets GRADIO_SERVER_NAME=0.0.0.0; locally the app stays on loopback.
    server_name = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    # Served to a network, every browser session keeps its runs to itself; on loopback there is one
    # user, who sees all of runs/ (what the command line trained too). GAN_SPACE_PRIVATE_RUNS=1/0 decides.
    local = server_name in ("127.0.0.1", "localhost", "::1")
    private_runs = os.environ.get("GAN_SPACE_PRIVATE_RUNS", "0" if local else "1").strip().lower() not in (
        "0", "false", "")
    from gan_space.hub import default_runs_dir, hub_save_minutes

    # GAN_SPACE_RUNS, else a Space's mounted storage bucket (runs survive a restart), else runs/.
    demo = build_demo(checkpoints_dir=os.path.join(root, "checkpoints"), runs_dir=default_runs_dir(root),
                      private_runs=private_runs, hub_save_minutes=hub_save_minutes())
    demo.queue()
    demo.launch(server_name=server_name,
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                ssr_mode=False, max_file_size="500mb", prevent_thread_lock=True)
    warm_up(demo)
    demo.block_thread()
