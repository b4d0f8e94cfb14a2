"""The app in a real browser: Debian's Chromium driven by Playwright, headless.

Screenshots go to test-artifacts/screenshots/ (look at them: a grid of noise after
training is a bug)."""

import re
import threading
import time

from PIL import Image
from playwright.sync_api import expect

from app_fixtures import SCREENSHOTS
from test_app_api import cells_of_grid, grid_size


def distinct_sources(page, selector: str, count: int, timeout: float = 120) -> list[str]:
    """Watch an <img> until it has shown `count` different pictures; their URLs."""
    seen = []
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        assert time.monotonic() < deadline, f"{selector} showed only {len(seen)} picture(s)"
        source = page.locator(selector).get_attribute("src") if page.locator(selector).count() else None
        if source and source not in seen:
            seen.append(source)
        time.sleep(0.1)
    return seen


def test_train_on_digits_watch_it_stream_stop_then_generate(page, app_server, tmp_path):
    page.goto(app_server.url)
    page.get_by_role("button", name="Train", exact=True).wait_for()
    # The advanced fold is filled from the library's preset for digits.
    page.get_by_text("Advanced settings").click()
    expect(page.get_by_label("Steps")).to_have_value("6000", timeout=60_000)
    page.get_by_label("Run name").fill("browser-digits")

    page.get_by_role("button", name="Train", exact=True).click()
    sources = distinct_sources(page, "#train-grid img", 3)
    page.wait_for_function("() => /step \\d+\\/6000/.test(document.querySelector('#train-status textarea').value)")
    # The diagnostics: the game read in plain words, the samples measured, and for
    # digits the Fréchet distance curve next to real digits'.
    reading = page.locator("#train-reading")
    expect(reading).to_contain_text("Samples at step", timeout=60_000)
    expect(reading).to_contain_text("D(x)")
    expect(reading).to_contain_text("digit classes")
    expect(page.locator("#frechet-plot")).to_contain_text("real held-out digits")
    # The legends name the curves (a plot that first drew an empty table showed a number scale).
    expect(page.locator("#quality-plot")).to_contain_text("digit classes covered (of 10)")
    # Away to another tab and back while the run streams: the plots redraw when they are shown
    # again, from the values they hold (a value the stream had stripped threw a page error,
    # "Cannot read properties of undefined (reading 'step')"; conftest.py fails on any).
    page.wait_for_timeout(1000)  # a few more progress updates after the measurement
    page.get_by_role("tab", name="Generate").click()
    page.wait_for_timeout(1500)
    page.get_by_role("tab", name="Train").click()
    page.wait_for_timeout(1500)
    expect(page.locator("#quality-plot")).to_contain_text("digit classes covered (of 10)")
    expect(page.locator("#loss-plot")).to_contain_text("G loss")
    page.screenshot(path=str(SCREENSHOTS / "train-streaming.png"), full_page=True)

    # Two streamed grids really differ (the generator changes as it trains).
    first, last = (page.request.get(source).body() for source in (sources[1], sources[-1]))
    assert first != last

    page.get_by_role("button", name="Stop", exact=True).click()
    page.wait_for_function(
        "() => /stopped at step \\d+\\/6000/.test(document.querySelector('#train-status textarea').value)")
    status = page.locator("#train-status textarea").input_value()
    stopped_step = int(re.search(r"stopped at step (\d+)", status).group(1))
    assert (app_server.run_dir("browser-digits") / "checkpoints" / "latest").read_text() == f"step-{stopped_step:07d}"
    page.screenshot(path=str(SCREENSHOTS / "train-stopped.png"), full_page=True)

    # Resume in the same page: the sample-quality plots wait, hidden, for the new stretch's first
    # measurement (a plot emptied or removed after it had drawn threw a page error), then show it.
    page.get_by_role("button", name="Resume", exact=True).click()
    page.wait_for_function(
        "() => /browser-digits · step \\d+\\/6000/.test(document.querySelector('#train-status textarea').value)")
    page.wait_for_function(f"""() => {{
        const measured = /Samples at step (\\d+)/.exec(document.querySelector('#train-reading').innerText);
        return measured && Number(measured[1]) > {stopped_step};
    }}""", timeout=60_000)
    page.get_by_role("button", name="Stop", exact=True).click()
    page.wait_for_function(
        "() => /stopped at step \\d+\\/6000/.test(document.querySelector('#train-status textarea').value)")
    expect(page.locator("#quality-plot")).to_contain_text("digit classes covered (of 10)")
    page.screenshot(path=str(SCREENSHOTS / "train-resumed-stopped.png"), full_page=True)

    # The Generate tab lists the run just trained (selected) without a restart.
    page.get_by_role("tab", name="Generate").click()
    model = page.get_by_label("Generator")
    expect(model).to_have_value(re.compile("browser-digits"))
    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("#generate-grid img").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "generate-trained-run.png"), full_page=True)

    # Then the shipped model: a grid of digits, and its PNG download.
    model.click()
    page.get_by_role("option", name="digits (shipped)", exact=True).click()
    page.wait_for_function("() => document.querySelector('#model-info').innerText.includes('MLPGenerator')")
    before = page.locator("#generate-grid img").get_attribute("src")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_function(f"() => document.querySelector('#generate-grid img')?.src !== {before!r}")
    page.screenshot(path=str(SCREENSHOTS / "generate-shipped.png"), full_page=True)
    with page.expect_download() as download_info:
        page.locator("#download-png").click()
    downloaded = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(downloaded)
    assert downloaded.suffix == ".png" and Image.open(downloaded).size == grid_size(64)
    from gan_space.metrics import digits_metrics

    assert digits_metrics(cells_of_grid(str(downloaded)))["classes_covered"] >= 8

    # The interpolation animates.
    page.get_by_role("button", name="Interpolate", exact=True).click()
    page.locator("#interpolation img").wait_for()
    gif = page.request.get(page.locator("#interpolation img").get_attribute("src")).body()
    assert gif[:6] in (b"GIF87a", b"GIF89a")
    page.screenshot(path=str(SCREENSHOTS / "generate-interpolation.png"), full_page=True)

    # The shipped colour generator: its description gives its score; a colour grid.
    model.click()
    page.get_by_role("option", name="emoji (shipped)").click()
    page.wait_for_function("() => document.querySelector('#model-info').innerText.includes('Fréchet distance')")
    expect(page.locator("#interpolation img")).to_have_count(0)  # the digits' animation is gone
    before = page.locator("#generate-grid img").get_attribute("src")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_function(f"() => document.querySelector('#generate-grid img')?.src !== {before!r}")
    # (Gradio dims an output while its event is pending: the screenshot waits for the end.)
    page.wait_for_function("() => !document.querySelector('#generate-grid.pending, #generate-grid .pending') && "
                           "document.querySelector('#generate-grid img').complete")
    page.wait_for_timeout(300)  # the picture fades in
    page.screenshot(path=str(SCREENSHOTS / "generate-shipped-emoji.png"), full_page=True)


def test_a_bad_input_shows_a_message_in_the_page(page, app_server):
    page.goto(app_server.url)
    page.get_by_role("button", name="Train", exact=True).wait_for()
    page.get_by_label("Hugging Face dataset").check()
    page.get_by_role("button", name="Train", exact=True).click()
    # A notice in the page, and the message stays in the status line.
    page.get_by_text("enter a Hugging Face dataset id, like 'owner/name'").wait_for()
    expect(page.locator("#train-status textarea")).to_have_value(
        "Error: enter a Hugging Face dataset id, like 'owner/name'")
    page.screenshot(path=str(SCREENSHOTS / "train-error.png"), full_page=True)
    assert "Traceback" not in page.content()
    # The page keeps working: the buttons come back and another action runs.
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    page.get_by_role("tab", name="Generate").click()
    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("#generate-grid img").wait_for()


def test_a_second_user_sees_they_are_queued_and_can_still_generate(page_factory, app_server):
    first, second = page_factory(), page_factory()
    first.goto(app_server.url)
    first.get_by_label("ring8").check()
    first.get_by_label("Run name").fill("browser-queue-first")
    first.get_by_role("button", name="Train", exact=True).click()
    expect(first.locator("#train-status textarea")).to_have_value(re.compile(r"step \d+/"))

    second.goto(app_server.url)
    second.get_by_label("Run name").fill("browser-queue-second")
    second.get_by_role("button", name="Train", exact=True).click()
    expect(second.locator("#train-status textarea")).to_have_value(
        re.compile("Queued: the training device is busy with run browser-queue-first"))
    second.screenshot(path=str(SCREENSHOTS / "train-queued.png"), full_page=True)

    # While waiting, the second user generates.
    second.get_by_role("tab", name="Generate").click()
    second.get_by_role("button", name="Generate", exact=True).click()
    second.locator("#generate-grid img").wait_for()
    assert "step" in first.locator("#train-status textarea").input_value()  # the first run still trains
    # The first user's diagnostics for 2-D data: modes captured, its curve named in the legend.
    expect(first.locator("#train-reading")).to_contain_text("/8 modes")
    expect(first.locator("#quality-plot")).to_contain_text("modes captured (share)")

    # Stop while queued: the second run never starts, and leaves no folder.
    second.get_by_role("tab", name="Train").click()
    second.get_by_role("button", name="Stop", exact=True).click()
    expect(second.locator("#train-status textarea")).to_have_value("Cancelled: the queued run will not start.")
    first.get_by_role("button", name="Stop", exact=True).click()
    expect(first.locator("#train-status textarea")).to_have_value(re.compile("stopped at step"))
    first.screenshot(path=str(SCREENSHOTS / "train-ring8-stopped.png"), full_page=True)
    expect(second.locator("#train-status textarea")).to_have_value("Cancelled before it started.")
    expect(second.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    assert not app_server.run_dir("browser-queue-second").exists()


def test_closing_the_page_stops_its_run_and_keeps_a_checkpoint(page, app_server):
    page.goto(app_server.url)
    page.get_by_label("Run name").fill("browser-closed")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator("#train-status textarea")).to_have_value(re.compile(r"step \d+/6000"))
    page.close()  # the user leaves mid-run: nobody watches, so the device must not stay busy
    latest = app_server.run_dir("browser-closed") / "checkpoints" / "latest"
    deadline = time.monotonic() + 120
    while not latest.exists() or any(t.name == "train-browser-closed" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the run of a closed page kept training"
        time.sleep(0.2)
    step = int(latest.read_text().removeprefix("step-"))
    assert 0 < step < 6000  # stopped early, not trained to the end
