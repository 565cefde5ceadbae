"""Tacotron 2's building blocks: the encoder, the location-sensitive attention, the decoder step and the
postnet, as plain modules whose submodule names follow DLE's state dict up to `model.dle_state`'s map.

Batch-exactness: every convolution's output is zeroed past each row's length, so the next one reads the
zeros a batch-1 run pads with; the BiLSTM's backward direction reads each row reversed within its own
length (an index gather), never the padding first.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from .config import Tacotron2Config


def conv_bn(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """A same-padded Conv1d followed by batch norm (DLE's `Sequential(ConvNorm, BatchNorm1d)`)."""
    return nn.Sequential(nn.Conv1d(c_in, c_out, kernel, padding=(kernel - 1) // 2), nn.BatchNorm1d(c_out))


def length_mask(lengths: torch.Tensor, width: int, dtype: torch.dtype) -> torch.Tensor:
    """[b] lengths -> [b, width] mask, 1 before each length and 0 from it on."""
    return (torch.arange(width, device=lengths.device)[None, :] < lengths[:, None]).to(dtype)


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """x [b, t, c] with the first lengths[i] steps of row i reversed and the rest in place (its own inverse)."""
    t = x.shape[1]
    pos = torch.arange(t, device=x.device)[None, :]  # [1, t]
    last = lengths[:, None] - 1  # [b, 1]
    idx = torch.where(pos <= last, last - pos, pos)  # [b, t]
    return torch.gather(x, 1, idx[:, :, None].expand(-1, -1, x.shape[2]))


class Encoder(nn.Module):
    """Conv-BN-ReLU layers, then a BiLSTM (its two directions as two one-way LSTMs)."""

    def __init__(self, cfg: Tacotron2Config) -> None:
        super().__init__()
        e = cfg.encoder_dim
        self.convolutions = nn.ModuleList(conv_bn(e, e, cfg.encoder_kernel) for _ in range(cfg.encoder_convs))
        self.lstm_fwd = nn.LSTM(e, e // 2, batch_first=True)
        self.lstm_bwd = nn.LSTM(e, e // 2, batch_first=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x [b, e, t] embedded ids, lengths [b] -> memory [b, t, e], zero past each length."""
        mask = length_mask(lengths, x.shape[2], x.dtype)  # [b, t]
        x = x * mask[:, None]
        for conv in self.convolutions:
            x = F.relu(conv(x)) * mask[:, None]  # [b, e, t]
        x = x.transpose(1, 2)  # [b, t, e]
        fwd, _ = self.lstm_fwd(x)  # [b, t, e/2]: a step reads only earlier steps, padding comes last
        bwd, _ = self.lstm_bwd(reverse_within(x, lengths))  # [b, t, e/2] in reversed order
        out = torch.cat([fwd, reverse_within(bwd, lengths)], 2)  # [b, t, e]
        return out * mask[:, :, None]


class LocationLayer(nn.Module):
    """Features of the previous and cumulative attention weights."""

    def __init__(self, cfg: Tacotron2Config) -> None:
        super().__init__()
        k = cfg.location_kernel
        self.location_conv = nn.Conv1d(2, cfg.location_filters, k, padding=(k - 1) // 2, bias=False)
        self.location_dense = nn.Linear(cfg.location_filters, cfg.attention_dim, bias=False)

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        """weights [b, 2, t] -> [b, t, attention_dim]."""
        return self.location_dense(self.location_conv(weights).transpose(1, 2))


class Attention(nn.Module):
    """Location-sensitive additive attention over the encoder memory."""

    def __init__(self, cfg: Tacotron2Config) -> None:
        super().__init__()
        self.query_layer = nn.Linear(cfg.attention_rnn_dim, cfg.attention_dim, bias=False)
        self.memory_layer = nn.Linear(cfg.encoder_dim, cfg.attention_dim, bias=False)
        self.v = nn.Linear(cfg.attention_dim, 1, bias=False)
        self.location_layer = LocationLayer(cfg)

    def forward(self, query: torch.Tensor, memory: torch.Tensor, processed: torch.Tensor, weights: torch.Tensor,
                pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """query [b, r], memory [b, t, e], processed [b, t, a], weights [b, 2, t] (previous, cumulative),
        pad [b, t] True past each length -> (context [b, e], new weights [b, t])."""
        energies = self.v(torch.tanh(self.query_layer(query)[:, None] + self.location_layer(weights) + processed))
        energies = energies.squeeze(2).masked_fill(pad, float("-inf"))  # [b, t]
        w = torch.softmax(energies, dim=1)  # [b, t]
        context = torch.bmm(w[:, None], memory).squeeze(1)  # [b, e]
        return context, w


class Prenet(nn.Module):
    """Two ReLU layers with always-on dropout (p = 0.5), its keep masks given: x * mask * 2."""

    def __init__(self, cfg: Tacotron2Config) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(cfg.n_mel, cfg.prenet_dim, bias=False),
                                     nn.Linear(cfg.prenet_dim, cfg.prenet_dim, bias=False)])

    def forward(self, x: torch.Tensor, masks: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """x [b, n_mel], masks: two [b, prenet_dim] 0/1 keep masks -> [b, prenet_dim]."""
        for linear, mask in zip(self.layers, masks):
            x = F.relu(linear(x)) * mask * 2.0
        return x


class DecoderState(NamedTuple):
    """The decoder's recurrent state of a batch (all [b, ...] float)."""

    attention_hidden: torch.Tensor
    """[b, attention_rnn_dim]"""
    attention_cell: torch.Tensor
    """[b, attention_rnn_dim]"""
    decoder_hidden: torch.Tensor
    """[b, decoder_rnn_dim]"""
    decoder_cell: torch.Tensor
    """[b, decoder_rnn_dim]"""
    context: torch.Tensor
    """[b, encoder_dim]: the last attention context."""
    frame: torch.Tensor
    """[b, n_mel]: the last emitted frame (zeros: the go frame)."""
    weights: torch.Tensor
    """[b, t]: the last attention weights."""
    cumulative: torch.Tensor
    """[b, t]: the running sum of the attention weights."""


class Decoder(nn.Module):
    """One autoregressive step: prenet, attention LSTM, attention, decoder LSTM, frame and gate projections."""

    def __init__(self, cfg: Tacotron2Config) -> None:
        super().__init__()
        self.cfg = cfg
        e = cfg.encoder_dim
        self.prenet = Prenet(cfg)
        self.attention_rnn = nn.LSTMCell(cfg.prenet_dim + e, cfg.attention_rnn_dim)
        self.attention_layer = Attention(cfg)
        self.decoder_rnn = nn.LSTMCell(cfg.attention_rnn_dim + e, cfg.decoder_rnn_dim)
        self.linear_projection = nn.Linear(cfg.decoder_rnn_dim + e, cfg.n_mel)
        self.gate_layer = nn.Linear(cfg.decoder_rnn_dim + e, 1)

    def initial_state(self, memory: torch.Tensor) -> DecoderState:
        """All-zero state (and go frame) for memory [b, t, e]."""
        cfg, b, t = self.cfg, memory.shape[0], memory.shape[1]

        def zeros(*shape: int) -> torch.Tensor:
            return memory.new_zeros(shape)

        return DecoderState(zeros(b, cfg.attention_rnn_dim), zeros(b, cfg.attention_rnn_dim),
                            zeros(b, cfg.decoder_rnn_dim), zeros(b, cfg.decoder_rnn_dim), zeros(b, cfg.encoder_dim),
                            zeros(b, cfg.n_mel), zeros(b, t), zeros(b, t))

    def step(self, s: DecoderState, memory: torch.Tensor, processed: torch.Tensor, pad: torch.Tensor,
             masks: tuple[torch.Tensor, torch.Tensor]) -> tuple[DecoderState, torch.Tensor]:
        """One step for every row: state, memory [b, t, e], processed [b, t, a], pad [b, t] (True on padding),
        prenet keep masks 2 x [b, prenet_dim] -> (next state (its `frame` is this step's frame), gate logit [b])."""
        x = self.prenet(s.frame, masks)  # [b, p]
        ah, ac = self.attention_rnn(torch.cat([x, s.context], 1), (s.attention_hidden, s.attention_cell))
        weights = torch.stack([s.weights, s.cumulative], 1)  # [b, 2, t]
        context, w = self.attention_layer(ah, memory, processed, weights, pad)  # [b, e], [b, t]
        dh, dc = self.decoder_rnn(torch.cat([ah, context], 1), (s.decoder_hidden, s.decoder_cell))
        hc = torch.cat([dh, context], 1)  # [b, d + e]
        frame = self.linear_projection(hc)  # [b, n_mel]
        gate = self.gate_layer(hc).squeeze(1)  # [b]
        return DecoderState(ah, ac, dh, dc, context, frame, w, s.cumulative + w), gate


class Postnet(nn.Module):
    """Conv-BN layers (tanh on all but the last) predicting a residual added to the decoded mel."""

    def __init__(self, cfg: Tacotron2Config) -> None:
        super().__init__()
        k, h, n = cfg.postnet_kernel, cfg.postnet_dim, cfg.postnet_convs
        chans = [cfg.n_mel] + [h] * (n - 1) + [cfg.n_mel]
        self.convolutions = nn.ModuleList(conv_bn(chans[i], chans[i + 1], k) for i in range(n))

    def forward(self, mel: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """mel [b, n_mel, t], mask [b, 1, t] or None -> residual [b, n_mel, t] (zero where mask is 0)."""
        x = mel if mask is None else mel * mask
        last = len(self.convolutions) - 1
        for i, conv in enumerate(self.convolutions):
            x = conv(x)  # [b, c, t]
            if i < last:
                x = torch.tanh(x)
            if mask is not None:
                x = x * mask  # batch norm's shift past the end would leak into the next conv
        return x
