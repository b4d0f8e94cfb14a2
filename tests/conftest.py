"""Shared test set-up: offline, no telemetry, an isolated Hugging Face home so no real
token is ever read or sent."""

import os
import tempfile

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="gan_space-hf-home-")
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HUGGING_FACE_HUB_TOKEN", None)

# Under pytest-xdist each worker computes on one thread, and so do the processes its tests start
# (CI has two cores, one worker each: two threads a worker put four on two cores, each waiting for
# the other's; the two quality runs and ADA's test took 117 s so and take 55 s on one thread each).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else min(2, torch.get_num_threads()))

# The app on a loopback port, gradio clients and browser pages (app_fixtures), and the loopback
# Hub (hub_fixtures), registered once for every module: their session fixtures start once per
# test run. Tests name the fixtures; they never import them (an import makes a per-module copy).
pytest_plugins = ["app_fixtures", "hub_fixtures", "sound_fixtures"]


def pytest_collection_modifyitems(items):
    """Mark tests by what they use, so a fast subset can leave them out (pytest.ini's markers):
    `browser` for every test that drives Chromium, `subprocess` for every test that starts
    Python processes (its code, a helper or fixture of its module, or a fixture refers to
    `subprocess` or `sys.executable`)."""
    for item in items:
        if "shared_chromium" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        if _starts_processes(item):
            item.add_marker(pytest.mark.subprocess)
    items[:] = _long_modules_first(items)


def _long_modules_first(items: list) -> list:
    """The tests, module by module: first modules with a `slow` test, then browser modules,
    then the rest by number of tests, most first (each module keeps its own order).

    tests/run.sh hands whole modules to two workers in this order (--dist loadfile
    --no-loadscope-reorder). xdist's own order, most tests first, left the modules of a few
    long tests (the quality runs, the browser tests) to the end, where one of them held one
    worker while the other had nothing left."""
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)

    def rank(tests: list) -> tuple[bool, bool, int]:
        return (not any(test.get_closest_marker("slow") for test in tests),
                not any(test.get_closest_marker("browser") for test in tests), -len(tests))

    return [item for tests in sorted(modules.values(), key=rank) for item in tests]


def _starts_processes(item) -> bool:
    function = getattr(item, "function", None)
    if function is None:
        return False
    fixtures = getattr(item, "_fixtureinfo", None)
    functions = [function] + [definition.func for definitions in (fixtures.name2fixturedefs.values() if fixtures else ())
                              for definition in definitions]
    return any(_refers_to_processes(f.__code__, f.__globals__, set()) for f in functions if hasattr(f, "__code__"))


def _refers_to_processes(code, module_globals: dict, seen: set) -> bool:
    """Whether this code, or a function of the same module it names, names `subprocess` or
    `executable` (sys.executable)."""
    if code in seen:
        return False
    seen.add(code)
    if {"subprocess", "executable"} & set(code.co_names):
        return True
    nested = [const for const in code.co_consts if hasattr(const, "co_names")]  # lambdas, comprehensions
    called = [module_globals[name].__code__ for name in code.co_names
              if callable(module_globals.get(name)) and getattr(module_globals[name], "__module__", None)
              == module_globals.get("__name__") and hasattr(module_globals[name], "__code__")]
    return any(_refers_to_processes(inner, module_globals, seen) for inner in nested + called)


@pytest.fixture
def tiny_image_folder(tmp_path):
    """A folder of small real PNGs in two class sub-folders, plus a corrupt file and a text file."""
    from PIL import Image

    root = tmp_path / "images"
    for label, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        (root / label).mkdir(parents=True)
        for i in range(6):
            image = Image.new("RGB", (40, 30), colour)
            image.putpixel((i, i), (255, 255, 255))
            image.save(root / label / f"{i}.png")
    (root / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (root / "blue" / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="session")
def shared_chromium():
    """Headless Debian Chromium (Playwright's own browser download does not work offline),
    one for the whole session: a second sync Playwright in the same process fails."""
    from pathlib import Path

    from app_fixtures import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run tests/run.sh (it installs Debian's chromium)")
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait for the page; a loaded 2-core CI machine needs more than the 5 s default.
    expect.set_options(timeout=60_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(autouse=True)
def page_errors(request):
    """Every uncaught JavaScript error of every page a browser test opens (Playwright's
    "pageerror"): the test fails at teardown when there was one, listing them. An error the
    user never sees still means something in the page is broken (a plot that did not draw,
    a handler that stopped half-way), and no test looks for it otherwise.

    Only tests that use the browser start it; the list (the fixture's value) stays empty
    for the others."""
    errors: list[str] = []
    if "shared_chromium" not in request.fixturenames:
        yield errors
        return
    browser = request.getfixturevalue("shared_chromium")

    def watch_page(page):
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error.stack or error.message}"))

    def watch_context(context):
        # Pages (popups too) of every context the test makes, whoever makes it.
        context.on("page", watch_page)

    browser.on("context", watch_context)
    try:
        yield errors
    finally:
        browser.remove_listener("context", watch_context)
    if errors:
        pytest.fail(f"{len(errors)} error(s) in the page:\n" + "\n\n".join(errors), pytrace=False)

