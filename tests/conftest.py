"""Shared test fixtures: the real joe voice and tiny random-weight voices in Piper's ONNX format."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS_DIR = Path(__file__).parent
for _helpers in ("voices", "conformance"):  # tiny_voices.py and families.py live beside their tests
    if str(_TESTS_DIR / _helpers) not in sys.path:
        sys.path.insert(0, str(_TESTS_DIR / _helpers))

import sonorant  # noqa: E402
from tiny_voices import TinyVoice, TinyVoices  # noqa: E402


@pytest.fixture(scope="session")
def joe() -> sonorant.Voice:
    """The bundled en_US-joe-medium voice, loaded once per session."""
    return sonorant.load_voice()


@pytest.fixture(scope="session")
def tiny_piper_voices(tmp_path_factory: pytest.TempPathFactory) -> TinyVoices:
    """The tiny voices by name ("x_low", "multi", "high", "no_sdp"), each exported on first use."""
    return TinyVoices(tmp_path_factory.mktemp("tiny_piper_voices"))


@pytest.fixture(scope="session")
def tiny_x_low_voice(tiny_piper_voices: TinyVoices) -> TinyVoice:
    """A tiny x_low-like single-speaker Piper voice (.onnx + .onnx.json)."""
    return tiny_piper_voices["x_low"]


@pytest.fixture(scope="session")
def tiny_multi_speaker_voice(tiny_piper_voices: TinyVoices) -> TinyVoice:
    """A tiny three-speaker Piper voice (its ONNX takes `sid`)."""
    return tiny_piper_voices["multi"]
