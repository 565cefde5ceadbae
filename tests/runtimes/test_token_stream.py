"""Token streaming below the engine: the decoder hands over each row's new tokens at every host read (the same
tokens and graphs as `generate`, beam search once at its end), and a `CodeStream` turns tokens that arrive in
any pieces into the codec's audio, chunk by chunk, equal to the whole decode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from encodec_cases import META, SNR_MIN_DB, snr_db
from test_token_decoding import EOS, batch, tiny
from test_token_runtimes import model as runtime_model

from sonorant.config import Decoding
from sonorant.errors import ConfigError, DecodeLimitError, TokenError
from sonorant.models.base import TokenSpec
from sonorant.runtimes.token_decoding import DecodeStats, TokenDecoder
from sonorant.runtimes.token_stream import CodeStream
from sonorant.runtimes.tokens import GraphRunner, TokenRuntime
from sonorant.voices.encodec import load_codec

METHODS = {  # each with a tiny model (EOS bias, seed) whose rows end at different lengths, one at the bound
    "greedy": (Decoding(temperature=0.0, max_tokens=40), 0.0, 9),
    "sample": (Decoding(method="sample", temperature=1.0, top_k=6, top_p=0.9, max_tokens=40), -0.5, 5),
    "speculative": (Decoding(method="speculative", temperature=1.0, draft=3, max_tokens=40), -0.5, 8),
    "speculative-greedy": (Decoding(method="speculative", temperature=0.0, draft=3, max_tokens=40), 0.0, 9),
    "beam": (Decoding(method="beam", beams=2, max_tokens=40), 0.0, 5),
}


def generated(dec: TokenDecoder, b, opts: Decoding) -> tuple[list[list[int]], bool]:
    """Every row's tokens from `generate`, and whether a row hit the bound."""
    try:
        return [r.tolist() for r in dec.generate(b, opts)], False
    except DecodeLimitError as err:
        return [r.tolist() for r in err.tokens], True


def joined(reads: list[list[list[int]]], r: int) -> list[int]:
    """Row r's tokens over every read."""
    return [t for read in reads for t in read[r]]


def streamed(dec: TokenDecoder, b, opts: Decoding, stats: DecodeStats | None = None
             ) -> tuple[list[list[list[int]]], bool]:
    """Every read's new tokens per row from `stream`, and whether it raised the bound's error (whose tokens
    must be what the reads gave)."""
    reads: list[list[list[int]]] = []
    try:
        for new in dec.stream(b, opts, stats):
            reads.append([t.tolist() for t in new])
    except DecodeLimitError as err:
        rows = [joined(reads, r) for r in range(len(err.tokens))]
        assert rows == [t.tolist() for t in err.tokens]
        return reads, True
    return reads, False


@pytest.mark.parametrize("method", list(METHODS))
def test_stream_gives_generates_tokens_read_by_read(method: str) -> None:
    """Rows that end at different times get exactly `generate`'s tokens, read by read while the loop runs
    (beam: once, at its end); the stream runs no graph shape `generate` did not."""
    opts, eos_bias, seed = METHODS[method]
    model, b = tiny(eos_bias=eos_bias, seed=seed), batch(4, seed=2)
    runner = GraphRunner("eager")
    dec = TokenDecoder(model, run=runner, sync_every=4)
    want, bounded = generated(dec, b, opts)
    shapes = set(runner.signatures)
    stats = DecodeStats()
    reads, raised = streamed(dec, b, opts, stats)
    assert raised == bounded
    assert [joined(reads, r) for r in range(4)] == want
    assert runner.signatures == shapes
    lengths = [len(w) if w[-1] == EOS else -len(w) for w in want]  # negative: cut by the bound
    print(f"{method}: rows {lengths}, {len(reads)} reads of {stats.host_reads} host reads")
    assert len({abs(n) for n in lengths}) >= 3 and max(lengths) > 10  # rows of different lengths, some ended
    if method == "speculative-greedy":
        assert want == generated(TokenDecoder(model), b, METHODS["greedy"][0])[0]
    if method == "beam":
        assert len(reads) == 1
        return
    for r, row in enumerate(want):  # a long row's tokens come over several reads, none after its EOS
        got = [read[r] for read in reads]
        assert sum(1 for t in got if t) >= min(3, -(-len(row) // 4))
        ended = [i for i, t in enumerate(got) if t and t[-1] == EOS]
        assert not any(got[ended[0] + 1:]) if ended else row[-1] != EOS
    if method in ("greedy", "sample"):  # one read per block of sync_every (4) steps
        assert len(reads) == -(-max(abs(n) for n in lengths) // 4) and all(len(t) == 4 for t in reads[0] if t[-1] != EOS)


def test_stream_of_a_bounded_row_yields_its_tokens_then_raises() -> None:
    model, b = tiny(eos_bias=-20.0), batch(2)
    for opts in (Decoding(temperature=0.0, max_tokens=13), Decoding(method="speculative", draft=2, max_tokens=13)):
        reads, raised = streamed(TokenDecoder(model, sync_every=4), b, opts)
        assert raised and [len(joined(reads, r)) for r in range(2)] == [13, 13]
        assert len(reads) >= 3


def test_a_bad_bound_is_an_error_before_any_token() -> None:
    for method in ("greedy", "speculative", "beam"):
        with pytest.raises(DecodeLimitError, match="exceeds this model's 63 target positions"):
            next(TokenDecoder(tiny()).stream(batch(2), Decoding(method=method, max_tokens=64)))


def test_runtime_stream_drops_padding_rows() -> None:
    """Three sources run in the four-row bucket: each read has three rows, the bound's error three rows."""
    rt = TokenRuntime(runtime_model())
    src, seeds = [[3, 4, 5, 6], [7, 8, 9], [1, 2]], [1, 2, 3]
    opts = Decoding(method="sample", temperature=1.0)
    try:
        want = [t.tolist() for t in rt.generate(src, seeds, opts)]
    except DecodeLimitError as err:
        want = [t.tolist() for t in err.tokens[:3]]
    got: list[list[int]] = [[], [], []]
    try:
        for new in rt.stream_tokens(src, seeds, opts):
            assert len(new) == 3
            for r in range(3):
                got[r] += new[r].tolist()
    except DecodeLimitError as err:
        assert len(err.tokens) == 3
    assert got == want


# ---- CodeStream: tokens in any pieces -> the codec's audio -------------------------------------------------


@pytest.fixture(scope="module")
def encodec():
    return load_codec(META).eval()


def _spec(codec) -> TokenSpec:
    bins = codec.spec.bins
    return TokenSpec(vocab=bins + 2, bos=bins, eos=bins + 1, pad=bins + 1, src_pad=0, max_tokens=500,
                     codebooks=codec.spec.codebooks, bins=bins)


@pytest.mark.parametrize("splits", [(1,), (8,), (3, 5, 11)])
def test_code_stream_of_tokens_in_pieces_is_the_whole_decode(encodec, splits: tuple[int, ...]) -> None:
    """83 frames of random codes + a trailing half frame + EOS, fed in pieces of 1, 8 or 3/5/11 tokens: the
    chunks follow the schedule (16, 32, then what is left), the pieces concatenate to the whole decode."""
    spec = _spec(encodec)
    k, hop = spec.codebooks, encodec.spec.hop
    codes = np.random.default_rng(0).integers(0, spec.bins, size=(k, 83))  # [K, T]
    tokens = np.concatenate([codes.T.reshape(-1), [5], [spec.eos]])  # frame-major, an incomplete frame, EOS
    with torch.no_grad():
        whole = encodec.decode(torch.from_numpy(codes)[None])[0].numpy()
    stream = CodeStream(spec, encodec, torch.device("cpu"), [16, 32])
    pieces, start, i = [], 0, 0
    while start < len(tokens):
        n = splits[i % len(splits)]
        pieces += list(stream.feed(tokens[start:start + n]))
        start, i = start + n, i + 1
    assert [len(p) for p, _ in pieces] == [16 * hop, 32 * hop, 32 * hop, 3 * hop]
    assert [last for _, last in pieces] == [False, False, False, True] and stream.closed
    audio = np.concatenate([p for p, _ in pieces])
    assert audio.shape == whole.shape
    assert snr_db(whole, audio) >= SNR_MIN_DB and np.abs(audio - whole).max() < 1e-5
    assert list(stream.finish()) == []
    with pytest.raises(ConfigError, match="last codes"):
        list(stream.feed(np.array([1, 2])))


def test_code_stream_edges_and_bad_tokens(encodec) -> None:
    spec = _spec(encodec)
    hop = encodec.spec.hop
    # tokens that end exactly on a chunk's edge: the last piece is empty, flagged last (Encodec's first audio
    # needs 7 frames: chunks of 8)
    stream = CodeStream(spec, encodec, torch.device("cpu"), [8])
    first = list(stream.feed(np.arange(32) % 7))  # 16 frames: two chunks of 8
    assert [(len(p), last) for p, last in first] == [(8 * hop, False), (8 * hop, False)]
    assert [(len(p), last) for p, last in stream.feed(np.array([spec.eos]))] == [(0, True)]
    # no frame at all (EOS first): one empty last piece
    stream = CodeStream(spec, encodec, torch.device("cpu"), [4])
    assert [(len(p), last) for p, last in stream.feed(np.array([spec.eos]))] == [(0, True)]
    # a token that is not a code fails when its frame completes; tokens after EOS are refused
    with pytest.raises(TokenError, match="not codec codes"):
        CodeStream(spec, encodec, torch.device("cpu"), [4]).feed(np.array([1, spec.bins]))
    with pytest.raises(ConfigError, match="after EOS"):
        CodeStream(spec, encodec, torch.device("cpu"), [4]).feed(np.array([1, spec.eos, 2]))
    with pytest.raises(ConfigError, match="at least one frame"):
        CodeStream(spec, encodec, torch.device("cpu"), [0])


# ---- compile: the stream builds no graph after warm-up -----------------------------------------------------


@pytest.mark.slow
def test_compiled_stream_gives_eagers_tokens_and_builds_no_graph_after_warmup() -> None:
    """Greedy and seeded sampling share one step graph: after the warm-up, streaming them (other lengths in the
    id bucket, other seeds and settings; min_tokens keeps this model's strong EOS away for 3 reads) gives
    eager's tokens read by read, and dynamo compiles nothing more (about 90 s on 2 CPU cores)."""
    eager = TokenRuntime(runtime_model(), mode="eager")
    rt = TokenRuntime(runtime_model(), mode="compile")
    for opts in (Decoding(temperature=0.0), Decoding(method="sample", temperature=0.9, top_k=5)):
        rt.generate([[3, 4, 5, 6], [7, 8, 9]], [1, 2], opts, warmup=True)
    built = rt.graphs_compiled
    counters = torch._dynamo.utils.counters["stats"]
    before = counters["unique_graphs"]
    assert before > 0
    src, seeds = [[5, 6, 7, 8, 9, 10], [12, 13, 14, 15]], [11, 12]
    for opts in (Decoding(temperature=0.0, min_tokens=20),
                 Decoding(method="sample", temperature=1.0, top_k=6, top_p=0.9, min_tokens=20)):
        try:
            want = [t.tolist() for t in eager.generate(src, seeds, opts)]
        except DecodeLimitError as err:
            want = [t.tolist() for t in err.tokens[:2]]
        got: list[list[int]] = [[], []]
        reads = 0
        try:
            for new in rt.stream_tokens(src, seeds, opts):
                reads += 1
                for r in range(2):
                    got[r] += new[r].tolist()
        except DecodeLimitError:
            pass
        print(f"{opts.method}: rows of {[len(t) for t in want]} tokens in {reads} reads")
        assert got == want and reads >= 3
    assert rt.graphs_compiled == built
    assert counters["unique_graphs"] == before
