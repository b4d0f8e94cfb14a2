"""The Translate tab's next-frame comparison and the Generate tab's classifier test in a real
browser (Debian's Chromium): outputs filled, a generator without classes answered with one line,
and any JavaScript error in the page fails the test (conftest.py's page_errors). Screenshots:
test-artifacts/screenshots/next-frame-*.png and classifier-*.png."""

from PIL import Image
from playwright.sync_api import expect

from app_fixtures import SCREENSHOTS
from test_classifier_app import train_conditional_digits
from test_next_frame_tab import ADVERSARIAL_RUN, L2_RUN, train_tiny_models


def _image(page, selector: str) -> Image.Image:
    import io

    page.locator(f"{selector} img").wait_for()
    source = page.locator(f"{selector} img").get_attribute("src")
    return Image.open(io.BytesIO(page.request.get(source).body()))


def test_compare_the_l2_twin_and_the_adversarial_model_side_by_side(page, app_server):
    train_tiny_models(app_server.runs_dir)
    page.goto(app_server.url)
    page.get_by_role("tab", name="Translate").click()
    page.locator("#next-frame-section").get_by_text("Next frame: L2 against adversarial").click()
    # The tutorial's pair is chosen: model A an L2-only model, model B an adversarial one.
    expect(page.locator("#next-frame-model-a input")).to_have_value(f"{L2_RUN} (step 30) · L2 only")
    expect(page.locator("#next-frame-model-b input")).to_have_value(f"{ADVERSARIAL_RUN} (step 30) · adversarial")
    expect(page.locator("#next-frame-train-twin")).to_be_visible()
    page.locator("#next-frame-clip-number input").fill("3")
    page.locator("#next-frame-compare").click()

    side_by_side = _image(page, "#next-frame-side-by-side")
    assert side_by_side.width > 3 * side_by_side.height  # four frames in a row
    expect(page.locator("#next-frame-table")).to_contain_text("copy the last frame")
    expect(page.locator("#next-frame-table")).to_contain_text(f"{L2_RUN} (L2 only)")
    expect(page.locator("#next-frame-table")).to_contain_text(f"{ADVERSARIAL_RUN} (adversarial)")
    expect(page.locator("#next-frame-summary")).to_contain_text("held-out moving-emoji clip 3")
    rollout = _image(page, "#next-frame-rollout-gif")
    assert rollout.format == "GIF" and rollout.n_frames == 8
    expect(page.locator("#next-frame-gifs")).to_contain_text(".gif")
    page.locator("#next-frame-section").screenshot(path=str(SCREENSHOTS / "next-frame-compare.png"))
    assert "Traceback" not in page.content()


def test_the_classifier_test_of_a_conditional_generator_and_of_one_without_classes(page, app_server):
    model = train_conditional_digits(app_server.runs_dir)
    page.goto(app_server.url)
    page.get_by_role("tab", name="Generate").click()
    page.get_by_text("Classifier test: is this generator's output useful training data?").click()
    # A generator without classes (the shipped digits, the first in the list): one line, no traceback.
    page.locator("#classifier-run").click()
    expect(page.get_by_text("makes pictures without classes").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "classifier-not-conditional.png"), full_page=True)

    generator = page.get_by_label("Generator")
    generator.fill(model)
    generator.press("Enter")
    page.locator("#classifier-few input").fill("3")
    page.locator("#classifier-generated input").fill("10")
    page.locator("#classifier-seeds input").fill("2")
    page.locator("#classifier-steps input").fill("20")
    page.locator("#classifier-run").click()
    expect(page.locator("#classifier-table")).to_contain_text("(b) generated only (CAS)", timeout=120_000)
    expect(page.locator("#classifier-table")).to_contain_text("(d) 3 real per class + generated")
    expect(page.locator("#classifier-text")).to_contain_text("Chance: 10.0%")
    page.locator("#classifier-test").screenshot(path=str(SCREENSHOTS / "classifier-test.png"))
    assert "Traceback" not in page.content()
