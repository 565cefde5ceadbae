"""The torch.compile runtime: one graph per bucket built by warmup(), zero recompiles afterwards (counted
two ways), parity with eager, streaming and a multi-speaker voice; and the keyed compile cache."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tiny_voices import TinyVoice, sample_ids, snr_db
from torch._dynamo.utils import counters

import sonorant
from sonorant.engine import BucketConfig, Engine, StreamConfig, Utterance, bucket_size
from sonorant.runtimes import EagerRuntime, make_runtime
from sonorant.runtimes.cache import MANIFEST, CacheEntry
from sonorant.runtimes.compile import CompileRuntime
from sonorant.voices.piper import load_piper_model

pytestmark = pytest.mark.slow  # every graph is a C++ build: minutes on a small CPU

BUCKETS = BucketConfig(id_edges=(32, 64), frame_edges=(64, 128), max_batch=2)
STREAM = StreamConfig(first_frames=16, growth=2, max_frames=16)  # one window size
WARM_BATCHES = (2,)  # a single sentence runs padded to 2 rows: one set of graphs serves both


def _utterances(noise: bool) -> list[Utterance]:
    """22 sentences of 3..24 phonemes (9..51 ids), speakers 0, 1, 2 in turn."""
    return [Utterance(tuple(sample_ids(n, 500 + n)), 500 + n, (1.0, 0.667 if noise else 0.0, 0.8 if noise else 0.0),
                      n % 3) for n in range(3, 25)]


@pytest.fixture(scope="module")
def compiled(tiny_multi_speaker_voice: TinyVoice, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    model = load_piper_model(tiny_multi_speaker_voice.onnx_path)  # as a second process would load it
    cache_root = tmp_path_factory.mktemp("compile-cache")
    runtime = CompileRuntime(model, cache_dir=cache_root)
    engine = Engine(runtime, BUCKETS)
    start = time.perf_counter()
    engine.warmup(WARM_BATCHES, STREAM)
    seconds = time.perf_counter() - start
    print(f"compile warmup: {dict(runtime.graphs)} graphs in {seconds:.1f} s")
    return SimpleNamespace(model=model, runtime=runtime, engine=engine, eager=Engine(EagerRuntime(model)),
                           cache_root=cache_root)


def test_warmup_builds_one_graph_per_bucket(compiled: SimpleNamespace) -> None:
    rt = compiled.runtime
    # Per batch size: encode per id bucket, frames per frame bucket (any id bucket), vocode per frame
    # bucket and per streaming window size (STREAM has one: 16 frames + context on both sides).
    assert dict(rt.graphs) == {"encode": len(BUCKETS.id_edges), "frames": len(BUCKETS.frame_edges),
                               "vocode": len(BUCKETS.frame_edges) + 1}
    assert rt.cache_dir.parent == compiled.cache_root and (rt.cache_dir / MANIFEST).is_file()
    assert any(rt.cache_dir.glob("fxgraph/**/*")), "inductor's FX graph cache was not written under cache_dir"


def test_zero_recompiles_after_warmup(compiled: SimpleNamespace, caplog: pytest.LogCaptureFixture) -> None:
    rt, engine = compiled.runtime, compiled.engine
    utts = _utterances(noise=True)
    eager = compiled.eager.synthesize(utts)
    frames = [len(a) // compiled.model.hop_length for a in eager]
    id_buckets = {bucket_size(len(u.ids), BUCKETS.id_edges) for u in utts}
    frame_buckets = {bucket_size(f, BUCKETS.frame_edges) for f in frames}
    # The sentences cover every warmed bucket, and no more (else a compile would be expected).
    assert len({len(u.ids) for u in utts}) >= 20
    assert id_buckets == set(BUCKETS.id_edges) and frame_buckets == set(BUCKETS.frame_edges), (id_buckets, frames)

    graphs, unique = rt.graphs_compiled, counters["stats"]["unique_graphs"]
    with torch._dynamo.config.patch(error_on_recompile=True):  # a guard failure raises
        alone = engine.synthesize(utts, max_batch=1)
        paired = engine.synthesize(utts, max_batch=2)
        streamed = [np.concatenate([s for s, _ in engine.stream(u, STREAM)]) for u in utts[::5]]
    assert rt.graphs_compiled == graphs, dict(rt.graphs)
    assert counters["stats"]["unique_graphs"] == unique
    for out in (alone, paired):
        assert [len(a) for a in out] == [len(a) for a in eager]
    assert all(len(s) == len(eager[i]) for s, i in zip(streamed, range(0, len(utts), 5)))

    # The count is live: a shape that was not warmed up compiles (and says so).
    with caplog.at_level(logging.WARNING, logger="sonorant.runtimes.compile"):
        rt.vocode(torch.zeros(1, rt.spec.channels, 24), torch.tensor([24]), None if not rt.spec.cond_channels else
                  torch.zeros(1, rt.spec.cond_channels, 1))
    assert rt.graphs_compiled == graphs + 1
    assert "after warmup" in caplog.text


# Parity with eager, batched == alone and stitched streams are checked for every family by the conformance
# suite (tests/conformance); this file keeps what is the compile runtime's own: graphs, caches, recompiles.


def test_multi_speaker_voice(compiled: SimpleNamespace) -> None:
    ids = tuple(sample_ids(12, 77))
    utts = [Utterance(ids, 5, (1.0, 0.0, 0.0), s) for s in range(3)]
    out = compiled.engine.synthesize(utts, max_batch=1)
    ref = compiled.eager.synthesize(utts)
    assert all(snr_db(a, b) >= 60.0 for a, b in zip(ref, out))
    n = min(len(a) for a in out)
    assert all(snr_db(out[0][:n], o[:n]) < 20.0 for o in out[1:])  # the speakers really differ


def test_second_runtime_loads_compiled_graphs_from_the_cache(compiled: SimpleNamespace) -> None:
    small = BucketConfig(id_edges=(32,), frame_edges=(128,), max_batch=2)
    hits, misses = counters["inductor"]["fxgraph_cache_hit"], counters["inductor"]["fxgraph_cache_miss"]
    again = CompileRuntime(compiled.model, cache_dir=compiled.cache_root)
    assert again.cache_dir == compiled.runtime.cache_dir
    again.warmup(small, WARM_BATCHES, ())
    assert dict(again.graphs) == {"encode": 1, "frames": 1, "vocode": 1}
    assert counters["inductor"]["fxgraph_cache_hit"] - hits == 3
    assert counters["inductor"]["fxgraph_cache_miss"] == misses
    u = Utterance(tuple(sample_ids(8, 3)), 3, (1.0, 0.0, 0.0), 1)
    (a,), (b,) = compiled.eager.synthesize([u]), Engine(again, small).synthesize([u])
    assert snr_db(a, b) >= 60.0


_REBUILD_SCRIPT = """
import json, sys
from torch._dynamo.utils import counters
from sonorant.engine import BucketConfig, Engine, Utterance
from sonorant.runtimes import EagerRuntime
from sonorant.runtimes.compile import CompileRuntime
from sonorant.voices.piper import load_piper_model
sys.path.insert(0, sys.argv[3])
from tiny_voices import sample_ids, snr_db
model = load_piper_model(sys.argv[1])
small = BucketConfig(id_edges=(32,), frame_edges=(64,), max_batch=2)
rt = CompileRuntime(model, cache_dir=sys.argv[2])
rt.warmup(small, (2,), ())
u = Utterance(tuple(sample_ids(6, 9)), 9, (1.0, 0.0, 0.0), 1)
(a,), (b,) = Engine(EagerRuntime(model)).synthesize([u]), Engine(rt, small).synthesize([u])
print(json.dumps({"snr": snr_db(a, b), "cache_dir": str(rt.cache_dir), "graphs": dict(rt.graphs),
                  "misses": counters["inductor"]["fxgraph_cache_miss"]}))
"""


def test_corrupt_compile_cache_is_rebuilt(compiled: SimpleNamespace, tiny_multi_speaker_voice: TinyVoice,
                                          tmp_path) -> None:  # noqa: ANN001
    """Every artifact of a built entry (FX graphs, AOT entries, kernel libraries) replaced by garbage:
    the next process notices, empties the entry, rebuilds, and its audio still matches eager. (A copy
    of the module's warmed cache, so nothing is compiled twice just to be corrupted.)"""
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = tmp_path / "cache"
    shutil.copytree(compiled.cache_root, root)
    entry = root / compiled.runtime.cache_dir.name
    artifacts = [p for p in entry.rglob("*") if p.is_file() and p.name != MANIFEST]
    assert any(p.suffix == ".so" for p in artifacts) and any("fxgraph" in p.parts for p in artifacts)
    for p in artifacts:  # replaced (new inodes), as another process would find them
        garbage = p.with_name(p.name + ".garbage")
        garbage.write_bytes(b"\x00not what was built")
        os.replace(garbage, p)
    tests_voices = str(Path(__file__).parents[1] / "voices")
    proc = subprocess.run([sys.executable, "-c", _REBUILD_SCRIPT, str(tiny_multi_speaker_voice.onnx_path),
                           str(root), tests_voices], capture_output=True, text=True, timeout=3000)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["cache_dir"] == str(entry) and result["misses"] >= 3  # built again, not loaded
    assert result["graphs"] == {"encode": 1, "frames": 1, "vocode": 1} and result["snr"] >= 60.0


# --- cache keys (no compiling) --------------------------------------------------------------------


def test_cache_key_separates_models_and_options(tiny_piper_voices, tmp_path) -> None:  # noqa: ANN001
    x_low, multi = tiny_piper_voices["x_low"].model, tiny_piper_voices["multi"].model
    base = CompileRuntime(x_low, cache_dir=tmp_path)
    assert CompileRuntime(x_low, cache_dir=tmp_path).cache_dir == base.cache_dir
    others = [CompileRuntime(multi, cache_dir=tmp_path),
              CompileRuntime(x_low, cache_dir=tmp_path, options={"freezing": True}),
              CompileRuntime(x_low, cache_dir=tmp_path, mode="max-autotune-no-cudagraphs"),
              CompileRuntime(x_low, cache_dir=tmp_path, precision="bf16")]
    dirs = {o.cache_dir for o in others}
    assert base.cache_dir not in dirs and len(dirs) == len(others)
    changed = type(x_low)(x_low.cfg)
    changed.load_state_dict(x_low.state_dict())
    with torch.no_grad():
        changed.enc_p.emb.weight[5, 0] += 1e-3
    assert CompileRuntime(changed, cache_dir=tmp_path).cache_dir != base.cache_dir
    with pytest.raises(sonorant.ConfigError):
        make_runtime("compile", x_low, mode="no-such-mode")


def test_cache_entry_with_a_bad_manifest_is_emptied(tmp_path) -> None:  # noqa: ANN001
    entry = CacheEntry(tmp_path, {"model": "a", "shape": [1, 32]})
    path = entry.open()
    (path / "artifact.bin").write_bytes(b"built for a")
    assert CacheEntry(tmp_path, {"shape": [1, 32], "model": "a"}).open() == path  # same fields, any order
    assert (path / "artifact.bin").is_file()
    (path / MANIFEST).write_text("{ truncated")
    assert CacheEntry(tmp_path, {"model": "a", "shape": [1, 32]}).open() == path
    assert not (path / "artifact.bin").exists() and (path / MANIFEST).is_file()
    assert CacheEntry(tmp_path, {"model": "b", "shape": [1, 32]}).path != path
