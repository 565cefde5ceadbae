"""The command line: speak writes a valid 22.05 kHz mono WAV, voices lists joe, errors are clear."""

from __future__ import annotations

import io
import subprocess
import sys
import wave

import pytest

from sonorant.__main__ import main


def _wav_info(data: bytes) -> tuple[int, int, int, int]:
    with wave.open(io.BytesIO(data)) as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()


def test_speak_writes_a_wav(tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "hello.wav"
    assert main(["speak", "Hello from sonorant.", "-o", str(out), "--seed", "1"]) == 0
    rate, channels, width, frames = _wav_info(out.read_bytes())
    assert (rate, channels, width) == (22050, 1, 2) and frames > 22050 // 2


def test_speak_reads_stdin_and_writes_stdout_through_the_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sonorant", "speak", "-", "-o", "-", "--noise-scale", "0", "--noise-w", "0"],
        input=b"Piped text works too.", capture_output=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    rate, channels, _, frames = _wav_info(proc.stdout)
    assert rate == 22050 and channels == 1 and frames > 0


def test_voices_lists_joe(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["voices"]) == 0
    out = capsys.readouterr().out
    assert "joe" in out and "en_US" in out and "medium" in out and "22050" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["speak", "   ", "-o", "x.wav"], "empty"),
        (["speak", "Hi.", "-o", "x.wav", "--noise-scale", "nan"], "noise_scale"),
        (["speak", "Hi.", "-o", "x.wav", "--voice", "nobody"], "unknown voice"),
        (["speak", "Hi.", "-o", "x.wav", "--speaker", "2"], "single speaker"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path, monkeypatch, capsys, args, message) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("sonorant: error:") and message in err and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


def test_show_text_prints_the_front_end_trace(tmp_path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "t.wav"
    assert main(["speak", "--show-text", "It costs $3.50.", "-o", str(out), "--seed", "0"]) == 0
    trace = capsys.readouterr().out
    assert "three dollars and fifty cents" in trace and "phonemes:" in trace and "ids (" in trace
    assert out.stat().st_size > 44


def test_ssml_flag_wraps_plain_text_and_reports_broken_documents(tmp_path, capsys) -> None:  # noqa: ANN001
    ok = tmp_path / "ok.wav"
    assert main(["speak", "--ssml", 'One <break time="400ms"/> two.', "-o", str(ok), "--seed", "0"]) == 0
    plain = tmp_path / "plain.wav"
    assert main(["speak", "One two.", "-o", str(plain), "--seed", "0"]) == 0
    assert _wav_info(ok.read_bytes())[3] > _wav_info(plain.read_bytes())[3] + int(0.3 * 22050)
    assert main(["speak", "--ssml", "<speak>broken <b>", "-o", str(tmp_path / "bad.wav")]) == 2
    err = capsys.readouterr().err
    assert "line 1" in err and "column" in err and not (tmp_path / "bad.wav").exists()
