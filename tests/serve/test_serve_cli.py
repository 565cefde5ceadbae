"""`sonorant serve` as a user runs it: a subprocess with an API key file and Wyoming, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import openai
import pytest
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info

from sonorant.__main__ import main


def test_serve_subprocess_answers_and_stops_cleanly(steady_voice_files: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("s3cret\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sonorant", "serve", "--port", "0", "--voice", str(steady_voice_files),
         "--api-key-file", str(key_file), "--wyoming", "tcp://127.0.0.1:0", "--max-chars", "100"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    log: list[str] = []
    found = {}
    ready = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            log.append(line)
            if m := re.search(r"Wyoming server on \('([\d.]+)', (\d+)\)", line):
                found["wyoming"] = (m.group(1), int(m.group(2)))
            if m := re.search(r"serving \S+ on (http://\S+)/v1", line):
                found["url"] = m.group(1)
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(180) and "url" in found, "".join(log)
        url = found["url"]
        client = openai.OpenAI(base_url=url + "/v1", api_key="s3cret", max_retries=0, timeout=60)
        audio = client.audio.speech.create(model="tts-1", voice="alloy", input="From a subprocess.", response_format="wav")
        assert audio.content[:4] == b"RIFF" and len(audio.content) > 1000
        assert httpx.post(url + "/v1/audio/speech", json={"input": "Hi", "voice": "alloy"}).status_code == 401
        with pytest.raises(openai.APIStatusError, match="at most 100"):
            client.audio.speech.create(model="tts-1", voice="alloy", input="x" * 101)

        async def describe() -> Info:
            async with AsyncTcpClient(*found["wyoming"]) as wy:
                await wy.write_event(Describe().event())
                return Info.from_event(await asyncio.wait_for(wy.read_event(), 30))

        assert asyncio.run(describe()).tts[0].voices[0].name == steady_voice_files.name.removesuffix(".onnx")
    finally:
        proc.terminate()
        code = proc.wait(60)
        reader.join(10)
    assert code == 0, "".join(log)  # SIGTERM stops it gracefully
    assert any("stopped" in line for line in log), "".join(log)


@pytest.mark.parametrize("args, message", [
    (["serve", "--port", "70000"], "--port"),
    (["serve", "--api-key-file", "/nonexistent/key"], "API key file"),
    (["serve", "--max-queue", "0"], "max_queue"),
    (["serve", "--max-phoneme-ids", "0"], "max_phoneme_ids"),
    (["serve", "--denoise", "0.1"], "--denoise applies to none of the voices given"),
])
def test_bad_serve_arguments_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("sonorant: error:") and message in err and "Traceback" not in err


@pytest.mark.parametrize("content, message", [
    ("", "is empty"), ("\n", "is empty"), ("key\nother\n", "more than one line"), (" key\n", "spaces"),
    ("two words\n", "printable ASCII"), (b"\xff\xfe", "not UTF-8"),
])
def test_a_bad_api_key_file_exits_2(content: str | bytes, message: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "key"
    if isinstance(content, bytes):
        key_file.write_bytes(content)
    else:
        key_file.write_text(content)
    assert main(["serve", "--api-key-file", str(key_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sonorant: error:") and message in err and "Traceback" not in err


def test_api_key_and_api_key_file_together_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("s3cret\n")
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--api-key", "other", "--api-key-file", str(key_file)])
    assert exit_.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_runtime_and_device_default_to_auto() -> None:
    import argparse

    from sonorant.serve.cli import add_serve_parser

    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers())
    args = parser.parse_args(["serve"])
    assert (args.runtime, args.device) == ("auto", "auto")
    assert parser.parse_args(["serve", "--device", "cuda:1", "--runtime", "onnx"]).device == "cuda:1"
