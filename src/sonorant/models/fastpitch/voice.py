"""A FastPitch spectrogram generator paired with a mel HiFi-GAN: one `StagedModel` (`models.base`)."""

from __future__ import annotations

import torch
from torch import nn

from ...errors import VoiceError
from ..base import FamilySpec
from ..common.regulate import FramesStage
from ..hifigan.model import HifiGan
from .model import FastPitch
from .spec import fastpitch_spec


def check_pairing(fastpitch: FastPitch, vocoder: HifiGan) -> None:
    """Raise `VoiceError` unless the vocoder expects the mel frames the FastPitch emits."""
    bad = fastpitch.cfg.mel.mismatches(vocoder.cfg.mel)
    if bad:
        raise VoiceError("the FastPitch model and the vocoder were trained on different mel spectrograms "
                         f"(FastPitch vs vocoder): {'; '.join(bad)}. Pair models that share a mel config.")


class FastPitchVoice(nn.Module):
    """FastPitch + HiFi-GAN: token ids -> mel frames -> waveform, as the family contract's three stages."""

    def __init__(self, fastpitch: FastPitch, vocoder: HifiGan) -> None:
        super().__init__()
        check_pairing(fastpitch, vocoder)
        self.fastpitch = fastpitch
        self.vocoder = vocoder
        self.spec: FamilySpec = fastpitch_spec(fastpitch.cfg, vocoder.cfg)

    def stages(self) -> dict[str, nn.Module]:
        """{"encode", "frames", "vocode"} modules sharing this voice's parameters (`models.base` signatures),
        and "frames_post": the frames stage after its length regulation, for runtimes that regulate elsewhere."""
        post = MelDecoder(self.fastpitch)
        return {"encode": EncodeStage(self.fastpitch), "frames": FramesStage(post), "frames_post": post,
                "vocode": VocodeStage(self.vocoder)}


class EncodeStage(nn.Module):
    """ids -> (token features, durations, frames[, g]): the input transformer and the predictors."""

    def __init__(self, fastpitch: FastPitch) -> None:
        super().__init__()
        self.fastpitch = fastpitch

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, knobs: torch.Tensor,
                noise: torch.Tensor | None = None, sid: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """`noise` is unused (FastPitch draws none); g is returned only by decoder-conditioned models."""
        tokens, durations, frames, g = self.fastpitch.encode(ids, lengths, knobs, sid)
        return (tokens, durations, frames) + (() if g is None else (g,))


class MelDecoder(nn.Module):
    """After length regulation: the output transformer and the mel projection -> mel [b, n_mels, t_y]."""

    def __init__(self, fastpitch: FastPitch) -> None:
        super().__init__()
        self.fastpitch = fastpitch

    def forward(self, regulated: torch.Tensor, mask: torch.Tensor, knobs: torch.Tensor,
                noise: torch.Tensor | None = None, g: torch.Tensor | None = None) -> torch.Tensor:
        """regulated [b, d, t_y], mask [b, 1, t_y]; `knobs` and `noise` are unused (pace is in the durations)."""
        mel = self.fastpitch.decode(regulated, mask, g)  # [b, n_mels, t_y]
        return mel * mask  # the contract's zero past each utterance's frames (NeMo's padding is proj.bias)


class VocodeStage(nn.Module):
    """The mel HiFi-GAN: mel frames -> samples."""

    def __init__(self, vocoder: HifiGan) -> None:
        super().__init__()
        self.vocoder = vocoder

    def forward(self, z: torch.Tensor, lengths: torch.Tensor | None = None,
                g: torch.Tensor | None = None) -> torch.Tensor:
        """`g` is unused (the vocoder is not speaker-conditioned). Returns audio [b, t * hop]."""
        return self.vocoder(z, lengths)
