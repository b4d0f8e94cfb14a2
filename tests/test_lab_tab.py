"""The Lab tab's curves as the plots receive them (the browser side: test_lab_browser.py)."""

import gradio as gr
import pandas as pd
import pytest

from gan_space.lab import LabSession
from gan_space.ui.lab_tab import _curves

SERIES = {"losses": {"D loss", "G loss"}, "probabilities": {"D(x)", "D(G(z))"},
          "modes": {"modes captured (share)", "high-quality samples"}}


def plot_values(session) -> dict[str, pd.DataFrame]:
    losses, probabilities, modes = _curves(session)
    return {"losses": losses, "probabilities": probabilities, "modes": modes["value"]}


def check_numeric(values: dict[str, pd.DataFrame]) -> None:
    for name, frame in values.items():
        # Numbers, not text: a plot types its axes from the first table it gets, and an object
        # column made it a category axis (a label per value, out of order) for good.
        assert pd.api.types.is_integer_dtype(frame["step"]), (name, frame.dtypes)
        assert pd.api.types.is_float_dtype(frame["value"]), (name, frame.dtypes)
        # What the browser is told (Gradio's own reading of the dtypes).
        datatypes = gr.LinePlot(x="step", y="value", color="series").postprocess(frame).datatypes
        assert datatypes == {"step": "quantitative", "value": "quantitative", "series": "nominal"}, name
        # Every series is there from the start (the legend is fixed at the first drawing too).
        assert set(frame["series"]) == SERIES[name], name


@pytest.mark.parametrize("dataset", ["ring8", "moons"])
def test_every_lab_plot_gets_numbers_from_the_first_frame_on(dataset):
    session = LabSession.create(dataset)
    check_numeric(plot_values(session))  # a new game: only placeholders so far
    session.step(d=False, g=True)  # G alone: no D loss, no D(x) yet
    check_numeric(plot_values(session))
    session.run(60)
    values = plot_values(session)
    check_numeric(values)
    # The real points are all there, as numbers.
    losses = values["losses"].dropna()
    assert len(losses[losses["series"] == "G loss"]) == 61 and len(losses[losses["series"] == "D loss"]) == 60
    probabilities = values["probabilities"].dropna()
    assert probabilities["value"].between(0, 1).all()
    modes = values["modes"].dropna()
    if dataset == "ring8":
        assert modes["value"].between(0, 1).all() and len(modes) >= 2 * 25
    else:
        assert modes.empty  # modes are for the mixtures
