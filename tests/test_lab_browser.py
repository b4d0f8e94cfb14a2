"""The Lab tab and the steering sliders in a real browser (Debian's Chromium).

Screenshots: test-artifacts/screenshots/lab-*.png and steer-*.png (look at them: the lab
should show green real points, purple generated ones, a tinted heat map and arrows)."""

import re

from PIL import Image
from playwright.sync_api import expect

from app_fixtures import SCREENSHOTS


REAL, FAKE = (20, 120, 60), (120, 50, 170)  # gan_space.lab's green and purple


def _picture(page, app_server, selector: str) -> Image.Image:
    import io

    source = page.locator(selector).get_attribute("src")
    return Image.open(io.BytesIO(page.request.get(source).body())).convert("RGB")


def _y_axis(page, plot: str) -> tuple[str, list[float]]:
    """A line plot's y axis as Vega drew it (SVG): its description, which names the kind of
    scale, and its tick labels read top to bottom."""
    axis = page.evaluate("""(plot) => {
        const axis = [...document.querySelectorAll(plot + ' svg g.role-axis')]
            .find(g => (g.getAttribute('aria-label') || '').startsWith('Y-axis'));
        if (!axis) return null;
        const ticks = [...axis.querySelectorAll('.role-axis-label text')]
            .map(t => [t.getBoundingClientRect().y, t.textContent]).sort((a, b) => a[0] - b[0]);
        return [axis.getAttribute('aria-label'), ticks.map(t => t[1])];
    }""", plot)
    assert axis is not None, f"{plot} has drawn no y axis"
    return axis


def test_lab_opens_on_the_starting_game_steps_d_then_g_then_runs_and_pauses(page, app_server):
    page.goto(app_server.url)
    page.get_by_role("tab", name="Lab").click()
    # The starting game (ring8) shows at once, as in GAN Lab, without pressing New game.
    expect(page.locator("#lab-reading")).to_contain_text("Nothing has happened yet")
    page.wait_for_function("() => document.querySelector('#lab-scene img')?.complete"
                           " && document.querySelector('#lab-scene img').naturalWidth > 0")
    page.screenshot(path=str(SCREENSHOTS / "lab-start.png"), full_page=True)
    colours = set(_picture(page, app_server, "#lab-scene img").getdata())
    assert REAL in colours and FAKE in colours and len(colours) > 50  # real points, samples, D's map
    page.get_by_role("button", name="Step G", exact=True).click()  # G alone: D has not judged real data yet
    expect(page.locator("#lab-reading")).to_contain_text("Only one side has moved")
    page.get_by_role("button", name="Step D", exact=True).click()
    expect(page.locator("#lab-reading")).to_contain_text("D(x)")
    page.wait_for_function("() => document.querySelector('#lab-scene img')?.src")
    page.screenshot(path=str(SCREENSHOTS / "lab-one-step.png"), full_page=True)
    first = page.locator("#lab-scene img").get_attribute("src")

    # Slow motion: frames of 20 steps keep arriving until Pause.
    frame_steps = page.get_by_role("spinbutton", name="number input for Steps per frame")
    frame_steps.fill("20")
    frame_steps.press("Enter")
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_function(f"() => document.querySelector('#lab-scene img')?.src !== {first!r}")
    page.wait_for_function("() => /Modes captured: \\*?\\*?\\d/.test(document.querySelector('#lab-reading').innerText)"
                           " && document.querySelector('#lab-reading').innerText.length > 0", timeout=120_000)
    expect(page.locator("#lab-modes")).to_be_visible()
    page.wait_for_timeout(1000)  # a frame or two more for the screenshot
    page.get_by_role("button", name="Pause", exact=True).click()
    page.wait_for_timeout(5000)  # a frame already on its way may still land
    paused = page.locator("#lab-scene img").get_attribute("src")
    page.wait_for_timeout(3000)
    assert page.locator("#lab-scene img").get_attribute("src") == paused  # no more frames
    page.screenshot(path=str(SCREENSHOTS / "lab-running.png"), full_page=True)
    scene = _picture(page, app_server, "#lab-scene img")
    colours = set(scene.getdata())
    assert REAL in colours and FAKE in colours and len(colours) > 50


def test_lab_plots_draw_numbers_on_number_axes(page, app_server):
    page.goto(app_server.url)
    page.get_by_role("tab", name="Lab").click()
    expect(page.locator("#lab-reading")).to_contain_text("Nothing has happened yet")
    page.get_by_role("button", name="New game", exact=True).click()
    page.get_by_role("button", name="Run", exact=True).click()
    # Until the loss curve reaches step 100 (modes are measured every 25 steps): by then the
    # plots hold enough distinct values for a category axis to show itself.
    page.wait_for_function("""() => [...document.querySelectorAll('#lab-loss svg g.role-axis')]
        .some(g => /^X-axis.*values from 0 to [1-9]\\d{2,}/.test(g.getAttribute('aria-label') || ''))""",
                           timeout=120_000)
    page.get_by_role("button", name="Pause", exact=True).click()
    page.wait_for_timeout(3000)  # a frame already on its way may still land
    page.locator("#lab-modes").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "lab-plots.png"), full_page=True)
    for plot in ("#lab-loss", "#lab-d", "#lab-modes"):
        page.locator(plot).screenshot(path=str(SCREENSHOTS / f"lab-plot-{plot.removeprefix('#lab-')}.png"))
        # Numbers on a number scale: a few round ticks, in order (values sent as text made a
        # category axis: a label for every distinct value, like 0, 0.001, 0.003, 0.004000002).
        description, ticks = _y_axis(page, plot)
        assert "linear scale" in description, (plot, description)
        values = [float(tick) for tick in ticks]
        assert 2 <= len(values) <= 12 and all(a > b for a, b in zip(values, values[1:])), (plot, ticks)
    # And the curves moved: the x axis reaches the steps run.
    x_axis = page.evaluate("""() => [...document.querySelectorAll('#lab-loss svg g.role-axis')]
        .map(g => g.getAttribute('aria-label') || '').find(label => label.startsWith('X-axis'))""")
    assert re.search(r"linear scale with values from 0 to [1-9]\d+", x_axis), x_axis


def test_steer_sliders_change_the_samples_and_export_an_animation(page, app_server):
    page.goto(app_server.url)
    page.get_by_role("tab", name="Generate").click()
    page.get_by_text("Steer (latent directions)").click()
    page.get_by_role("button", name="Steer", exact=True).click()
    expect(page.locator("#steer-info")).to_contain_text("Share of the first layer's variance", timeout=120_000)
    neutral = _picture(page, app_server, "#steer-grid img")
    source = page.locator("#steer-grid img").get_attribute("src")
    page.locator("#steer-1 input[type=number]").fill("3")
    page.locator("#steer-1 input[type=number]").press("Enter")
    page.get_by_role("button", name="Steer", exact=True).click()
    page.wait_for_function(f"() => document.querySelector('#steer-grid img')?.src !== {source!r}")
    steered = _picture(page, app_server, "#steer-grid img")
    assert steered.size == neutral.size and steered.tobytes() != neutral.tobytes()
    page.locator("#steer").screenshot(path=str(SCREENSHOTS / "steer-sliders.png"))
    page.get_by_role("button", name="Export animation along it", exact=True).click()
    page.wait_for_function("() => document.querySelector('#steer-gif img')?.src", timeout=120_000)
    page.screenshot(path=str(SCREENSHOTS / "steer-page.png"), full_page=True)


def test_lab_learns_points_drawn_on_the_canvas(page, app_server):
    import math

    page.goto(app_server.url)
    page.get_by_role("tab", name="Lab").click()
    # The starting game first: picked after it, the drawing's "draw first" stays the last word.
    expect(page.locator("#lab-reading")).to_contain_text("Nothing has happened yet")
    page.get_by_label("drawn on the canvas").check()
    expect(page.locator("#lab-reading")).to_contain_text("Draw the data on the canvas")
    page.locator("#lab-drawing").get_by_role("button", name="Brush").click()
    canvas = page.locator("#lab-drawing canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    centre_x, centre_y, radius = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] / 4
    # A circle in one stroke, of 24 sides (each pointer move costs the canvas about a third of a
    # second on a 2-core machine: 120 moves took half a minute).
    page.mouse.move(centre_x + radius, centre_y)
    page.mouse.down()
    for i in range(1, 25):
        angle = 2 * math.pi * i / 24
        page.mouse.move(centre_x + radius * math.cos(angle), centre_y + radius * math.sin(angle))
    page.mouse.up()
    page.get_by_role("button", name="New game", exact=True).click()
    expect(page.locator("#lab-reading")).to_contain_text("Nothing has happened yet", timeout=60_000)
    frame_steps = page.get_by_role("spinbutton", name="number input for Steps per frame")
    frame_steps.fill("50")
    frame_steps.press("Enter")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#lab-reading")).to_contain_text("D(x)", timeout=60_000)
    page.wait_for_timeout(4000)  # a couple of hundred steps: the purple samples spread towards the ring
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.locator("#lab-modes")).to_be_hidden()  # modes are for the mixtures; a drawing has none
    page.screenshot(path=str(SCREENSHOTS / "lab-drawn.png"), full_page=True)
    scene = _picture(page, app_server, "#lab-scene img")
    assert REAL in set(scene.getdata())  # the drawn (real) points, in green
