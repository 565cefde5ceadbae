"""Audio encoders for HTTP responses: every format is encoded incrementally, so a response's bytes flow
as its audio is decoded (OpenAI's API streams every format the same way).

- ``pcm``: raw 16-bit little-endian mono samples.
- ``wav``: a 44-byte header whose RIFF and data sizes are 0xFFFFFFFF (length unknown while streaming,
  the convention OpenAI's API and streaming decoders use), then the samples.
- ``flac``: FLAC frames written as the audio arrives; the stream header's sample count and MD5 are
  left "unknown" (0), as in any FLAC stream whose length is not known when it starts.
- ``opus``: Ogg Opus (pages of about a second of audio each), from audio resampled to an Opus rate by a
  streaming polyphase resampler that gives the same samples as resampling the whole signal at once.
- ``mp3``: constant-bitrate MPEG layer III frames. A streamed MP3 has no gapless (LAME/Xing) header,
  which would need the length before the first frame, so decoders keep the codec's fixed delay of
  `MP3_DELAY` samples in front of the audio and pad its end to a whole frame; constant bitrate keeps
  every decoder's length estimate right.

All encoding is done by libsndfile (through `soundfile`); a file the server must finish before sending
(`"stream": false`) is encoded whole by `sonorant.audio.encode_audio`, with exact headers.
"""

from __future__ import annotations

import functools
import io
import logging
import math
import struct
from collections.abc import Iterable
from typing import Protocol

import numpy as np

from ..audio import encode_audio, opus_rate, to_int16
from ..errors import ConfigError

_LOG = logging.getLogger(__name__)

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

MP3_DELAY = 576 + 529
"""Samples a streamed MP3 decodes to in front of its audio: LAME's encoder delay plus the layer III
decoder's own delay (a whole MP3 file says so in its LAME header, and decoders drop them)."""

MP3_STREAM_KBPS = {True: 128, False: 64}
"""Constant bitrate of streamed MP3 for mono speech: at 32 kHz and above (MPEG-1), below it (MPEG-2/2.5)."""

_PROBE_SECONDS = 0.1


def available_formats(sample_rates: Iterable[int] = (22050,)) -> list[str]:
    """The response formats this installation can encode at every one of `sample_rates`, streamed and
    whole: each is tried once per rate (a missing codec or library shows up here, not in a request)."""
    rates = sorted(set(sample_rates))
    return [fmt for fmt in FORMATS if all(_encodes(fmt, rate) for rate in rates)]


@functools.lru_cache(maxsize=None)
def _encodes(fmt: str, sample_rate: int) -> bool:
    t = np.arange(int(sample_rate * _PROBE_SECONDS), dtype=np.float32) / sample_rate
    tone = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    try:
        encoder = stream_encoder(fmt, sample_rate)
        streamed = encoder.feed(tone) + encoder.finish()
        whole = encode_audio(tone, sample_rate, fmt)
    except (ImportError, OSError, RuntimeError, TypeError, ValueError) as exc:  # soundfile's errors are RuntimeErrors
        _LOG.warning("response_format %s is not available at %d Hz: %s: %s", fmt, sample_rate, type(exc).__name__, exc)
        return False
    if not streamed or not whole:
        _LOG.warning("response_format %s is not available at %d Hz: the encoder wrote nothing", fmt, sample_rate)
        return False
    return True


class StreamEncoder(Protocol):
    """Turns pieces of float audio into the bytes of one response, in order."""

    def feed(self, samples: np.ndarray) -> bytes:
        """Bytes ready after `samples` (may be empty)."""
        ...

    def finish(self) -> bytes:
        """The remaining bytes; call once, after the last piece."""
        ...


def stream_encoder(fmt: str, sample_rate: int) -> StreamEncoder:
    """An incremental encoder of one response in `fmt`."""
    if fmt == "pcm":
        return PcmEncoder()
    if fmt == "wav":
        return WavStreamEncoder(sample_rate)
    if fmt == "opus":
        return OpusStreamEncoder(sample_rate)
    if fmt == "flac":
        return FlacStreamEncoder(sample_rate)
    if fmt == "mp3":
        return Mp3StreamEncoder(sample_rate)
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


class _LibsndfileStream:
    """libsndfile writing one file into a `_ForwardOnly` sink: the bytes of each write are handed on at
    once; what libsndfile would patch into the start of the file when it is closed is left as written."""

    def __init__(self, sample_rate: int, container: str, subtype: str, **options: object) -> None:
        import soundfile as sf

        self._sink = _ForwardOnly()
        self._file = sf.SoundFile(self._sink, "w", sample_rate, 1, format=container, subtype=subtype, **options)

    def _write(self, samples: np.ndarray) -> bytes:
        if len(samples):
            self._file.write(samples)
        return self._sink.take()

    def _close(self) -> bytes:
        self._file.close()
        return self._sink.take()


class FlacStreamEncoder(_LibsndfileStream):
    """16-bit FLAC frames as the audio arrives (sample count and MD5 in the header left unknown)."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__(sample_rate, "FLAC", "PCM_16")

    def feed(self, samples: np.ndarray) -> bytes:
        return self._write(to_int16(samples))

    def finish(self) -> bytes:
        return self._close()


class OpusStreamEncoder(_LibsndfileStream):
    """Ogg Opus written as the audio arrives (resampled to an Opus rate on the way)."""

    def __init__(self, sample_rate: int) -> None:
        self.rate = opus_rate(sample_rate)
        self._resampler = StreamResampler(sample_rate, self.rate) if self.rate != sample_rate else None
        super().__init__(self.rate, "OGG", "OPUS")

    def feed(self, samples: np.ndarray) -> bytes:
        return self._write(self._resampler.feed(samples) if self._resampler else samples)

    def finish(self) -> bytes:
        out = self._write(self._resampler.finish()) if self._resampler else b""
        return out + self._close()


class Mp3StreamEncoder(_LibsndfileStream):
    """Constant-bitrate MP3 frames as the audio arrives.

    libsndfile starts an MP3 file with an empty frame that it fills with the LAME header when the file
    is closed; a stream cannot go back to it, so that frame is left out (sent empty it would decode as a
    frame of extra silence)."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__(sample_rate, "MP3", "MPEG_LAYER_III", bitrate_mode="CONSTANT",
                         compression_level=_mp3_compression(sample_rate, MP3_STREAM_KBPS[sample_rate >= 32000]))
        self._head = bytearray()
        self._started = False

    def feed(self, samples: np.ndarray) -> bytes:
        return self._pass(self._write(samples))

    def finish(self) -> bytes:
        out = self._pass(self._close())
        if not self._started:  # fewer bytes than one frame header: hand on what there is
            self._started = True
            out += bytes(self._head)
        return out

    def _pass(self, data: bytes) -> bytes:
        if self._started:
            return data
        self._head += data
        start = _id3v2_size(self._head)
        if start is None or len(self._head) < start + 4:
            return b""
        size = mpeg_frame_size(bytes(self._head[start : start + 4]))
        if size is None:  # not an MPEG frame: hand everything on unchanged
            self._started = True
            return bytes(self._head)
        if len(self._head) < start + size:
            return b""
        self._started = True
        frame = self._head[start : start + size]
        placeholder = not any(frame[4:])  # the empty frame's body is all zero bytes
        out = self._head[:start] + (self._head[start + size :] if placeholder else self._head[start:])
        return bytes(out)


def _mp3_compression(sample_rate: int, kbps: int) -> float:
    """libsndfile's compression level (0..1) that gives `kbps` at constant bitrate: it maps the level
    linearly onto the bitrate range of the MPEG version the sample rate implies."""
    top, bottom = (320, 32) if sample_rate >= 32000 else (160, 8) if sample_rate >= 16000 else (64, 8)
    kbps = min(max(kbps, bottom), top)
    return (top - kbps) / (top - bottom)


def _id3v2_size(data: bytes | bytearray) -> int | None:
    """Length of an ID3v2 tag at the start of `data` (0 if there is none; None if it is not all there)."""
    if len(data) < 3:
        return None
    if data[:3] != b"ID3":
        return 0
    if len(data) < 10:
        return None
    size = 0
    for b in data[6:10]:  # a "syncsafe" integer: 7 bits a byte
        size = (size << 7) | (b & 0x7F)
    return 10 + size + (10 if data[5] & 0x10 else 0)  # a footer follows when flagged


_MP3_KBPS = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 and 2.5 layer III
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mpeg_frame_size(header: bytes) -> int | None:
    """Bytes in the MPEG-1/2/2.5 layer III frame that starts with the 4-byte `header` (None if it is not one)."""
    if len(header) < 4:
        return None
    word = int.from_bytes(header[:4], "big")
    version, layer = (word >> 19) & 3, (word >> 17) & 3
    bitrate_index, rate_index, padding = (word >> 12) & 15, (word >> 10) & 3, (word >> 9) & 1
    if word >> 21 != 0x7FF or version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    kbps = _MP3_KBPS[1 if version == 3 else 2][bitrate_index]
    rate = _MP3_RATES[version][rate_index]
    return (144 if version == 3 else 72) * kbps * 1000 // rate + padding
