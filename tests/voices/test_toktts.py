"""toktts checkpoints: sonorant's loader + `TokenTransformer` against Hugging Face transformers on the tiny
random-init EncoderDecoderModel in tests/fixtures/toktts (made by tools/toktts_fixtures.py)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from sonorant.config import Decoding
from sonorant.errors import ConfigError, DecodeLimitError, VoiceError
from sonorant.runtimes.token_decoding import Batch, TokenDecoder
from sonorant.text import bytes as byt5
from sonorant.voices import toktts_loader
from sonorant.voices.toktts import (
    BOS,
    EOS,
    codes_from_tokens,
    convert_state,
    load_toktts,
    read_weights,
    tokens_from_codes,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "toktts"
MODEL = FIXTURES / "model"
TOL = 1e-4  # the bound on teacher-forced logits


def _need(path: Path) -> Path:
    if not path.exists():  # committed fixtures: missing is a failure, never a skip
        pytest.fail(f"missing fixture {path}: regenerate with python3 tools/toktts_fixtures.py")
    return path


@pytest.fixture(scope="module")
def ref() -> dict:
    arrays = dict(np.load(_need(FIXTURES / "reference.npz")))
    arrays["meta"] = json.loads(_need(FIXTURES / "reference.json").read_text())
    return arrays


@pytest.fixture(scope="module")
def model():
    _need(MODEL / "model.safetensors")
    return load_toktts(MODEL)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a)


def _valid(lengths: torch.Tensor, width: int) -> torch.Tensor:
    return torch.arange(width)[None, :] < lengths[:, None]  # [b, width]


# ---- config and front end --------------------------------------------------------------------------------


def test_checkpoint_config() -> None:
    ckpt = toktts_loader.read_checkpoint(_need(MODEL))
    cfg = ckpt.model
    assert (cfg.src_vocab, cfg.tgt_vocab, cfg.bos, cfg.eos, cfg.pad, cfg.src_pad) == (384, 1026, 1024, 1025, 1025, 0)
    assert (cfg.encoder.layers, cfg.encoder.dim, cfg.encoder.heads, cfg.encoder.head_dim) == (2, 32, 2, 16)
    assert (cfg.decoder.layers, cfg.decoder.dim, cfg.decoder.heads, cfg.decoder.head_dim) == (2, 48, 3, 16)
    assert cfg.encoder.causal and cfg.decoder.cross and not cfg.encoder.cross
    assert (cfg.encoder.ffn_dim, cfg.decoder.ffn_dim) == (128, 192)
    assert (cfg.decoder.gelu, cfg.decoder.norm_eps) == ("tanh", 1e-5)
    assert cfg.tie_embeddings and cfg.codebooks == 2 and cfg.max_target == 1024
    assert ckpt.memory_proj and ckpt.max_length == 301 and ckpt.num_beams == 4 and ckpt.do_sample
    assert ckpt.weights == (MODEL / "model.safetensors",)


def test_probe(tmp_path: Path) -> None:
    assert toktts_loader.probe(MODEL) and toktts_loader.probe(MODEL / "config.json")
    assert toktts_loader.probe(MODEL / "model.safetensors")
    assert not toktts_loader.probe(tmp_path) and not toktts_loader.probe(tmp_path / "nothing")
    assert not toktts_loader.probe(FIXTURES / "reference.npz")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert not toktts_loader.probe(tmp_path)


def test_front_end_gives_upstream_ids(ref: dict) -> None:
    rows, lengths = byt5.pad_batch([byt5.encode(t) for t in ref["meta"]["texts"]])
    assert np.array_equal(np.array(rows), ref["src"]) and lengths == ref["src_lengths"].tolist()


# ---- teacher forcing --------------------------------------------------------------------------------------


def test_encoder_memory_matches_upstream(model, ref: dict) -> None:
    src, sl = _t(ref["src"]), _t(ref["src_lengths"])
    with torch.no_grad():
        memory = model.encode(src, sl)  # [b, s, 32]
    diff = (memory - _t(ref["memory"]))[_valid(sl, src.shape[1])].abs().max().item()
    print(f"encoder memory max abs diff {diff:.3g}")
    assert diff <= TOL


def test_teacher_forced_logits_match_upstream(model, ref: dict) -> None:
    src, sl, tgt, tl = _t(ref["src"]), _t(ref["src_lengths"]), _t(ref["tgt_in"]), _t(ref["tgt_lengths"])
    with torch.no_grad():
        batch = model(src, sl, tgt, tl)  # [4, 12, 1026]
        singles = [model(src[r:r + 1, :s], sl[r:r + 1], tgt[r:r + 1, :n], tl[r:r + 1])[0]
                   for r, (s, n) in enumerate(zip(sl.tolist(), tl.tolist()))]
    valid = _valid(tl, tgt.shape[1])
    d_batch = (batch - _t(ref["logits_batch"]))[valid].abs().max().item()
    d_single = (torch.cat(singles) - _t(ref["logits_single"])).abs().max().item()
    d_ours = (batch[valid] - torch.cat(singles)).abs().max().item()
    scale = batch[valid].abs().max().item()
    print(f"logits max abs diff vs upstream: batch {d_batch:.3g}, single rows {d_single:.3g}; "
          f"our batch vs our single rows {d_ours:.3g} (logits up to {scale:.1f})")
    assert d_batch <= TOL and d_single <= TOL and d_ours <= 1e-5
    assert scale > 5.0  # the comparison is not between near-zero numbers


def test_step_with_cache_matches_teacher_forcing(model, ref: dict) -> None:
    """Prefill a block of targets through `step`, then one position at a time: same logits as `forward`."""
    src, sl, tgt, tl = _t(ref["src"]), _t(ref["src_lengths"]), _t(ref["tgt_in"]), _t(ref["tgt_lengths"])
    with torch.no_grad():
        full = model(src, sl, tgt, tl)
        ck, cv, cbias = model.cross_kv(model.encode(src, sl), sl)
        k, v = model.new_cache(4, 16)
        head = model.step(tgt[:, :5], torch.zeros(4, dtype=torch.long), k, v, ck, cv, cbias)  # [4, 5, V]
        rest = [model.step(tgt[:, t:t + 1], torch.full((4,), t), k, v, ck, cv, cbias) for t in range(5, 12)]
    stepped = torch.cat([head, *rest], dim=1)
    valid = _valid(tl, 12)
    diff = (stepped - full)[valid].abs().max().item()
    assert diff <= 1e-5, diff


# ---- greedy decoding --------------------------------------------------------------------------------------


def decode(model, src: torch.Tensor, src_lengths: torch.Tensor, max_length: int, opts: Decoding) -> torch.Tensor:
    """The engine's decoder, its rows laid out as `generate` returns them: [b, max_length], BOS first,
    EOS-padded after a row ends (rows that hit the bound come from the `DecodeLimitError`)."""
    batch = Batch(src, src_lengths, torch.zeros(src.shape[0], dtype=torch.int64))
    try:
        rows = TokenDecoder(model).generate(batch, replace(opts, max_tokens=max_length - 1))
    except DecodeLimitError as err:
        rows = err.tokens
    out = torch.full((src.shape[0], max_length), EOS)
    out[:, 0] = BOS
    for r, row in enumerate(rows):
        out[r, 1:1 + len(row)] = torch.from_numpy(row)
    return out


GREEDY = Decoding(method="greedy", temperature=0.0)
BEAM = Decoding(method="beam", beams=4, temperature=0.0, length_penalty=1.0)


def test_greedy_matches_upstream_generate(model, ref: dict) -> None:
    meta = ref["meta"]
    max_length = meta["max_length"]
    ended = meta["greedy_ended"]
    assert any(ended) and not all(ended)  # rows that stop on EOS and rows that hit the bound
    src, sl = _t(ref["src"]), _t(ref["src_lengths"])
    for r in range(len(meta["texts"])):
        s = int(sl[r])
        row = decode(model, src[r:r + 1, :s], sl[r:r + 1], max_length, GREEDY)[0]
        assert row.tolist() == ref["greedy"][r].tolist(), f"text {r}"
    batch = decode(model, src, sl, max_length, GREEDY)
    assert batch.tolist() == ref["greedy_batch"].tolist() == ref["greedy"].tolist()


def test_beam_search_matches_upstream_best(model, ref: dict) -> None:
    """4 beams, length_penalty 1, early_stopping False: the best hypothesis is upstream's, for each text
    alone and for the padded batch (one text ends on EOS, three are cut by the bound there and here)."""
    meta = ref["meta"]
    settings = meta["beam_settings"]
    assert (settings["num_beams"], settings["do_sample"], settings["early_stopping"]) == (4, False, False)
    max_length = settings["max_length"]
    src, sl = _t(ref["src"]), _t(ref["src_lengths"])
    for r in range(len(meta["texts"])):
        s = int(sl[r])
        row = decode(model, src[r:r + 1, :s], sl[r:r + 1], max_length, BEAM)[0]
        assert row.tolist() == ref["beam_best"][r].tolist(), f"text {r}"
    batch = decode(model, src, sl, max_length, BEAM)
    assert batch.tolist() == ref["beam_batch_best"].tolist()
    assert batch[1].tolist() != ref["greedy"][1].tolist()  # beam search chose differently from greedy here


def test_upstream_beam_scores_rescored(model, ref: dict) -> None:
    """Upstream's 4 final beams per text, scored by teacher forcing here: `sequences_scores` is the sum of
    the generated tokens' log-probabilities (EOS included, BOS not) over their count (length_penalty 1)."""
    assert ref["meta"]["beam_settings"]["length_penalty"] == 1.0
    assert any(any(e) for e in ref["meta"]["beam_ended"])  # some final beams ended on EOS
    worst = 0.0
    for t, s in enumerate(ref["src_lengths"].tolist()):
        src = _t(ref["src"][t:t + 1, :s])
        for j, seq in enumerate(_t(ref["beam_sequences"][t])):
            ends = (seq[1:] == EOS).nonzero()
            n = int(ends[0]) + 2 if len(ends) else len(seq)  # BOS .. EOS, or the whole bounded row
            with torch.no_grad():
                logp = model(src, torch.tensor([s]), seq[None, : n - 1], torch.tensor([n - 1])).log_softmax(-1)[0]
            score = logp.gather(-1, seq[1:n, None]).sum().item() / (n - 1)
            worst = max(worst, abs(score - float(ref["beam_scores"][t, j])))
    assert worst <= TOL, worst


# ---- other checkpoint layouts and bad input ----------------------------------------------------------------


def _copy_config(dst: Path, edit=None) -> None:
    config = json.loads((MODEL / "config.json").read_text())
    if edit:
        edit(config)
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "config.json").write_text(json.dumps(config))


def _hf_state() -> dict[str, torch.Tensor]:
    return read_weights(toktts_loader.read_checkpoint(MODEL))


def test_pytorch_bin_and_shards_load_the_same(model, tmp_path: Path) -> None:
    """Older transformers wrote pytorch_model.bin, with GPT-2's mask buffers and a tied lm_head copy."""
    hf = _hf_state()
    old = dict(hf)
    for stack in ("encoder", "decoder.transformer"):
        for i in range(2):
            old[f"{stack}.h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, 8, 8))
            old[f"{stack}.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    old["decoder.lm_head.weight"] = hf["decoder.transformer.wte.weight"].clone()
    _copy_config(tmp_path / "bin")
    torch.save(old, tmp_path / "bin" / "pytorch_model.bin")
    names = sorted(hf)
    shards = {"pytorch_model-00001-of-00002.bin": names[: len(names) // 2],
              "pytorch_model-00002-of-00002.bin": names[len(names) // 2:]}
    _copy_config(tmp_path / "sharded")
    for file, keys in shards.items():
        torch.save({k: hf[k] for k in keys}, tmp_path / "sharded" / file)
    index = {"metadata": {}, "weight_map": {k: f for f, keys in shards.items() for k in keys}}
    (tmp_path / "sharded" / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    for directory in (tmp_path / "bin", tmp_path / "sharded"):
        other = load_toktts(directory)
        for name, value in model.state_dict().items():
            assert torch.equal(other.state_dict()[name], value), (directory.name, name)


def test_untied_head(tmp_path: Path) -> None:
    hf = _hf_state()
    hf["decoder.lm_head.weight"] = torch.randn(1026, 48)
    _copy_config(tmp_path, lambda c: c["decoder"].update(tie_word_embeddings=False))
    torch.save(hf, tmp_path / "pytorch_model.bin")
    m = load_toktts(tmp_path)
    assert not m.cfg.tie_embeddings and torch.equal(m.head.weight, hf["decoder.lm_head.weight"])


def test_not_a_toktts_directory(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="not a directory"):
        toktts_loader.read_checkpoint(tmp_path / "missing")
    with pytest.raises(VoiceError, match="no readable config.json"):
        toktts_loader.read_checkpoint(tmp_path)
    _copy_config(tmp_path / "bert", lambda c: c["encoder"].update(model_type="bert"))
    with pytest.raises(VoiceError, match=r"encoder-decoder \(bert -> gpt2\)"):
        toktts_loader.read_checkpoint(tmp_path / "bert")
    (tmp_path / "vits").mkdir()
    (tmp_path / "vits" / "config.json").write_text(json.dumps({"model_type": "vits"}))
    with pytest.raises(VoiceError, match="holds a vits"):
        toktts_loader.read_checkpoint(tmp_path / "vits")
    _copy_config(tmp_path / "noweights")
    with pytest.raises(VoiceError, match="no weights"):
        toktts_loader.read_checkpoint(tmp_path / "noweights")


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["decoder"].update(activation_function="relu"), "activation 'relu'"),
    (lambda c: c["decoder"].update(scale_attn_by_inverse_layer_idx=True), "attention scaling"),
    (lambda c: c["decoder"].update(add_cross_attention=False), "add_cross_attention must be True"),
    (lambda c: c["decoder"].update(vocab_size=512, bos_token_id=510, eos_token_id=511), "Encodec codes"),
    (lambda c: c["encoder"].update(vocab_size=100), "byte ids"),
    (lambda c: c["decoder"].update(n_head=5), "not a multiple"),
])
def test_unsupported_configs(tmp_path: Path, edit, match: str) -> None:
    _copy_config(tmp_path, edit)
    shutil.copy(MODEL / "model.safetensors", tmp_path)
    with pytest.raises(VoiceError, match=match):
        toktts_loader.read_checkpoint(tmp_path)


def test_missing_extra_and_misshaped_weights() -> None:
    ckpt = toktts_loader.read_checkpoint(MODEL)
    hf = _hf_state()
    with pytest.raises(VoiceError, match="missing decoder.transformer.h.1.crossattention.q_attn.weight"):
        convert_state({k: v for k, v in hf.items() if "h.1.crossattention.q_attn.weight" not in k}, ckpt)
    with pytest.raises(VoiceError, match="does not know how to use.*decoder.extra"):
        convert_state({**hf, "decoder.extra.weight": torch.zeros(1)}, ckpt)
    bad = {**hf, "encoder.h.0.attn.c_attn.weight": torch.zeros(32, 95)}
    with pytest.raises(VoiceError, match="not a Conv1D of 3 equal parts"):
        convert_state(bad, ckpt)


# ---- tokens <-> codes ------------------------------------------------------------------------------------


def test_codes_from_generated_rows(ref: dict) -> None:
    lengths = ref["meta"]["greedy_lengths"]  # BOS + tokens + EOS for rows that ended
    for r, row in enumerate(ref["greedy"]):
        body = row[1:lengths[r] - 1] if ref["meta"]["greedy_ended"][r] else row[1:]
        frames = len(body) // 2
        expect = body[: 2 * frames].reshape(frames, 2).T  # frame-major pairs -> [2, T]
        codes = codes_from_tokens(row)
        assert codes.shape == (2, frames) and np.array_equal(codes.numpy(), expect)
    assert codes_from_tokens(ref["greedy"][0]).shape == (2, 18)  # 37 codes: the odd one is dropped


def test_tokens_codes_round_trip() -> None:
    codes = torch.randint(0, 1024, (2, 75), generator=torch.Generator().manual_seed(0))
    tokens = tokens_from_codes(codes)
    assert tokens.shape == (151,) and tokens[-1] == EOS
    assert tokens[:4].tolist() == [codes[0, 0], codes[1, 0], codes[0, 1], codes[1, 1]]
    assert torch.equal(codes_from_tokens(torch.cat([torch.tensor([BOS]), tokens])), codes)
    assert torch.equal(codes_from_tokens(tokens), codes)  # no BOS: nothing is dropped
    assert codes_from_tokens([BOS, EOS]).shape == (2, 0) and codes_from_tokens([BOS, 5, EOS]).shape == (2, 0)


def test_invalid_tokens_and_codes() -> None:
    with pytest.raises(VoiceError, match="token 1024 at position 2"):
        codes_from_tokens([BOS, 1, 2, BOS, 4, EOS])
    with pytest.raises(VoiceError, match="not an audio code"):
        codes_from_tokens([BOS, 1, 2000])
    assert codes_from_tokens([BOS, 1, 2, EOS, 2000]).tolist() == [[1], [2]]  # after EOS nothing counts
    with pytest.raises(ConfigError, match="one row"):
        codes_from_tokens(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ConfigError, match=r"\[2, T\]"):
        tokens_from_codes(torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ConfigError, match="0..1023"):
        tokens_from_codes(torch.tensor([[0, 1024], [1, 2]]))


# ---- the voice: load_voice(toktts directory, codec=Encodec) ------------------------------------------------


def test_load_voice_speaks_upstreams_greedy_tokens(ref: dict, tmp_path: Path) -> None:
    """Through the public API, text 1's greedy tokens are upstream's (the voice reads text as written with
    normalize_text=False, as toktts), and its audio is the Encodec decode of exactly those codes."""
    import sonorant
    from sonorant import SynthesisConfig

    codec = FIXTURES.parent / "encodec" / "encodec_tiny.th"
    voice = sonorant.load_voice(MODEL, codec=codec)
    assert (voice.family, voice.sample_rate, voice.runtime.name) == ("toktts", 24000, "eager")
    text = ref["meta"]["texts"][1]
    cfg = SynthesisConfig(normalize_text=False)
    tokens = voice.tokens(text, cfg)
    upstream = ref["greedy"][1].tolist()
    assert [tokens[0].tolist()] == [upstream[1:upstream.index(EOS, 1) + 1]]
    audio = voice.synthesize(text, cfg).samples
    codes = codes_from_tokens(tokens[0])  # [2, T]
    assert len(audio) == codes.shape[1] * 320
    with torch.no_grad():
        direct = voice.model.codec.decode(torch.as_tensor(codes)[None])[0].numpy()
    assert np.abs(audio - direct).max() < 1e-5
    streamed = np.concatenate([c.samples for c in voice.stream(text, cfg)])
    assert np.abs(streamed - audio).max() < 1e-5
    with pytest.raises(VoiceError, match="needs the Encodec codec"):
        sonorant.load_voice(MODEL)
