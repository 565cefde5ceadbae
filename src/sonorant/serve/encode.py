"""Audio encoders for HTTP responses, whole-file and streamed.

Streamed formats send bytes as each piece of audio is decoded:

- ``pcm``: raw 16-bit little-endian mono samples.
- ``wav``: a 44-byte header whose RIFF and data sizes are 0xFFFFFFFF (length unknown while streaming,
  the convention OpenAI's API and streaming decoders use), then the samples.
- ``opus``: Ogg Opus written incrementally by libsndfile (Ogg pages, about a second of audio each),
  from audio resampled to an Opus rate by a streaming polyphase resampler that gives the same samples
  as resampling the whole signal at once.

``mp3`` and ``flac`` files carry a header that libsndfile patches when the file is closed (frame counts),
so a streamed request for them gets the whole, correct file once the audio is complete.
"""

from __future__ import annotations

import io
import math
import struct
from typing import Protocol

import numpy as np

from ..audio import encode_audio, opus_rate, to_int16
from ..errors import ConfigError

FORMATS = ("mp3", "opus", "flac", "wav", "pcm")
"""Response formats sonorant can produce (OpenAI's list without aac)."""

MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
"""Content-Type of each response format."""

STREAMED = frozenset({"pcm", "wav", "opus"})
"""Formats whose bytes flow as the audio is decoded."""


def available_formats() -> list[str]:
    """The response formats this installation can encode (mp3 and opus need libsndfile >= 1.1 and scipy)."""
    import soundfile as sf

    out = []
    for fmt in FORMATS:
        if fmt == "mp3" and "MP3" not in sf.available_formats():
            continue
        if fmt == "opus":
            try:
                import scipy.signal  # noqa: F401
            except ImportError:
                continue
            if "OPUS" not in sf.available_subtypes("OGG"):
                continue
        out.append(fmt)
    return out


class StreamEncoder(Protocol):
    """Turns pieces of float audio into the bytes of one response, in order."""

    def feed(self, samples: np.ndarray) -> bytes:
        """Bytes ready after `samples` (may be empty)."""
        ...

    def finish(self) -> bytes:
        """The remaining bytes; call once, after the last piece."""
        ...


def stream_encoder(fmt: str, sample_rate: int) -> StreamEncoder:
    """An encoder for a streamed response in `fmt` (whole-file formats are sent at `finish`)."""
    if fmt == "pcm":
        return PcmEncoder()
    if fmt == "wav":
        return WavStreamEncoder(sample_rate)
    if fmt == "opus":
        return OpusStreamEncoder(sample_rate)
    if fmt in FORMATS:
        return WholeFileEncoder(fmt, sample_rate)
    raise ConfigError(f"unsupported audio format {fmt!r}: use one of {', '.join(FORMATS)}")


def wav_stream_header(sample_rate: int) -> bytes:
    """A 16-bit mono PCM WAV header with unknown length (RIFF and data sizes 0xFFFFFFFF)."""
    fmt_chunk = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * 2, 2, 16)  # PCM, mono, 16-bit
    return (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk))
            + fmt_chunk + b"data" + struct.pack("<I", 0xFFFFFFFF))


class PcmEncoder:
    """Raw 16-bit little-endian samples."""

    def feed(self, samples: np.ndarray) -> bytes:
        return to_int16(samples).astype("<i2").tobytes()

    def finish(self) -> bytes:
        return b""


class WavStreamEncoder(PcmEncoder):
    """A length-less WAV header before the first samples, then raw samples."""

    def __init__(self, sample_rate: int) -> None:
        self._header: bytes | None = wav_stream_header(sample_rate)

    def feed(self, samples: np.ndarray) -> bytes:
        head, self._header = self._header or b"", None
        return head + super().feed(samples)

    def finish(self) -> bytes:
        head, self._header = self._header or b"", None
        return head


class WholeFileEncoder:
    """Collects the audio and encodes the whole file at `finish` (formats with back-patched headers)."""

    def __init__(self, fmt: str, sample_rate: int) -> None:
        self.fmt = fmt
        self.sample_rate = sample_rate
        self._parts: list[np.ndarray] = []

    def feed(self, samples: np.ndarray) -> bytes:
        self._parts.append(samples)
        return b""

    def finish(self) -> bytes:
        audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
        self._parts = []
        return encode_audio(audio, self.sample_rate, self.fmt)


class StreamResampler:
    """Polyphase resampling of a signal that arrives in pieces; the output equals
    `scipy.signal.resample_poly` over the whole signal (up to float rounding).

    Each output sample depends on the input within `reach` samples of its position, so output is
    released once the input that far past it has arrived, and the input kept is only what the
    outputs still to come need.
    """

    def __init__(self, rate_in: int, rate_out: int) -> None:
        g = math.gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        self.reach = math.ceil(10 * max(self.up, self.down) / self.up) + 2  # resample_poly's half filter, in input samples
        self._buf = np.zeros(0, np.float32)
        self._base = 0  # input index of _buf[0]; a multiple of `down`, so outputs align
        self._n_in = 0
        self._n_out = 0

    def _run(self, stop: int) -> np.ndarray:
        from scipy.signal import resample_poly

        y = resample_poly(self._buf, self.up, self.down).astype(np.float32)
        first = self._base * self.up // self.down  # output index of y[0]
        out = y[self._n_out - first : stop - first]
        self._n_out = max(self._n_out, stop)
        keep_from = (self._n_out * self.down // self.up - self.reach - 1) // self.down * self.down
        if keep_from > self._base:
            self._buf = self._buf[keep_from - self._base :]
            self._base = keep_from
        return out

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Output that the input so far determines completely."""
        self._buf = np.concatenate([self._buf, np.asarray(samples, dtype=np.float32)])
        self._n_in += len(samples)
        if self._n_in - 1 - self.reach < 0:
            return np.zeros(0, np.float32)
        ready = (self._n_in - 1 - self.reach) * self.up // self.down + 1
        return self._run(ready) if ready > self._n_out else np.zeros(0, np.float32)

    def finish(self) -> np.ndarray:
        """The rest of the output (the signal ends in silence, as resample_poly assumes)."""
        total = -(-self._n_in * self.up // self.down)
        return self._run(total) if total > self._n_out else np.zeros(0, np.float32)


class _ForwardOnly(io.RawIOBase):
    """A write-only file for libsndfile whose bytes are taken away as they are written; writes that
    seek back into bytes already taken are dropped (Ogg never does that)."""

    def __init__(self) -> None:
        super().__init__()
        self._pos = 0
        self._taken = 0
        self._pending = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        data = bytes(data)
        start = self._pos - self._taken
        chunk = data[max(0, -start) :]  # what falls before the bytes already taken is dropped
        start = max(0, start)
        end = start + len(chunk)
        if end > len(self._pending):
            self._pending.extend(b"\0" * (end - len(self._pending)))
        self._pending[start:end] = chunk
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        size = self._taken + len(self._pending)
        self._pos = offset if whence == 0 else (self._pos + offset if whence == 1 else size + offset)
        return self._pos

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        return b""

    def take(self) -> bytes:
        """The bytes written since the last call."""
        out = bytes(self._pending)
        self._taken += len(out)
        self._pending.clear()
        return out


class OpusStreamEncoder:
    """Ogg Opus written as the audio arrives (resampled to an Opus rate on the way)."""

    def __init__(self, sample_rate: int) -> None:
        import soundfile as sf

        self.rate = opus_rate(sample_rate)
        self._resampler = StreamResampler(sample_rate, self.rate) if self.rate != sample_rate else None
        self._sink = _ForwardOnly()
        self._file = sf.SoundFile(self._sink, "w", self.rate, 1, format="OGG", subtype="OPUS")

    def _write(self, samples: np.ndarray) -> bytes:
        if len(samples):
            self._file.write(samples)
        return self._sink.take()

    def feed(self, samples: np.ndarray) -> bytes:
        return self._write(self._resampler.feed(samples) if self._resampler else samples)

    def finish(self) -> bytes:
        out = self._write(self._resampler.finish()) if self._resampler else b""
        self._file.close()
        return out + self._sink.take()
