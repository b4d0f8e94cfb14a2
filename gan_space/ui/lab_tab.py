"""The Lab tab: watch a GAN learn a 2-D distribution one update at a time
(gan_space.lab does the work; this module only wires buttons and draws curves)."""

import math
import time

import gradio as gr

from gan_space import names

from .common import AppContext, user_error

LAB_DATASETS = names.BUILTIN_POINT_SETS  # the Lab shows 2-D points
UPLOADED = "uploaded CSV (x, y)"
DRAWN = "drawn on the canvas"
DRAW_FIRST = ("Draw the data on the canvas (pick the brush on its left; a shape, letters, a few blobs), then press "
              "**New game**.")
MAX_STEPS_PER_FRAME = 100
MAX_FRAMES = 2000  # one Run press plays at most this many frames (Pause stops it sooner)
HELP = """**GAN Lab.** Green dots are real data, purple dots generated samples. The background is the
discriminator's verdict (green: "real", purple: "fake"); the arrows show where the generator's loss pushes each
sample; the grey lines are a flat grid of latents as the generator bends it. *Step D* / *Step G* make one update of
one network; *Run* plays in slow motion (steps per frame, pause between frames)."""


def _curves(session):
    import pandas as pd

    h = session.history
    rows_loss, rows_d, rows_modes = [], [], []
    every = max(1, len(h.steps) // 400)  # at most ~400 points per series: the plot stays light
    for i in range(0, len(h.steps), every):
        step = h.steps[i]
        for name, values in (("D loss", h.d_loss), ("G loss", h.g_loss)):
            if values[i] == values[i]:  # skip NaN (the other network's step)
                rows_loss.append({"step": step, "value": values[i], "series": name})
        for name, values in (("D(x)", h.d_real), ("D(G(z))", h.d_fake)):
            if values[i] == values[i]:
                rows_d.append({"step": step, "value": values[i], "series": name})
    total = session.mode_coverage(num=10).get("total_modes")
    for step, modes, quality in h.modes:
        rows_modes.append({"step": step, "value": modes / total, "series": "modes captured (share)"})
        rows_modes.append({"step": step, "value": quality, "series": "high-quality samples"})

    def frame(rows, names):
        # Every series from the first frame on: the plot fixes its legend when it first draws.
        # A series with no point yet gets one NaN row (drawn as nothing).
        missing = [name for name in names if not any(row["series"] == name for row in rows)]
        rows = rows + [{"step": 0, "value": math.nan, "series": name} for name in missing]
        # The columns' types are fixed here, not left to pandas: the plot also fixes its axes'
        # types when it first draws, from these dtypes (Gradio: a number dtype is a number scale,
        # anything else categories). A first frame of only placeholders made `value` an object
        # column (None), and every later curve was drawn on a category axis: a dense column of
        # labels, out of order, and bars instead of lines.
        return pd.DataFrame({"step": pd.Series([row["step"] for row in rows], dtype="int64"),
                             "value": pd.Series([row["value"] for row in rows], dtype="float64"),
                             "series": pd.Series([row["series"] for row in rows], dtype="str")})

    # Modes exist for the mixtures only: for other data the plot is hidden, not left empty. It is
    # hidden with visible="hidden" (kept in the page): a plot that has drawn and is then taken
    # out of the page (visible=False) throws from its resize observers ("Cannot read properties
    # of null (reading 'offsetWidth')").
    modes = gr.update(value=frame(rows_modes, ("modes captured (share)", "high-quality samples")),
                      visible=True if total is not None else "hidden")
    return frame(rows_loss, ("D loss", "G loss")), frame(rows_d, ("D(x)", "D(G(z))")), modes


def build_lab_tab(context: AppContext, demo: gr.Blocks, tab: gr.Tab | None = None):
    """The Lab's parts, inside `tab` (when given, opening it the first time shows the starting game)."""
    gr.Markdown(HELP)
    session_state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=2, min_width=300):
            dataset = gr.Radio([*LAB_DATASETS, UPLOADED, DRAWN], value="ring8", label="2-D data",
                               elem_id="lab-dataset")
            upload = gr.File(label="Points as CSV (x, y per row)", file_types=[".csv"], visible=False)
            drawing = gr.Sketchpad(label="Draw the data with the brush, then press New game", type="numpy",
                                   canvas_size=(400, 400), height=420, visible=False, elem_id="lab-drawing",
                                   layers=False, brush=gr.Brush(default_size=8, colors=["#000000"],
                                                                default_color="#000000", color_mode="fixed"))
            new_button = gr.Button("New game", elem_id="lab-new")
            with gr.Row():
                step_d = gr.Button("Step D", elem_id="lab-step-d")
                step_g = gr.Button("Step G", elem_id="lab-step-g")
                step_both = gr.Button("Step both", elem_id="lab-step-both")
            with gr.Row():
                run_button = gr.Button("Run", variant="primary", elem_id="lab-run")
                pause_button = gr.Button("Pause", elem_id="lab-pause")
            steps_per_frame = gr.Slider(1, MAX_STEPS_PER_FRAME, value=10, step=1, label="Steps per frame")
            delay = gr.Slider(0.0, 2.0, value=0.2, step=0.1, label="Pause between frames (s)",
                              info="slow motion: 1 step per frame and 1 s shows each update")
            with gr.Row():
                show_heatmap = gr.Checkbox(True, label="D's heat map")
                show_arrows = gr.Checkbox(True, label="G's gradients")
                show_grid = gr.Checkbox(True, label="Latent grid")
            reading = gr.Markdown(elem_id="lab-reading")
        with gr.Column(scale=3, min_width=340):
            scene = gr.Image(label="The game", type="pil", format="png", interactive=False, elem_id="lab-scene",
                             height=520)
    with gr.Row():
        green, purple = "#14783c", "#7832aa"
        loss_plot = gr.LinePlot(x="step", y="value", color="series", title="Losses", height=220, elem_id="lab-loss",
                                color_map={"D loss": green, "G loss": purple})
        d_plot = gr.LinePlot(x="step", y="value", color="series", title="D(x) and D(G(z))", height=220,
                             y_lim=[0, 1], elem_id="lab-d", color_map={"D(x)": green, "D(G(z))": purple})
        modes_plot = gr.LinePlot(x="step", y="value", color="series", title="Mode coverage (ring8, grid25)",
                                 height=220, y_lim=[0, 1], elem_id="lab-modes",
                                 color_map={"modes captured (share)": "#1f77b4", "high-quality samples": "#ff7f0e"})

    def new_session(dataset, upload, drawing=None):
        from gan_space.lab import LabSession, points_from_csv, points_from_drawing

        if dataset == DRAWN:
            picture = (drawing or {}).get("composite")
            if picture is None:
                raise ValueError(f"the canvas is empty: {DRAW_FIRST.replace('**', '')}")
            return LabSession.create(points_from_drawing(picture))
        if dataset == UPLOADED:
            if not upload:
                raise ValueError("upload a CSV of x, y points first")
            with open(upload, "rb") as handle:
                data = points_from_csv(handle.read(4 * 1024 * 1024), name="uploaded points")
            return LabSession.create(data)
        return LabSession.create(dataset)

    def outputs(session, heatmap, arrows, grid):
        from gan_space.lab import render_scene

        picture = render_scene(session, heatmap=heatmap, arrows=arrows, latent_grid=grid)
        text = session.reading()
        coverage = session.mode_coverage()
        if coverage:
            text += f" Modes captured: **{coverage['modes']}/{coverage['total_modes']}**."
        return (session, picture, text, *_curves(session))

    out = [session_state, scene, reading, loss_plot, d_plot, modes_plot]
    options = [show_heatmap, show_arrows, show_grid]

    def start(dataset, upload, drawing, heatmap, arrows, grid):
        try:
            return outputs(new_session(dataset, upload, drawing), heatmap, arrows, grid)
        except Exception as error:
            raise user_error(error) from None

    def stepper(d: bool, g: bool):
        def step(session, dataset, upload, drawing, heatmap, arrows, grid):
            try:
                session = session or new_session(dataset, upload, drawing)
                session.step(d=d, g=g)
                return outputs(session, heatmap, arrows, grid)
            except Exception as error:
                raise user_error(error) from None

        return step

    def run(session, dataset, upload, drawing, steps_per_frame, delay, heatmap, arrows, grid):
        try:
            session = session or new_session(dataset, upload, drawing)
            for _ in range(MAX_FRAMES):
                session.run(int(steps_per_frame))
                yield outputs(session, heatmap, arrows, grid)
                time.sleep(float(delay))
        except Exception as error:
            raise user_error(error) from None

    lab = dict(concurrency_limit=2, concurrency_id="lab")
    dataset.change(lambda d: (gr.update(visible=d == UPLOADED), gr.update(visible=d == DRAWN)), dataset,
                   [upload, drawing], queue=False, api_visibility="private")
    sources = [dataset, upload, drawing]
    new_button.click(start, [*sources, *options], out, api_visibility="private", **lab)
    def pick(dataset, *rest):
        """Built-in data starts a game at once; a drawing waits for New game (a CSV starts when uploaded)."""
        if dataset == DRAWN:
            return None, gr.skip(), DRAW_FIRST, gr.skip(), gr.skip(), gr.skip()
        return start(dataset, *rest)

    dataset.input(pick, [*sources, *options], out, api_visibility="private", **lab)
    upload.upload(start, [*sources, *options], out, api_visibility="private", **lab)
    state_inputs = [session_state, *sources, *options]
    step_d.click(stepper(True, False), state_inputs, out, api_visibility="private", **lab)
    step_g.click(stepper(False, True), state_inputs, out, api_visibility="private", **lab)
    step_both.click(stepper(True, True), state_inputs, out, api_visibility="private", **lab)
    running = run_button.click(run, [session_state, *sources, steps_per_frame, delay, *options], out,
                               api_visibility="private", **lab)
    pause_button.click(None, None, None, cancels=[running], queue=False, api_visibility="private")

    def first_game(session, dataset, upload, drawing, heatmap, arrows, grid):
        """The starting game, as GAN Lab opens on it, the first time the tab is opened: not at
        start-up nor on page load, which would import torch and build networks for every
        visitor, Lab or not. Opening the tab again keeps the game as it is."""
        if session is not None or dataset not in LAB_DATASETS:
            return tuple(gr.skip() for _ in out)
        return start(dataset, upload, drawing, heatmap, arrows, grid)

    if tab is not None:
        # Not queued: behind other users' Runs (the "lab" concurrency group) the check for an
        # existing game would wait for minutes, with the tab's progress overlay on meanwhile.
        tab.select(first_game, [session_state, *sources, *options], out, queue=False, api_visibility="private")
    return session_state
