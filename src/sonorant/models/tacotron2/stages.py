"""Tacotron2 + WaveGlow's four stages with the family contract's signatures (`models.base`), and
`decode_all`, an eager driver of the decode stage.

- encode: ids -> tokens [b, E + A, t_x] = the encoder memory and the attention's processed memory.
- decode: `block` steps for every row (a Python loop over a constant, unrolled by export and compile) with
  a per-row live flag: a live row advances, emits its frame and counts it, then stops if its gate fired;
  a finished row keeps its state, attention and count and emits zeros.
- frames (= frames_post): the postnet, and WaveGlow's draws scaled by sigma, as z [b, n_mel + hop, t_y].
- vocode: WaveGlow (and the denoiser when on) over z.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ...errors import DecodeLimitError
from ..waveglow.denoiser import Denoiser
from ..waveglow.model import WaveGlow
from .layers import DecoderState
from .model import Tacotron2
from .spec import KNOB_NAMES

_GATE, _SIGMA = KNOB_NAMES.index("gate_threshold"), KNOB_NAMES.index("sigma")


class EncodeStage(nn.Module):
    """ids -> (tokens [b, E + A, t_x],): memory and processed memory on channels, zero past each length."""

    def __init__(self, model: Tacotron2) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, knobs: torch.Tensor,
                noise: torch.Tensor | None = None, sid: torch.Tensor | None = None) -> tuple[torch.Tensor]:
        """`knobs`, `noise` and `sid` are unused (no encode noise, one speaker)."""
        memory, processed = self.model.encode(ids, lengths)  # [b, t_x, e], [b, t_x, a]
        return (torch.cat([memory, processed], 2).transpose(1, 2),)  # [b, e + a, t_x]


class DecodeStage(nn.Module):
    """`block` autoregressive steps of every row of a batch (`models.base`'s decode signature)."""

    def __init__(self, model: Tacotron2, block: int) -> None:
        super().__init__()
        self.model = model
        self.block = block
        cfg = model.cfg
        self.splits = (cfg.attention_rnn_dim, cfg.attention_rnn_dim, cfg.decoder_rnn_dim, cfg.decoder_rnn_dim,
                       cfg.encoder_dim, cfg.n_mel)

    def forward(self, tokens: torch.Tensor, id_mask: torch.Tensor, state: torch.Tensor, attn: torch.Tensor,
                live: torch.Tensor, count: torch.Tensor, knobs: torch.Tensor, noise: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """tokens [b, e + a, t_x], id_mask [b, t_x], state [b, S], attn [b, 2, t_x], live [b] (1/0), count [b]
        i64, knobs [b, K], noise [b, 2 * prenet_dim, block] (draw > 0: keep) -> (state, attn, live, count,
        frames [b, n_mel, block])."""
        cfg = self.model.cfg
        e, p = cfg.encoder_dim, cfg.prenet_dim
        memory = tokens[:, :e].transpose(1, 2)  # [b, t_x, e]
        processed = tokens[:, e:].transpose(1, 2)  # [b, t_x, a]
        pad = id_mask <= 0  # [b, t_x]
        threshold = knobs[:, _GATE]  # [b]
        ah, ac, dh, dc, ctx, frame = torch.split(state, self.splits, dim=1)
        s = DecoderState(ah, ac, dh, dc, ctx, frame, attn[:, 0], attn[:, 1])
        frames = []
        for step in range(self.block):
            keep = (noise[:, :, step] > 0).to(state.dtype)  # [b, 2p]
            nxt, gate = self.model.decoder.step(s, memory, processed, pad, (keep[:, :p], keep[:, p:]))
            on = live[:, None] > 0  # [b, 1]
            s = DecoderState(*(torch.where(on, new, old) for new, old in zip(nxt, s)))
            frames.append(nxt.frame * live[:, None])  # [b, n_mel]
            count = count + (live > 0).to(count.dtype)
            live = live * (torch.sigmoid(gate) <= threshold).to(live.dtype)
        state = torch.cat([s.attention_hidden, s.attention_cell, s.decoder_hidden, s.decoder_cell, s.context,
                           s.frame], 1)  # [b, S]
        return state, torch.stack([s.weights, s.cumulative], 1), live, count, torch.stack(frames, 2)


class PostnetStage(nn.Module):
    """Decoded mel -> z [b, n_mel + hop, t_y] = (mel + postnet(mel), sigma * noise), zero where mask is 0."""

    def __init__(self, model: Tacotron2) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, knobs: torch.Tensor,
                noise: torch.Tensor | None = None, g: torch.Tensor | None = None) -> torch.Tensor:
        """tokens [b, n_mel, t_y] decoded mel (zero past each count), mask [b, 1, t_y], noise [b, hop, t_y]
        WaveGlow's draws (None: zeros) -> z; `g` is unused."""
        mel = self.model.post(tokens, mask)  # [b, n_mel, t_y]
        if noise is None:
            return mel
        return torch.cat([mel, noise * knobs[:, _SIGMA, None, None] * mask], 1)  # [b, n_mel + hop, t_y]


def unpack_noise(noise: torch.Tensor, n_group: int) -> torch.Tensor:
    """[b, hop, t] per-frame draws -> WaveGlow's z [b, n_group, t * hop / n_group], with
    z[:, c, t * m + j] = noise[:, c * m + j, t] (m = hop / n_group)."""
    b, hop, t = noise.shape
    m = hop // n_group
    return noise.reshape(b, n_group, m, t).transpose(2, 3).reshape(b, n_group, t * m)


class VocodeStage(nn.Module):
    """z -> audio [b, t * hop]: WaveGlow over the mel channels with the draws of the rest, then the denoiser."""

    def __init__(self, waveglow: WaveGlow, denoiser: Denoiser | None = None) -> None:
        super().__init__()
        self.waveglow = waveglow
        self.denoiser = denoiser

    def forward(self, z: torch.Tensor, lengths: torch.Tensor | None = None,
                g: torch.Tensor | None = None) -> torch.Tensor:
        """z [b, n_mel + hop, t], lengths [b] frames or None; `g` is unused."""
        cfg = self.waveglow.cfg
        mel = z[:, : cfg.n_mel]  # [b, n_mel, t]
        draws = unpack_noise(z[:, cfg.n_mel :], cfg.n_group)  # [b, n_group, t * hop / n_group]
        audio = self.waveglow.infer(mel, draws, lengths)  # [b, t * hop]
        if self.denoiser is not None:
            audio = self.denoiser(audio, None if lengths is None else lengths * cfg.hop)
        return audio


@torch.no_grad()
def decode_all(stages: Mapping[str, nn.Module], tokens: torch.Tensor, id_mask: torch.Tensor, knobs: torch.Tensor,
               noise: torch.Tensor, block: int, max_steps: int, state_channels: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the decode stage block by block until no row is live (one host read per block), as a runtime
    does. noise [b, Cn, >= the steps run] (step s uses column s) -> (frames [b, n_mel, steps run] zero past
    each count, counts [b]). Raises `DecodeLimitError` if a row is still live after `max_steps` steps."""
    b, t_x = id_mask.shape
    state = tokens.new_zeros(b, state_channels)
    attn = tokens.new_zeros(b, 2, t_x)
    live = tokens.new_ones(b)
    count = torch.zeros(b, dtype=torch.int64, device=tokens.device)
    out: list[torch.Tensor] = []
    start = 0
    while bool((live > 0).any()) and start < max_steps:
        chunk = noise[:, :, start : start + block]
        if chunk.shape[2] < block:
            raise ValueError(f"the decode noise covers {noise.shape[2]} steps; block {start // block} needs more")
        state, attn, live, count, frames = stages["decode"](tokens, id_mask, state, attn, live, count, knobs, chunk)
        out.append(frames)
        start += block
    if bool((live > 0).any()) or bool((count > max_steps).any()):
        rows = [i for i in range(b) if bool(live[i] > 0) or int(count[i]) > max_steps]
        raise DecodeLimitError(f"the Tacotron2 gate did not fire within {max_steps} steps for row(s) {rows}")
    return torch.cat(out, 2)[:, :, : int(count.max())], count
