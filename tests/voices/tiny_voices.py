"""Tiny random-weight VITS voices written in Piper's exact ONNX format, for tests that need no big weights.

Each voice is a small `Vits` with seeded, sensibly scaled random weights (durations of about 1-4
frames per phoneme, audible but bounded output), exported with `export_piper_voice` after wrapping
the flows' WaveNet convolutions in weight norm: constant folding then stores those weights under
generated `onnx::Conv_NNNN` names, exactly as in Piper's released voices, so the loader's
name recovery is exercised too.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from sonorant.models.vits import Vits, VitsConfig
from sonorant.voices.piper_export import export_piper_voice

_SMALL = dict(
    n_vocab=256,
    hidden_channels=32,
    inter_channels=32,
    filter_channels=64,
    n_heads=2,
    n_layers=2,
    dp_filter_channels=32,
    flow_hidden_channels=32,
    upsample_initial_channel=64,
)

TINY_CONFIGS: dict[str, VitsConfig] = {
    # Piper x_low: resblock "2", upsampling (8, 8, 4).
    "x_low": VitsConfig(**_SMALL, resblock="2", upsample_rates=(8, 8, 4), upsample_kernel_sizes=(16, 16, 8)),
    # A multi-speaker voice: speaker embedding conditions durations, flows and decoder.
    "multi": VitsConfig(**_SMALL, n_speakers=3, gin_channels=16),
    # Piper high: resblock "1", four upsamplings.
    "high": VitsConfig(
        **_SMALL,
        resblock="1",
        resblock_kernel_sizes=(3, 7, 11),
        resblock_dilation_sizes=((1, 3, 5),) * 3,
        upsample_rates=(8, 8, 2, 2),
        upsample_kernel_sizes=(16, 16, 4, 4),
    ),
    # Deterministic durations (VITS without the stochastic duration predictor).
    "no_sdp": VitsConfig(**_SMALL, use_sdp=False),
}
"""The tiny voices by name; each one's weights and export are seeded by its position here."""

_LOG_FRAMES = math.log(1.6)
"""Centre of the log-durations: about 1.6 frames per phoneme before ceil (ceil gives 1-4, rarely 5)."""


@dataclass(frozen=True)
class TinyVoice:
    """A tiny voice as built (eager model) and as exported (Piper `.onnx` + `.onnx.json`)."""

    name: str
    cfg: VitsConfig
    model: Vits
    """The eager model the file was exported from (plain weights, eval mode)."""
    onnx_path: Path
    config_path: Path


def _normal_(t: torch.Tensor, std: float, gen: torch.Generator, mean: float = 0.0) -> None:
    t.copy_(torch.randn(t.shape, generator=gen) * std + mean)


@torch.no_grad()
def init_tiny_weights(model: Vits, seed: int) -> Vits:
    """Seeded random weights scaled by fan-in, with durations near `exp(_LOG_FRAMES)` frames."""
    gen = torch.Generator().manual_seed(seed)
    for name, module in model.named_modules():
        if isinstance(module, nn.ConvTranspose1d):
            c_in, _, k = module.weight.shape  # [in, out, k]
            _normal_(module.weight, 1.0 / math.sqrt(c_in * k / module.stride[0]), gen)
        elif isinstance(module, nn.Conv1d):
            _normal_(module.weight, 1.0 / math.sqrt(module.weight[0].numel()), gen)  # [out, in/groups, k]
        elif isinstance(module, nn.Embedding):
            _normal_(module.weight, module.weight.shape[1] ** -0.5, gen)
        else:
            continue
        if getattr(module, "bias", None) is not None:
            _normal_(module.bias, 0.02, gen)
    for name, param in model.named_parameters():
        if name.endswith(".gamma"):
            _normal_(param, 0.1, gen, mean=1.0)  # distinct values: the exporter merges identical initializers
        elif name.endswith(".beta"):
            _normal_(param, 0.1, gen)
        elif "emb_rel" in name:
            _normal_(param, param.shape[-1] ** -0.5, gen)
    model.dec.conv_post.weight.mul_(0.3)  # keep the final tanh mostly linear
    cfg = model.cfg
    if cfg.use_sdp:
        affine = model.dp.flows[0]
        _normal_(affine.logs, 0.05, gen)
        _normal_(affine.m, 0.05, gen)
        affine.m[0] = -_LOG_FRAMES  # logw = (z - m) * exp(-logs) with z near 0
        for flow in model.dp.flows[3::2]:  # the spline flows used at inference
            flow.proj.weight.mul_(0.3)
    else:
        model.dp.proj.weight.mul_(0.3)
        model.dp.proj.bias.fill_(_LOG_FRAMES)
    return model.eval()


def weight_normed_copy(model: Vits) -> Vits:
    """A copy whose flow WaveNet convs (in_layers, res_skip_layers, cond_layer) use weight norm, as Piper's do."""
    wn = copy.deepcopy(model)
    for flow in wn.flow.flows[::2]:
        enc = flow.enc
        for conv in list(enc.in_layers) + list(enc.res_skip_layers):
            weight_norm(conv)
        if hasattr(enc, "cond_layer"):
            weight_norm(enc.cond_layer)
    return wn.eval()


def build_tiny_voice(name: str, directory: Path) -> TinyVoice:
    """Build, initialise and export the tiny voice `name` into `directory`."""
    cfg = TINY_CONFIGS[name]
    seed = list(TINY_CONFIGS).index(name) + 1
    model = init_tiny_weights(Vits(cfg), seed)
    quality = "x_low" if name == "x_low" else "medium"
    config = {
        "audio": {"sample_rate": 16000 if quality == "x_low" else 22050, "quality": quality},
        "dataset": f"tiny_{name}",
        "language": "en_US",
    }
    onnx_path = export_piper_voice(weight_normed_copy(model), directory / f"en_US-tiny_{name}.onnx", config)
    return TinyVoice(name, cfg, model, onnx_path, onnx_path.with_name(onnx_path.name + ".json"))


class TinyVoices:
    """The tiny voices, each built and exported on first use and then kept."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._built: dict[str, TinyVoice] = {}

    def __getitem__(self, name: str) -> TinyVoice:
        if name not in self._built:
            self._built[name] = build_tiny_voice(name, self.directory)
        return self._built[name]


def sample_ids(n: int, seed: int, n_vocab: int = 256) -> list[int]:
    """A Piper-style id sequence of n phonemes: ^ _ p1 _ p2 _ ... pn _ $ (ids drawn from 4..n_vocab-1)."""
    gen = torch.Generator().manual_seed(seed)
    ids = [1, 0]
    for p in torch.randint(4, n_vocab, (n,), generator=gen).tolist():
        ids += [p, 0]
    return ids + [2]


@torch.inference_mode()
def eager_audio(model: Vits, ids: list[int], sid: int | None = None, *, onednn: bool = False) -> np.ndarray:
    """sonorant's eager output with the noise off: float32 samples [frames * hop].

    oneDNN builds its convolution kernels anew for every input length, which on tiny models costs
    far more than the convolutions; only large voices (`onednn=True`) are worth it.
    """
    x = torch.tensor([ids], dtype=torch.long)  # [1, t_x]
    one = torch.ones(1)
    sid_t = torch.tensor([sid], dtype=torch.long) if sid is not None else None
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = onednn
    try:
        enc = model.encode(x, torch.tensor([len(ids)]), one * 0, one, torch.zeros(1, 2, len(ids)), sid_t)
        frames = int(enc.frames.max())
        z_noise = torch.zeros(1, model.cfg.inter_channels, frames)  # [1, c, t_y]
        return model.decode(enc, one * 0, z_noise)[0].numpy()
    finally:
        torch.backends.mkldnn.enabled = previous


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-noise ratio of `test` against `reference` in dB (inf when identical)."""
    reference = np.asarray(reference, dtype=np.float64).ravel()
    test = np.asarray(test, dtype=np.float64).ravel()
    noise = float(np.sum((reference - test) ** 2))
    signal = float(np.sum(reference**2))
    return math.inf if noise == 0.0 else 10.0 * math.log10(signal / noise)
