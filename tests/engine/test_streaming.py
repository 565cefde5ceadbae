"""Sub-sentence streaming: windows tile the sentence, context covers the receptive field, and the
stitched stream equals the whole-sentence decode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sonorant
from sonorant.engine import StreamConfig
from sonorant.engine.streaming import MIN_SPLIT_CORE, Window, split_windows, windows
from sonorant.models.vits import Vits, VitsConfig
from sonorant.models.vits.spec import decoder_reach as decoder_context_frames
from sonorant.models.vits.spec import flow_reach as flow_context_frames


def _snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    err = float(np.sum((ref - test) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(float(np.sum(ref**2)) / err)


@pytest.mark.parametrize("n", [1, 15, 16, 17, 100, 1000])
def test_window_cores_tile_the_sentence(n: int) -> None:
    ws = list(windows(n, 13, StreamConfig(first_frames=16, growth=2, max_frames=128)))
    assert ws[0].core_start == 0 and ws[-1].core_stop == n
    assert all(a.core_stop == b.core_start for a, b in zip(ws, ws[1:]))
    assert all(w.start == max(0, w.core_start - 13) and w.stop == min(n, w.core_stop + 13) for w in ws)
    assert all(w.stop - w.start <= w.size for w in ws)
    cores = [w.core_stop - w.core_start for w in ws]
    assert cores[0] == min(16, n) and max(cores) <= 128


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 8])
def test_split_windows_are_exact_pieces_of_the_windows(rows: int) -> None:
    n, context = 700, 13
    ws = list(windows(n, context, StreamConfig(first_frames=16, growth=2, max_frames=256)))
    parts = split_windows(ws, context, rows)
    assert [i for i, _ in parts] == sorted(i for i, _ in parts)  # in order, grouped by window
    for i, w in enumerate(ws):
        mine = [p for j, p in parts if j == i]
        assert mine[0].core_start == w.core_start and mine[-1].core_stop == w.core_stop
        assert all(a.core_stop == b.core_start for a, b in zip(mine, mine[1:]))  # cores tile the window's core
        for p in mine:  # inside the window, with full context or the window's own edge on each side
            assert w.start <= p.start and p.stop <= w.stop
            assert p == w if len(mine) == 1 else p.size == p.stop - p.start
            assert p.start == w.start or context <= p.core_start - p.start <= 2 * context  # more context: as exact
            assert p.stop == w.stop or context <= p.stop - p.core_stop <= 2 * context
            assert len(mine) == 1 or p.core_stop - p.core_start >= MIN_SPLIT_CORE
    assert len(parts) == max(len(ws), rows)  # 700 frames hold enough long windows for 8 rows
    whole = Window(0, 301, 0, 301, 301)  # an odd sentence split in two: equal widths, no padding needed
    (_, a), (_, b) = split_windows([whole], context, 2)
    assert a.stop - a.start == b.stop - b.start and a.core_stop == b.core_start


def test_split_windows_leaves_short_windows_whole() -> None:
    short = Window(0, 140, 0, 127, 140)  # a core under 2 x MIN_SPLIT_CORE: halves would cost more than they gain
    assert split_windows([short], 13, 4) == [(0, short)]
    long = Window(0, 2 * MIN_SPLIT_CORE, 0, 2 * MIN_SPLIT_CORE, 2 * MIN_SPLIT_CORE)
    assert len(split_windows([long], 13, 4)) == 2


@pytest.mark.parametrize(
    "resblock, kernels, dilations",
    [("2", (3, 5, 7), ((1, 2), (2, 6), (3, 12))), ("1", (3, 7, 11), ((1, 3, 5),) * 3)],
)
def test_context_covers_the_decoders_receptive_field(resblock: str, kernels: tuple, dilations: tuple) -> None:
    cfg = VitsConfig(n_vocab=10, inter_channels=8, upsample_initial_channel=16, resblock=resblock,
                     resblock_kernel_sizes=kernels, resblock_dilation_sizes=dilations,
                     upsample_rates=(8, 8, 4), upsample_kernel_sizes=(16, 16, 8))
    torch.manual_seed(0)
    dec = Vits(cfg).dec.eval()
    z = torch.randn(1, 8, 80)
    frames = torch.tensor([80])
    with torch.inference_mode():
        base = dec(z, frames)
        bumped = z.clone()
        bumped[:, :, 40] += 1.0
        moved = (dec(bumped, frames) - base).abs()[0].reshape(80, cfg.hop_length).amax(dim=1)
    touched = torch.nonzero(moved > 0).flatten()
    reach = int(max(40 - touched.min(), touched.max() - 40))
    assert 0 < reach <= decoder_context_frames(cfg)


def test_stitched_stream_equals_full_sentence(joe: sonorant.Voice) -> None:
    text = "Streaming must give back the very same samples, window after window, to the end. Then one more."
    cfg = sonorant.SynthesisConfig(seed=3, sentence_silence=0.05)
    full = joe.synthesize(text, cfg).samples
    chunks = list(joe.stream(text, cfg))
    stitched = np.concatenate([c.samples for c in chunks])
    assert len(stitched) == len(full)
    assert _snr_db(full, stitched) >= 40.0
    first_sentence = [c for c in chunks if c.sentence_index == 0]
    assert len(first_sentence) >= 3, "a sentence should arrive in several windows"
    assert len(chunks[0].samples) == 16 * joe.model.hop_length, "the first window is small"
    assert [c.is_last for c in chunks].count(True) == 1 and chunks[-1].is_last


def test_synthesize_batch_equals_one_by_one(joe: sonorant.Voice) -> None:
    texts = ["Short one.", "A somewhat longer text, with a clause. And a second sentence!", "Third."]
    cfg = sonorant.SynthesisConfig(seed=9)
    batch = joe.synthesize_batch(texts, cfg)
    for text, audio in zip(texts, batch):
        alone = joe.synthesize(text, cfg).samples
        assert len(alone) == len(audio.samples)
        assert float(np.max(np.abs(alone - audio.samples))) <= 1e-4
    with pytest.raises(sonorant.TextError):
        joe.synthesize_batch("not a list")
    with pytest.raises(sonorant.TextError):
        joe.synthesize_batch(["fine", "  "])


def test_flow_context_covers_the_flows_receptive_field() -> None:
    cfg = VitsConfig(n_vocab=10, inter_channels=8, hidden_channels=8, flow_hidden_channels=8, filter_channels=16,
                     flow_kernel_size=5, flow_dilation_rate=2, flow_n_layers=3, n_flows=2)
    torch.manual_seed(0)
    flow = Vits(cfg).flow.eval()
    for p in flow.parameters():  # the last WaveNet layer is zero at init in training code; make every path live
        torch.nn.init.normal_(p, std=0.3)
    z = torch.randn(1, 8, 120)
    mask = torch.ones(1, 1, 120)
    with torch.inference_mode():
        base = flow(z, mask, None)
        bumped = z.clone()
        bumped[:, :, 60] += 1.0
        moved = (flow(bumped, mask, None) - base).abs()[0].amax(dim=0)
    touched = torch.nonzero(moved > 0).flatten()
    reach = int(max(60 - touched.min(), touched.max() - 60))
    assert 0 < reach <= flow_context_frames(cfg)


def test_stream_plans_sentences_as_it_reaches_them(joe: sonorant.Voice, monkeypatch: pytest.MonkeyPatch) -> None:
    from sonorant.text.pipeline import TextPipeline

    planned: list[str] = []
    original = TextPipeline._plan_unit

    def counting(self, unit, sentence_index):  # noqa: ANN001, ANN202
        planned.append(unit.pieces[0].source)
        return original(self, unit, sentence_index)

    monkeypatch.setattr(TextPipeline, "_plan_unit", counting)
    text = "First sentence here. Second one. Third one. Fourth one. Fifth and last."
    stream = joe.stream(text, sonorant.SynthesisConfig(seed=1))
    first = next(stream)
    assert first.sentence_index == 0
    assert len(planned) <= 2, f"only the first sentence (and one held for its pause) is planned: {planned}"
    rest = list(stream)
    assert len(planned) == 5 and rest[-1].is_last and rest[-1].sentence_index == 4


def test_sentences_deep_into_a_stream_get_equal_large_windows(joe: sonorant.Voice) -> None:
    text = ("The first sentence runs for well over a second of audio before it ends. "
            "So the second one is decoded in a few large windows instead of many small ones.")
    cfg = sonorant.SynthesisConfig(seed=5)
    schedule = StreamConfig()
    full = joe.synthesize(text, cfg).samples
    relaxed = list(joe.stream(text, cfg, schedule))
    strict = list(joe.stream(text, cfg, StreamConfig(relax_after_s=float("inf"))))  # small-first for every sentence
    for chunks in (relaxed, strict):
        stitched = np.concatenate([c.samples for c in chunks])
        assert len(stitched) == len(full) and _snr_db(full, stitched) >= 40.0
    assert sum(len(c.samples) for c in relaxed if c.sentence_index == 0) >= schedule.relax_after_s * joe.sample_rate
    frames = sum(len(c.samples) for c in relaxed if c.sentence_index == 1) // joe.model.hop_length  # last: no silence
    context = decoder_context_frames(joe.model.cfg)
    small_first = len(list(windows(frames, context, schedule)))
    bulk = len(list(windows(frames, context, schedule.bulk())))
    assert bulk < small_first, (frames, bulk, small_first)  # the sentence is long enough to tell them apart
    assert sum(c.sentence_index == 1 for c in relaxed) == bulk
    assert sum(c.sentence_index == 1 for c in strict) == small_first
    assert len(relaxed[0].samples) == 16 * joe.model.hop_length, "the first sentence still starts small"
