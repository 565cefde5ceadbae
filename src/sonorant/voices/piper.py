"""Piper voices (`.onnx` + `.onnx.json`) -> a sonorant `Vits` with the same weights.

Weights come from the ONNX initializers. Most keep their module names; those that do not are named
by the graph node that consumes them: weight-norm-folded flow convolutions (`onnx::Conv_8210` feeds
`/flow/flows.6/enc/in_layers.0/Conv`), the text embedding (stored as `sid` in some exports, read by
`/enc_p/emb/Gather`) and the first duration flow's scale, kept only as exp(-logs). Hyper-parameters
come from tensor shapes and conv attributes (dilations, strides), so every Piper quality and
multi-speaker voices load without a table of presets.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import VoiceError
from ..models.vits import VitsConfig

if TYPE_CHECKING:
    from ..models.vits import Vits

_LOG = logging.getLogger(__name__)
_PARAM_NAME = re.compile(r"^[A-Za-z_][\w]*(\.[\w]+)+$")
_ROLE_BY_OP = {"Conv": {1: "weight", 2: "bias"}, "ConvTranspose": {1: "weight", 2: "bias"}, "Gather": {0: "weight"}}
_REQUIRED = ("enc_p.emb.weight", "enc_p.proj.weight", "dec.conv_pre.weight", "flow.flows.0.pre.weight", "dp.proj.weight")


@dataclass(frozen=True)
class PiperVoiceConfig:
    """What a Piper `.onnx.json` says about a voice."""

    sample_rate: int
    """Output sample rate in Hz."""
    espeak_voice: str
    """espeak-ng voice used to phonemize (e.g. "en-us")."""
    phoneme_id_map: dict[str, list[int]]
    """Phoneme (one codepoint, or a merged vowel cluster) -> list of ids."""
    num_speakers: int = 1
    """Speakers in the model (1 for single-speaker voices)."""
    speaker_id_map: dict[str, int] = field(default_factory=dict)
    """Speaker name -> id."""
    noise_scale: float = 0.667
    """Default prior noise (the voice's `inference.noise_scale`)."""
    length_scale: float = 1.0
    """Default duration scale (the voice's `inference.length_scale`)."""
    noise_w: float = 0.8
    """Default duration noise (the voice's `inference.noise_w`)."""
    quality: str = ""
    """Piper quality label: x_low, low, medium or high."""
    language: str = ""
    """Language code such as en_US."""
    dataset: str = ""
    """Name of the voice's dataset / speaker."""
    phoneme_type: str = "espeak"
    """How text becomes phonemes: "espeak" or "text" (codepoints)."""
    vowel_clusters: frozenset[tuple[str, ...]] = frozenset()
    """Vowel sequences merged into one phoneme before ids are looked up."""


def read_piper_config(path: str | Path) -> PiperVoiceConfig:
    """Parse a Piper `.onnx.json`; a missing file or field gives a `VoiceError` naming it."""
    path = Path(path)
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VoiceError(f"voice config not found: {path} (a Piper voice needs its .onnx.json beside the .onnx)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VoiceError(f"voice config {path} is not readable JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise VoiceError(f"voice config {path} is not a JSON object")
    try:
        inference = raw.get("inference", {}) or {}
        id_map = {str(k): [int(i) for i in (v if isinstance(v, list) else [v])] for k, v in raw["phoneme_id_map"].items()}
        return PiperVoiceConfig(
            sample_rate=int(raw["audio"]["sample_rate"]),
            espeak_voice=str(raw.get("espeak", {}).get("voice", "en-us")),
            phoneme_id_map=id_map,
            num_speakers=int(raw.get("num_speakers", 1)),
            speaker_id_map={str(k): int(v) for k, v in (raw.get("speaker_id_map") or {}).items()},
            noise_scale=float(inference.get("noise_scale", 0.667)),
            length_scale=float(inference.get("length_scale", 1.0)),
            noise_w=float(inference.get("noise_w", 0.8)),
            quality=str(raw.get("audio", {}).get("quality", "")),
            language=str((raw.get("language") or {}).get("code", "")),
            dataset=str(raw.get("dataset", "")),
            phoneme_type=str(raw.get("phoneme_type", "espeak")),
            vowel_clusters=frozenset(tuple(c) for c in (raw.get("vowel_clusters") or [])),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VoiceError(f"voice config {path} lacks a required field or has a bad value: {exc!r}") from None


def _module_path(node_name: str) -> str:
    """'/flow/flows.6/enc/in_layers.0/Conv' -> 'flow.flows.6.enc.in_layers.0'."""
    parts = [p for p in node_name.split("/") if p]
    return ".".join(parts[:-1])


def read_onnx_weights(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """Initializers under their module names, plus each named conv's attributes (dilations, strides)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:  # pragma: no cover - onnx is a core dependency
        raise VoiceError("loading Piper voices needs the 'onnx' package") from exc
    path = Path(path)
    if not path.is_file():
        raise VoiceError(f"voice model not found: {path}")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, ValueError, ... for corrupt files
        raise VoiceError(f"{path} is not a readable ONNX model: {exc.__class__.__name__}: {exc}") from None
    graph = model.graph
    raw = {init.name: init for init in graph.initializer}
    weights: dict[str, np.ndarray] = {}
    attrs: dict[str, dict[str, Any]] = {}
    for node in graph.node:
        module = _module_path(node.name)
        if node.op_type in ("Conv", "ConvTranspose") and module:
            attrs[module] = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        roles = _ROLE_BY_OP.get(node.op_type, {})
        for index, name in enumerate(node.input):
            if name not in raw:
                continue
            if _PARAM_NAME.match(name) and name.split(".")[0] in ("enc_p", "dp", "flow", "dec", "emb_g"):
                key = name
            elif index in roles and module:
                key = f"{module}.{roles[index]}"
            elif name.endswith("/Exp_output_0") and module.startswith("dp.flows.0"):
                # ElementwiseAffine keeps exp(-logs) as a folded constant.
                weights[f"{module}.logs"] = -np.log(numpy_helper.to_array(raw[name]).astype(np.float32))
                continue
            elif node.op_type == "Exp" and module == "dp.flows.0":
                # Newer exporters fold only the Neg: the Exp node reads -logs.
                weights[f"{module}.logs"] = -numpy_helper.to_array(raw[name]).astype(np.float32)
                continue
            else:
                continue
            weights.setdefault(key, numpy_helper.to_array(raw[name]).astype(np.float32, copy=False))
    return weights, attrs


def _count(weights: dict[str, np.ndarray], pattern: str) -> int:
    rx = re.compile(pattern)
    return len({m.group(1) for k in weights if (m := rx.match(k))})


def infer_vits_config(weights: dict[str, np.ndarray], attrs: dict[str, dict[str, Any]]) -> VitsConfig:
    """Hyper-parameters from tensor shapes and conv attributes; a missing tensor is named in the error."""
    missing = [k for k in _REQUIRED if k not in weights]
    if missing:
        raise VoiceError(f"not a Piper VITS voice: missing {', '.join(missing)}")
    try:
        n_vocab, hidden = weights["enc_p.emb.weight"].shape
        rel_k = weights["enc_p.encoder.attn_layers.0.emb_rel_k"]
        ffn = weights["enc_p.encoder.ffn_layers.0.conv_1.weight"]
        use_sdp = "dp.flows.0.m" in weights
        dp_pre = weights["dp.pre.weight"] if use_sdp else weights["dp.conv_1.weight"]
        dp_kernel = (weights["dp.convs.convs_sep.0.weight"] if use_sdp else dp_pre).shape[2]
        flow_in = weights["flow.flows.0.enc.in_layers.0.weight"]
        n_flow_layers = _count(weights, r"flow\.flows\.0\.enc\.in_layers\.(\d+)\.weight")
        flow_dil = attrs.get("flow.flows.0.enc.in_layers.1", {}).get("dilations", [1])[0] if n_flow_layers > 1 else 1
        n_ups = _count(weights, r"dec\.ups\.(\d+)\.weight")
        ups = [weights[f"dec.ups.{i}.weight"] for i in range(n_ups)]
        rates = tuple(int(attrs.get(f"dec.ups.{i}", {}).get("strides", [0])[0]) for i in range(n_ups))
        if 0 in rates:
            raise VoiceError("not a Piper VITS voice: decoder upsampling strides not found in the graph")
        resblock = "1" if "dec.resblocks.0.convs1.0.weight" in weights else "2"
        conv_key = "convs1" if resblock == "1" else "convs"
        n_kernels = _count(weights, r"dec\.resblocks\.(\d+)\.") // n_ups
        kernels, dilations = [], []
        for j in range(n_kernels):
            n_convs = _count(weights, rf"dec\.resblocks\.{j}\.{conv_key}\.(\d+)\.weight")
            kernels.append(int(weights[f"dec.resblocks.{j}.{conv_key}.0.weight"].shape[2]))
            dilations.append(tuple(int(attrs.get(f"dec.resblocks.{j}.{conv_key}.{c}", {}).get("dilations", [1])[0])
                                   for c in range(n_convs)))
        emb_g = weights.get("emb_g.weight")
        return VitsConfig(
            n_vocab=int(n_vocab),
            hidden_channels=int(hidden),
            inter_channels=int(weights["enc_p.proj.weight"].shape[0] // 2),
            filter_channels=int(ffn.shape[0]),
            n_heads=int(hidden // rel_k.shape[2]),
            n_layers=_count(weights, r"enc_p\.encoder\.attn_layers\.(\d+)\.conv_q\.weight"),
            kernel_size=int(ffn.shape[2]),
            window_size=int((rel_k.shape[1] - 1) // 2),
            use_sdp=use_sdp,
            dp_filter_channels=int(dp_pre.shape[0]),
            dp_kernel_size=int(dp_kernel),
            # The stochastic predictor's fields keep their defaults for deterministic-duration voices.
            dp_n_layers=_count(weights, r"dp\.convs\.convs_sep\.(\d+)\.weight") if use_sdp else VitsConfig.dp_n_layers,
            dp_n_flows=(_count(weights, r"dp\.flows\.(\d+)\.proj\.weight") + 1) if use_sdp else VitsConfig.dp_n_flows,
            dp_num_bins=(int((weights["dp.flows.3.proj.weight"].shape[0] + 1) // 3) if use_sdp
                         else VitsConfig.dp_num_bins),
            flow_hidden_channels=int(flow_in.shape[1]),
            flow_kernel_size=int(flow_in.shape[2]),
            flow_dilation_rate=int(flow_dil),
            flow_n_layers=n_flow_layers,
            n_flows=_count(weights, r"flow\.flows\.(\d+)\.pre\.weight"),
            resblock=resblock,
            resblock_kernel_sizes=tuple(kernels),
            resblock_dilation_sizes=tuple(dilations),
            upsample_rates=rates,
            upsample_kernel_sizes=tuple(int(u.shape[2]) for u in ups),
            upsample_initial_channel=int(weights["dec.conv_pre.weight"].shape[0]),
            n_speakers=int(emb_g.shape[0]) if emb_g is not None else 1,
            gin_channels=int(emb_g.shape[1]) if emb_g is not None else 0,
        )
    except KeyError as exc:
        raise VoiceError(f"not a Piper VITS voice: missing {exc.args[0]}") from None


def load_piper_model(onnx_path: str | Path, sample_rate: int = 22050) -> Vits:
    """Build a `Vits` in eval mode holding the weights of a Piper `.onnx` voice (whose card gives
    `sample_rate`)."""
    import torch

    from ..models.vits import Vits

    weights, attrs = read_onnx_weights(onnx_path)
    cfg = infer_vits_config(weights, attrs)
    model = Vits(cfg, sample_rate)
    expected = model.state_dict()
    missing = sorted(k for k in expected if k not in weights)
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise VoiceError(f"{onnx_path} is not a complete Piper VITS voice: missing {shown}")
    state = {}
    for key, ref in expected.items():
        arr = weights[key]
        if tuple(arr.shape) != tuple(ref.shape):
            raise VoiceError(f"{onnx_path}: weight {key} has shape {tuple(arr.shape)}, expected {tuple(ref.shape)}")
        state[key] = torch.from_numpy(np.array(arr, dtype=np.float32, copy=True))
    model.load_state_dict(state)
    unused = sorted(set(weights) - set(expected))
    if unused:
        _LOG.debug("ignoring %d tensors not used at inference: %s", len(unused), unused[:5])
    if not all(math.isfinite(float(v.abs().max())) for v in state.values() if v.numel()):
        raise VoiceError(f"{onnx_path}: weights contain NaN or infinite values")
    return model.eval()
