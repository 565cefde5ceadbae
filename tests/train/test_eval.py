"""The evaluation hook: synthesized sentences scored by a judge and logged, without disturbing training (the
weights end bitwise the same as without evaluation); and once with the real Whisper judge on the joe voice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from tiny_token_model import base_config, write_manifest

from sonorant.errors import ConfigError
from sonorant.train.config import parse_config
from sonorant.train.evaluate import evaluate
from sonorant.train.trainer import Trainer

SENTENCES = ["The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background."]


class EchoJudge:
    """A stand-in judge: "hears" the sentence whose index is the waveform's frequency step, drops one word of
    the second, and scores with the real normalizing WER."""

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> str:
        index = int(round(samples[1] * 10)) - 1
        words = SENTENCES[index].split()
        return " ".join(words[:-1] if index == 1 else words)

    def wer(self, references: list[str], hypotheses: list[str]) -> float:
        from sonorant.bench.asr import WhisperJudge

        return WhisperJudge().wer(references, hypotheses)


def _config(tmp: Path, run: str, every: int):  # noqa: ANN202
    data = base_config(tmp, write_manifest(tmp / "m.jsonl", 8), output_dir=str(tmp / run), steps=4)
    if every:
        data["eval"] = {"sentences": SENTENCES, "every": every}
    return parse_config(data, "eval")


def test_eval_logs_wer_and_audio_and_leaves_training_unchanged(tmp_path: Path) -> None:
    modes: list[bool] = []

    def synthesize(texts: list[str]) -> tuple[list[np.ndarray], int]:
        modes.append(trainer.model.training)
        torch.rand(100)  # a synthesizer that samples draws from torch's RNG: training must not notice
        return [np.full(1600, 0.1 * (i + 1), np.float32) for i in range(len(texts))], 16000

    trainer = Trainer(_config(tmp_path, "with", every=2), synthesize=synthesize, judge=EchoJudge())
    trainer.run()
    assert modes == [False, False] and trainer.model.training
    lines = [json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in lines if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [2, 4]
    assert evals[0]["wer"] == pytest.approx(1 / 16)  # one word missing of 8 + 8
    assert evals[0]["hypotheses"][0] == SENTENCES[0]
    audio, rate = soundfile.read(trainer.run_dir / "eval" / "step-00000004" / "001.wav")
    assert rate == 16000 and len(audio) == 1600 and abs(audio[0] - 0.2) < 1e-4

    plain = Trainer(_config(tmp_path, "without", every=0))
    plain.run()
    for (name, p), q in zip(trainer.model.named_parameters(), plain.model.parameters()):
        assert torch.equal(p, q), name


def test_synthesizer_must_return_one_waveform_per_sentence() -> None:
    with pytest.raises(ConfigError, match="returned 1 waveforms for 2 sentences"):
        evaluate(lambda texts: ([np.zeros(10, np.float32)], 16000), SENTENCES, EchoJudge())


def test_real_whisper_judge_on_the_joe_voice(joe, tmp_path: Path) -> None:  # noqa: ANN001
    """The hook with the real tiny.en judge that eval.judge names; the synthesizer speaks with joe (a stand-in
    for a voice built from the model's weights)."""
    import sonorant

    sentence = "Please close the door when you leave."

    def synthesize(texts: list[str]) -> tuple[list[np.ndarray], int]:
        audio = [joe.synthesize(t, sonorant.SynthesisConfig(seed=1)) for t in texts]
        return [a.samples for a in audio], joe.sample_rate

    data = base_config(tmp_path, write_manifest(tmp_path / "m.jsonl", 8), steps=2)
    data["eval"] = {"sentences": [sentence], "every": 2, "judge": "tiny.en"}
    trainer = Trainer(parse_config(data, "eval"), synthesize=synthesize)
    trainer.run()
    lines = [json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines()]
    (record,) = [r for r in lines if r["kind"] == "eval"]
    assert record["step"] == 2 and record["wer"] == 0.0, record  # measured: heard exactly, in ~3 s
    samples, rate = soundfile.read(trainer.run_dir / "eval" / "step-00000002" / "000.wav")
    assert rate == 22050 and 1.0 < len(samples) / rate < 5.0
