"""Peers measured side by side with sonorant: Piper (piper-tts, onnxruntime) on the same voice files.

piper-tts is a dev/bench dependency only (the `test` and `bench` extras); it is imported lazily here,
so importing `sonorant.bench` never needs it. The peer returns Piper's *raw* model output
(`normalize_audio=False`): the same network as sonorant's, so the same work per second of audio.
Piper's own noise cannot be seeded; its durations (hence audio lengths) differ a little from a seeded
sonorant run, which is why the runner measures each backend's audio from its own samples. The one
change to Piper's defaults: its ONNX Runtime workers stop spinning when a run returns (see
`PiperPeer`), so an interleaved run does not charge Piper's idle spinning to the next backend.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SonorantError

_LOG = logging.getLogger(__name__)


def piper_available() -> bool:
    """True if piper-tts (module `piper`) can be imported."""
    try:
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


class PiperPeer:
    """piper-tts on a Piper voice: `synthesize` joins its per-sentence chunks; `first_chunk` is the first one."""

    def __init__(
        self,
        model_path: str | Path,
        config_path: str | Path | None = None,
        *,
        threads: int | None = None,
        length_scale: float | None = None,
        noise_scale: float | None = None,
        noise_w: float | None = None,
        speaker_id: int | None = None,
        name: str = "piper",
    ) -> None:
        try:
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig, SynthesisConfig
        except ImportError:
            raise SonorantError("--compare piper needs piper-tts: pip install 'sonorant[bench]'") from None
        import json

        model_path = Path(model_path)
        config_path = Path(config_path) if config_path is not None else model_path.with_name(model_path.name + ".json")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        # Within a run Piper's workers still spin between operators as by default, but they stop
        # spinning when the run returns: idle spinning would steal the cores of whichever backend runs
        # next in the interleaved benchmark (measured on 2 cores: the next backend ran 7 % slower).
        options.add_session_config_entry("session.force_spinning_stop", "1")
        with open(config_path, encoding="utf-8") as f:
            config = PiperConfig.from_dict(json.load(f))
        session = onnxruntime.InferenceSession(str(model_path), sess_options=options,
                                               providers=["CPUExecutionProvider"])
        self.voice: Any = PiperVoice(session=session, config=config)
        self.syn_config: Any = SynthesisConfig(
            speaker_id=speaker_id, length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_w,
            normalize_audio=False,
        )
        self.name = name
        self.device = "cpu"
        self.hop_length = int(config.hop_length)
        self.sample_rate = int(config.sample_rate)
        self.threads = int(threads or 0)
        self.model_path = model_path
        _LOG.info("piper peer: %s (%d Hz, onnxruntime %s, threads %s)", model_path.name, self.sample_rate,
                  onnxruntime.__version__, threads or "default")

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """All sentences of `text`, concatenated (Piper inserts no silence by default)."""
        chunks = [c.audio_float_array for c in self.voice.synthesize(text, self.syn_config)]
        if not chunks:
            return np.zeros(0, dtype=np.float32), self.sample_rate
        return np.concatenate(chunks).astype(np.float32, copy=False), self.sample_rate

    def first_chunk(self, text: str) -> tuple[np.ndarray, int]:
        """Piper's first yielded chunk: the first sentence, after phonemizing the whole text."""
        stream = self.voice.synthesize(text, self.syn_config)
        try:
            chunk = next(iter(stream))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        return chunk.audio_float_array, chunk.sample_rate

    def stage_times(self, text: str) -> dict[str, float]:
        """Piper's pipeline in two stages: front_end (phonemize + ids) and model (the ONNX run per sentence)."""
        t0 = time.perf_counter()
        ids = [self.voice.phonemes_to_ids(p) for p in self.voice.phonemize(text) if p]
        t1 = time.perf_counter()
        for sentence in ids:
            self.voice.phoneme_ids_to_audio(sentence, self.syn_config)
        t2 = time.perf_counter()
        return {"front_end": t1 - t0, "model": t2 - t1}
