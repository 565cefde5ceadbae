"""Training data: front ends, manifests (tokens, tokens_path, audio through a codec), the keyed cache (reused
while nothing changed, rebuilt when anything did), length-bucketed deterministic batches, padding."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
from tiny_token_model import Spec

from sonorant.errors import ConfigError
from sonorant.train.data import (
    BucketSampler,
    Pairs,
    check_ids,
    collate,
    make_pairs,
    token_alignment,
    tokenize_manifest,
)
from sonorant.train.frontends import FRONTENDS


class FrameCodec:
    """A stand-in codec: per 160-sample frame, two codes (mean level and peak, quantized to 8 bins)."""

    hop = 160

    def __init__(self, cache_id: str = "v1") -> None:
        self.cache_id = cache_id
        self.calls: list[int] = []

    def encode(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        self.calls.append(len(audio))
        frames = audio[: len(audio) // self.hop * self.hop].reshape(-1, self.hop)  # [T, hop]
        level = np.clip((np.abs(frames).mean(1) * 16).astype(np.int64), 0, 7)  # [T]
        peak = np.clip((np.abs(frames).max(1) * 8).astype(np.int64), 0, 7)  # [T]
        return np.stack([level, peak])[None]  # [1, K=2, T]


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_byte_front_end_is_byt5() -> None:
    bytes_ = FRONTENDS["bytes"]
    assert bytes_.encode({"text": "hé!"}) == [104 + 3, 0xC3 + 3, 0xA9 + 3, 33 + 3]
    assert bytes_.source_suffix == (1,) and bytes_.vocab_size == 384
    assert bytes_.decode([107, 198, 172, 36, 1, 0]) == {"text": "hé!"}  # EOS and pad are skipped
    with pytest.raises(ValueError, match='non-empty "text"'):
        bytes_.encode({"text": "  "})
    phonemes = FRONTENDS["phonemes"]
    assert phonemes.encode({"phonemes": [1, 5, 2]}) == [1, 5, 2] and phonemes.decode([4]) == {"phonemes": [4]}
    with pytest.raises(ValueError, match="integer ids >= 0"):
        phonemes.encode({"phonemes": [1, -2]})


def test_tokens_tokens_path_and_audio_lines(tmp_path: Path) -> None:
    np.save(tmp_path / "codes.npy", np.array([[0, 1, 2], [3, 4, 5]]))
    t = np.arange(16000) / 16000
    soundfile.write(tmp_path / "a.wav", (0.4 * np.sin(2 * np.pi * 220 * t) * t).astype(np.float32), 16000)
    manifest = _write(tmp_path / "m.jsonl", [
        {"text": "ab", "tokens": [[0, 1, 2], [3, 4, 5]]},
        {"text": "cd", "tokens_path": "codes.npy"},
        {"text": "ef", "tokens": [7, 6]},
        {"text": "gh", "audio": "a.wav"},
    ])
    codec = FrameCodec()
    data = tokenize_manifest(manifest, FRONTENDS["bytes"], tmp_path / "cache", codec=codec, codec_id="frames",
                             max_audio_seconds=0.5)
    assert data.rebuilt and list(data.lines) == [1, 2, 3, 4]
    assert data.tokens[0].tolist() == [0, 3, 1, 4, 2, 5] == data.tokens[1].tolist()  # frame-major interleaving
    assert data.tokens[2].tolist() == [7, 6]
    assert codec.calls == [8000]  # cut to 0.5 s before encoding
    expected = codec.encode(soundfile.read(tmp_path / "a.wav", dtype="float32")[0][:8000], 16000)[0].T.reshape(-1)
    assert data.tokens[3].tolist() == expected.tolist() and len(expected) == 2 * 50
    pairs = make_pairs(data, "text_to_tokens", FRONTENDS["bytes"])
    assert pairs.sources[0].tolist() == [97 + 3, 98 + 3, 1] and pairs.targets[2].tolist() == [7, 6]
    back = make_pairs(data, "tokens_to_text", FRONTENDS["bytes"])
    assert back.sources[2].tolist() == [7, 6] and back.targets[0].tolist() == [100, 101]  # no EOS: the model's


def test_cache_is_reused_until_anything_it_depends_on_changes(tmp_path: Path) -> None:
    np.save(tmp_path / "codes.npy", np.array([5, 6, 7]))
    soundfile.write(tmp_path / "a.wav", np.full(1600, 0.25, np.float32), 16000)
    records = [{"text": "one", "tokens": [1, 2]}, {"text": "two", "tokens_path": "codes.npy"},
               {"text": "three", "audio": "a.wav"}]
    manifest = _write(tmp_path / "m.jsonl", records)
    cache, bytes_ = tmp_path / "cache", FRONTENDS["bytes"]

    def load(codec_id: str = "frames", **kw):  # noqa: ANN003, ANN202
        return tokenize_manifest(manifest, bytes_, cache, codec=FrameCodec(), codec_id=codec_id, **kw)

    first = load()
    assert first.rebuilt
    again = load()
    assert not again.rebuilt and again.key == first.key and again.cache == first.cache
    assert np.array_equal(again.tokens.values, first.tokens.values)

    _write(manifest, records[:1] + [{"text": "TWO", "tokens_path": "codes.npy"}] + records[2:])
    edited = load()
    assert edited.rebuilt and edited.key != first.key and FRONTENDS["bytes"].decode(edited.text[1]) == {"text": "TWO"}

    np.save(tmp_path / "codes.npy", np.array([9, 9, 9]))  # a file the manifest names changes (same size)
    os.utime(tmp_path / "codes.npy", ns=(10**18, 10**18))
    changed_file = load()
    assert changed_file.rebuilt and changed_file.tokens[1].tolist() == [9, 9, 9]

    assert load("frames-v2").rebuilt  # another codec for the audio line
    assert not load("frames-v2").rebuilt
    assert load("frames-v2", max_audio_seconds=0.05).rebuilt  # another cut

    (changed_file.cache / "tokens.npy").unlink()  # a damaged cache is rebuilt, not trusted
    assert load("frames-v2", max_audio_seconds=0.05).rebuilt

    phonemes = _write(tmp_path / "p.jsonl", [{"phonemes": [3, 4], "tokens": [1]}])
    by_phonemes = tokenize_manifest(phonemes, FRONTENDS["phonemes"], cache)
    assert by_phonemes.rebuilt and by_phonemes.text[0].tolist() == [3, 4]
    assert by_phonemes.cache.name.endswith("-phonemes") and by_phonemes.cache != first.cache
    assert sorted(p.name for p in cache.iterdir()) == sorted([first.cache.name, by_phonemes.cache.name])


@pytest.mark.parametrize("line, message", [
    ("not json", r"m\.jsonl:2: not a JSON object"),
    ('["a list"]', r"m\.jsonl:2: expected a JSON object, got list"),
    ('{"text": "x"}', r'm\.jsonl:2: needs exactly one of "tokens", "tokens_path" or "audio"'),
    ('{"text": "x", "tokens": [1], "audio": "a.wav"}', r"m\.jsonl:2: .*got tokens and audio"),
    ('{"tokens": [1]}', r'm\.jsonl:2: needs a non-empty "text" string'),
    ('{"text": "x", "audio": "a.wav"}', r"m\.jsonl:2: audio file '.*a\.wav' does not exist"),
    ('{"text": "x", "tokens": [[1, 2], [3]]}', r"m\.jsonl:2: \"tokens\" codebook lists must have equal lengths"),
    ('{"text": "x", "tokens": [1.5]}', r"m\.jsonl:2: \"tokens\": codes must be non-empty integers"),
    ('{"text": "x", "tokens": [-1]}', r"m\.jsonl:2: negative tokens id"),
])
def test_bad_manifest_lines_are_named(tmp_path: Path, line: str, message: str) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"text": "ok", "tokens": [1]}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        tokenize_manifest(manifest, FRONTENDS["bytes"], tmp_path / "cache")


def test_audio_without_a_codec_and_an_empty_manifest(tmp_path: Path) -> None:
    soundfile.write(tmp_path / "a.wav", np.zeros(160, np.float32), 16000)
    manifest = _write(tmp_path / "m.jsonl", [{"text": "x", "audio": "a.wav"}])
    with pytest.raises(ConfigError, match=r'm\.jsonl:1: gives "audio" but the config has no data\.codec'):
        tokenize_manifest(manifest, FRONTENDS["bytes"], tmp_path / "cache")
    (tmp_path / "e.jsonl").write_text("\n\n")
    with pytest.raises(ConfigError, match="holds no examples"):
        tokenize_manifest(tmp_path / "e.jsonl", FRONTENDS["bytes"], tmp_path / "cache")


def test_ids_are_checked_against_the_model_and_long_examples_are_left_out(tmp_path: Path,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    manifest = _write(tmp_path / "m.jsonl", [{"text": "a", "tokens": [1, 2]}, {"text": "b", "tokens": [3, 99]},
                                             {"text": "c", "tokens": list(range(9))}])
    data = tokenize_manifest(manifest, FRONTENDS["bytes"], tmp_path / "cache")
    spec = Spec(bos=16, eos=17, pad=17, vocab_size=18)
    with pytest.raises(ConfigError, match=r"m\.jsonl:2: target id 99 is outside the model's vocabulary \(0\.\.17\)"):
        check_ids(make_pairs(data, "text_to_tokens", FRONTENDS["bytes"]), spec)
    with caplog.at_level(logging.WARNING):
        pairs = make_pairs(data, "text_to_tokens", FRONTENDS["bytes"], max_target_len=8)
    assert [o.rsplit(":", 1)[1] for o in pairs.origins] == ["1", "2"]
    assert "left out 1 of 3 examples" in caplog.text
    with pytest.raises(ConfigError, match=r"m\.jsonl:1: target holds the model's special id\(s\) \[16\]"):
        check_ids(Pairs([np.array([5])], [np.array([16])], [f"{manifest}:1"]), spec)


def test_bucketed_batches_are_deterministic_per_seed_and_epoch() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 200, size=103)
    sampler = BucketSampler(lengths, step_size=8, seed=3, pool=4)
    e0, e0_again, e1 = sampler.epoch(0), sampler.epoch(0), sampler.epoch(1)
    assert all(np.array_equal(a, b) for a, b in zip(e0, e0_again)) and len(e0) == 12
    assert any(not np.array_equal(a, b) for a, b in zip(e0, e1))
    assert not all(np.array_equal(a, b) for a, b in zip(e0, BucketSampler(lengths, 8, 4, 4).epoch(0)))
    for batches in (e0, e1):
        seen = np.concatenate(batches)
        assert len(seen) == 96 and len(set(seen.tolist())) == 96  # each example at most once an epoch
    spread = np.mean([np.ptp(lengths[b]) for b in e0])  # bucketing: similar lengths share a batch
    shuffled = np.mean([np.ptp(lengths[rng.permutation(103)[:8]]) for _ in range(50)])
    assert spread < 0.3 * shuffled, (spread, shuffled)


def test_collate_pads_and_shifts() -> None:
    spec = Spec(bos=16, eos=17, pad=17, vocab_size=18)
    batch = collate([np.array([5, 6, 1]), np.array([7, 1])], [np.array([3]), np.array([4, 5, 6])], spec)
    assert batch.src.tolist() == [[5, 6, 1], [7, 1, 0]] and batch.src_lengths.tolist() == [3, 2]
    assert batch.tgt_in.tolist() == [[16, 3, 17, 17], [16, 4, 5, 6]] and batch.tgt_lengths.tolist() == [2, 4]
    assert batch.targets.tolist() == [[3, 17, -100, -100], [4, 5, 6, 17]] and batch.target_tokens == 6


def test_token_alignment_reads_the_durations() -> None:
    # ids of 2, 1 and 3 frames; 3 tokens of 2 frames: centres at frames 1, 3 and 5
    assert token_alignment({"durations": [2, 1, 3]}, 3, 3).tolist() == [0, 2, 2]
    # one token per frame: each frame's own id
    assert token_alignment({"durations": [2, 0, 1, 3]}, 4, 6).tolist() == [0, 0, 2, 3, 3, 3]
    assert token_alignment({}, 3, 3) is None
    assert token_alignment({"durations": [2, 1]}, 3, 3) is None  # another front end's ids
    for bad in ([1, -1, 2], [0, 0, 0], [1.5, 2, 1]):
        with pytest.raises(ValueError, match="frame counts"):
            token_alignment({"durations": bad}, 3, 3)


def test_alignments_are_cached_and_batched(tmp_path: Path) -> None:
    manifest = _write(tmp_path / "m.jsonl", [
        {"phonemes": [5, 6, 7], "durations": [2, 1, 3], "tokens": [1, 2, 3]},
        {"phonemes": [8, 9], "tokens": [4, 5]},
    ])
    phonemes = FRONTENDS["phonemes"]
    data = tokenize_manifest(manifest, phonemes, tmp_path / "cache")
    again = tokenize_manifest(manifest, phonemes, tmp_path / "cache")
    assert data.rebuilt and not again.rebuilt
    assert [again.align[i].tolist() for i in range(2)] == [[0, 2, 2], [-1, -1]]
    pairs = make_pairs(again, "text_to_tokens", phonemes)
    assert pairs.aligns is not None and [a.tolist() for a in pairs.subset([1, 0]).alignments()] == [[-1, -1], [0, 2, 2]]
    assert make_pairs(again, "tokens_to_text", phonemes).aligns is None
    spec = Spec(bos=16, eos=17, pad=17, vocab_size=18)
    batch = collate(pairs.sources, pairs.targets, spec, pairs.aligns)
    assert batch.align.tolist() == [[0, 2, 2, 2], [-100, -100, -100, -100]]  # EOS reads the last source id
    assert collate(pairs.sources, pairs.targets, spec).align is None
