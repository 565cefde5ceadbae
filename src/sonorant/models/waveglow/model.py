"""WaveGlow (NVIDIA DeepLearningExamples' flow vocoder) at inference: mel + Gaussian draws -> waveform.

Plain convolutions (weight norm is folded when a checkpoint is read), the invertible 1x1 convolutions
inverted once (in float64) whenever weights are loaded, and a `lengths` input that makes a padded batch
give every row its batch-1 samples: the input of every dilated convolution is zeroed past each row's end,
where a batch-1 run sees the convolution's zero padding.

Submodule names follow DLE's state dict except two (`dle_state` maps them): `WN.{k}` is `wn.{k}` and
`convinv.{k}.conv.weight` is `convinv.{k}.weight`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .config import WaveGlowConfig


def dle_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """A DLE WaveGlow state dict (weight norm already folded, `module.` stripped) under this module's keys."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        key = re.sub(r"^WN\.", "wn.", key)
        key = re.sub(r"^(convinv\.\d+)\.conv\.weight$", r"\1.weight", key)
        out[key] = value
    return out


class Invertible1x1(nn.Module):
    """A flow's channel mixing: the trained matrix `weight` [c, c, 1] and its inverse, which inference uses.
    The inverse is a non-persistent buffer recomputed (float64, rounded once) after every state dict load."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.eye(channels).unsqueeze(-1))  # [c, c, 1]
        self.register_buffer("w_inverse", torch.eye(channels).unsqueeze(-1), persistent=False)
        self.register_load_state_dict_post_hook(lambda module, _keys: module.invert())

    @torch.no_grad()
    def invert(self) -> None:
        """Recompute `w_inverse` from `weight`."""
        w = self.weight.detach().squeeze(-1).double()  # [c, c]
        self.w_inverse.copy_(torch.linalg.inv(w).unsqueeze(-1).to(self.w_inverse.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse mixing: x [b, c, n] -> [b, c, n]."""
        return F.conv1d(x, self.w_inverse)


class WN(nn.Module):
    """A flow's coupling network: gated dilated convs over the flow positions, conditioned on the mel."""

    def __init__(self, n_in: int, n_cond: int, cfg: WaveGlowConfig) -> None:
        super().__init__()
        c = cfg.wn_channels
        self.channels = c
        self.start = nn.Conv1d(n_in, c, 1)
        self.in_layers = nn.ModuleList()
        self.cond_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        for i in range(cfg.wn_layers):
            d = 2**i
            self.in_layers.append(nn.Conv1d(c, 2 * c, cfg.wn_kernel, dilation=d, padding=d * (cfg.wn_kernel - 1) // 2))
            self.cond_layers.append(nn.Conv1d(n_cond, 2 * c, 1))
            last = i == cfg.wn_layers - 1
            self.res_skip_layers.append(nn.Conv1d(c, c if last else 2 * c, 1))
        self.end = nn.Conv1d(c, 2 * n_in, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x [b, n_in, n], cond [b, n_cond, n], mask [b, 1, n] or None -> [b, 2 * n_in, n] (shift, log scale)."""
        c = self.channels
        h = self.start(x)  # [b, c, n]
        skip: torch.Tensor | None = None
        last = len(self.in_layers) - 1
        for i, (conv, cond_conv, res_skip) in enumerate(zip(self.in_layers, self.cond_layers, self.res_skip_layers)):
            inp = h if mask is None else h * mask  # batch-1 zero padding past each row's end
            a = conv(inp) + cond_conv(cond)  # [b, 2c, n]
            acts = torch.tanh(a[:, :c]) * torch.sigmoid(a[:, c:])  # [b, c, n]
            rs = res_skip(acts)  # [b, 2c or c, n]
            if i < last:
                h = h + rs[:, :c]
                rs = rs[:, c:]
            skip = rs if skip is None else skip + rs
        assert skip is not None
        return self.end(skip)


class WaveGlow(nn.Module):
    """mel [b, n_mel, t] and scaled Gaussian draws z [b, n_group, t * hop / n_group] -> audio [b, t * hop]."""

    def __init__(self, cfg: WaveGlowConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.upsample = nn.ConvTranspose1d(cfg.n_mel, cfg.n_mel, cfg.upsample_kernel, stride=cfg.hop)
        self.wn = nn.ModuleList()
        self.convinv = nn.ModuleList()
        for k in range(cfg.n_flows):
            ch = cfg.flow_channels(k)
            self.convinv.append(Invertible1x1(ch))
            self.wn.append(WN(ch // 2, cfg.n_mel * cfg.n_group, cfg))

    @property
    def reach(self) -> int:
        """Mel frames on each side that can change one output frame."""
        return self.cfg.reach()

    def forward(self, mel: torch.Tensor, z: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """See `infer`."""
        return self.infer(mel, z, lengths)

    def infer(self, mel: torch.Tensor, z: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """mel [b, n_mel, t]; z [b, n_group, t * hop / n_group], already scaled by sigma, its channels in
        DLE's draw order (the last flows' channels first, then each early entry's, latest flow first);
        lengths [b] frames per row (None: no row padded). Returns audio [b, t * hop], zero past each length."""
        cfg = self.cfg
        b, _, t = mel.shape
        n = t * cfg.hop // cfg.n_group  # flow positions
        spect = self.upsample(mel)[:, :, : t * cfg.hop]  # [b, n_mel, t * hop]: DLE's trim of kernel - hop
        spect = spect.reshape(b, cfg.n_mel, n, cfg.n_group).transpose(2, 3).reshape(b, cfg.n_mel * cfg.n_group, n)
        mask = None
        if lengths is not None:
            pos = torch.arange(n, device=mel.device)  # [n]
            mask = (pos[None, :] < (lengths * (cfg.hop // cfg.n_group))[:, None]).to(mel.dtype)[:, None]  # [b, 1, n]
        r = cfg.remaining_channels
        audio, rest = z[:, :r], z[:, r:]  # [b, r, n], [b, n_group - r, n]
        for k in reversed(range(cfg.n_flows)):
            half = audio.shape[1] // 2
            out = self.wn[k](audio[:, :half], spect, mask)  # [b, 2 * half, n]
            log_s, shift = out[:, half:], out[:, :half]
            upper = (audio[:, half:] - shift) / torch.exp(log_s)
            audio = self.convinv[k](torch.cat([audio[:, :half], upper], 1))
            if k % cfg.n_early_every == 0 and k > 0:
                audio = torch.cat([rest[:, : cfg.n_early_size], audio], 1)
                rest = rest[:, cfg.n_early_size :]
        samples = audio.transpose(1, 2).reshape(b, n * cfg.n_group)  # [b, t * hop]
        if lengths is not None:
            idx = torch.arange(n * cfg.n_group, device=mel.device)
            samples = samples * (idx[None, :] < (lengths * cfg.hop)[:, None]).to(samples.dtype)
        return samples
