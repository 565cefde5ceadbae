"""Unit codec files: k-means centroids over a voice's vocoder input frames, plus a JSON header, in one `.npz`.

The file holds two arrays and nothing else (read with `allow_pickle=False`):

- `centroids`: float32 or float16 [bins, channels, frames_per_unit], in the header's `space` (`SPACES`);
- `header`: a 0-d unicode array holding JSON (`UnitHeader`): the format and version, the voice the frames came
  from (a bundled name or a path, with the SHA-256 of its file), the frame geometry (sample rate, hop,
  channels, frames per unit) and how the frames were made and the units fitted (free-form records).

The vocoder's weights are never in the file: `load_unit_codec` loads the voice through sonorant's own loaders
and checks that it is the voice the units were fitted on.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SonorantError, VoiceError

if TYPE_CHECKING:
    from ..models.units import UnitCodec

SPACES = ("vocoder", "regulated")
"""Where units can live: "vocoder", the vocoder's input frames (decoded by the vocode stage alone);
"regulated", the first `channels` channels of the frames stage's input after length regulation (VITS: the
prior means), decoded by the voice's frames stage with zero noise, then its vocoder
(`models.units.RegulatedFrames`)."""
FORMAT = "sonorant-units"
"""The `format` of every unit codec header."""
VERSION = 1
"""The header version this module writes and reads."""


@dataclass(frozen=True)
class UnitHeader:
    """What a unit codec file says about its centroids."""

    voice: str
    """The voice whose vocoder decodes the units: a bundled name ("joe") or a path to its file."""
    voice_sha256: str
    """SHA-256 of that voice's file ("" to skip the check): a different voice is refused."""
    sample_rate: int
    """Audio samples per second of the voice."""
    hop: int
    """Audio samples per vocoder input frame."""
    channels: int
    """Channels of a unit frame (VITS: the latent width, 192 for joe, in either space)."""
    frames_per_unit: int
    """Consecutive vocoder input frames one unit stands for (1: every frame; 2: pairs)."""
    bins: int
    """Number of units."""
    space: str = "vocoder"
    """Where the units live (`SPACES`)."""
    latents: dict[str, Any] = field(default_factory=dict)
    """How the frames were made (stage, knobs, seeds, corpus): a record for people, not read back."""
    fit: dict[str, Any] = field(default_factory=dict)
    """How the units were fitted (k-means sample, iterations, mean squared distance): a record."""
    format: str = FORMAT
    """Always "sonorant-units"."""
    version: int = VERSION
    """The header version."""

    @property
    def unit_rate(self) -> float:
        """Units per second of audio."""
        return self.sample_rate / (self.hop * self.frames_per_unit)

    def to_json(self) -> str:
        """The header as JSON text (with the unit rate, for people reading it)."""
        return json.dumps({**asdict(self), "unit_rate": round(self.unit_rate, 4)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, path: Path) -> UnitHeader:
        """Parse a header; a missing or mistyped field is a `VoiceError` naming the file."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise VoiceError(f"{path}: the unit codec header is not JSON: {exc}") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise VoiceError(f"{path} is not a sonorant unit codec (header format {raw.get('format')!r} "
                             f"where {FORMAT!r} was expected)" if isinstance(raw, dict)
                             else f"{path}: the unit codec header is not a JSON object")
        if raw.get("version") != VERSION:
            raise VoiceError(f"{path}: unit codec version {raw.get('version')!r}; this sonorant reads {VERSION}")
        known = {f.name for f in fields(cls)}
        try:
            values = {k: v for k, v in raw.items() if k in known}
            for name in ("sample_rate", "hop", "channels", "frames_per_unit", "bins"):
                if not isinstance(values[name], int) or values[name] < 1:
                    raise ValueError(f"{name} must be a positive integer, got {values[name]!r}")
            for name in ("voice", "voice_sha256"):
                if not isinstance(values[name], str):
                    raise ValueError(f"{name} must be a string, got {values[name]!r}")
            if values.get("space", "vocoder") not in SPACES:
                raise ValueError(f"space must be one of {', '.join(SPACES)}, got {values['space']!r}")
            return cls(**values)
        except KeyError as exc:
            raise VoiceError(f"{path}: the unit codec header lacks {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise VoiceError(f"{path}: bad unit codec header: {exc}") from None


def save_unit_codebook(path: str | Path, centroids: np.ndarray, header: UnitHeader) -> None:
    """Write centroids [bins, channels, frames_per_unit] (float32 or float16) and their header to `path`
    (an `.npz`, written under a temporary name and renamed when complete)."""
    path = Path(path)
    centroids = np.asarray(centroids)
    expected = (header.bins, header.channels, header.frames_per_unit)
    if centroids.shape != expected:
        raise SonorantError(f"centroids shaped {centroids.shape}, the header says {expected}")
    if centroids.dtype not in (np.float32, np.float16):
        centroids = centroids.astype(np.float32)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out:
        np.savez(out, centroids=centroids, header=np.array(header.to_json()))
    tmp.replace(path)


def read_unit_codebook(path: str | Path) -> tuple[np.ndarray, UnitHeader]:
    """(centroids [bins, channels, frames_per_unit] float32, header) of a unit codec file; `VoiceError` for a
    missing, unreadable or inconsistent file."""
    path = Path(path)
    if not path.is_file():
        raise VoiceError(f"unit codec not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "header" not in data.files or "centroids" not in data.files:
                raise VoiceError(f"{path} is not a sonorant unit codec: it needs the arrays 'centroids' and 'header' "
                                 f"(has {', '.join(data.files) or 'none'})")
            text = str(data["header"])
            centroids = data["centroids"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise VoiceError(f"{path} is not a readable unit codec (.npz): {exc.__class__.__name__}: {exc}") from None
    header = UnitHeader.from_json(text, path)
    expected = (header.bins, header.channels, header.frames_per_unit)
    if centroids.shape != expected:
        raise VoiceError(f"{path}: centroids shaped {centroids.shape}, the header says {expected}")
    if centroids.dtype not in (np.float32, np.float16):
        raise VoiceError(f"{path}: centroids must be float32 or float16, got {centroids.dtype}")
    centroids = centroids.astype(np.float32)
    if not np.isfinite(centroids).all():
        raise VoiceError(f"{path}: centroids contain NaN or infinite values")
    return centroids, header


def load_unit_codec(path: str | Path, voice: str | Path | None = None) -> UnitCodec:
    """The unit codec in `path`, decoding through the vocoder of `voice` (default: the voice its header
    names), loaded by sonorant's own loader. The voice must be the one the units were fitted on (same file
    digest), single-speaker, and match the header's sample rate, hop and channels. In eval mode.

    Units in the "regulated" space decode through the voice's frames stage (zero noise) and its vocoder,
    whose reaches add up in `spec.lookahead`."""
    import torch

    from ..models.units import RegulatedFrames, UnitCodec
    from .registry import load

    centroids, header = read_unit_codebook(path)
    loaded = load(voice if voice is not None else header.voice)
    if header.voice_sha256 and loaded.source.digest != header.voice_sha256:
        raise VoiceError(f"{path} was fitted on the voice {header.voice!r} (SHA-256 {header.voice_sha256[:12]}...), "
                         f"not on {loaded.path} (SHA-256 {loaded.source.digest[:12]}...): its units mean nothing to "
                         "another voice's vocoder")
    card = loaded.card
    if card.num_speakers > 1:
        raise VoiceError(f"{loaded.path} has {card.num_speakers} speakers: unit codecs decode single-speaker voices")
    if card.sample_rate != header.sample_rate:
        raise VoiceError(f"{path} is for {header.sample_rate} Hz audio; {loaded.path} makes {card.sample_rate} Hz")
    model = loaded.source.get()
    spec, stages = model.spec, model.stages()
    takes = spec.channels if header.space == "vocoder" else spec.token_channels
    if spec.hop != header.hop or header.channels > takes or (header.space == "vocoder" and header.channels != takes):
        where = "vocoder" if header.space == "vocoder" else "frames stage"
        raise VoiceError(f"{path} has {header.space} frames of {header.channels} channels x {header.hop} samples; "
                         f"the {where} of {loaded.path} takes {takes} channels x {spec.hop} samples")
    name = f"units-{header.space}-{header.bins}x{header.frames_per_unit}"
    if header.space == "vocoder":
        return UnitCodec(torch.from_numpy(centroids), stages["vocode"], spec, name=name).eval()
    if spec.frames_reach is None or "frames_post" not in stages:
        raise VoiceError(f"{loaded.path}: its frames stage reaches over the whole sentence, so units over its "
                         "input cannot be decoded in windows")
    prenet = RegulatedFrames(stages["frames_post"], spec)
    return UnitCodec(torch.from_numpy(centroids), stages["vocode"], spec, name=name, frames=prenet,
                     frames_reach=spec.frames_reach).eval()


# ---- the codec registry's entry points (`voices.codecs`) --------------------------------------------------


def probe(path: Path) -> bool:
    """Whether `path` is a unit codec file (an .npz whose header says so; cheap)."""
    path = Path(path)
    if not path.is_file() or path.suffix != ".npz":
        return False
    try:
        read_unit_codebook(path)
    except VoiceError:
        return False
    return True


def info(path: Path) -> Any:
    """The codec's name and sample rate (torch-free)."""
    from .codecs import CodecInfo

    _, header = read_unit_codebook(path)
    return CodecInfo(name=f"units-{header.space}-{header.bins}x{header.frames_per_unit}",
                     sample_rate=header.sample_rate)


def load(path: Path) -> UnitCodec:
    """The codec module (`load_unit_codec` with the voice its header names)."""
    return load_unit_codec(path)
