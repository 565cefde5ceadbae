"""FastPitch (NeMo's `FastPitchModule` at inference), split into two static stages around the frame count.

Stage 1 (`encode`, shapes fixed by [batch, max ids]): the input transformer, durations and pitch (and
energy) per token, their embeddings added to the token features, integer durations after pace.
Stage 2 (`frames`, shapes fixed by [batch, max ids, max frames]): length regulation by a path matrix
built from cumulative durations compared with a frame index and applied with `bmm`, the output
transformer over the frames (global attention: no window of it is exact) and the mel projection.
Nothing in either stage depends on data for its shape, and nothing is random.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..common.regulate import length_regulate
from .config import FastPitchConfig
from .predictor import TemporalPredictor
from .transformer import FFTransformer

PACE, PITCH_SHIFT, PITCH_SCALE = 0, 1, 2
"""Knob columns (`spec.KNOBS`)."""


@dataclass
class Prediction:
    """Everything stage 1 computes for a batch (tests and tools read the intermediate values)."""

    tokens: torch.Tensor
    """Token features with pitch (and energy) embeddings added, [b, d, t_x], zero past each length."""
    durations: torch.Tensor
    """Frames per token after pace and rounding, integral floats [b, t_x] (zero on padding)."""
    frames: torch.Tensor
    """Frames per utterance [b] (int64, at least 1)."""
    g: torch.Tensor | None
    """The speaker embedding [b, d, 1] when the output transformer is conditioned on it, else None."""
    log_durations: torch.Tensor
    """The duration predictor's output, log(1 + frames) before clamping and pace, [b, t_x]."""
    pitch: torch.Tensor
    """The pitch contour that was embedded (normalized units, after the pitch knobs), [b, t_x]."""


class FastPitch(nn.Module):
    """A FastPitch spectrogram generator: token ids -> mel frames. Submodule names follow NeMo's
    `fastpitch.*` checkpoint keys."""

    def __init__(self, cfg: FastPitchConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.encoder = FFTransformer(d, cfg.encoder, cfg.n_vocab, cfg.padding_idx)
        self.decoder = FFTransformer(d, cfg.decoder)
        self.duration_predictor = TemporalPredictor(d, cfg.duration_predictor)
        self.pitch_predictor = TemporalPredictor(d, cfg.pitch_predictor)
        k = cfg.pitch_embedding_kernel_size
        self.pitch_emb = nn.Conv1d(1, d, k, padding=(k - 1) // 2)
        if cfg.energy_predictor is not None:
            self.energy_predictor = TemporalPredictor(d, cfg.energy_predictor)
            k = cfg.energy_embedding_kernel_size
            self.energy_emb = nn.Conv1d(1, d, k, padding=(k - 1) // 2)
        if cfg.n_speakers > 1:
            self.speaker_emb = nn.Embedding(cfg.n_speakers, d)
        self.proj = nn.Linear(d, cfg.mel.n_mels)

    def predict(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        knobs: torch.Tensor,
        sid: torch.Tensor | None = None,
        pitch: torch.Tensor | None = None,
    ) -> Prediction:
        """ids [b, t_x] int64, lengths [b], knobs [b, 3] (pace, pitch_shift, pitch_scale), sid [b] for
        multi-speaker models. `pitch` [b, t_x] (normalized, per token) replaces the predicted contour
        before the knobs, as NeMo's `pitch` input does."""
        cfg = self.cfg
        t_x = ids.shape[1]
        pos = torch.arange(t_x, device=ids.device)
        in_len = pos.unsqueeze(0) < lengths.unsqueeze(1)  # [b, t_x]
        dtype = self.proj.weight.dtype
        len_mask = in_len.to(dtype).unsqueeze(2)  # [b, t_x, 1]
        mask = (in_len & (ids != cfg.padding_idx)).to(dtype).unsqueeze(2)  # [b, t_x, 1]: NeMo masks pad ids too
        spk = self.speaker_emb(sid).unsqueeze(1) if cfg.n_speakers > 1 and sid is not None else None  # [b, 1, d]
        sites = cfg.speaker_sites if spk is not None else ()

        x = self.encoder(ids, mask, spk if "encoder" in sites else None)  # [b, t_x, d]
        log_dur = self.duration_predictor(x, mask, spk if "duration" in sites else None)  # [b, t_x]
        dur = torch.clamp(torch.exp(log_dur) - 1.0, cfg.min_token_duration, cfg.max_token_duration)
        dur = dur * mask.squeeze(2)  # [b, t_x], frames before pace

        if pitch is None:
            pitch = self.pitch_predictor(x, mask, spk if "pitch" in sites else None)  # [b, t_x], normalized
        shift = knobs[:, PITCH_SHIFT : PITCH_SHIFT + 1] / cfg.pitch_std if cfg.pitch_std > 0 else 0.0
        pitch = (pitch * knobs[:, PITCH_SCALE : PITCH_SCALE + 1] + shift) * len_mask.squeeze(2)  # [b, t_x]
        x = x + self.pitch_emb(pitch.unsqueeze(1)).transpose(1, 2)  # [b, t_x, d]
        if cfg.energy_predictor is not None:
            energy = self.energy_predictor(x, mask, spk if "energy" in sites else None)  # [b, t_x]
            x = x + self.energy_emb(energy.unsqueeze(1)).transpose(1, 2)

        reps = dur / knobs[:, PACE : PACE + 1]  # [b, t_x]
        durations = torch.floor(reps + 0.5)  # NeMo's rounding: (dur / pace + 0.5) floored
        frames = torch.clamp_min(durations.sum(dim=1), 1).long()  # [b]
        tokens = (x * len_mask).transpose(1, 2)  # [b, d, t_x]
        g = spk.transpose(1, 2) if "decoder" in sites else None  # [b, d, 1]
        return Prediction(tokens, durations, frames, g, log_dur, pitch)

    def encode(
        self, ids: torch.Tensor, lengths: torch.Tensor, knobs: torch.Tensor, sid: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Stage 1: (tokens [b, d, t_x], durations [b, t_x], frames [b], g [b, d, 1] or None)."""
        p = self.predict(ids, lengths, knobs, sid)
        return p.tokens, p.durations, p.frames, p.g

    def frames(
        self,
        tokens: torch.Tensor,
        durations: torch.Tensor,
        mask: torch.Tensor,
        knobs: torch.Tensor | None = None,
        g: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Stage 2: tokens [b, d, t_x], durations [b, t_x], mask [b, 1, t_y] (the frame bucket; 1 on each
        utterance's frames). Returns mel [b, n_mels, t_y]; past an utterance's frames every bin holds
        `proj.bias`, as NeMo's padded output does. `knobs` is unused (pace is in the durations)."""
        return self.decode(length_regulate(tokens, durations, mask.shape[-1]), mask, g)

    def decode(self, regulated: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        """After length regulation: regulated token features [b, d, t_y] -> mel [b, n_mels, t_y] (the output
        transformer with positional and speaker embeddings, then the projection)."""
        m = mask.transpose(1, 2).to(regulated.dtype)  # [b, t_y, 1]
        x = self.decoder(regulated.transpose(1, 2), m, None if g is None else g.transpose(1, 2))  # [b, t_y, d]
        return self.proj(x).transpose(1, 2)  # [b, n_mels, t_y]
