"""A Tacotron2 spectrogram generator paired with a WaveGlow vocoder: one `StagedModel` (`models.base`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import nn

from ...errors import VoiceError
from ..base import FamilySpec
from ..waveglow.denoiser import Denoiser
from ..waveglow.model import WaveGlow
from .model import Tacotron2
from .spec import tacotron2_spec
from .stages import DecodeStage, EncodeStage, PostnetStage, VocodeStage


def check_pairing(tacotron2: Tacotron2, waveglow: WaveGlow) -> None:
    """Raise `VoiceError` unless the WaveGlow expects the mel frames the Tacotron2 emits."""
    t, w = tacotron2.cfg, waveglow.cfg
    bad = [f"{name} {a} vs {b}" for name, a, b in (("mel channels", t.n_mel, w.n_mel),
                                                 ("sample rate", t.sample_rate, w.sample_rate),
                                                 ("hop", t.hop, w.hop)) if a != b]
    if bad:
        raise VoiceError("the Tacotron2 model and the WaveGlow vocoder do not fit together (Tacotron2 vs WaveGlow): "
                         f"{'; '.join(bad)}. Pair models trained on the same mel spectrograms.")


class Tacotron2Voice(nn.Module):
    """Tacotron2 + WaveGlow: symbol ids -> mel frames (autoregressive) -> waveform, as the contract's stages.
    `block` decode steps per call, `max_steps` (None: the Tacotron2 config's) frames at most, `denoise` the
    strength of WaveGlow's bias-removal denoiser (0: off)."""

    def __init__(self, tacotron2: Tacotron2, waveglow: WaveGlow, block: int = 16, max_steps: int | None = None,
                 denoise: float = 0.0) -> None:
        super().__init__()
        check_pairing(tacotron2, waveglow)
        if block < 1 or denoise < 0:
            raise ValueError(f"block must be >= 1 and denoise >= 0 (got {block}, {denoise})")
        self.tacotron2 = tacotron2
        self.waveglow = waveglow
        self.denoiser = Denoiser(waveglow, denoise, hop=waveglow.cfg.hop) if denoise > 0 else None
        self.spec: FamilySpec = tacotron2_spec(tacotron2.cfg, waveglow.cfg, block, max_steps, denoise)

    def stages(self) -> dict[str, nn.Module]:
        """{"encode", "decode", "frames", "vocode"} modules sharing this voice's parameters (`models.base`
        signatures); "frames_post" is "frames" itself (this family has no length regulation). Each wrapper
        carries the train/eval flag of the model it wraps, so an exporter that restores a wrapper's mode
        afterwards (recursively) leaves the shared modules as they were."""
        post = PostnetStage(self.tacotron2)
        block = self.spec.decoder.block if self.spec.decoder is not None else 1
        stages: dict[str, nn.Module] = {
            "encode": EncodeStage(self.tacotron2), "decode": DecodeStage(self.tacotron2, block),
            "frames": post, "frames_post": post, "vocode": VocodeStage(self.waveglow, self.denoiser)}
        for name, stage in stages.items():
            stage.training = (self.waveglow if name == "vocode" else self.tacotron2).training
        return stages

    def extra_exports(self) -> dict[str, Callable[[Path], list[Path]]]:
        """Export formats beyond sonorant's stage graphs, by `sonorant export --format` name -> a writer into a
        directory returning the files written: "nvidia" (NVIDIA's TensorRT demo's encoder / decoder_iter /
        postnet / waveglow .onnx) and "loop" (one graph with the decoder as an ONNX Loop), see `onnx_parts`."""
        from .onnx_parts import extra_exports

        return extra_exports(self)
