"""The cross-request scheduler: concurrent requests share passes and still get exactly their own audio,
first audio jumps the queue, cancelled work stops, full queues refuse, failed passes fail only their
requests."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

import sonorant
from sonorant.engine.scheduler import BlockingSink, Scheduler, SchedulerBusy, SchedulerConfig, Ticket
from sonorant.engine.streaming import windows


class Recorder:
    """Observer that records passes and can hold the worker at its next pass."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, int, int]] = []
        self.finished: list[Ticket] = []
        self.hold: threading.Event | None = None

    def on_batch(self, stage: str, rows: int, requests: int, frames: int, seconds: float) -> None:
        self.batches.append((stage, rows, requests))
        if self.hold is not None:
            self.hold.wait(30)

    def on_piece(self, ticket: Ticket, index: int, samples: int) -> None:
        pass

    def on_finish(self, ticket: Ticket) -> None:
        self.finished.append(ticket)


@pytest.fixture(scope="module")
def tiny(tiny_x_low_voice) -> sonorant.Voice:  # noqa: ANN001
    return sonorant.load_voice(tiny_x_low_voice.onnx_path)


def _submit(scheduler: Scheduler, voice: sonorant.Voice, text: str, cfg: sonorant.SynthesisConfig,
            streaming: bool, read: bool = True) -> tuple[Ticket, BlockingSink]:
    _, utts, gaps = voice.prepare(text, voice.resolve(cfg))
    sink = BlockingSink()
    ticket = scheduler.submit(voice.engine, utts, [int(round(g * voice.sample_rate)) for g in gaps],
                              sample_rate=voice.sample_rate, streaming=streaming, sink=sink)
    if read:
        sink.ticket = ticket
    return ticket, sink


def _wait(predicate, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


NEMO = Path(__file__).parent.parent / "fixtures" / "nemo"


DLE = Path(__file__).parent.parent / "fixtures" / "tacotron2"


@pytest.mark.parametrize("voice_name", ["tiny", "multi", "tiny-eager", "fastpitch", "tacotron2"])
def test_concurrent_requests_equal_synthesize(voice_name: str, tiny: sonorant.Voice, tiny_x_low_voice,
                                              tiny_multi_speaker_voice) -> None:  # noqa: ANN001
    """Through the default runtime (ONNX Runtime: numpy arrays) and the eager one (torch tensors), for VITS
    for FastPitch (whose frames stage attends globally: no streamed heads) and for Tacotron2 (autoregressive:
    its stage 1 decodes block by block)."""
    voice = {"tiny": lambda: tiny, "multi": lambda: sonorant.load_voice(tiny_multi_speaker_voice.onnx_path),
             "tiny-eager": lambda: sonorant.load_voice(tiny_x_low_voice.onnx_path, runtime="eager"),
             "fastpitch": lambda: sonorant.load_voice(NEMO / "fastpitch_tiny_multi.nemo",
                                                      vocoder=NEMO / "hifigan_tiny_v3.nemo"),
             "tacotron2": lambda: sonorant.load_voice(DLE / "tacotron2_tiny.pt", vocoder=DLE / "waveglow_tiny.pt",
                                                      runtime="eager")}[voice_name]()
    texts = ["Hello there. How are you today?", "A longer text, with a clause or two, that goes on for a while. "
             "And then another sentence follows it.", "Short.", "Numbers like 42 and the date 3 May 2021."]
    recorder = Recorder()
    scheduler = Scheduler(SchedulerConfig(batch_wait_ms=100, max_batch=4, max_step_ms=10_000), recorder)
    scheduler.start()
    try:
        jobs = []
        for i, text in enumerate(texts):
            for streaming in (True, False):
                speaker = i % 3 if voice.num_speakers > 1 else None
                cfg = sonorant.SynthesisConfig(seed=10 + i, sentence_silence=0.1, speaker=speaker)
                jobs.append((text, cfg) + _submit(scheduler, voice, text, cfg, streaming))
        for text, cfg, ticket, sink in jobs:
            got = sink.audio()
            ref = voice.synthesize(text, cfg).samples
            assert len(got) == len(ref)
            assert float(np.max(np.abs(got - ref))) <= 1e-4, f"request {ticket.id} differs from synthesize"
            assert ticket.status == "done" and ticket.frames_decoded == ticket.frames_total
    finally:
        scheduler.close()
    assert max(requests for _, _, requests in recorder.batches) >= 2, "no pass was shared between requests"
    assert scheduler.depth == 0


def test_joe_requests_batched_together_equal_synthesize(joe: sonorant.Voice) -> None:
    texts = ["The scheduler batches sentences.", "Different requests share one pass.", "A whole file, too."]
    recorder = Recorder()
    scheduler = Scheduler(SchedulerConfig(batch_wait_ms=2000, max_step_ms=10_000), recorder)  # slack for a slow prepare()
    scheduler.start()
    try:
        cfgs = [sonorant.SynthesisConfig(seed=40 + i) for i in range(len(texts))]
        jobs = [_submit(scheduler, joe, t, c, streaming=i < 2) for i, (t, c) in enumerate(zip(texts, cfgs))]
        for (ticket, sink), text, cfg in zip(jobs, texts, cfgs):
            got, ref = sink.audio(), joe.synthesize(text, cfg).samples
            assert len(got) == len(ref) and float(np.max(np.abs(got - ref))) <= 1e-4
    finally:
        scheduler.close()
    assert ("latent", 2, 2) in recorder.batches  # the two streams' first sentences, in one head pass
    assert any(stage == "rest" for stage, _, _ in recorder.batches), "the streams' heads were not completed"


def test_a_streams_later_sentences_get_equal_large_windows(joe: sonorant.Voice) -> None:
    text = ("The first sentence runs for well over a second of audio before it ends. "
            "So the second one is decoded in a few large windows instead of many small ones.")
    cfg = sonorant.SynthesisConfig(seed=6)
    config = SchedulerConfig()
    scheduler = Scheduler(config)
    scheduler.start()
    try:
        _, sink = _submit(scheduler, joe, text, cfg, streaming=True)
        pieces = list(sink)
    finally:
        scheduler.close()
    got = np.concatenate([p.samples for p in pieces])
    ref = joe.synthesize(text, cfg).samples
    assert len(got) == len(ref) and float(np.max(np.abs(got - ref))) <= 1e-4
    hop, context = joe.model.hop_length, joe.engine.context
    first, second = ([p for p in pieces if p.sentence == i] for i in (0, 1))
    assert sum(len(p.samples) for p in first) >= config.stream.relax_after_s * joe.sample_rate
    gap = _gap_after_first(joe, text, cfg)
    frames = [(sum(len(p.samples) for p in first) - gap) // hop, sum(len(p.samples) for p in second) // hop]
    assert len(first) == len(list(windows(frames[0], context, config.stream)))  # small first
    assert len(second) == len(list(windows(frames[1], context, config.stream.bulk())))
    assert len(second) < len(list(windows(frames[1], context, config.stream)))


def _decode_widths(voice: sonorant.Voice, max_padding: float, monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Input widths of the rows of every decode pass but first audio's (exempt from `max_padding`), for two
    whole-file requests of different lengths and two streams submitted together (windows of many widths
    are ready at once)."""
    seen: list[list[int]] = []
    run_decode = Scheduler._run_decode

    def spy(self, batch):  # noqa: ANN001, ANN202
        if batch[0].priority[0] != 0:
            seen.append([w.stop - w.start for w in (i.sentence.windows[i.window] for i in batch)])
        return run_decode(self, batch)

    monkeypatch.setattr(Scheduler, "_run_decode", spy)
    texts = ["One short line.", "A much longer sentence that keeps going, clause after clause, so that its "
             "latent spans many more frames than the first one does.", "Streams have small windows first.",
             "And this stream is longer than that one, by a good many words and frames."]
    scheduler = Scheduler(SchedulerConfig(batch_wait_ms=200, max_step_ms=10_000, max_padding=max_padding))
    scheduler.start()
    try:
        cfgs = [sonorant.SynthesisConfig(seed=70 + i) for i in range(len(texts))]
        jobs = [_submit(scheduler, voice, t, c, streaming=i >= 2) for i, (t, c) in enumerate(zip(texts, cfgs))]
        for (_, sink), text, cfg in zip(jobs, texts, cfgs):
            got, ref = sink.audio(), voice.synthesize(text, cfg).samples
            assert len(got) == len(ref) and float(np.max(np.abs(got - ref))) <= 1e-4
    finally:
        scheduler.close()
    return seen


def _padding(widths: list[int]) -> float:
    return 1.0 - sum(widths) / (max(widths) * len(widths))


def test_dynamic_shape_passes_batch_rows_of_similar_width(tiny: sonorant.Voice, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not tiny.engine.runtime.static_shapes
    loose = _decode_widths(tiny, 0.99, monkeypatch)  # any padding allowed: wide and narrow rows share passes
    assert max(_padding(w) for w in loose) > 0.15, "the workload never mixes widths; the check below could not fail"
    tight = _decode_widths(tiny, 0.15, monkeypatch)
    assert max(_padding(w) for w in tight) <= 0.15
    assert max(len(w) for w in tight) >= 2, "no decode pass was batched at all"


def _gap_after_first(voice: sonorant.Voice, text: str, cfg: sonorant.SynthesisConfig) -> int:
    """Samples of silence after the first sentence of `text`."""
    _, _, gaps = voice.prepare(text, voice.resolve(cfg))
    return int(round(gaps[0] * voice.sample_rate))


def test_first_audio_of_a_new_stream_goes_before_older_bulk_work(tiny: sonorant.Voice) -> None:
    recorder = Recorder()
    hold = recorder.hold = threading.Event()
    scheduler = Scheduler(SchedulerConfig(batch_wait_ms=0, max_step_ms=1), recorder)
    scheduler.start()
    try:
        long_text = " ".join(f"This is sentence {n} of a long whole-file request." for n in range(8))
        bulk, bulk_sink = _submit(scheduler, tiny, long_text, sonorant.SynthesisConfig(seed=1), streaming=False)
        _wait(lambda: len(recorder.batches) == 1)  # the bulk request's first pass ran and is held
        stream, stream_sink = _submit(scheduler, tiny, "A new stream.", sonorant.SynthesisConfig(seed=2), True)
        recorder.hold = None
        hold.set()
        stream_sink.audio()
        bulk_sink.audio()
    finally:
        hold.set()
        scheduler.close()
    assert stream.first_audio is not None and bulk.finished is not None
    assert stream.first_audio < bulk.finished


def test_cancel_stops_the_remaining_work(tiny: sonorant.Voice) -> None:
    scheduler = Scheduler(SchedulerConfig(max_step_ms=1))
    scheduler.start()
    try:
        text = " ".join(f"Sentence {n} of a request that is cancelled." for n in range(8))
        ticket, sink = _submit(scheduler, tiny, text, sonorant.SynthesisConfig(seed=3), streaming=True)
        first = next(iter(sink))
        ticket.cancel()
        _wait(lambda: ticket.done)
    finally:
        scheduler.close()
    assert len(first.samples) > 0
    assert ticket.status == "cancelled"
    # the latents of later sentences were never computed, or most of the frames were never decoded
    assert ticket.frames_total is None or ticket.frames_decoded < ticket.frames_total / 2
    assert scheduler.depth == 0


def test_full_queue_refuses_and_recovers(tiny: sonorant.Voice) -> None:
    recorder = Recorder()
    recorder.hold = threading.Event()
    hold = recorder.hold
    scheduler = Scheduler(SchedulerConfig(max_queue=2, batch_wait_ms=0), recorder)
    scheduler.start()
    try:
        a = _submit(scheduler, tiny, "First.", sonorant.SynthesisConfig(seed=4), False)
        b = _submit(scheduler, tiny, "Second.", sonorant.SynthesisConfig(seed=5), False)
        assert not scheduler.has_room()
        with pytest.raises(SchedulerBusy, match="limit 2"):
            _submit(scheduler, tiny, "Third.", sonorant.SynthesisConfig(seed=6), False)
        recorder.hold = None
        hold.set()
        for _, sink in (a, b):
            assert len(sink.audio()) > 0
        _wait(lambda: scheduler.depth == 0)
        c = _submit(scheduler, tiny, "Third.", sonorant.SynthesisConfig(seed=6), False)
        assert len(c[1].audio()) > 0
    finally:
        hold.set()
        scheduler.close()


def test_a_failing_pass_fails_only_its_requests(tiny: sonorant.Voice, tiny_x_low_voice) -> None:  # noqa: ANN001
    broken = sonorant.load_voice(tiny_x_low_voice.onnx_path)  # its own engine and runtime

    def vocode(*args, **kwargs):  # noqa: ANN002, ANN003
        raise RuntimeError("device lost")

    broken.engine.runtime.vocode = vocode
    scheduler = Scheduler(SchedulerConfig(batch_wait_ms=20))
    scheduler.start()
    try:
        bad = _submit(scheduler, broken, "This one fails.", sonorant.SynthesisConfig(seed=7), True)
        good = _submit(scheduler, tiny, "This one works.", sonorant.SynthesisConfig(seed=8), True)
        with pytest.raises(RuntimeError, match="device lost"):
            bad[1].audio()
        assert len(good[1].audio()) > 0
        assert bad[0].status == "failed" and good[0].status == "done" and scheduler.running
    finally:
        scheduler.close()


def test_close_ends_waiting_requests_with_an_error(tiny: sonorant.Voice) -> None:
    recorder = Recorder()
    hold = recorder.hold = threading.Event()
    scheduler = Scheduler(SchedulerConfig(batch_wait_ms=0), recorder)
    scheduler.start()
    ticket, sink = _submit(scheduler, tiny, "Never finished. " * 5, sonorant.SynthesisConfig(seed=9), False)
    _wait(lambda: len(recorder.batches) == 1)
    closer = threading.Thread(target=scheduler.close)
    closer.start()
    _wait(lambda: scheduler._closing)  # noqa: SLF001 - the close has begun while the pass is held
    hold.set()
    closer.join(30)
    with pytest.raises(sonorant.SonorantError, match="shutting down"):
        sink.audio()
    assert ticket.status == "failed" and not scheduler.running


@pytest.mark.parametrize("field, value", [("max_batch", 0), ("max_queue", -1), ("batch_wait_ms", -5.0),
                                          ("max_step_ms", 0), ("max_padding", 1.0)])
def test_bad_config_is_a_config_error(field: str, value: object) -> None:
    with pytest.raises(sonorant.ConfigError, match=field):
        SchedulerConfig(**{field: value})


def test_a_stream_whose_reader_lags_waits_for_it(tiny: sonorant.Voice) -> None:
    scheduler = Scheduler(SchedulerConfig(max_unread_s=0.01, max_step_ms=1, batch_wait_ms=0))
    scheduler.start()
    try:
        text = " ".join(f"Sentence {n} for a reader that does not keep up." for n in range(4))
        lagging, sink = _submit(scheduler, tiny, text, sonorant.SynthesisConfig(seed=50), streaming=True, read=False)
        _wait(lambda: lagging.pieces >= 1)
        other = _submit(scheduler, tiny, "Meanwhile this one finishes.", sonorant.SynthesisConfig(seed=51), True)
        assert len(other[1].audio()) > 0
        assert lagging.pieces == 1 and not lagging.done, "work ran ahead of a reader that read nothing"
        got = []
        for piece in sink:  # now read, and say so: the rest follows
            got.append(piece.samples)
            lagging.read(len(piece.samples))
    finally:
        scheduler.close()
    ref = tiny.synthesize(text, sonorant.SynthesisConfig(seed=50)).samples
    assert lagging.status == "done" and len(np.concatenate(got)) == len(ref)
