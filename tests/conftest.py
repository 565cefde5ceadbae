"""Shared test fixtures: tiny random-weight voices in Piper's ONNX format (built once per session)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_VOICES_DIR = Path(__file__).parent / "voices"
if str(_VOICES_DIR) not in sys.path:  # the tiny-voice helpers live beside the voice tests
    sys.path.insert(0, str(_VOICES_DIR))

from tiny_voices import TinyVoice, TinyVoices  # noqa: E402


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
