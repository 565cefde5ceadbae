"""Spear-TTS loader parity: a tiny random-init `TextToSemantic` saved by spear-tts-pytorch 0.4.8's own trainer
(`tests/fixtures/speartts`, made by `tools/spear_fixtures.py`) loads into sonorant's token model and gives
upstream's teacher-forced logits (full depth and the early-exit head), and a greedy loop over `step` with
a static cache gives upstream's greedy tokens."""

from __future__ import annotations

import copy
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from sonorant.errors import VoiceError
from sonorant.voices.speartts import load_speartts, read_state
from sonorant.voices.speartts_loader import probe, read_kwargs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "speartts"
CKPT = FIXTURES / "spear_tiny.pt"
F32_TOL = 1e-4  # float32 sonorant vs float32 upstream (the bound)
F64_TOL = 1e-9  # float64 sonorant vs float64 upstream: the same maths


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: the tiny model gains nothing from more, and the machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"missing committed fixture {path}: run `python3 tools/spear_fixtures.py`")
    return path


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(fixture("reference.npz")) as data:
        return dict(data)


@pytest.fixture(scope="module")
def loaded():
    fixture("spear_tiny.json")
    return load_speartts(fixture("spear_tiny.pt"))


def teacher_inputs(ref, spec, rows=slice(None)):
    """Encoder input (upstream's text ids + its appended EOS) and decoder input (a placeholder at position 0,
    replaced by the start vector, then the prefix)."""
    src = torch.from_numpy(ref["src_in"][rows])
    src_len = torch.from_numpy(ref["src_in_lengths"][rows])
    tgt = torch.from_numpy(ref["tf_tgt"][rows])
    tgt_len = torch.from_numpy(ref["tf_lengths"][rows]) + 1
    tgt_in = torch.cat([torch.full((tgt.shape[0], 1), spec.semantic_eos), tgt], dim=1)
    return src, src_len, tgt_in, tgt_len


def valid_diff(ours: torch.Tensor, theirs: np.ndarray, lengths) -> float:
    """Max |ours - theirs| over each row's valid positions."""
    return max(float((ours[r, :n].double() - torch.from_numpy(theirs[r, :n]).double()).abs().max())
               for r, n in enumerate(int(x) for x in lengths))


def test_config_read_off_the_file(loaded):
    model, spec = loaded
    cfg = model.cfg
    assert (cfg.src_vocab, cfg.tgt_vocab, cfg.eos, cfg.src_pad) == (41, 51, 50, 0)
    assert (cfg.decoder.heads, cfg.decoder.kv_heads, cfg.decoder.cross_kv_heads, cfg.decoder.head_dim) == (4, 2, 4, 16)
    assert (cfg.encoder.layers, cfg.decoder.layers, cfg.early_exit_layer) == (2, 3, 2)
    assert (cfg.encoder.ffn_dim, cfg.exit_ffn_dim) == (42, 85)  # int(32 * 2 * 2/3), the exit's fixed mult 4
    assert (spec.text_eos, spec.semantic_eos, spec.semantic_pad, spec.text_pad) == (40, 50, -1, 0)
    assert probe(CKPT) and not probe(FIXTURES / "spear_tiny.json")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_teacher_forced_logits_match_upstream(loaded, ref, dtype):
    model, spec = loaded
    model = copy.deepcopy(model).to(dtype)
    src, src_len, tgt_in, tgt_len = teacher_inputs(ref, spec)
    with torch.no_grad():
        logits, exit_logits = model.forward_exit(src, src_len, tgt_in, tgt_len)
    suffix, tol = ("", F32_TOL) if dtype == torch.float32 else ("_f64", F64_TOL)
    full = valid_diff(logits, ref["tf_logits" + suffix], tgt_len)
    early = valid_diff(exit_logits, ref["tf_exit_logits" + suffix], tgt_len)
    print(f"{dtype}: full {full:.3g}, early exit {early:.3g}")
    assert full <= tol and early <= tol
    assert float(np.abs(ref["tf_logits"]).max()) > 5.0  # not a vacuous comparison of near-zero logits


def test_padded_batch_equals_single_rows(loaded, ref):
    model, spec = loaded
    model = copy.deepcopy(model).double()
    src, src_len, tgt_in, tgt_len = teacher_inputs(ref, spec)
    with torch.no_grad():
        batch, batch_exit = model.forward_exit(src, src_len, tgt_in, tgt_len)
        for r in range(src.shape[0]):
            s, m = int(src_len[r]), int(tgt_len[r])
            one, one_exit = model.forward_exit(src[r:r + 1, :s], src_len[r:r + 1], tgt_in[r:r + 1, :m],
                                               tgt_len[r:r + 1])
            assert float((one[0] - batch[r, :m]).abs().max()) <= F64_TOL
            assert float((one_exit[0] - batch_exit[r, :m]).abs().max()) <= F64_TOL
            assert valid_diff(one, ref[f"tf_single_logits_f64_{r}"], [m]) <= F64_TOL
            assert valid_diff(one_exit, ref[f"tf_single_exit_logits_f64_{r}"], [m]) <= F64_TOL


def test_cached_steps_and_draft_depth_match_upstream(loaded, ref):
    """`step` over a static cache, in blocks, at full depth and at the early-exit depth (the draft model)."""
    model, spec = loaded
    model = copy.deepcopy(model).double()
    src, src_len, tgt_in, tgt_len = teacher_inputs(ref, spec)
    b, t = tgt_in.shape
    with torch.no_grad():
        ck, cv, cbias = model.cross_kv(model.encode(src, src_len), src_len)
        outs = {}
        for depth in (None, spec.early_exit_layer):
            k, v = model.new_cache(b, t + 2)
            parts, p = [], 0
            for n in (1, 4, 2, t - 7):
                parts.append(model.step(tgt_in[:, p:p + n], torch.full((b,), p), k, v, ck, cv, cbias, depth=depth))
                p += n
            outs[depth] = torch.cat(parts, dim=1)
    assert valid_diff(outs[None], ref["tf_logits_f64"], tgt_len) <= F64_TOL
    assert valid_diff(outs[spec.early_exit_layer], ref["tf_exit_logits_f64"], tgt_len) <= F64_TOL


def greedy_loop(model, spec, src: torch.Tensor, src_len: torch.Tensor, max_length: int) -> torch.Tensor:
    """Greedy decoding with a static cache, stopping as upstream does: when every row has an EOS (then
    everything after a row's EOS is written as upstream's pad) or after `max_length` tokens (then rows keep
    what they generated after their EOS, as upstream returns them)."""
    b = src.shape[0]
    with torch.no_grad():
        ck, cv, cbias = model.cross_kv(model.encode(src, src_len), src_len)
        k, v = model.new_cache(b, max_length)
        tokens = torch.full((b, 1), spec.semantic_eos)  # position 0: replaced by the start vector
        pos = torch.zeros(b, dtype=torch.long)
        out = []
        for _ in range(max_length):
            nxt = model.step(tokens, pos, k, v, ck, cv, cbias)[:, -1].argmax(dim=-1)  # [b]
            out.append(nxt)
            seq = torch.stack(out, dim=1)  # [b, n]
            if bool((seq == spec.semantic_eos).any(dim=1).all()):
                after = (seq == spec.semantic_eos).cumsum(dim=1) - (seq == spec.semantic_eos).long() > 0
                return seq.masked_fill(after, spec.semantic_pad)
            tokens, pos = nxt[:, None], pos + 1
    return torch.stack(out, dim=1)


def test_greedy_tokens_match_upstream(loaded, ref):
    model, spec = loaded
    max_length = int(ref["greedy_max_length"])
    src = torch.from_numpy(ref["src_in"])
    src_len = torch.from_numpy(ref["src_in_lengths"])
    batch = greedy_loop(model, spec, src, src_len, max_length)
    assert batch.tolist() == ref["greedy_tokens"].tolist()
    ended = [s for s in ref["greedy_eos_step"].tolist() if s >= 0]
    assert len(set(ended)) >= 2 and -1 in ref["greedy_eos_step"].tolist()  # rows end at different steps, or not
    for r in range(src.shape[0]):
        s = int(src_len[r])
        one = greedy_loop(model, spec, src[r:r + 1, :s], src_len[r:r + 1], max_length)
        assert one.tolist() == ref[f"greedy_single_{r}"].tolist()


def beam_loop(model, spec, src: torch.Tensor, src_len: torch.Tensor, beams: int, max_length: int) -> torch.Tensor:
    """Upstream's beam search semantics over a static cache (beams reordered by a gather of cache rows): each
    beam's top `beams` continuations by log-softmax, ranked by the summed log-probabilities of all its tokens
    (no length normalisation; a beam that has emitted EOS keeps extending and scoring), stop when every kept
    beam of every row holds an EOS or after `max_length` tokens; the best beam, masked after its EOS."""
    b = src.shape[0]
    with torch.no_grad():
        ck, cv, cbias = model.cross_kv(model.encode(src, src_len), src_len)
        ck, cv = ck.repeat_interleave(beams, dim=1), cv.repeat_interleave(beams, dim=1)  # [L, b * k, g, s', dh]
        cbias = cbias.repeat_interleave(beams, dim=0)
        k, v = model.new_cache(b * beams, max_length)
        tokens = torch.full((b * beams, 1), spec.semantic_eos)  # position 0: the start vector
        pos = torch.zeros(b * beams, dtype=torch.long)
        seqs = torch.zeros(b, 1, 0, dtype=torch.long)  # [b, live beams, n]
        scores = torch.zeros(b, 1)
        for _ in range(max_length):
            logp = model.step(tokens, pos, k, v, ck, cv, cbias)[:, -1].log_softmax(dim=-1)  # [b * k, V]
            live = seqs.shape[1]
            logp = logp.view(b, beams, -1)[:, :live]  # [b, live, V]
            top_lp, top_id = logp.topk(beams, dim=-1)  # [b, live, k]
            cand = (scores[:, :, None] + top_lp).view(b, -1)  # [b, live * k], beam-major as upstream
            order = cand.sort(dim=1, descending=True).indices[:, :beams]  # [b, k]
            parent = order // beams
            scores = cand.gather(1, order)
            tok = top_id.view(b, -1).gather(1, order)  # [b, k]
            seqs = torch.cat([seqs.gather(1, parent[..., None].expand(-1, -1, seqs.shape[2])), tok[..., None]], 2)
            rows = (torch.arange(b)[:, None] * beams + parent).view(-1)  # cache rows each new beam continues
            k.copy_(k[:, rows])
            v.copy_(v[:, rows])
            if bool((seqs == spec.semantic_eos).any(dim=2).all()):
                break
            tokens, pos = tok.view(-1, 1), pos + 1
    best = seqs[:, 0]  # [b, n]
    after = (best == spec.semantic_eos).cumsum(dim=1) - (best == spec.semantic_eos).long() > 0
    return best.masked_fill(after, spec.semantic_pad)


def test_beam_search_semantics_reproduce_upstream(loaded, ref):
    """Not sonorant's beam search (the engine's decoding module has it): a check that the semantics the
    fixture README records are the ones upstream runs, on a static cache."""
    model, spec = loaded
    beams, max_length = int(ref["beam_size"]), int(ref["beam_max_length"])
    src = torch.from_numpy(ref["src_in"])
    src_len = torch.from_numpy(ref["src_in_lengths"])
    assert beam_loop(model, spec, src, src_len, beams, max_length).tolist() == ref["beam_tokens"].tolist()
    for r in range(src.shape[0]):
        s = int(src_len[r])
        one = beam_loop(model, spec, src[r:r + 1, :s], src_len[r:r + 1], beams, max_length)
        assert one.tolist() == ref[f"beam_single_{r}"].tolist()
    assert ref["beam_tokens"].tolist() != ref["greedy_tokens"][:, :max_length].tolist()  # beams change the result


def test_engine_decoder_matches_upstream(loaded, ref):
    """The engine's `TokenDecoder` on the loaded model: greedy and beam give upstream's tokens, speculative
    decoding at temperature 0 gives the greedy tokens (upstream's own `spec_decode` does not: see the
    fixture README)."""
    from sonorant.config import Decoding
    from sonorant.errors import DecodeLimitError
    from sonorant.runtimes.token_decoding import Batch, DecodeStats, TokenDecoder

    model, spec = loaded
    batch = Batch(torch.from_numpy(ref["src_in"]), torch.from_numpy(ref["src_in_lengths"]), torch.arange(4))
    decoder = TokenDecoder(model)

    def run(opts: Decoding) -> tuple[list[list[int]], DecodeStats]:
        stats = DecodeStats()
        try:
            rows = decoder.generate(batch, opts, stats)
        except DecodeLimitError as exc:  # rows 2 and 3 run to the bound, as upstream's do
            rows = exc.tokens
        return [row.tolist() for row in rows], stats

    greedy, _ = run(Decoding(method="greedy", temperature=0.0, max_tokens=int(ref["greedy_max_length"])))
    for r, (row, end) in enumerate(zip(ref["greedy_tokens"].tolist(), ref["greedy_eos_step"].tolist())):
        assert greedy[r] == (row[:end + 1] if end >= 0 else row)
    speculative, stats = run(Decoding(method="speculative", temperature=0.0, draft=int(ref["spec_gamma"]),
                                      max_tokens=int(ref["greedy_max_length"])))
    assert speculative == greedy and stats.drafted > 0
    beams, _ = run(Decoding(method="beam", beams=int(ref["beam_size"]), temperature=0.0,
                            max_tokens=int(ref["beam_max_length"])))
    assert beams == [[t for t in row if t != spec.semantic_pad] for row in ref["beam_tokens"].tolist()]


# ---- bad files -------------------------------------------------------------------------------------------

def copy_ckpt(tmp_path: Path, with_sidecar: bool = True) -> Path:
    dst = tmp_path / "voice.pt"
    shutil.copy(fixture("spear_tiny.pt"), dst)
    if with_sidecar:
        shutil.copy(fixture("spear_tiny.json"), tmp_path / "voice.json")
    return dst


def test_without_arguments_json_sizes_come_from_the_weights(tmp_path, ref, caplog):
    path = copy_ckpt(tmp_path, with_sidecar=False)
    with caplog.at_level(logging.WARNING):
        model, spec = load_speartts(path)
    assert spec.early_exit_layer is None and model.cfg.early_exit_layer is None
    assert "early-exit head" in caplog.text
    src, src_len, tgt_in, tgt_len = teacher_inputs(ref, spec)
    with torch.no_grad():
        logits = model(src, src_len, tgt_in, tgt_len)
    assert valid_diff(logits, ref["tf_logits"], tgt_len) <= F32_TOL
    model, spec = load_speartts(path, kwargs={"target_early_exit_layer": 2})
    assert spec.early_exit_layer == 2


def test_bare_and_prefixed_state_dicts_load(tmp_path):
    state = torch.load(fixture("spear_tiny.pt"), map_location="cpu", weights_only=True)["model"]
    torch.save({f"model.{k}": v for k, v in state.items()}, tmp_path / "wrapped.pt",
               _use_new_zipfile_serialization=False)  # the legacy container too (no memory map)
    (tmp_path / "wrapped.json").write_text(fixture("spear_tiny.json").read_text())
    model, _ = load_speartts(tmp_path / "wrapped.pt")
    assert model.cfg.early_exit_layer == 2
    assert set(read_state(tmp_path / "wrapped.pt")) == set(state)


def test_bad_files_raise_voice_errors(tmp_path):
    with pytest.raises(VoiceError, match="does not exist"):
        load_speartts(tmp_path / "absent.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(VoiceError, match="not a PyTorch checkpoint"):
        load_speartts(tmp_path / "text.pt")
    torch.save({"model": {"encoder.weight": torch.zeros(2)}}, tmp_path / "other.pt")
    with pytest.raises(VoiceError, match="not a Spear-TTS"):
        load_speartts(tmp_path / "other.pt")


def test_bad_arguments_raise_voice_errors(tmp_path):
    path = copy_ckpt(tmp_path)
    with pytest.raises(VoiceError, match="dim=64 but the weights have 32"):
        load_speartts(path, kwargs={"dim": 64})
    with pytest.raises(VoiceError, match="target_kv_heads=4 but the weights have 2"):
        load_speartts(path, kwargs={"target_kv_heads": None})  # None: as many kv heads as heads
    with pytest.raises(VoiceError, match="no semantic EOS"):
        load_speartts(path, kwargs={"autoset_semantic_eos_id": False})
    with pytest.raises(VoiceError, match="unknown TextToSemantic arguments"):
        load_speartts(path, kwargs={"depth": 3})
    (tmp_path / "voice.json").write_text("{not json")
    with pytest.raises(VoiceError, match="not a readable JSON"):
        load_speartts(path)
    (tmp_path / "voice.json").write_text(json.dumps([1, 2]))
    with pytest.raises(VoiceError, match="JSON object"):
        read_kwargs(path)


def test_missing_or_unknown_weights_raise_voice_errors(tmp_path):
    pkg = torch.load(fixture("spear_tiny.pt"), map_location="cpu", weights_only=True)
    kwargs = json.loads(fixture("spear_tiny.json").read_text())
    state = dict(pkg["model"])
    del state["target_transformer.layers.1.1.null_kv"]
    torch.save({"model": state}, tmp_path / "missing.pt")
    with pytest.raises(VoiceError, match="missing decoder.layers.1.cross.null_k"):
        load_speartts(tmp_path / "missing.pt", kwargs=kwargs)
    state = dict(pkg["model"], **{"target_transformer.layers.0.3.weight": torch.zeros(2)})
    torch.save({"model": state}, tmp_path / "extra.pt")
    with pytest.raises(VoiceError, match="does not know how to use: target_transformer.layers.0.3.weight"):
        load_speartts(tmp_path / "extra.pt", kwargs=kwargs)
    state = dict(pkg["model"])
    state["to_logits.speech.weight"] = state["to_logits.speech.weight"] + 1.0
    torch.save({"model": state}, tmp_path / "untied.pt")
    with pytest.raises(VoiceError, match="differs from token_emb.speech.weight"):
        load_speartts(tmp_path / "untied.pt", kwargs=kwargs)


# ---- the voice: load_voice(checkpoint, codec=...) ---------------------------------------------------------


def test_load_voice_speaks_through_a_codec(ref):
    """The checkpoint as a token voice through the committed unit codec: upstream's greedy tokens for the
    fixture's source ids, audio of (tokens - EOS) x the codec's hop, and a clear error when a front end makes
    ids the checkpoint does not have."""
    import sonorant
    from sonorant.engine import Utterance
    from sonorant.errors import TextError

    codec = Path(__file__).resolve().parents[1] / "fixtures" / "units" / "joe_reg_k64_f2.npz"
    voice = sonorant.load_voice(fixture("spear_tiny.pt"), codec=codec, voice_options={"frontend": "bytes"})
    assert (voice.family, voice.runtime.name, voice.sample_rate) == ("speartts", "eager", 22050)
    row, end = ref["greedy_single_1"][0].tolist(), int(ref["greedy_eos_step"][1])
    ids = ref["src_in"][1][: int(ref["src_in_lengths"][1])].tolist()
    tokens = voice.engine.tokens([Utterance(tuple(ids), 0, ())])[0].tolist()
    assert end >= 0 and tokens == row[: end + 1]
    audio = voice.synthesize_ids([ids])
    assert len(audio.samples) == (len(tokens) - 1) * 512
    with pytest.raises(TextError, match="outside the model's 40 text ids"):
        voice.synthesize("Hello.")
    with pytest.raises(VoiceError, match="frontend must be"):
        sonorant.load_voice(fixture("spear_tiny.pt"), codec=codec, voice_options={"frontend": "bpe"})
