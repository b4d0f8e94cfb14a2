"""Unpaired translation in the Translate tab: A and B from uploads or the built-in emoji styles,
the live held-out grid, Apply in both directions; through the API (gradio_client) and in a real
browser (any page error fails the test: conftest.py's page_errors)."""

import re

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from playwright.sync_api import expect

from app_fixtures import SCREENSHOTS
from test_app_browser import distinct_sources

UPLOAD = "upload images or a .zip"


@pytest.fixture(scope="module")
def two_styles(tmp_path_factory):
    """A user's two folders: 12 Noto emoji (A) and 12 other emoji in the flat style (B)."""
    from gan_space.data import load_emoji

    root = tmp_path_factory.mktemp("styles")
    files = {}
    for side, style, start in (("a", "emoji", 0), ("b", "emoji-flat", 400)):
        files[side] = []
        for i, picture in enumerate(load_emoji(32, 3, style=style).samples[start:start + 12]):
            path = root / f"{side}-{i:02d}.png"
            Image.fromarray(picture.permute(1, 2, 0).numpy()).save(path)
            files[side].append(path)
    return files


def test_the_api_trains_cyclegan_on_two_uploads_and_applies_both_ways(app_server, client_factory, two_styles,
                                                                      tmp_path):
    client = client_factory()
    job = client.submit(task="unpaired", pictures=UPLOAD, upload=[handle_file(str(p)) for p in two_styles["a"]],
                        pictures_b=UPLOAD, upload_b=[handle_file(str(p)) for p in two_styles["b"]],
                        arch="cyclegan", run_name="api-unpaired", steps=6, batch_size=4, resolution=16,
                        api_name="/translate_train")
    outputs = list(job)
    assert "finished 6 steps" in outputs[-1][3], outputs[-1][3]
    run = app_server.run_dir("api-unpaired")
    copied = sorted(p.name for p in (run / "data-b").iterdir())  # (numbered: uploads may share a name)
    assert len(copied) == 12 and all(name.endswith(original.name) for name, original in zip(copied, two_styles["b"]))
    texts = [o[5] for o in outputs if isinstance(o[5], str) and o[5].startswith("**Held-out")]
    assert texts and "too few to measure" in texts[-1]  # 1 held-out picture of 12: no distribution to compare

    picture = tmp_path / "in.png"
    Image.new("RGB", (45, 27), (200, 120, 0)).save(picture)
    for direction in ("AtoB", "BtoA"):  # (6 steps change the pictures too little to tell the directions apart)
        _, after, _ = client.predict(model="runs/api-unpaired", picture=handle_file(str(picture)),
                                     direction=direction, api_name="/translate_apply")
        assert Image.open(after).size == (45, 27)


@pytest.mark.parametrize("arguments, message", [
    (dict(task="unpaired", pictures_b=UPLOAD), "no files uploaded"),
    (dict(task="unpaired", pictures_b="somewhere else"), "is not in the list of choices"),
])
def test_bad_unpaired_inputs_get_one_line(client_factory, arguments, message):
    with pytest.raises(AppError, match=re.escape(message)):
        client_factory().predict(**arguments, api_name="/translate_train")


def test_b_to_a_with_a_one_way_model_is_a_clear_message(app_server, client_factory, two_styles, tmp_path):
    client = client_factory()
    outputs = list(client.submit(task="unpaired", pictures=UPLOAD, upload=[handle_file(str(p)) for p in two_styles["a"]],
                                 pictures_b=UPLOAD, upload_b=[handle_file(str(p)) for p in two_styles["b"]],
                                 run_name="api-cut", steps=2, batch_size=4, resolution=16,
                                 api_name="/translate_train"))
    assert "finished 2 steps" in outputs[-1][3]
    with pytest.raises(AppError, match="CycleGAN"):
        client.predict(model="runs/api-cut", picture=handle_file(str(two_styles["a"][0])), direction="BtoA",
                       api_name="/translate_apply")


def test_unpaired_styles_in_the_browser_watch_a_turn_into_b_then_apply(page, app_server, two_styles):
    page.goto(app_server.url)
    page.get_by_role("tab", name="Translate").click()
    expect(page.locator("#translate-pictures-b")).to_be_hidden()
    page.locator("#translate-task").get_by_text("Unpaired styles").click()
    expect(page.locator("#translate-pictures-b")).to_be_visible()
    expect(page.locator("#translate-grid")).to_contain_text("A | translated")
    page.locator("#translate-advanced").get_by_text("Advanced settings").click()
    expect(page.locator("#translate-resolution input")).to_have_value("64")  # the task's preset
    page.locator("#translate-steps input").fill("12")
    page.locator("#translate-batch input").fill("4")
    page.locator("#translate-resolution input").fill("16")
    page.get_by_label("Run name").last.fill("browser-unpaired")
    page.screenshot(path=str(SCREENSHOTS / "unpaired-ready.png"), full_page=True)

    page.locator("#translate-train").click()  # the built-in styles: Noto emoji -> flat emoji
    sources = distinct_sources(page, "#translate-grid img", 2)
    page.wait_for_function(
        "() => /finished 12 steps/.test(document.querySelector('#translate-status textarea').value)",
        timeout=300_000)
    first, last = (page.request.get(source).body() for source in (sources[0], sources[-1]))
    assert first != last  # the held-out translations changed as it trained
    expect(page.locator("#translate-scores")).to_contain_text("untranslated", timeout=60_000)
    expect(page.locator("#translate-losses")).to_contain_text("PatchNCE (G)")  # CUT's content term, not a pixel loss
    page.screenshot(path=str(SCREENSHOTS / "unpaired-finished.png"), full_page=True)

    expect(page.locator("#translate-model input")).to_have_value(re.compile("browser-unpaired"))
    page.locator("#translate-picture input[type=file]").set_input_files(str(two_styles["a"][3]))
    page.locator("#translate-apply").click()
    page.locator("#translate-after img").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "unpaired-applied.png"), full_page=True)
    assert "Traceback" not in page.content()
