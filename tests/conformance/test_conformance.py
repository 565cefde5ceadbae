"""One conformance suite for every family x runtime: what the engine promises must hold for each model
family on each runtime, phrased only in the family contract's terms (`sonorant.models.base`).

- batched, padded and bucketed synthesis equals synthesizing each utterance alone (<= 1e-4, identical
  lengths);
- a stitched stream equals the whole sentence (>= 60 dB SNR, identical length);
- every runtime matches eager PyTorch (>= 60 dB, identical lengths);
- a compiling runtime builds nothing after its warm-up.

The compile runtime's cases are marked `slow` (its warm-up builds C++ per graph: minutes per family here),
so the default suite runs eager and onnx and `python -m pytest -m slow` (CI's slow lane) runs compile.

Where torch-xla is installed (the XLA lane, `.ci/xla-lane`: torch 2.9 + torch-xla on XLA:CPU) the suite
runs the xla runtime instead of onnx and compile. TensorRT cannot be installed here: its runtime shares the
stage graphs and profiles tested in `tests/runtimes/test_tensorrt.py`, and its engine runs stay unrun.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest
from families import CASES, FamilyCase
from tiny_voices import snr_db

from sonorant.engine import BucketConfig, Engine, StreamConfig
from sonorant.runtimes import EagerRuntime, make_runtime

BUCKETS = BucketConfig(id_edges=(16, 64), frame_edges=(64, 256), max_batch=5)
STREAM = StreamConfig(first_frames=8, growth=2, max_frames=32)
HAVE_XLA = importlib.util.find_spec("torch_xla") is not None
RUNTIMES = ("xla",) if HAVE_XLA else ("onnx", "compile")
COMPILING = "xla" if HAVE_XLA else "compile"
"""The runtime that builds graphs per shape (and must build none after its warm-up)."""


@pytest.fixture(scope="module", params=list(CASES))
def case(request: pytest.FixtureRequest, tiny_piper_voices: Any) -> FamilyCase:
    factory = CASES[request.param]
    return factory(tiny_piper_voices) if request.param == "vits" else factory()


@pytest.fixture(scope="module")
def alone(case: FamilyCase) -> list[np.ndarray]:
    """Each utterance synthesized by itself, eagerly: the reference."""
    engine = Engine(EagerRuntime(case.model))
    return [engine.run_batch([u])[0] for u in case.utterances]


_ENGINES: dict[tuple[str, str], Engine] = {}

SLOW = {"compile": pytest.mark.slow}
"""Runtimes whose cases run only with `-m slow`: compile's warm-up is a C++ build per graph (minutes per
family on 2 cores); the XLA lane's xla cases always run."""


def _runtimes(*names: str) -> list[Any]:
    return [pytest.param(n, marks=SLOW[n]) if n in SLOW else n for n in names]


class _LazyEngines:
    """An engine per runtime for one family, built (and, if it compiles, warmed up for the buckets) on first
    use, so a deselected runtime costs nothing."""

    def __init__(self, case: FamilyCase, tmp: pytest.TempPathFactory) -> None:
        self.case, self.tmp = case, tmp

    def __getitem__(self, name: str) -> Engine:
        key = (self.case.name, name)
        if key not in _ENGINES:
            if name == "eager":
                _ENGINES[key] = Engine(EagerRuntime(self.case.model), BUCKETS)
                return _ENGINES[key]
            options: dict[str, Any] = {} if name == "xla" else {"cache_dir": self.tmp.mktemp(f"{self.case.name}-{name}")}
            engine = Engine(make_runtime(name, self.case.model, **options), BUCKETS)
            engine.warmup(batch_sizes=(BUCKETS.max_batch,), stream=STREAM)  # smaller batches are padded to it
            _ENGINES[key] = engine
        return _ENGINES[key]


@pytest.fixture(scope="module")
def engines(case: FamilyCase, tmp_path_factory: pytest.TempPathFactory) -> _LazyEngines:
    """The engines of this family's runtimes (built on first use)."""
    return _LazyEngines(case, tmp_path_factory)


def test_the_case_exercises_the_contract(case: FamilyCase, alone: list[np.ndarray]) -> None:
    spec = case.model.spec
    if spec.decoder is None:  # the autoregressive case is DLE's single-speaker Tacotron2
        assert spec.multi_speaker and len({u.speaker_id for u in case.utterances}) == 3
    assert all(len(a) > 0 and len(a) % spec.hop == 0 for a in alone)
    assert len({len(a) for a in alone}) == len(alone)  # every utterance its own length: padding is exercised
    assert max(len(a) for a in alone) // spec.hop > BUCKETS.frame_edges[0]  # the second frame bucket is used
    assert all(np.isfinite(a).all() and np.abs(a).max() > 0 for a in alone)


@pytest.mark.parametrize("runtime", _runtimes("eager", COMPILING))
def test_batched_padded_bucketed_equals_alone(case: FamilyCase, alone: list[np.ndarray], engines: _LazyEngines,
                                             runtime: str) -> None:
    engine = engines[runtime]
    batched = engine.synthesize(case.utterances, max_batch=BUCKETS.max_batch)
    reference = alone if runtime == "eager" else [engine.run_batch([u])[0] for u in case.utterances]
    assert [len(a) for a in batched] == [len(a) for a in reference]
    worst = max(float(np.abs(a - b).max()) for a, b in zip(batched, reference))
    print(f"{case.name} {runtime}: batched vs alone max abs diff {worst:.2e}")
    assert worst <= 1e-4


@pytest.mark.parametrize("runtime", _runtimes(*RUNTIMES))
def test_runtime_matches_eager(case: FamilyCase, alone: list[np.ndarray], engines: _LazyEngines,
                               runtime: str) -> None:
    out = engines[runtime].synthesize(case.utterances, max_batch=BUCKETS.max_batch)
    assert [len(a) for a in out] == [len(a) for a in alone]
    snrs = [snr_db(a, b) for a, b in zip(alone, out)]
    print(f"{case.name} {runtime} vs eager: min SNR {min(snrs):.1f} dB")
    assert min(snrs) >= 60.0


@pytest.mark.parametrize("runtime", _runtimes("eager", *RUNTIMES))
def test_stitched_stream_equals_whole_sentence(case: FamilyCase, alone: list[np.ndarray], engines: _LazyEngines,
                                               runtime: str) -> None:
    engine = engines[runtime]
    for utt, whole in list(zip(case.utterances, alone))[-2:]:  # the two longest: several windows each
        pieces = list(engine.stream(utt, STREAM))
        assert len(pieces) > 2 and pieces[-1][1] and not any(last for _, last in pieces[:-1])
        stitched = np.concatenate([p for p, _ in pieces])
        assert len(stitched) == len(whole)
        assert snr_db(whole, stitched) >= 60.0, (case.name, runtime, snr_db(whole, stitched))


def _graphs_built(engine: Engine) -> int:
    if engine.runtime.name == "xla":
        import torch_xla.debug.metrics as met

        data = met.metric_data("CompileTime")
        return int(data[0]) if data else 0
    return engine.runtime.graphs_compiled


@pytest.mark.parametrize("runtime", _runtimes(COMPILING))
def test_no_graph_is_built_after_warmup(runtime: str, case: FamilyCase, engines: _LazyEngines) -> None:
    engine = engines[runtime]
    before = _graphs_built(engine)
    engine.synthesize(case.utterances, max_batch=BUCKETS.max_batch)
    engine.synthesize(case.utterances[:3], max_batch=2)
    for utt in case.utterances[-2:]:
        list(engine.stream(utt, STREAM))
    assert _graphs_built(engine) == before
