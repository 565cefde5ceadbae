"""Fixtures of the server tests: a tiny voice with deterministic durations, and a server on a free
loopback port with HTTP and Wyoming."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:  # serve_support.py lives beside this file
    sys.path.insert(0, str(Path(__file__).parent))

import sonorant  # noqa: E402
from serve_support import API_KEY, MAX_CHARS, MAX_PHONEME_IDS, Running, start_server  # noqa: E402
from sonorant.serve import ServeConfig  # noqa: E402


@pytest.fixture(scope="session")
def steady_voice_files(tiny_x_low_voice, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    """The tiny x_low voice with `noise_w` 0 in its config: durations, hence lengths, do not depend on
    the seed (Wyoming requests carry none)."""
    directory = tmp_path_factory.mktemp("steady_voice")
    onnx = directory / "en_US-steady-x_low.onnx"
    shutil.copy(tiny_x_low_voice.onnx_path, onnx)
    config = json.loads(Path(tiny_x_low_voice.config_path).read_text())
    config["inference"] = {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.0}
    onnx.with_name(onnx.name + ".json").write_text(json.dumps(config))
    return onnx


@pytest.fixture(scope="session")
def steady_voice(steady_voice_files: Path) -> sonorant.Voice:
    """The tiny voice with deterministic durations, loaded once."""
    return sonorant.load_voice(steady_voice_files)


@pytest.fixture(scope="module")
def server(steady_voice: sonorant.Voice) -> Iterator[Running]:
    """A server with the tiny voice, an API key, a 300-character and 2000-phoneme-id limit and Wyoming on a
    free port."""
    config = ServeConfig(api_key=API_KEY, max_chars=MAX_CHARS, max_phoneme_ids=MAX_PHONEME_IDS, max_body_bytes=16384,
                         batch_wait_ms=20.0, max_step_ms=10_000)
    running = start_server([steady_voice], config, wyoming="tcp://127.0.0.1:0")
    yield running
    running.server.stop()
