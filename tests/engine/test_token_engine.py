"""`TokenEngine.stream` (`Voice.stream` of a token voice) plays audio while the tokens are generated: each read
of new tokens feeds the codec's stream, the pieces follow the chunk schedule and concatenate to
`synthesize`'s audio, the tokens are `voice.tokens()`'s, and a row at the bound raises after its audio.

Voices: the toktts fixture with the Encodec fixture (greedy, seeded sampling, beam), and a tiny token voice
with an early-exit head over the joe unit codec (greedy, sampling, speculative), as tests/voices builds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from encodec_cases import SNR_MIN_DB, snr_db
from test_tokenvoice import CODEC, tiny_model

import sonorant
from sonorant import SynthesisConfig
from sonorant.engine.streaming import StreamConfig
from sonorant.errors import DecodeLimitError
from sonorant.voices.tokenvoice_loader import export_token_voice

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TOKTTS = {"normalize_text": False}  # toktts reads text as written
FAMILY = "The family would enjoy your visit."  # the toktts fixture's text 2: 241 greedy tokens, 120 frames


@pytest.fixture(scope="module")
def toktts() -> sonorant.Voice:
    return sonorant.load_voice(FIXTURES / "toktts" / "model", codec=FIXTURES / "encodec" / "encodec_tiny.th")


@pytest.fixture(scope="module")
def units(tmp_path_factory: pytest.TempPathFactory) -> sonorant.Voice:
    out = tmp_path_factory.mktemp("tokstream") / "voice"
    export_token_voice(tiny_model(eos_bias=1.0), out, codec=CODEC, frontend={"kind": "phonemes", "voice": "joe"},
                       name="tiny-units", max_tokens=150)
    return sonorant.load_voice(out)


def watched(voice: sonorant.Voice, text: str, cfg: SynthesisConfig, monkeypatch: pytest.MonkeyPatch,
            schedule: StreamConfig | None = None) -> tuple[list[Any], list[np.ndarray], list[tuple[str, int]], Any]:
    """`voice.stream(text)`'s chunks, the tokens of each read the engine took from the runtime, the order of
    the events (("tokens", n) per read, ("audio", samples) per chunk), and the error the stream raised."""
    rt = voice.engine.runtime
    real = rt.stream_tokens
    reads: list[np.ndarray] = []
    events: list[tuple[str, int]] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        for new in real(*args, **kwargs):
            reads.append(new[0])
            events.append(("tokens", len(new[0])))
            yield new

    monkeypatch.setattr(rt, "stream_tokens", spy)
    chunks, error = [], None
    try:
        for chunk in voice.stream(text, cfg, schedule):
            chunks.append(chunk)
            events.append(("audio", len(chunk.samples)))
    except DecodeLimitError as err:
        error = err
    finally:
        monkeypatch.undo()
    return chunks, reads, events, error


def first_audio(events: list[tuple[str, int]]) -> int:
    return next(i for i, (kind, _) in enumerate(events) if kind == "audio")


def last_tokens(events: list[tuple[str, int]]) -> int:
    return max(i for i, (kind, _) in enumerate(events) if kind == "tokens")


def check_equal_to_synthesize(voice: sonorant.Voice, text: str, cfg: SynthesisConfig, chunks: list[Any],
                              reads: list[np.ndarray]) -> np.ndarray:
    """The stream's tokens are `voice.tokens()`'s and its audio `synthesize`'s; returns that audio."""
    (tokens,) = voice.tokens(text, cfg)
    assert np.concatenate(reads).tolist() == tokens.tolist()
    whole = voice.synthesize(text, cfg).samples
    audio = np.concatenate([c.samples for c in chunks])
    assert audio.shape == whole.shape and whole.size > 0
    snr = snr_db(whole, audio)
    print(f"{voice.name} {cfg.decoding}: {len(tokens)} tokens in {len(reads)} reads, {len(chunks)} chunks "
          f"{[len(c.samples) for c in chunks]}, stream vs synthesize {snr:.1f} dB, max abs "
          f"{np.abs(whole - audio).max():.1e}")
    assert snr >= SNR_MIN_DB and np.abs(whole - audio).max() < 1e-5
    assert [c.is_last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    return whole


@pytest.mark.parametrize("cfg", [SynthesisConfig(**TOKTTS), SynthesisConfig(**TOKTTS, decoding="sample", seed=3)],
                         ids=["greedy", "sample"])
def test_toktts_streams_while_generating(toktts, cfg: SynthesisConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    chunks, reads, events, error = watched(toktts, FAMILY, cfg, monkeypatch)
    assert error is None
    check_equal_to_synthesize(toktts, FAMILY, cfg, chunks, reads)
    hop = toktts.engine.spec.hop  # 320: one Encodec frame = 2 tokens
    sizes = [len(c.samples) for c in chunks]
    assert sizes[:2] == [16 * hop, 32 * hop]  # the default schedule: 16 frames, then 32, ...
    first = first_audio(events)
    assert events[:first] == [("tokens", 8)] * 4  # 4 reads of 8 steps = 32 tokens = 16 frames, then audio
    assert sum(n for kind, n in events[first:] if kind == "tokens") > 32  # most tokens came after the first audio


def test_units_voice_streams_greedy_sampling_and_speculative(units, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every streaming method on the unit codec (which holds back 23 code frames of lookahead): small chunks
    (4, 8, 16 frames) so these short utterances cover several."""
    schedule = StreamConfig(first_frames=4, growth=2, max_frames=16)
    greedy = None
    for cfg in (SynthesisConfig(decoding="greedy"), SynthesisConfig(decoding="sample", temperature=1.0, seed=3),
                SynthesisConfig(decoding="speculative", temperature=1.0, draft=3, seed=3),
                SynthesisConfig(decoding="speculative", temperature=0.0, draft=3)):
        chunks, reads, events, error = watched(units, "Hello there.", cfg, monkeypatch, schedule)
        assert error is None
        whole = check_equal_to_synthesize(units, "Hello there.", cfg, chunks, reads)
        assert len(chunks) >= 2 and len(reads) >= 3
        assert first_audio(events) < last_tokens(events)  # audio played while tokens were still coming
        if cfg.decoding == "greedy":
            greedy = whole
        elif cfg.temperature == 0.0:  # speculative at temperature 0: greedy's tokens, so greedy's audio
            assert greedy is not None and np.array_equal(whole, greedy)


def test_beam_streams_after_its_search(toktts, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = SynthesisConfig(**TOKTTS, decoding="beam", beams=2)
    text = "hello friend"  # 108 tokens with 2 beams (FAMILY's best hypotheses all reach the bound)
    chunks, reads, events, error = watched(toktts, text, cfg, monkeypatch)
    assert error is None and len(reads) == 1 and events[0][0] == "tokens"  # every token before any audio
    check_equal_to_synthesize(toktts, text, cfg, chunks, reads)
    assert len(chunks) >= 3  # still chunk by chunk


def test_a_row_at_the_bound_raises_after_its_audio(toktts, units, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller gets the audio of every chunk completed before the bound (none flagged last), then
    `DecodeLimitError` with the tokens, which are `voice.tokens()`'s error's."""
    cfg = SynthesisConfig(**TOKTTS, max_tokens=100)  # 241 tokens needed: 50 frames at the bound
    chunks, reads, _, error = watched(toktts, FAMILY, cfg, monkeypatch)
    assert isinstance(error, DecodeLimitError)
    with pytest.raises(DecodeLimitError) as direct:
        toktts.tokens(FAMILY, cfg)
    assert [t.tolist() for t in error.tokens] == [t.tolist() for t in direct.value.tokens]
    assert np.concatenate(reads).tolist() == error.tokens[0].tolist() and len(error.tokens[0]) == 100
    hop = toktts.engine.spec.hop
    assert [len(c.samples) for c in chunks] == [16 * hop, 32 * hop] and not any(c.is_last for c in chunks)
    codes = toktts.engine.codes(error.tokens[0])  # [2, 50]
    with torch.no_grad():  # Encodec is causal: the first 48 frames' audio is final whatever follows
        whole = toktts.model.codec.decode(torch.from_numpy(codes)[None])[0].numpy()
    audio = np.concatenate([c.samples for c in chunks])
    assert snr_db(whole[:len(audio)], audio) >= SNR_MIN_DB
    # the unit voice at its bound (150 tokens): its audio so far is held back by the codec's lookahead
    chunks, reads, _, error = watched(units, "The rain in Spain stays mainly in the plain.", SynthesisConfig(),
                                      monkeypatch, StreamConfig(first_frames=4, growth=2, max_frames=16))
    assert isinstance(error, DecodeLimitError) and len(np.concatenate(reads)) == 150
    assert sum(len(c.samples) for c in chunks) > 0 and not any(c.is_last for c in chunks)
