"""Token decoding on the static cache: greedy equals a from-scratch argmax loop, rows are the same alone or
batched, sampling is reproducible per seed and draws the right distribution, speculative decoding gives
greedy's tokens and plain sampling's distribution, beam search keeps the best hypothesis, the bound is
an error."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from sonorant.config import Decoding
from sonorant.errors import DecodeLimitError
from sonorant.models.tokens import StackConfig, TokenModelConfig
from sonorant.models.tokens.model import TokenTransformer
from sonorant.runtimes.token_decoding import Batch, DecodeStats, TokenDecoder
from sonorant.runtimes.token_sampling import choose, filtered

VOCAB = 12
EOS = 11


def tiny(eos_bias: float = 2.0, vocab: int = VOCAB, seed: int = 0, layers: int = 3) -> TokenTransformer:
    common = dict(dim=32, heads=4, head_dim=8, ffn_dim=40, ffn="geglu", gelu="exact", norm="rms", bias=False,
                  positions="rotary")
    cfg = TokenModelConfig(
        src_vocab=20, tgt_vocab=vocab,
        encoder=StackConfig(layers=1, kv_heads=4, causal=False, **common),
        decoder=StackConfig(layers=layers, kv_heads=2, cross=True, null_kv=True, **common),
        bos=0, eos=vocab - 1, pad=vocab - 1, start_vector=True, logits_bias=True, early_exit_layer=1, max_target=64)
    torch.manual_seed(seed)
    model = TokenTransformer(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
        model.head_bias.zero_()
        model.head_bias[vocab - 1] = eos_bias
        model.exit_head.bias.zero_()
        model.exit_head.bias[vocab - 1] = eos_bias
    return model


def batch(rows: int = 3, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 9, (rows,), generator=g)
    src = torch.randint(1, 20, (rows, 8), generator=g) * (torch.arange(8) < lengths[:, None])
    return Batch(src=src, src_lengths=lengths, seeds=torch.arange(rows, dtype=torch.int64) * 7919 + 11)


def collect(dec: TokenDecoder, b: Batch, opts: Decoding, stats: DecodeStats | None = None) -> list[list[int]]:
    """Every row's tokens, also when some rows hit the bound (random models often loop forever)."""
    try:
        return [r.tolist() for r in dec.generate(b, opts, stats)]
    except DecodeLimitError as err:
        return [r.tolist() for r in err.tokens]


def naive_greedy(model: TokenTransformer, src: torch.Tensor, length: torch.Tensor, limit: int) -> list[int]:
    """Argmax decoding by teacher forcing the whole prefix each step (no cache)."""
    seq = [model.cfg.bos]
    with torch.no_grad():
        for _ in range(limit):
            tgt = torch.tensor([seq])
            nxt = int(model(src[None], length[None], tgt, torch.tensor([len(seq)]))[0, -1].argmax())
            seq.append(nxt)
            if nxt == model.cfg.eos:
                break
    return seq[1:]


def test_greedy_equals_a_from_scratch_argmax_loop_and_rows_alone():
    model, b = tiny(eos_bias=0.5, seed=1), batch(4, seed=2)
    out = collect(TokenDecoder(model), b, Decoding(temperature=0.0, max_tokens=24))
    ended = [r[-1] == EOS for r in out]
    assert any(ended) and not all(ended) and max(len(r) for r in out if r[-1] == EOS) > 3
    for r in range(4):
        want = naive_greedy(model, b.src[r], b.src_lengths[r], 24)
        assert out[r] == want
        alone = Batch(b.src[r:r + 1, :int(b.src_lengths[r])], b.src_lengths[r:r + 1], b.seeds[r:r + 1])
        assert collect(TokenDecoder(model), alone, Decoding(temperature=0.0, max_tokens=24))[0] == want


def test_host_reads_once_per_block_of_steps():
    model, b = tiny(eos_bias=1.0, seed=1), batch(4, seed=2)
    stats = DecodeStats()
    out = TokenDecoder(model, sync_every=2).generate(b, Decoding(temperature=0.0, max_tokens=24), stats)
    longest = max(len(r) for r in out)
    assert longest > 2 and stats.host_reads == -(-longest // 2)
    assert stats.steps == stats.host_reads * 2


def test_sampling_is_per_seed_and_batch_invariant():
    model, b = tiny(eos_bias=1.0), batch(5)
    opts = Decoding(method="sample", temperature=1.0, top_k=6, top_p=0.9, max_tokens=60)
    first = collect(TokenDecoder(model), b, opts)
    assert first == collect(TokenDecoder(model), b, opts)
    for r in (0, 2):
        alone = Batch(b.src[r:r + 1], b.src_lengths[r:r + 1], b.seeds[r:r + 1])
        assert collect(TokenDecoder(model), alone, opts)[0] == first[r]
    other = Batch(b.src, b.src_lengths, b.seeds + 1)
    assert collect(TokenDecoder(model), other, opts) != first


def _chi2_p(observed: np.ndarray, expected: np.ndarray) -> float:
    from scipy.stats import chi2

    keep = expected > 0
    stat = float(((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    return float(chi2.sf(stat, keep.sum() - 1))


def test_choose_draws_the_filtered_softmax():
    n, v = 20000, 6
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -3.0]]).expand(n, 1, v)
    seeds = torch.arange(n, dtype=torch.int64)
    pos = torch.full((n, 1), 3)
    for top_k, top_p in ((0, 1.0), (3, 1.0), (0, 0.8)):
        temp, k, p = torch.full((n,), 0.7), torch.full((n,), top_k), torch.full((n,), top_p)
        got = choose(logits, seeds, pos, temp, k, p)[:, 0]
        probs = filtered(logits[:1], temp[:1], k[:1], p[:1]).softmax(-1)[0, 0].numpy()
        counts = np.bincount(got.numpy(), minlength=v)
        assert (counts[probs == 0] == 0).all()  # nothing outside the kept set
        assert _chi2_p(counts, probs * n) > 1e-3


def test_speculative_greedy_gives_greedy_tokens():
    for seed, bias in ((1, 0.5), (2, 1.0), (5, 0.0)):
        model, b = tiny(eos_bias=bias, seed=seed), batch(4, seed=2)
        plain = collect(TokenDecoder(model), b, Decoding(temperature=0.0, max_tokens=24))
        stats = DecodeStats()
        spec = collect(TokenDecoder(model), b, Decoding(method="speculative", temperature=0.0, draft=3, max_tokens=24),
                       stats)
        assert spec == plain
    assert stats.drafted > 0 and 0.0 <= stats.accept_rate <= 1.0


def test_speculative_sampling_has_plain_samplings_distribution():
    """Over 3000 seeds, the joint distribution of the first two tokens is the same (chi-square two-sample
    test); the first token also matches the model's exact softmax."""
    model = tiny(eos_bias=1.5, vocab=6, seed=3, layers=2)
    n = 3000
    src = torch.tensor([[3, 5, 7, 2, 9]]).expand(n, 5)
    b = Batch(src, torch.full((n,), 5), torch.arange(n, dtype=torch.int64))
    plain = TokenDecoder(model).generate(b, Decoding(method="sample", temperature=1.0, max_tokens=60))
    spec = TokenDecoder(model).generate(b, Decoding(method="speculative", temperature=1.0, draft=3, max_tokens=60))

    def joint(rows: list[np.ndarray]) -> np.ndarray:
        cells = np.zeros((6, 7))
        for r in rows:
            cells[r[0], r[1] if len(r) > 1 else 6] += 1
        return cells.ravel()

    a, c = joint(plain), joint(spec)
    keep = (a + c) > 0
    from scipy.stats import chi2_contingency

    assert chi2_contingency(np.stack([a[keep], c[keep]])).pvalue > 1e-3
    with torch.no_grad():
        first = model(src[:1], torch.tensor([5]), torch.zeros(1, 1, dtype=torch.int64), torch.tensor([1]))
    exact = first[0, 0].softmax(-1).numpy()
    assert _chi2_p(np.bincount([r[0] for r in spec], minlength=6).astype(float), exact * n) > 1e-3
    # and the test can tell distributions apart: the early-exit head's own draws differ from the model's
    with torch.no_grad():
        ck, cv, cb = model.cross_kv(model.encode(src[:1], torch.tensor([5])), torch.tensor([5]))
        k, v = model.new_cache(1, 4)
        q = model.step(torch.zeros(1, 1, dtype=torch.int64), torch.zeros(1, dtype=torch.int64), k, v, ck, cv, cb,
                       depth=1)[0, 0].softmax(-1).numpy()
    assert _chi2_p(np.bincount([r[0] for r in spec], minlength=6).astype(float), q * n) < 1e-3


def test_beam_one_is_greedy_and_beams_are_batch_invariant():
    model, b = tiny(eos_bias=1.0, seed=1), batch(4, seed=2)
    greedy = collect(TokenDecoder(model), b, Decoding(temperature=0.0, max_tokens=24))
    one = collect(TokenDecoder(model), b, Decoding(method="beam", beams=1, temperature=0.0, max_tokens=24))
    assert one == greedy
    four = TokenDecoder(model).generate(b, Decoding(method="beam", beams=4, temperature=0.0, max_tokens=24))
    for r in range(4):
        alone = Batch(b.src[r:r + 1], b.src_lengths[r:r + 1], b.seeds[r:r + 1])
        got = TokenDecoder(model).generate(alone, Decoding(method="beam", beams=4, temperature=0.0, max_tokens=24))
        assert got[0].tolist() == four[r].tolist()
        assert four[r][-1] == EOS


def _logprob(model: TokenTransformer, src: torch.Tensor, length: torch.Tensor, tokens: np.ndarray) -> float:
    tgt = torch.tensor([[model.cfg.bos, *tokens[:-1].tolist()]])
    with torch.no_grad():
        logp = model(src[None], length[None], tgt, torch.tensor([tgt.shape[1]]))[0].log_softmax(-1)
    return float(logp[torch.arange(len(tokens)), torch.tensor(tokens)].sum())


def test_beam_finds_a_hypothesis_at_least_as_good_as_greedy():
    model, b = tiny(eos_bias=1.0, seed=1), batch(4, seed=2)
    greedy = TokenDecoder(model).generate(b, Decoding(temperature=0.0, max_tokens=60))
    beam = TokenDecoder(model).generate(b, Decoding(method="beam", beams=4, temperature=0.0, max_tokens=60))
    better = 0
    for r in range(4):
        g = _logprob(model, b.src[r], b.src_lengths[r], greedy[r]) / len(greedy[r])
        s = _logprob(model, b.src[r], b.src_lengths[r], beam[r]) / len(beam[r])
        assert s >= g - 1e-4
        better += s > g + 1e-4
    assert better >= 1  # beam search changed something on this fixture


@pytest.mark.parametrize("method", ["greedy", "sample", "speculative", "beam"])
def test_the_bound_is_an_error_with_the_partial_tokens(method):
    model, b = tiny(eos_bias=-20.0), batch(2)
    opts = Decoding(method=method, temperature=0.0 if method in ("greedy", "beam") else 1.0, max_tokens=7,
                    beams=2 if method == "beam" else 1, draft=2)
    with pytest.raises(DecodeLimitError, match="did not end within 7 tokens") as err:
        TokenDecoder(model).generate(b, opts)
    lengths = [len(r) for r in err.value.tokens]
    assert all(EOS not in r for r in err.value.tokens)  # no row ended (padding after a row is not its EOS)
    if method == "speculative":  # rows advance at their own pace: the loop stops when one reaches the bound
        assert max(lengths) == 7 and min(lengths) < 7
    else:
        assert lengths == [7, 7]
    with pytest.raises(DecodeLimitError, match="exceeds this model's 63 target positions"):
        TokenDecoder(model).generate(b, Decoding(max_tokens=64))


@pytest.mark.parametrize("method", ["greedy", "sample", "speculative", "beam"])
def test_min_tokens_keeps_eos_away(method):
    """A model that ends at once (a strong EOS bias) says at least min_tokens tokens before its EOS."""
    model, b = tiny(eos_bias=6.0), batch(2)
    opts = Decoding(method=method, temperature=0.0 if method in ("greedy", "beam") else 1.0, max_tokens=30,
                    beams=2 if method == "beam" else 1, draft=2)
    assert all(len(r) == 1 for r in collect(TokenDecoder(model), b, opts))  # EOS first, without a floor
    out = collect(TokenDecoder(model), b, replace(opts, min_tokens=5))
    assert all(len(r) == 6 and r[-1] == EOS and EOS not in r[:-1] for r in out)
