"""A unit codec: k-means units over a voice's own frames, decoded by that voice's own stages.

A unit stands for `frames_per_unit` consecutive frames. Its centroid holds all of them ([channels,
frames_per_unit]: units pooled over several frames keep the frames' order), so codes [b, 1, T] become
frames [b, C, T * frames_per_unit] by a table lookup. Units live in one of two spaces:

- "vocoder": the vocoder's input frames (VITS: the latent z after the inverse flows); the voice's vocode
  stage (`models.base`: `vocode(z, lengths, g)`) turns them into audio;
- "regulated": the frames stage's input after length regulation, its first C channels (VITS: the prior
  means, constant over each phoneme's frames; the log-stds are left at zero), turned into vocoder frames
  by the voice's `frames_post` stage with zero noise (`RegulatedFrames`), then vocoded.

Nothing here knows the family: stages come in as modules with the contract's signatures, their facts as a
`FamilySpec`. Every stage is non-causal with a finite reach (`frames_reach` + `vocoder_reach` frames on
each side), so the stream holds back `CodecSpec.lookahead` code frames and decodes each window with that
much context on both sides: the stitched stream equals the whole decode up to float rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ...errors import ConfigError
from ..base import CodecSpec, FamilySpec


class RegulatedFrames(nn.Module):
    """Regulated-token frames [b, Cu, t] (the first Cu of the frames stage's Ct token channels; the rest are
    zero) -> the vocoder's input frames [b, C, t], through the family's `frames_post` stage with zero noise
    and the knobs' defaults. Its reach is the family's `frames_reach`."""

    def __init__(self, frames_post: nn.Module, family: FamilySpec) -> None:
        super().__init__()
        if family.frames_reach is None:
            raise ConfigError(f"the {family.family} frames stage reaches over the whole sentence: units over its "
                              "input could not be streamed exactly")
        self.post = frames_post
        self.token_channels = family.token_channels
        self.noise_channels = family.frames_noise.channels if family.frames_noise is not None else 0
        self.register_buffer("knobs", torch.tensor([family.knob_defaults()], dtype=torch.float32), persistent=False)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        b, c, t = x.shape
        if c > self.token_channels:
            raise ConfigError(f"unit frames of {c} channels, the frames stage takes at most {self.token_channels}")
        tokens = torch.cat([x, x.new_zeros(b, self.token_channels - c, t)], dim=1)  # [b, Ct, t]
        if lengths is None:
            mask = x.new_ones(b, 1, t)
        else:
            mask = (torch.arange(t, device=x.device).unsqueeze(0) < lengths.unsqueeze(1)).to(x.dtype).unsqueeze(1)
        noise = x.new_zeros(b, self.noise_channels, t) if self.noise_channels else None  # [b, Cn, t]
        return self.post(tokens * mask, mask, self.knobs.expand(b, -1), noise, None)  # [b, C, t]


@dataclass
class UnitStreamState:
    """Where a stream of unit codes stands: the code frames still needed, as context or not yet decoded."""

    codes: torch.Tensor
    """Held code frames [b, 1, n]: `context` frames already played (left context), then pending ones."""
    context: int
    """How many leading frames of `codes` have had their audio emitted."""
    closed: bool = False
    """True after the chunk with `last=True`: the stream is over."""


class UnitCodec(nn.Module):
    """codes [b, 1, T] int64 -> centroid frames [b, C, T * frames_per_unit] -> the voice's vocoder -> audio."""

    def __init__(self, centroids: torch.Tensor, vocoder: nn.Module, family: FamilySpec, name: str = "units",
                 frames: nn.Module | None = None, frames_reach: int = 0) -> None:
        """centroids [bins, C, frames_per_unit]; `vocoder` is the voice's vocode stage (shared, not copied),
        `family` its model's spec (hop, channels, reach, sample rate). `frames` (e.g. `RegulatedFrames`) maps
        unit frames [b, C, t] and lengths to the vocoder's input frames, reaching `frames_reach` frames on
        each side; without it the units are in the vocoder's input space."""
        super().__init__()
        if centroids.dim() != 3:
            raise ConfigError(f"unit centroids must be [bins, channels, frames_per_unit], got {tuple(centroids.shape)}")
        bins, channels, per_unit = centroids.shape
        if frames is None and channels != family.channels:
            raise ConfigError(f"unit centroids have {channels} channels, the vocoder takes {family.channels}")
        if family.cond_channels:
            raise ConfigError("unit codecs decode without speaker conditioning: this vocoder needs a vector g")
        if bins < 1 or per_unit < 1:
            raise ConfigError(f"unit centroids need a bin and a frame per unit at least, got {tuple(centroids.shape)}")
        self.frames_per_unit = int(per_unit)
        self.vocoder = vocoder
        self.prenet = frames
        # [bins, C * F] with channel-major rows: row u reshaped to [C, F] is unit u's frames
        self.register_buffer("table", centroids.detach().to(torch.float32).reshape(bins, channels * per_unit).clone())
        self.spec = CodecSpec(name=name, sample_rate=family.sample_rate, hop=family.hop * per_unit, codebooks=1,
                              bins=int(bins), channels=int(channels),
                              lookahead=math.ceil((family.vocoder_reach + frames_reach) / per_unit))

    @property
    def centroids(self) -> torch.Tensor:
        """The unit table as [bins, C, frames_per_unit]."""
        return self.table.view(self.spec.bins, self.spec.channels, self.frames_per_unit)

    # --- codes -> frames -> audio ------------------------------------------------------------------

    def _check_codes(self, codes: torch.Tensor) -> None:
        if codes.dim() != 3 or codes.shape[1] != 1:
            raise ConfigError(f"unit codes must be [batch, 1, frames], got {tuple(codes.shape)}")
        if codes.dtype not in (torch.int64, torch.int32):
            raise ConfigError(f"unit codes must be integers (int64), got {codes.dtype}")
        if codes.numel() and not torch.compiler.is_compiling():
            low, high = int(codes.min()), int(codes.max())
            if low < 0 or high >= self.spec.bins:
                raise ConfigError(f"unit codes must lie in [0, {self.spec.bins}), got values from {low} to {high}")

    def frames(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [b, 1, T] -> unit frames [b, C, T * frames_per_unit] (centroids, in the units' space)."""
        self._check_codes(codes)
        b, t = codes.shape[0], codes.shape[2]
        c, per = self.spec.channels, self.frames_per_unit
        rows = F.embedding(codes[:, 0].long(), self.table)  # [b, T, C * F]
        return rows.view(b, t, c, per).permute(0, 2, 1, 3).reshape(b, c, t * per)  # [b, C, T * F]

    def decode(self, codes: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """codes [b, 1, T] int64 -> audio [b, T * hop]; `lengths` [b] code frames per row: the vocoder masks
        each row at its length (a padded row decodes as it would alone) and audio past it is zero."""
        x = self.frames(codes)  # [b, C, T * F]
        if lengths is None:
            z = x if self.prenet is None else self.prenet(x, None)  # [b, C_vocoder, T * F]
            return self.vocoder(z, None, None)  # [b, T * hop]
        lengths = lengths.to(device=x.device, dtype=torch.int64)
        if lengths.shape != (codes.shape[0],):
            raise ConfigError(f"lengths must be [batch] = [{codes.shape[0]}], got {tuple(lengths.shape)}")
        frames = lengths * self.frames_per_unit  # [b]
        z = x if self.prenet is None else self.prenet(x, frames)
        audio = self.vocoder(z, frames, None)  # [b, T * hop]
        sample = torch.arange(audio.shape[1], device=audio.device)  # [T * hop]
        return audio * (sample.unsqueeze(0) < (lengths * self.spec.hop).unsqueeze(1)).to(audio.dtype)

    # --- codes <- frames (nearest centroid) --------------------------------------------------------

    def encode(self, frames: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Frames in the units' space [b, C, t] -> the nearest units [b, 1, ceil(t / frames_per_unit)] (see
        `unit_vectors` for rows whose length is not a multiple of frames_per_unit)."""
        if frames.dim() != 3 or frames.shape[1] != self.spec.channels:
            raise ConfigError(f"frames must be [batch, {self.spec.channels}, t], got {tuple(frames.shape)}")
        x = unit_vectors(frames, self.frames_per_unit, lengths)  # [b, T, C * F]
        b, units, d = x.shape
        return nearest(x.reshape(b * units, d), self.table).view(b, 1, units)

    # --- streaming ----------------------------------------------------------------------------------

    def stream_state(self, batch: int) -> UnitStreamState:
        """The state before the first chunk of a stream of `batch` rows."""
        return UnitStreamState(torch.zeros(batch, 1, 0, dtype=torch.int64, device=self.table.device), 0)

    def decode_stream(self, codes: torch.Tensor, state: UnitStreamState,
                      last: bool) -> tuple[torch.Tensor, UnitStreamState]:
        """codes [b, 1, t] (the next chunk, t >= 0) -> (audio [b, n * hop] of the code frames now final, the
        new state). Frames within `lookahead` of the newest code wait for more codes or for `last`."""
        if state.closed:
            raise ConfigError("this unit stream has ended (its last chunk was given): start a new stream_state()")
        if codes.shape[0] != state.codes.shape[0]:
            raise ConfigError(f"a chunk of {codes.shape[0]} rows for a stream of {state.codes.shape[0]}")
        if codes.shape[2]:
            self._check_codes(codes)
        held = torch.cat([state.codes, codes.to(state.codes.device, torch.int64)], dim=2)  # [b, 1, n]
        n, ahead, hop = held.shape[2], self.spec.lookahead, self.spec.hop
        final = n if last else n - ahead  # code frames whose audio no later code can change
        if final <= state.context:
            empty = torch.zeros(held.shape[0], 0, device=self.table.device)
            return empty, UnitStreamState(held, state.context, closed=last)
        audio = self.decode(held)  # [b, n * hop]: context, new frames, lookahead
        out = audio[:, state.context * hop : final * hop]
        keep = max(0, final - ahead)  # the left context the next window needs
        return out, UnitStreamState(held[:, :, keep:], final - keep, closed=last)


def unit_vectors(frames: torch.Tensor, per_unit: int, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Frames [b, C, t] -> one vector per unit [b, ceil(t / per_unit), C * per_unit], channel-major (the
    layout of `UnitCodec`'s table). A row whose length is not a multiple of per_unit has its last unit
    completed with copies of its last frame; vectors past a row's ceil(length / per_unit) are not meaningful."""
    b, c, t = frames.shape
    units = -(-t // per_unit)
    lengths = (torch.full((b,), t, dtype=torch.int64, device=frames.device) if lengths is None
               else lengths.to(device=frames.device, dtype=torch.int64))
    pos = torch.arange(units * per_unit, device=frames.device).unsqueeze(0)  # [1, T * F]
    index = torch.minimum(pos, (lengths - 1).clamp_min(0).unsqueeze(1))  # [b, T * F]: edge copies past the end
    x = torch.gather(frames.float(), 2, index.unsqueeze(1).expand(b, c, -1))  # [b, C, T * F]
    return x.view(b, c, units, per_unit).permute(0, 2, 1, 3).reshape(b, units, c * per_unit)  # [b, T, C * F]


def nearest(x: torch.Tensor, table: torch.Tensor, chunk: int = 16384) -> torch.Tensor:
    """Index of the nearest row of table [k, d] (squared Euclidean) for each row of x [n, d] -> [n] int64."""
    sq = (table * table).sum(dim=1)  # [k]
    out = []
    for start in range(0, x.shape[0], chunk):
        part = x[start : start + chunk]  # [m, d]
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; ||x||^2 is the same for every c
        out.append(torch.argmin(sq.unsqueeze(0) - 2.0 * part @ table.T, dim=1))  # [m]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.int64, device=x.device)
