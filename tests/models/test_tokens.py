"""The token-model core: cached incremental steps equal teacher forcing, grouped kv heads read kv head
q mod g, padding and per-row positions never change a row."""

from __future__ import annotations

import pytest
import torch

from sonorant.errors import ConfigError
from sonorant.models.tokens import StackConfig, TokenModelConfig
from sonorant.models.tokens.model import TokenTransformer


def gpt2_like() -> TokenModelConfig:
    enc = StackConfig(layers=2, dim=32, heads=4, kv_heads=4, head_dim=8, ffn_dim=64, max_positions=64)
    dec = StackConfig(layers=2, dim=32, heads=4, kv_heads=4, head_dim=8, ffn_dim=64, cross=True, max_positions=64)
    return TokenModelConfig(src_vocab=50, tgt_vocab=40, encoder=enc, decoder=dec, bos=38, eos=39, pad=39,
                            max_target=64)


def spear_like() -> TokenModelConfig:
    common = dict(dim=32, heads=4, head_dim=8, ffn_dim=40, ffn="geglu", gelu="exact", norm="rms", bias=False,
                  positions="rotary")
    enc = StackConfig(layers=2, kv_heads=4, causal=False, **common)
    dec = StackConfig(layers=3, kv_heads=2, cross=True, null_kv=True, **common)
    return TokenModelConfig(src_vocab=50, tgt_vocab=40, encoder=enc, decoder=dec, bos=0, eos=39, pad=39,
                            start_vector=True, early_exit_layer=1, max_target=64)


def build(cfg: TokenModelConfig) -> TokenTransformer:
    torch.manual_seed(0)
    model = TokenTransformer(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model


def inputs() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    src = torch.randint(1, 50, (3, 9), generator=g)
    src_len = torch.tensor([9, 5, 7])
    tgt = torch.randint(1, 38, (3, 12), generator=g)
    return src, src_len, tgt, torch.full((3,), 12)


@pytest.mark.parametrize("make", [gpt2_like, spear_like], ids=["gpt2", "spear"])
def test_cached_steps_equal_teacher_forcing(make):
    cfg = make()
    model = build(cfg)
    src, src_len, tgt, tgt_len = inputs()
    tgt[:, 0] = cfg.bos
    with torch.no_grad():
        full, exit_full = model.forward_exit(src, src_len, tgt, tgt_len)
        ck, cv, cbias = model.cross_kv(model.encode(src, src_len), src_len)
        k, v = model.new_cache(3, 20)
        parts, p = [], 0
        for n in (1, 3, 1, 4, 3):  # blocks of different sizes, as speculative verification writes them
            parts.append(model.step(tgt[:, p:p + n], torch.full((3,), p), k, v, ck, cv, cbias))
            p += n
        assert (torch.cat(parts, 1) - full).abs().max().item() < 1e-5
        if exit_full is not None:
            k, v = model.new_cache(3, 20)
            drafted = model.step(tgt[:, :5], torch.zeros(3, dtype=torch.long), k, v, ck, cv, cbias, depth=1)
            assert (drafted - exit_full[:, :5]).abs().max().item() < 1e-5


@pytest.mark.parametrize("make", [gpt2_like, spear_like], ids=["gpt2", "spear"])
def test_padding_and_row_positions_never_change_a_row(make):
    cfg = make()
    model = build(cfg)
    src, src_len, tgt, tgt_len = inputs()
    tgt[:, 0] = cfg.bos
    with torch.no_grad():
        full = model(src, src_len, tgt, tgt_len)
        alone = model(src[1:2, :5], src_len[1:2], tgt[1:2], tgt_len[1:2])
        assert (alone - full[1:2]).abs().max().item() < 1e-5
        # rows at different positions in one step: row r has already decoded r + 2 tokens
        ck, cv, cbias = model.cross_kv(model.encode(src, src_len), src_len)
        k, v = model.new_cache(3, 20)
        pos = torch.tensor([2, 3, 4])
        for p in range(4):  # fill each row's own prefix (stale slots past pos are never read)
            model.step(tgt[:, p:p + 1], torch.full((3,), p), k, v, ck, cv, cbias)
        nxt = torch.stack([tgt[r, pos[r]:pos[r] + 2] for r in range(3)])  # [3, 2]
        out = model.step(nxt, pos, k, v, ck, cv, cbias)
        for r in range(3):
            assert (out[r] - full[r, pos[r]:pos[r] + 2]).abs().max().item() < 1e-5


def test_grouped_heads_read_kv_head_q_mod_g():
    """A naive attention with kv heads expanded as (group, kv) -- head q reads kv head q mod g -- agrees."""
    cfg = spear_like()
    model = build(cfg)
    attn = model.decoder.layers[0].attn
    x = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        q, (k, v) = attn.queries(x), attn.keys_values(x)
        bias = torch.zeros(2, 1, 5, 5)
        got = attn.attend(q, k, v, bias)
        k_full, v_full = k.repeat(1, 2, 1, 1), v.repeat(1, 2, 1, 1)  # [b, (group g), t, dh]: head q -> q mod g
        w = torch.softmax(q @ k_full.transpose(-1, -2) / 8 ** 0.5, dim=-1)
        want = attn.o((w @ v_full).transpose(1, 2).flatten(2))
        assert (got - want).abs().max().item() < 1e-5
        # and it is not the other mapping (q // group), so the test can tell them apart
        k_int, v_int = k.repeat_interleave(2, 1), v.repeat_interleave(2, 1)
        w2 = torch.softmax(q @ k_int.transpose(-1, -2) / 8 ** 0.5, dim=-1)
        assert (got - attn.o((w2 @ v_int).transpose(1, 2).flatten(2))).abs().max().item() > 1e-3


@pytest.mark.parametrize("change, message", [
    (dict(heads=5), "multiple of kv_heads"),
    (dict(ffn="relu"), "ffn must be one of"),
    (dict(layers=0), "layers must be at least 1"),
])
def test_stack_config_errors(change, message):
    base = dict(layers=1, dim=8, heads=4, kv_heads=2, head_dim=2, ffn_dim=8)
    with pytest.raises(ConfigError, match=message):
        StackConfig(**{**base, **change})


def test_model_config_errors():
    cfg = gpt2_like()
    with pytest.raises(ConfigError, match="eos .* must be a target token"):
        TokenModelConfig(**{**cfg.__dict__, "eos": 40})
    with pytest.raises(ConfigError, match="early_exit_layer"):
        TokenModelConfig(**{**cfg.__dict__, "early_exit_layer": 3})  # 2 of 2 is allowed (as upstream Spear)
    with pytest.raises(ConfigError, match="exit_ffn_dim"):
        TokenModelConfig(**{**cfg.__dict__, "exit_ffn_dim": 8})
    with pytest.raises(ConfigError, match="cross_kv_heads"):
        StackConfig(layers=1, dim=8, heads=4, kv_heads=4, head_dim=2, ffn_dim=8, cross_kv_heads=3)
    with pytest.raises(ConfigError, match="learned positions"):
        TokenModelConfig(**{**cfg.__dict__, "max_target": 65})
