"""The Translate tab: image-to-image training and Apply, through the API (gradio_client) and
in a real browser (Debian's Chromium; screenshots in test-artifacts/screenshots/, and any
JavaScript error in the page fails the test: conftest.py's page_errors)."""

import io
import re
import zipfile

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from playwright.sync_api import expect

from app_fixtures import SCREENSHOTS
from test_app_browser import distinct_sources

UPLOAD = "upload images or a .zip"


@pytest.fixture(scope="module")
def picture_files(tmp_path_factory):
    """A user's folder of pictures: 24 emoji as PNG files."""
    from gan_space.data import load_emoji

    folder = tmp_path_factory.mktemp("my-pictures")
    for i, picture in enumerate(load_emoji(64, 3).samples[::150][:24]):
        Image.fromarray(picture.permute(1, 2, 0).numpy()).save(folder / f"picture-{i:02d}.png")
    return sorted(folder.iterdir())


@pytest.fixture(scope="module")
def new_picture(tmp_path_factory):
    """A picture that is not in the folder: an emoji the upload does not hold, at 40x30."""
    from gan_space.data import load_emoji

    path = tmp_path_factory.mktemp("elsewhere") / "new.png"
    picture = load_emoji(64, 3).samples[75]
    Image.fromarray(picture.permute(1, 2, 0).numpy()).resize((40, 30)).save(path)
    return path


def test_the_api_trains_streams_lists_and_applies(app_server, client_factory, picture_files, new_picture):
    client = client_factory()
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/translate_train", "/translate_resume", "/translate_apply", "/translate_models"} <= set(endpoints)
    assert all(p["parameter_has_default"] for p in endpoints["/translate_train"]["parameters"])

    job = client.submit(task="super-resolution", pictures=UPLOAD, upload=[handle_file(str(p)) for p in picture_files],
                        run_name="api-sr", steps=24, batch_size=4, resolution=32, api_name="/translate_train")
    outputs = list(job)
    assert "finished 24 steps" in outputs[-1][3], outputs[-1][3]
    grids = [o[0] for o in outputs if isinstance(o[0], str)]
    assert grids and Image.open(grids[-1]).size[0] > Image.open(grids[-1]).size[1]  # rows of 2 triplets
    texts = [o[5] for o in outputs if isinstance(o[5], str) and o[5].startswith("**Held-out")]
    assert texts and "bicubic" in texts[-1] and "at step 24" in texts[-1]
    assert (app_server.run_dir("api-sr") / "held_out.safetensors").is_file()

    models = client.predict(api_name="/translate_models")
    assert {"key": "runs/api-sr", "task": "super-resolution", "scale": 4} .items() <= next(
        m for m in models if m["key"] == "runs/api-sr").items()
    before, after, download = client.predict(model="runs/api-sr", picture=handle_file(str(new_picture)),
                                             api_name="/translate_apply")
    assert Image.open(after).size == Image.open(before).size == (160, 120)
    assert Image.open(download).format == "PNG" and Image.open(download).size == (160, 120)


def test_your_own_a_b_pairs_train_and_apply(app_server, client_factory, tmp_path):
    archive = tmp_path / "pairs.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for i in range(10):
            for side, colour in (("A", (20 * i, 0, 0)), ("B", (0, 20 * i, 200))):
                buffer = io.BytesIO()
                Image.new("RGB", (32, 32), colour).save(buffer, format="PNG")
                handle.writestr(f"{side}/{i}.png", buffer.getvalue())
        handle.writestr("A/extra.png", buffer.getvalue())  # no partner: skipped and reported
    client = client_factory()
    outputs = list(client.submit(task="paired", pictures=UPLOAD, upload=[handle_file(str(archive))],
                                 run_name="api-pairs", steps=6, batch_size=4, resolution=32,
                                 api_name="/translate_train"))
    assert "finished 6 steps" in outputs[-1][3]
    picture = tmp_path / "in.png"
    Image.new("RGB", (50, 20), (100, 0, 0)).save(picture)
    before, after, _ = client.predict(model="runs/api-pairs", picture=handle_file(str(picture)),
                                      api_name="/translate_apply")
    assert Image.open(after).size == (50, 20)


@pytest.mark.parametrize("arguments, message", [
    (dict(task="paired", pictures="emoji (built-in pictures)"), "your pairs need an upload"),
    (dict(task="colorize", pictures=UPLOAD), "no files uploaded"),
    (dict(task="super-resolution", scale=3), "is not in the list of choices: [2, 4]"),
    (dict(task="super-resolution", resolution=20), "a multiple of 8"),
    (dict(task="super-resolution", run_name="../escape"), "is not allowed"),
])
def test_bad_training_inputs_get_one_line(client_factory, arguments, message):
    with pytest.raises(AppError, match=re.escape(message)):
        client_factory().predict(**arguments, api_name="/translate_train")


def test_bad_apply_inputs_get_one_line(client_factory, tmp_path):
    client = client_factory()
    not_a_picture = tmp_path / "notes.png"
    not_a_picture.write_text("hello")
    with pytest.raises(AppError, match="no image-to-image model"):
        client.predict(model="shipped/digits", picture=handle_file(str(not_a_picture)), api_name="/translate_apply")
    # (the runs of the tests before, when they ran in this worker; next-frame models take clips, not pictures)
    models = [m for m in client.predict(api_name="/translate_models") if m["task"] != "next-frame"]
    if models:
        with pytest.raises(AppError, match="not a readable image"):
            client.predict(model=models[0]["key"], picture=handle_file(str(not_a_picture)),
                           api_name="/translate_apply")


def test_train_super_resolution_in_the_browser_watch_it_sharpen_then_apply_and_download(
        page, app_server, picture_files, new_picture, tmp_path):
    page.goto(app_server.url)
    page.get_by_role("tab", name="Translate").click()
    page.locator("#translate-pictures").get_by_label(UPLOAD).check()
    page.locator("#translate-upload input[type=file]").set_input_files([str(p) for p in picture_files])
    page.locator("#translate-advanced").get_by_text("Advanced settings").click()
    expect(page.locator("#translate-steps input")).to_have_value("2000")  # the task's preset
    page.locator("#translate-steps input").fill("80")
    page.locator("#translate-batch input").fill("4")
    page.locator("#translate-resolution input").fill("32")
    page.locator("#translate-warmup input").fill("40")  # L1 alone, then the GAN: both phases show
    page.locator("#translate-task").get_by_text("Super-resolution").click()
    page.get_by_label("Run name").last.fill("browser-sr")
    page.screenshot(path=str(SCREENSHOTS / "translate-ready.png"), full_page=True)

    page.locator("#translate-train").click()
    sources = distinct_sources(page, "#translate-grid img", 2)
    page.wait_for_function(
        "() => /step \\d+\\/80/.test(document.querySelector('#translate-status textarea').value)")
    expect(page.locator("#translate-scores")).to_contain_text("Held-out pictures", timeout=120_000)
    expect(page.locator("#translate-psnr")).to_contain_text("bicubic", timeout=120_000)
    page.screenshot(path=str(SCREENSHOTS / "translate-training.png"), full_page=True)
    page.wait_for_function(
        "() => /finished 80 steps/.test(document.querySelector('#translate-status textarea').value)",
        timeout=300_000)
    first, last = (page.request.get(source).body() for source in (sources[0], sources[-1]))
    assert first != last  # the held-out outputs changed as it trained
    expect(page.locator("#translate-losses")).to_contain_text("pixel L1 (G)")
    expect(page.locator("#translate-losses")).to_contain_text("adversarial (G)")
    # The L1 model at the warm-up's end is measured once: the GAN phase's own L1-only reference.
    expect(page.locator("#translate-scores")).to_contain_text("The L1 model at the end of the warm-up (step 40)")
    expect(page.locator("#translate-psnr")).to_contain_text("L1 model (end of warm-up)")
    page.screenshot(path=str(SCREENSHOTS / "translate-finished.png"), full_page=True)

    # Apply: the run just trained is selected; a picture from elsewhere comes back 4x larger.
    expect(page.locator("#translate-model input")).to_have_value(re.compile("browser-sr"))
    page.locator("#translate-picture input[type=file]").set_input_files(str(new_picture))
    page.locator("#translate-apply").click()
    page.locator("#translate-after img").wait_for()
    page.locator("#translate-before img").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "translate-applied.png"), full_page=True)
    with page.expect_download() as download_info:
        page.locator("#translate-download").click()
    downloaded = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(downloaded)
    assert Image.open(downloaded).size == (160, 120)
    assert "Traceback" not in page.content()


def test_push_from_the_tab_then_pull_in_the_hub_tab(app_server, client_factory, fake_hub, hub_repo_id):
    client = client_factory()
    models = [m["key"] for m in client.predict(api_name="/translate_models")]
    if not models:
        list(client.submit(task="colorize", run_name="api-push", steps=2, batch_size=4, resolution=32,
                           api_name="/translate_train"))
        models = [m["key"] for m in client.predict(api_name="/translate_models")]
    with pytest.raises(AppError, match="needs a Hugging Face token"):
        client.predict(model=models[0], repo_id=hub_repo_id, api_name="/translate_push")
    pushed = client.predict(model=models[0], repo_id=hub_repo_id, token=fake_hub.token, api_name="/translate_push")
    assert hub_repo_id in pushed
    status, _ = client.predict(hub_repo_id, "", fake_hub.token, api_name="/pull")
    assert "in **Translate**" in status
    assert f"hub/{hub_repo_id.replace('/', '--')}" in [m["key"] for m in client.predict(api_name="/translate_models")]
