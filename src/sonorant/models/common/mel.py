"""The mel spectrogram a spectrogram generator emits and a vocoder expects, torch-free."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class MelConfig:
    """How mel frames are computed from audio: a spectrogram generator and its vocoder must agree on it."""

    sample_rate: int = 22050
    """Audio samples per second."""
    n_mels: int = 80
    """Mel bins per frame."""
    n_fft: int = 1024
    """FFT size."""
    win_length: int = 1024
    """Analysis window length in samples."""
    hop: int = 256
    """Samples between frames."""
    fmin: float = 0.0
    """Lowest mel filter edge in Hz."""
    fmax: float = 8000.0
    """Highest mel filter edge in Hz (sample_rate / 2 where the source config says none)."""
    window: str = "hann"
    """Analysis window."""
    mag_power: float = 1.0
    """Power of the magnitude spectrum before the mel filters (1: magnitude, 2: power)."""
    log_guard_type: str = "add"
    """How log(0) is avoided: "add" (log(x + guard), FastPitch's preprocessor) or "clamp" (log(max(x, guard)),
    HiFi-GAN's). NVIDIA's own pairs differ here, so pairing does not compare it."""
    log_guard: float = 1e-5
    """The guard value."""

    PAIRED = ("sample_rate", "n_mels", "n_fft", "win_length", "hop", "fmin", "fmax", "window", "mag_power")
    """The fields a spectrogram generator and its vocoder must share."""

    def mismatches(self, other: MelConfig) -> list[str]:
        """`field: mine vs other's` for every paired field that differs."""
        out = []
        for name in self.PAIRED:
            a, b = getattr(self, name), getattr(other, name)
            if (float(a) != float(b)) if isinstance(a, (int, float)) else (a != b):
                out.append(f"{name}: {a} vs {b}")
        return out

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-friendly values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MelConfig:
        """The config `to_dict` describes; unknown keys are an error, missing ones take defaults."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown MelConfig fields: {', '.join(unknown)}")
        return cls(**data)
