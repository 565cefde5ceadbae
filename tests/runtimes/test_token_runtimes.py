"""The token runtime on torch.compile and XLA: the same tokens as eager, and no graph built after warm-up
whatever the inputs (other lengths within the id bucket, seeds, sampling settings, speculative acceptances)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from sonorant.config import Decoding
from sonorant.errors import DecodeLimitError
from sonorant.models.base import CodecSpec
from sonorant.models.tokens import StackConfig, TokenModelConfig
from sonorant.models.tokens.model import TokenTransformer
from sonorant.models.tokens.voice import TokenVoiceModel
from sonorant.runtimes.tokens import TokenRuntime

VOCAB, EOS = 12, 11


class TableCodec(torch.nn.Module):
    """A codec for runtime tests only: code c -> a constant frame of value c / bins (hop samples)."""

    def __init__(self) -> None:
        super().__init__()
        self.spec = CodecSpec("table", 8000, 4, 1, 10, 1)

    def decode(self, codes: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return (codes[:, 0].float() / 10).repeat_interleave(4, dim=1)  # [b, T * hop]


def model() -> TokenVoiceModel:
    common = dict(dim=32, heads=4, head_dim=8, ffn_dim=40, ffn="geglu", gelu="exact", norm="rms", bias=False,
                  positions="rotary")
    cfg = TokenModelConfig(src_vocab=20, tgt_vocab=VOCAB,
                           encoder=StackConfig(layers=1, kv_heads=4, causal=False, **common),
                           decoder=StackConfig(layers=2, kv_heads=2, cross=True, null_kv=True, **common),
                           bos=10, eos=EOS, pad=EOS, start_vector=True, logits_bias=True, early_exit_layer=1,
                           max_target=48)
    torch.manual_seed(1)
    t = TokenTransformer(cfg).eval()
    with torch.no_grad():
        for p in t.parameters():
            p.normal_(0, 0.3)
        t.head_bias.zero_()
        t.head_bias[EOS] = 0.5
        t.head_bias[10] = -30.0
        t.exit_head.bias.zero_()
    return TokenVoiceModel("test", t, TableCodec(), max_tokens=40)


def tokens(rt: TokenRuntime, src, seeds, opts) -> list[list[int]]:
    try:
        return [t.tolist() for t in rt.generate(src, seeds, opts)]
    except DecodeLimitError as err:
        return [t.tolist()[:len(t)] for t in err.tokens]


METHODS = [Decoding(temperature=0.0), Decoding(method="sample", temperature=0.9, top_k=5),
           Decoding(method="speculative", temperature=0.0, draft=3)]
MODES = ["compile", pytest.param("xla", marks=pytest.mark.skipif(importlib.util.find_spec("torch_xla") is None,
                                                                   reason="needs torch-xla (the XLA lane)"))]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_same_tokens_as_eager_and_no_graph_after_warmup(mode: str) -> None:
    """Every method on XLA (the lane); on compile, greedy and sampling (their 2 graphs; each inductor build
    costs about a minute on 2 CPU cores, so the speculative graphs are left to the XLA lane)."""
    methods = METHODS if mode == "xla" else METHODS[:2]
    m = model()
    eager = TokenRuntime(m, mode="eager")
    rt = TokenRuntime(model(), mode=mode)
    first = [[3, 4, 5, 6], [7, 8, 9]]
    for opts in methods:  # warm-up: every graph of each method, for batches of 2 in the smallest id bucket
        rt.generate(first, [1, 2], opts, warmup=True)
    built = rt.graphs_compiled
    counters = torch._dynamo.utils.counters["stats"]
    compiled_before = counters["unique_graphs"] if mode == "compile" else _xla_compiles()
    assert compiled_before > 0  # the warm-up did build graphs
    later = [[1, 2, 3, 4, 5, 6, 7, 8], [9]]  # other lengths in the same id bucket, other seeds
    for opts in methods:
        assert tokens(rt, later, [11, 12], opts) == tokens(eager, later, [11, 12], opts)
    assert rt.graphs_compiled == built
    assert (counters["unique_graphs"] if mode == "compile" else _xla_compiles()) == compiled_before


def _xla_compiles() -> int:
    """XLA's count of graph compilations so far."""
    import torch_xla.debug.metrics as met

    data = met.metric_data("CompileTime")
    return int(data[0]) if data else 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("mode", ["eager", "compile"])
def test_cuda_gives_the_cpus_tokens(mode: str) -> None:
    """The same seeded tokens on a CUDA GPU as on the CPU, for every method (the draws are a function of seed
    and position; TF32 is off in the decoding loops)."""
    cpu = TokenRuntime(model(), mode="eager")
    gpu = TokenRuntime(model(), mode=mode, device="cuda")
    src = [[1, 2, 3, 4, 5, 6, 7, 8], [9]]
    for opts in METHODS:
        assert tokens(gpu, src, [11, 12], opts) == tokens(cpu, src, [11, 12], opts)
