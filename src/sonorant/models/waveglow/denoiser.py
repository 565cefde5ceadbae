"""WaveGlow's bias-removal denoiser (DLE's `Denoiser`): subtract a multiple of the model's bias spectrum
(what it produces from a silent mel at sigma 0) from the magnitude of a short-time Fourier transform, and
invert with the original phase.

The transform is a strided conv1d with a windowed DFT basis and its inverse a conv_transpose1d with the
basis' pseudo-inverse (which for a real DFT has a closed form), so it exports to ONNX and compiles with
static shapes. With `lengths`, a padded batch gives every row its batch-1 samples: each row is reflect-
padded at its own end (an index gather), its spectrum frames past its own frame count are zeroed and the
overlap-add is normalised by its own window sum.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .model import WaveGlow

BIAS_FRAMES = 88
"""Width of the silent mel the bias spectrum is computed from (DLE's)."""


def dft_bases(n_fft: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(forward [2 * (n_fft // 2 + 1), 1, n_fft], inverse [same]) float64 bases, both Hann-windowed: the
    forward rows are cos and -sin of the first n_fft // 2 + 1 DFT frequencies, the inverse rows the
    Moore-Penrose pseudo-inverse of the unwindowed forward basis divided by the overlap factor 4 (DLE's
    hop = n_fft / 4), i.e. (cos, -sin) / n_fft with the non-edge frequencies counted twice."""
    bins = n_fft // 2 + 1
    n = torch.arange(n_fft, dtype=torch.float64)  # [n_fft]
    k = torch.arange(bins, dtype=torch.float64)[:, None]  # [bins, 1]
    angle = 2 * math.pi * k * n[None, :] / n_fft  # [bins, n_fft]
    forward = torch.cat([torch.cos(angle), -torch.sin(angle)], 0)  # [2 * bins, n_fft]
    weight = torch.full((bins, 1), 2.0 / n_fft, dtype=torch.float64)
    weight[0] = weight[-1] = 1.0 / n_fft  # DC and Nyquist appear once in the full spectrum
    inverse = torch.cat([torch.cos(angle) * weight, -torch.sin(angle) * weight], 0) / 4.0  # [2 * bins, n_fft]
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)  # [n_fft]
    return (forward * window)[:, None], (inverse * window)[:, None]


class Denoiser(nn.Module):
    """audio [b, n] -> audio [b, n] with `strength` times the WaveGlow's bias spectrum removed."""

    def __init__(self, waveglow: WaveGlow, strength: float = 0.1, n_fft: int = 1024, hop: int = 256) -> None:
        super().__init__()
        if n_fft != 4 * hop:
            raise ValueError("the denoiser's inverse basis assumes hop = n_fft / 4 (DLE's)")
        self.n_fft, self.hop, self.strength = n_fft, hop, float(strength)
        forward, inverse = dft_bases(n_fft)
        self.register_buffer("forward_basis", forward.float(), persistent=False)  # [2 * bins, 1, n_fft]
        self.register_buffer("inverse_basis", inverse.float(), persistent=False)  # [2 * bins, 1, n_fft]
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        self.register_buffer("window_sq", (window**2).float()[None, None], persistent=False)  # [1, 1, n_fft]
        self.register_buffer("bias_spec", torch.zeros(n_fft // 2 + 1))  # [bins]
        self.refresh(waveglow)

    @torch.no_grad()
    def refresh(self, waveglow: WaveGlow) -> None:
        """Recompute the bias spectrum from `waveglow` (after its weights changed): the magnitude of the
        first frame of its audio for a silent mel [1, n_mel, 88] at sigma 0."""
        cfg = waveglow.cfg
        p = next(waveglow.parameters())
        mel = torch.zeros(1, cfg.n_mel, BIAS_FRAMES, dtype=p.dtype, device=p.device)
        z = torch.zeros(1, cfg.n_group, BIAS_FRAMES * cfg.hop // cfg.n_group, dtype=p.dtype, device=p.device)
        audio = waveglow.infer(mel, z).float()  # [1, 88 * hop]
        re, im, _ = self._spectrum(audio, None)
        self.bias_spec.copy_(torch.sqrt(re**2 + im**2)[0, :, 0].to(self.bias_spec))

    @property
    def reach(self) -> int:
        """Mel frames on each side (of `hop` samples) that can change one output frame."""
        return math.ceil(self.n_fft / self.hop) + 1

    def _spectrum(self, audio: torch.Tensor, lengths: torch.Tensor | None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """audio [b, n], lengths [b] samples or None -> (real, imag [b, bins, frames], frame mask [b, 1, frames])."""
        n = audio.shape[1]
        half = self.n_fft // 2
        if lengths is None:
            padded = F.pad(audio[:, None], (half, half), mode="reflect")  # [b, 1, n + n_fft]
            frame_mask = None
        else:
            q = torch.arange(n + 2 * half, device=audio.device)[None, :] - half  # [1, n + n_fft]
            last = (lengths - 1)[:, None]  # [b, 1]
            idx = torch.where(q < 0, -q, torch.where(q > last, 2 * last - q, q))  # reflect at 0 and at each end
            idx = torch.minimum(idx.clamp(min=0), last)  # far padding: any sample of the row (masked later)
            padded = torch.gather(audio, 1, idx)[:, None]  # [b, 1, n + n_fft]
            frames = n // self.hop + 1
            own = lengths // self.hop + 1  # [b] each row's frame count
            frame_mask = (torch.arange(frames, device=audio.device)[None, :] < own[:, None]).to(audio.dtype)[:, None]
        spec = F.conv1d(padded, self.forward_basis, stride=self.hop)  # [b, 2 * bins, frames]
        bins = self.n_fft // 2 + 1
        return spec[:, :bins], spec[:, bins:], frame_mask

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None = None,
                strength: float | None = None) -> torch.Tensor:
        """audio [b, n] (n a multiple of hop), lengths [b] in samples (None: no row padded), strength (None:
        this denoiser's) -> denoised audio [b, n], zero past each length."""
        s = self.strength if strength is None else strength
        b, n = audio.shape
        re, im, frame_mask = self._spectrum(audio, lengths)  # [b, bins, frames] x 2
        mag = torch.sqrt(re**2 + im**2)  # [b, bins, frames]
        target = torch.clamp(mag - self.bias_spec[None, :, None] * s, min=0.0)
        # the same phase: (re, im) scaled by target / mag; a zero bin has phase 0 and a zero target
        scale = torch.where(mag > 0, target / torch.where(mag > 0, mag, torch.ones_like(mag)), torch.zeros_like(mag))
        spec = torch.cat([re * scale, im * scale], 1)  # [b, 2 * bins, frames]
        if frame_mask is None:
            frame_mask = audio.new_ones(b, 1, spec.shape[2])
        else:
            spec = spec * frame_mask
        out = F.conv_transpose1d(spec, self.inverse_basis, stride=self.hop)  # [b, 1, n + n_fft]
        wsum = F.conv_transpose1d(frame_mask, self.window_sq, stride=self.hop)  # [b, 1, n + n_fft] per-row overlap
        tiny = torch.finfo(torch.float32).tiny
        out = torch.where(wsum > tiny, out / torch.where(wsum > tiny, wsum, torch.ones_like(wsum)), out)
        out = out[:, 0, self.n_fft // 2 : self.n_fft // 2 + n] * (self.n_fft / self.hop)  # [b, n]
        if lengths is not None:
            out = out * (torch.arange(n, device=audio.device)[None, :] < lengths[:, None]).to(out.dtype)
        return out
