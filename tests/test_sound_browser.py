"""Sounds in the app in a real browser (Debian's Chromium, headless; any JavaScript error in the
page fails the test: conftest.py's page_errors). Nothing is played: the players are checked to
hold WAV files. Screenshots: test-artifacts/screenshots/sound-*.png."""

import io
import json
import re

import soundfile
from playwright.sync_api import expect

from app_fixtures import SCREENSHOTS
from test_sound_app import RATE, write_tone_clips

RUN = "browser-sounds"


def player_wav(page, elem_id: str) -> bytes:
    """The WAV file a player holds (waits until it holds one): the file its download link serves."""
    link = page.locator(f"#{elem_id} a[download]").first
    link.wait_for(state="attached")
    body = page.request.get(link.get_attribute("href")).body()
    samples, rate = soundfile.read(io.BytesIO(body))
    assert rate == RATE and samples.ndim == 1 and len(samples) >= RATE, (elem_id, rate, samples.shape)
    return body


def test_train_on_sounds_hear_the_players_then_generate_and_morph_clips(page, app_server, tmp_path):
    tones = write_tone_clips(tmp_path / "tones")
    page.goto(app_server.url)
    page.get_by_role("button", name="Train", exact=True).wait_for()
    page.get_by_label("upload sounds or a .zip").check()
    page.locator("#train-upload input[type=file]").set_input_files([str(path) for path in tones])
    page.get_by_text("Advanced settings").click()
    # The sound preset: 64 px spectrograms in one channel
    expect(page.get_by_label("Resolution (px)")).to_have_value("64", timeout=60_000)
    page.get_by_label("Steps").fill("8")
    page.get_by_label("Batch size").fill("4")
    page.get_by_label("Run name").fill(RUN)
    page.locator("#train-settings textarea").fill(json.dumps({"width": 8, "sample_every": 2, "log_every": 2,
                                                              "checkpoint_every": 8, "num_preview": 4}))
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(
        f"() => /{RUN}: finished 8 steps/.test(document.querySelector('#train-status textarea').value)")
    for k in range(1, 5):
        player_wav(page, f"train-sound-{k}")
    page.locator("#train-grid img").wait_for()
    page.wait_for_timeout(500)  # the waveforms draw
    page.screenshot(path=str(SCREENSHOTS / "sound-train.png"), full_page=True)

    # Generate lists the run (selected); its clips are players beside the spectrogram grid
    page.get_by_role("tab", name="Generate").click()
    expect(page.get_by_label("Generator")).to_have_value(re.compile(RUN))
    expect(page.locator("#model-info")).to_contain_text("sounds: 1 s at 16 kHz (64x64 spectrograms)")
    count = page.get_by_role("spinbutton", name="number input for Count")
    count.fill("8")
    count.press("Enter")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("#generate-grid img").wait_for()
    first = player_wav(page, "generate-sound-1")
    for k in range(2, 5):
        player_wav(page, f"generate-sound-{k}")
    expect(page.locator("#generate-wavs")).to_contain_text(".wav")

    page.get_by_role("button", name="Interpolate", exact=True).click()
    page.locator("#interpolation img").wait_for()
    morph = player_wav(page, "morph-sound")
    assert len(soundfile.read(io.BytesIO(morph))[0]) == 24 * RATE  # the 24 frames' clips in turn
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / "sound-generate.png"), full_page=True)

    # A picture generator: the sound folds go, and nothing in the page breaks
    page.get_by_label("Generator").click()
    page.get_by_role("option", name="digits (shipped)", exact=True).click()
    page.wait_for_function("() => document.querySelector('#model-info').innerText.includes('MLPGenerator')")
    expect(page.locator("#generate-sounds")).to_be_hidden()
    expect(page.locator("#morph-sounds")).to_be_hidden()
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_timeout(1500)
    expect(page.locator("#generate-sounds")).to_be_hidden()
    # And back: the sound generator's clips come again
    page.get_by_label("Generator").click()
    page.get_by_role("option", name=re.compile(RUN)).click()
    expect(page.locator("#generate-sounds")).to_be_visible()
    page.get_by_role("button", name="Generate", exact=True).click()
    assert player_wav(page, "generate-sound-1") == first  # the same seed, the same clip
    page.screenshot(path=str(SCREENSHOTS / "sound-generate-again.png"), full_page=True)
