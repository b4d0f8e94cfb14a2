"""Fixtures of the sound tests (registered once in conftest.py's pytest_plugins): the built-in
spoken digits said by two speakers only (seconds to make with eSpeak NG), cached per module."""

import pytest

from gan_space.data.spoken_digits import load_spoken_digits


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("spoken-digits-cache")


@pytest.fixture(scope="module")
def two_speakers(digits_cache):
    return load_spoken_digits(speakers=2, cache_dir=digits_cache)
