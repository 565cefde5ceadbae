"""The command line: speak writes a valid 22.05 kHz mono WAV, voices lists joe, errors are clear."""

from __future__ import annotations

import io
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
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
        (["speak", "Hi.", "-o", "x.wav", "--knob", "pace=1.1"], "unknown knob pace"),
        (["speak", "Hi.", "-o", "x.wav", "--knob", "noise_w"], "NAME=VALUE"),
        (["speak", "Hi.", "-o", "x.wav", "--knob", "noise_w=x"], "NAME=VALUE"),
        (["speak", "Hi.", "-o", "x.wav", "--speed", "0"], "speed"),
        (["speak", "Hi.", "-o", "x.wav", "--voice", "a.nemo"], "unknown voice"),
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


# --- output files: checked before synthesis, never overwritten unasked, written whole or not at all ------


@pytest.fixture()
def no_synthesis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the command gets as far as loading a voice."""
    import sonorant

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the voice was loaded: the output should have been refused first")

    monkeypatch.setattr(sonorant, "load_voice", refuse)


@pytest.mark.parametrize("target, message", [("nodir/x.wav", "does not exist"), ("adir", "is a directory"),
                                             ("out.xyz", "cannot tell which audio format"),
                                             ("taken.wav", "already exists")])
def test_bad_outputs_are_refused_before_synthesis(tmp_path, monkeypatch, capsys, no_synthesis, target, message) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    (tmp_path / "taken.wav").write_bytes(b"precious")
    assert main(["speak", "Hello.", "-o", target]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sonorant: error:") and message in err and "Traceback" not in err
    assert (tmp_path / "taken.wav").read_bytes() == b"precious"


def test_force_replaces_and_an_interrupted_run_leaves_nothing(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    out = tmp_path / "taken.wav"
    out.write_bytes(b"precious")
    assert main(["speak", "Replace it.", "-o", str(out), "--force", "--seed", "1"]) == 0
    assert _wav_info(out.read_bytes())[3] > 1000

    import sonorant

    real = sonorant.Voice.stream

    def broken(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        for i, chunk in enumerate(real(self, *args, **kwargs)):
            if i == 1:
                raise sonorant.TextError("stopped half way")
            yield chunk

    monkeypatch.setattr(sonorant.Voice, "stream", broken)
    fresh = tmp_path / "fresh.wav"
    assert main(["speak", "One sentence. And a second one.", "-o", str(fresh)]) == 2
    assert not fresh.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["taken.wav"]


@pytest.mark.parametrize("suffix, container", [(".flac", "FLAC"), (".mp3", "MP3"), (".ogg", "OGG"), (".opus", "OGG")])
def test_every_suffix_writes_its_own_format(tmp_path, suffix: str, container: str) -> None:  # noqa: ANN001
    import soundfile as sf

    wav, other = tmp_path / "ref.wav", tmp_path / f"out{suffix}"
    for path in (wav, other):
        assert main(["speak", "The format follows the suffix.", "-o", str(path), "--seed", "3"]) == 0
    info = sf.info(str(other))
    assert info.format == container and info.channels == 1
    seconds = _wav_info(wav.read_bytes())[3] / 22050
    assert info.duration == pytest.approx(seconds, abs=0.1)  # codec padding aside, the same audio


def test_stdout_streams_sentence_by_sentence(monkeypatch, capsysbinary) -> None:  # noqa: ANN001
    """The first sentence's audio is written before the second sentence is synthesized."""
    import sonorant

    events: list[str] = []
    real = sonorant.engine.Engine.synthesize

    def spy(self, utts, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        events.append("synthesize")
        return real(self, utts, *args, **kwargs)

    monkeypatch.setattr(sonorant.engine.Engine, "synthesize", spy)

    class Recorder(io.BytesIO):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            events.append("write")
            return super().write(data)

    recorder = Recorder()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(recorder))
    assert main(["speak", "First sentence here. A second sentence follows.", "-o", "-", "--seed", "2"]) == 0
    assert events.index("write") < len(events) - 1 - events[::-1].index("synthesize"), events
    data = recorder.getvalue()
    assert data[:4] == b"RIFF" and int.from_bytes(data[40:44], "little") == 0xFFFFFFFF - 36  # length unknown
    assert len(data) > 44 + 2 * 22050


def test_piper_style_flags_raw_output_volume_and_version(tmp_path, capsys) -> None:  # noqa: ANN001
    text_file = tmp_path / "in.txt"
    text_file.write_text("Flags the way Piper spells them.", encoding="utf-8")
    loud, quiet = tmp_path / "loud.wav", tmp_path / "quiet.wav"
    assert main(["speak", "-m", "joe", "-i", str(text_file), "-f", str(loud), "--seed", "4"]) == 0
    assert main(["speak", "-i", str(text_file), "--output-file", str(quiet), "--seed", "4", "--volume", "0.5"]) == 0
    import soundfile as sf

    a, _ = sf.read(str(loud), dtype="int16")
    b, _ = sf.read(str(quiet), dtype="int16")
    assert len(a) == len(b) and np.max(np.abs(np.round(a / 2) - b)) <= 1
    norm = tmp_path / "norm.wav"
    assert main(["speak", "-i", str(text_file), "-o", str(norm), "--seed", "4", "--normalize-audio"]) == 0
    c, _ = sf.read(str(norm), dtype="int16")
    assert np.max(np.abs(c)) >= 32000 > np.max(np.abs(a))
    assert "INFO" not in capsys.readouterr().err  # quiet by default; -v shows progress
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == "sonorant 0.1.0"
    assert main(["speak", "Hi.", "--no-normalize", "-o", str(tmp_path / "x.wav")]) == 2
    assert "--no-text-normalize" in capsys.readouterr().err


def test_output_raw_streams_pcm() -> None:
    proc = subprocess.run([sys.executable, "-m", "sonorant", "speak", "Raw samples.", "--output-raw", "--seed", "5"],
                          capture_output=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(proc.stdout) % 2 == 0 and len(proc.stdout) > 2 * 22050 // 2 and not proc.stdout.startswith(b"RIFF")


def test_subcommands_describe_themselves(capsys) -> None:  # noqa: ANN001
    for command in ("speak", "voices"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert len(out.split("\n\n")[1].strip()) > 40, out  # a description after the usage


NEMO = Path(__file__).parent.parent / "fixtures" / "nemo"


def test_a_nemo_voice_speaks_with_its_vocoder_and_is_listed(tmp_path, capsys) -> None:  # noqa: ANN001
    voice, vocoder = str(NEMO / "fastpitch_tiny.nemo"), str(NEMO / "hifigan_tiny_v1.nemo")
    out = tmp_path / "x.wav"
    assert main(["speak", "Hello there.", "-o", str(out), "--voice", voice, "--vocoder", vocoder, "--runtime", "eager",
                 "--knob", "pace=1.25", "--knob", "pitch_shift=15"]) == 0
    with wave.open(str(out)) as w:
        assert w.getframerate() == 22050 and w.getnframes() > 0 and w.getnframes() % 256 == 0
    assert main(["voices", voice, "--vocoder", vocoder]) == 0
    listed = capsys.readouterr().out
    assert "fastpitch_tiny" in listed and "fastpitch" in listed and "vits" in listed
    for args, message in ((["--voice", voice], "needs a mel vocoder"), (["--voice", vocoder], "not a FastPitch"),
                          (["--voice", voice, "--vocoder", voice], "not a HifiGanModel"),
                          (["--voice", voice, "--vocoder", vocoder, "--knob", "noise_w=0"], "unknown knob noise_w")):
        assert main(["speak", "Hi.", "-o", str(tmp_path / "y.wav"), "--runtime", "eager", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("sonorant: error:") and message in err, err
    assert not (tmp_path / "y.wav").exists()


DLE = Path(__file__).parent.parent / "fixtures" / "tacotron2"


def test_an_nvidia_tacotron2_voice_speaks_exports_and_refuses_clearly(tmp_path, capsys) -> None:  # noqa: ANN001
    voice, vocoder = str(DLE / "tacotron2_tiny.pt"), str(DLE / "waveglow_tiny.pt")
    out = tmp_path / "x.wav"
    assert main(["speak", "Hello there.", "-o", str(out), "--voice", voice, "--vocoder", vocoder, "--runtime", "eager",
                 "--knob", "sigma=0.5", "--denoise", "0.02", "--seed", "3"]) == 0
    with wave.open(str(out)) as w:
        assert w.getframerate() == 22050 and w.getnframes() > 0 and w.getnframes() % 256 == 0
    assert main(["voices", voice, "--vocoder", vocoder]) == 0
    listed = capsys.readouterr().out
    assert "tacotron2_tiny" in listed and "tacotron2" in listed
    parts = tmp_path / "parts"
    assert main(["export", "--voice", voice, "--vocoder", vocoder, "--format", "nvidia", "-o", str(parts)]) == 0
    assert sorted(p.name for p in parts.glob("*.onnx")) == [
        "decoder_iter.onnx", "encoder.onnx", "postnet.onnx", "waveglow.onnx"]
    for args, message in ((["--voice", voice], "needs its WaveGlow vocoder"), (["--voice", vocoder], "is a WaveGlow"),
                          (["--voice", voice, "--vocoder", voice], "not a WaveGlow checkpoint"),
                          (["--voice", voice, "--vocoder", vocoder, "--denoise", "2"], "denoise must be in [0, 1]"),
                          (["--voice", voice, "--vocoder", vocoder, "--knob", "pace=1.2"], "unknown knob pace"),
                          (["--denoise", "0.1"], "takes no option denoise")):
        assert main(["speak", "Hi.", "-o", str(tmp_path / "y.wav"), "--runtime", "eager", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("sonorant: error:") and message in err, err
    assert not (tmp_path / "y.wav").exists()
