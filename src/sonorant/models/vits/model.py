"""The VITS generator at inference, split into two static stages around the one host decision.

Stage 1 (`encode`, shapes fixed by [batch, max ids]): text encoder, durations, frame counts.
Stage 2 (`decode`, shapes fixed by [batch, max ids, max frames]): length regulation by a path matrix
built from cumulative durations compared with a frame index and applied with `bmm`, the prior
sample, the inverse flows and the HiFi-GAN decoder. Between the stages the caller reads the frame
counts to pick the frame bucket; nothing inside either stage depends on data for its shape.

Noise comes in as tensors computed per utterance by the caller (`sonorant.arrays`: a pure function of
seed, channel and frame), so an utterance's audio never depends on its batch-mates or its bucket.
"""

from __future__ import annotations

import torch
from torch import nn

from ..common.regulate import length_regulate
from .config import VitsConfig
from .decoder import Generator
from .duration import DurationPredictor, StochasticDurationPredictor
from .flow import ResidualCouplingBlock
from .layers import sequence_mask
from .spec import vits_spec
from .text_encoder import TextEncoder
from .types import Encoded


class Vits(nn.Module):
    """A VITS voice: phoneme ids -> waveform. Submodule names follow the trained checkpoints."""

    def __init__(self, cfg: VitsConfig, sample_rate: int = 22050) -> None:
        super().__init__()
        self.cfg = cfg
        self.spec = vits_spec(cfg, sample_rate)
        self.enc_p = TextEncoder(cfg)
        self.dp = StochasticDurationPredictor(cfg) if cfg.use_sdp else DurationPredictor(cfg)
        self.flow = ResidualCouplingBlock(cfg)
        self.dec = Generator(cfg)
        if cfg.n_speakers > 1:
            self.emb_g = nn.Embedding(cfg.n_speakers, cfg.gin_channels)

    def stages(self) -> dict[str, nn.Module]:
        """The family contract's encode / frames / vocode modules over this model (`models.base`)."""
        from .stages import vits_stages

        return vits_stages(self)

    @property
    def hop_length(self) -> int:
        """Audio samples per latent frame."""
        return self.cfg.hop_length

    def encode(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        noise_w: torch.Tensor,
        length_scale: torch.Tensor,
        dur_noise: torch.Tensor,
        sid: torch.Tensor | None = None,
    ) -> Encoded:
        """ids [b, t_x] int64, lengths [b], noise_w and length_scale [b], dur_noise [b, 2, t_x] ~ N(0, 1)."""
        t_x = ids.shape[1]
        x_mask = sequence_mask(lengths, t_x).unsqueeze(1).to(self.enc_p.proj.weight.dtype)  # [b, 1, t_x]
        g = self.emb_g(sid).unsqueeze(-1) if self.cfg.n_speakers > 1 and sid is not None else None  # [b, gin, 1]
        x, m_p, logs_p = self.enc_p(ids, x_mask)
        noise = dur_noise * noise_w.view(-1, 1, 1)  # [b, 2, t_x]
        logw = self.dp(x, x_mask, noise, g)  # [b, 1, t_x]
        w = torch.exp(logw) * x_mask * length_scale.view(-1, 1, 1)
        durations = torch.ceil(w).squeeze(1)  # [b, t_x]
        frames = torch.clamp_min(durations.sum(dim=1), 1).long()  # [b]
        return Encoded(m_p, logs_p, durations, frames, g)

    def decode(
        self,
        enc: Encoded,
        noise_scale: torch.Tensor,
        z_noise: torch.Tensor,
    ) -> torch.Tensor:
        """z_noise [b, c, t_y] ~ N(0, 1) fixes the frame bucket t_y. Returns audio [b, t_y * hop]."""
        t_y = z_noise.shape[2]
        z = self.latent(enc, noise_scale, z_noise)  # [b, c, t_y]
        return self.dec(z, enc.frames.clamp_max(t_y), g=enc.g)

    def latent(self, enc: Encoded, noise_scale: torch.Tensor, z_noise: torch.Tensor) -> torch.Tensor:
        """Length regulation, prior sample and inverse flows: the decoder's input [b, c, t_y] (masked)."""
        t_y = z_noise.shape[2]
        stats = length_regulate(torch.cat([enc.m_p, enc.logs_p], dim=1), enc.durations, t_y)  # [b, 2c, t_y]
        y_mask = sequence_mask(enc.frames, t_y).unsqueeze(1).to(stats.dtype)  # [b, 1, t_y]
        return self.prior_flows(stats, y_mask, noise_scale, z_noise, enc.g)

    def prior_flows(self, stats: torch.Tensor, y_mask: torch.Tensor, noise_scale: torch.Tensor,
                    z_noise: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        """Prior statistics per frame (means then log-stds, [b, 2c, t_y]) -> prior sample -> inverse flows,
        masked by y_mask [b, 1, t_y]."""
        c = stats.shape[1] // 2
        z_p = stats[:, :c] + z_noise * torch.exp(stats[:, c:]) * noise_scale.view(-1, 1, 1)  # [b, c, t_y]
        z = self.flow(z_p, y_mask, g)
        return z * y_mask

    def infer(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        noise_scale: torch.Tensor,
        length_scale: torch.Tensor,
        noise_w: torch.Tensor,
        dur_noise: torch.Tensor,
        z_noise: torch.Tensor,
        sid: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both stages with a fixed frame bucket (z_noise's length). Returns (audio [b, T], samples [b]).

        Utterances needing more frames than the bucket are reported by `samples` exceeding T; callers
        that cannot size the bucket in advance use `encode` and `decode` separately.
        """
        enc = self.encode(ids, lengths, noise_w, length_scale, dur_noise, sid)
        audio = self.decode(enc, noise_scale, z_noise)
        return audio, enc.frames * self.hop_length
