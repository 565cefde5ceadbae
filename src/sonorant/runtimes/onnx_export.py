"""ONNX export shared by the Piper-compatible voice export and the ONNX Runtime stage graphs: the stage
wrappers (`encode`, `latent`, `vocode`, `vocode_full`) and `export_stages`, which writes them."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from ..models.vits import Encoded, Vits
from .layout import conv2d_copy
from .onnx import STAGE_OPSET


def export_onnx(
    module: nn.Module,
    args: tuple[torch.Tensor, ...],
    path: str | Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
    *,
    opset: int = 15,
) -> Path:
    """Trace `module` on `args` with the TorchScript exporter (as Piper does) and write `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        # Expected noise from the TorchScript exporter: its deprecation, tracer notes on shape
        # arithmetic (traced dynamically here), and Slice steps it leaves unfolded.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1", category=UserWarning)
        torch.onnx.export(
            module,
            args,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes={k: dict(v) for k, v in dynamic_axes.items() if k in (*input_names, *output_names)},
            do_constant_folding=True,
        )
    return path


class _Encode(nn.Module):
    def __init__(self, model: Vits) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids, lengths, noise_w, length_scale, dur_noise, sid=None):  # noqa: ANN001, ANN201
        e = self.model.encode(ids, lengths, noise_w, length_scale, dur_noise, sid)
        return (e.m_p, e.logs_p, e.durations, e.frames) + (() if e.g is None else (e.g,))


class _Latent(nn.Module):
    def __init__(self, model: Vits) -> None:
        super().__init__()
        self.model = model

    def forward(self, m_p, logs_p, durations, frames, noise_scale, z_noise, g=None):  # noqa: ANN001, ANN201
        return self.model.latent(Encoded(m_p, logs_p, durations, frames, g), noise_scale, z_noise)


class _Vocode(nn.Module):
    """The decoder with 2-D convolutions (see `layout.conv2d_copy`); `padded=False` leaves out the
    masks, for batches whose rows all fill the window (the same samples, less work)."""

    def __init__(self, model: Vits, padded: bool = True) -> None:
        super().__init__()
        self.dec = conv2d_copy(model.dec)
        self.padded = padded

    def forward(self, z, *rest):  # noqa: ANN001, ANN201
        frames, rest = (rest[0], rest[1:]) if self.padded else (None, rest)  # then the speaker embedding, if any
        return self.dec(z.unsqueeze(2), frames, g=rest[0] if rest else None)  # [b, c, 1, t] in


def model_key(model: Vits) -> str:
    """A digest of the model's weights and config (what decides the exported graphs' contents)."""
    from .cache import weights_digest

    return weights_digest(model)[:24]


def export_stages(model: Vits, directory: str | Path) -> dict[str, Path]:
    """Write encode.onnx, latent.onnx, vocode.onnx and vocode_full.onnx (no padding) for `model` into `directory`."""
    directory = Path(directory)
    model = model.to("cpu", torch.float32).eval()
    cfg = model.cfg
    multi = cfg.n_speakers > 1
    b, t_x = 2, 24
    ids = torch.randint(1, cfg.n_vocab, (b, t_x))
    lengths = torch.tensor([t_x, t_x - 5])
    ones = torch.ones(b)
    sid = torch.zeros(b, dtype=torch.long) if multi else None
    with torch.no_grad():
        enc = model.encode(ids, lengths, ones, ones, torch.zeros(b, 2, t_x), sid)
        t_y = int(enc.frames.max())
        z = model.latent(enc, ones, torch.zeros(b, cfg.inter_channels, t_y))
    g_in = (enc.g,) if multi else ()
    bt = {0: "batch", 1: "phonemes"}
    paths = {
        "encode": export_onnx(
            _Encode(model), (ids, lengths, ones, ones, torch.zeros(b, 2, t_x)) + ((sid,) if multi else ()),
            directory / "encode.onnx",
            ["ids", "lengths", "noise_w", "length_scale", "dur_noise"] + (["sid"] if multi else []),
            ["m_p", "logs_p", "durations", "frames"] + (["g"] if multi else []),
            {"ids": bt, "lengths": {0: "batch"}, "noise_w": {0: "batch"}, "length_scale": {0: "batch"},
             "dur_noise": {0: "batch", 2: "phonemes"}, "sid": {0: "batch"}, "m_p": {0: "batch", 2: "phonemes"},
             "logs_p": {0: "batch", 2: "phonemes"}, "durations": bt, "frames": {0: "batch"}, "g": {0: "batch"}},
            opset=STAGE_OPSET,
        ),
        "latent": export_onnx(
            _Latent(model), (enc.m_p, enc.logs_p, enc.durations, enc.frames, ones,
                             torch.zeros(b, cfg.inter_channels, t_y)) + g_in,
            directory / "latent.onnx",
            ["m_p", "logs_p", "durations", "frames", "noise_scale", "z_noise"] + (["g"] if multi else []),
            ["z"],
            {"m_p": {0: "batch", 2: "phonemes"}, "logs_p": {0: "batch", 2: "phonemes"}, "durations": bt,
             "frames": {0: "batch"}, "noise_scale": {0: "batch"}, "z_noise": {0: "batch", 2: "frames"},
             "g": {0: "batch"}, "z": {0: "batch", 2: "frames"}},
            opset=STAGE_OPSET,
        ),
        "vocode": export_onnx(
            _Vocode(model), (z, enc.frames) + g_in, directory / "vocode.onnx",
            ["z", "frames"] + (["g"] if multi else []), ["audio"],
            {"z": {0: "batch", 2: "frames"}, "frames": {0: "batch"}, "g": {0: "batch"}, "audio": {0: "batch", 1: "samples"}},
            opset=STAGE_OPSET,
        ),
        "vocode_full": export_onnx(
            _Vocode(model, padded=False), (z,) + g_in, directory / "vocode_full.onnx",
            ["z"] + (["g"] if multi else []), ["audio"],
            {"z": {0: "batch", 2: "frames"}, "g": {0: "batch"}, "audio": {0: "batch", 1: "samples"}},
            opset=STAGE_OPSET,
        ),
    }
    return paths
