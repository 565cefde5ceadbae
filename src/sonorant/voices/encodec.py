"""Encodec checkpoints -> `EncodecCodec`: Meta's `.th` state dicts and transformers' `save_pretrained` folders.

Two formats hold the same weights under different names:

* Meta's (`encodec_24khz-d7cc33bc.th`, `torch.save(model.state_dict())`): `encoder.model.N.conv.conv.weight_g`
  / `_v`, `decoder.model.N.convtr.convtr.*`, `*.block.{1,3}.conv.conv.*`, `*.shortcut.conv.conv.*`,
  `*.lstm.weight_ih_l0`, `quantizer.vq.layers.K._codebook.{inited, cluster_size, embed, embed_avg}`. It has no
  config: every size is read off the weights' shapes (sample rate: the 24 kHz model's; dilation growth: 2).
* transformers' (`EncodecModel.save_pretrained`): `config.json` + `model.safetensors` (or `pytorch_model.bin`,
  or shards with an index), keys `encoder.layers.N.conv.parametrizations.weight.original0` / `original1` (the
  hub's older files: `weight_g` / `weight_v`), `quantizer.layers.K.codebook.embed`.

Both are first renamed to one canonical form (transformers' layer indices, weight norm folded), sizes are
taken from `config.json` or inferred, and every weight is checked against the model they describe. Only the
causal mono layout (the 24 kHz model) is supported: the 48 kHz model (group norm, chunked, stereo) is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import VoiceError
from ..models.encodec.config import DEFAULT_BANDWIDTH, EncodecConfig
from .safetensors_file import read_safetensors, tensor_names
from .weights import fold_weight_norm

if TYPE_CHECKING:
    from ..models.encodec.model import EncodecCodec

_HEAD = 4 << 20  # bytes `probe` scans of a torch file
_MARKERS = (b"quantizer.vq.layers.0._codebook.embed", b"quantizer.layers.0.codebook.embed")
_IGNORED = re.compile(r"^quantizer\.layers\.\d+\.codebook\.(inited|cluster_size|embed_avg)$")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_SUPPORTED = ("sonorant reads Encodec checkpoints in Meta's format (a .th state dict) or transformers' "
              "(a save_pretrained folder with config.json)")


# ------------------------------------------------------------------------------------------------ probe


def probe(path: str | Path) -> bool:
    """Whether `path` looks like an Encodec checkpoint (a transformers folder or its config.json, a
    safetensors file, or a torch file with Encodec's key names); reads a few bytes, needs no torch."""
    path = Path(path)
    try:
        if path.is_dir() or path.name == "config.json":
            config = path / "config.json" if path.is_dir() else path
            return json.loads(config.read_text()).get("model_type") == "encodec"
        if path.suffix == ".safetensors":
            keys = tensor_names(path)
            return any(k.startswith(("quantizer.layers.", "quantizer.vq.layers.")) for k in keys)
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except (OSError, ValueError, AttributeError, VoiceError):
        return False
    return any(m in head for m in _MARKERS)


# ------------------------------------------------------------------------------------------------- load


def load_codec(path: str | Path, codebooks: int | None = None, bandwidth: float = DEFAULT_BANDWIDTH) -> EncodecCodec:
    """The Encodec at `path` (Meta's `.th` / `.pt`, a transformers folder or its `config.json`, or a bare
    safetensors / bin file of either naming), in eval mode, decoding `codebooks` codebooks (default: those
    `bandwidth` kbps uses, 2 at 1.5 kbps). VoiceError for a file that is not such a checkpoint; ConfigError
    for a bandwidth or codebook count the model does not have."""
    from ..models.encodec.model import EncodecCodec

    path = Path(path).expanduser()
    if path.name == "config.json":
        path = path.parent
    if not path.exists():
        raise VoiceError(f"Encodec checkpoint not found: {path}")
    if path.is_dir():
        cfg_json, state = _read_config(path), _read_folder(path)
    else:
        cfg_json, state = None, _read_file(path)
    canon = canonical_state(state, path)
    cfg = config_from_json(cfg_json, path) if cfg_json is not None else infer_config(canon, path)
    codec = EncodecCodec(cfg, codebooks=codebooks, bandwidth=bandwidth)
    mine = to_codec_state(canon, cfg, path)
    check_weights(path, codec.state_dict(), mine, cfg)
    codec.load_state_dict({k: v.float() for k, v in mine.items()}, strict=True)
    return codec.eval()


def _read_config(folder: Path) -> dict[str, Any]:
    config = folder / "config.json"
    if not config.is_file():
        raise VoiceError(f"{folder} has no config.json: not a transformers save_pretrained folder. {_SUPPORTED}")
    try:
        data = json.loads(config.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VoiceError(f"{config} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("model_type") != "encodec":
        kind = data.get("model_type") if isinstance(data, dict) else None
        raise VoiceError(f"{config} describes a {kind!r} model, not an Encodec (model_type 'encodec')")
    return data


def _read_folder(folder: Path) -> dict[str, Any]:
    for name in _WEIGHT_FILES:
        if (folder / name).is_file():
            return _read_file(folder / name)
    for name in _INDEXES:
        index = folder / name
        if index.is_file():
            try:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, AttributeError):
                raise VoiceError(f"{index} is not a valid weight index") from None
            state: dict[str, Any] = {}
            for shard in shards:
                state.update(_read_file(folder / shard))
            return state
    raise VoiceError(f"{folder} has no weights ({' or '.join(_WEIGHT_FILES)})")


def _read_file(path: Path) -> dict[str, Any]:
    import torch

    if not path.is_file():
        raise VoiceError(f"{path} is not a file")
    if path.suffix == ".safetensors":
        return read_safetensors(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a file we cannot read
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise VoiceError(f"{path} is not a checkpoint sonorant can read ({text}). {_SUPPORTED}") from None
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise VoiceError(f"{path} holds no state dict of tensors. {_SUPPORTED}")
    return data


# ----------------------------------------------------------------------------------------------- naming


def canonical_state(state: dict[str, Any], source: Path | str) -> dict[str, Any]:
    """Meta's or transformers' keys -> transformers' layer names with plain weights (weight norm folded)."""
    if any(re.search(r"\.norm\.(weight|bias)$", k) for k in state):
        raise VoiceError(f"{source} is a non-causal Encodec with group norm (the 48 kHz model?): sonorant runs "
                         "the causal 24 kHz layout only")
    if not any(k.startswith(("quantizer.layers.", "quantizer.vq.layers.")) for k in state):
        raise VoiceError(f"{source} is not an Encodec checkpoint (no quantizer codebooks). {_SUPPORTED}")
    out: dict[str, Any] = {}
    for key, value in state.items():
        key = key.replace("quantizer.vq.layers.", "quantizer.layers.").replace("._codebook.", ".codebook.")
        key = re.sub(r"^(encoder|decoder)\.model\.", r"\1.layers.", key)
        out[key.replace(".conv.conv.", ".conv.").replace(".convtr.convtr.", ".conv.")] = value
    return fold_weight_norm(out)


def _kinds(state: dict[str, Any], part: str) -> list[tuple[int, str]]:
    """(layer index, "conv" | "res" | "lstm") of every layer of `part` with weights, in order."""
    kinds: dict[int, str] = {}
    for key in state:
        m = re.match(rf"{part}\.layers\.(\d+)\.(block|shortcut|lstm|conv)\.", key)
        if m:
            kinds[int(m[1])] = {"block": "res", "shortcut": "res"}.get(m[2], m[2])
    return sorted(kinds.items())


def infer_config(state: dict[str, Any], source: Path | str) -> EncodecConfig:
    """The config a canonical state dict was built with, from its layer layout and weight shapes."""
    seq = [kind for _, kind in _kinds(state, "decoder")]
    convs = [i for i, kind in _kinds(state, "decoder") if kind == "conv"]
    if len(convs) < 3 or seq[0] != "conv" or seq[-1] != "conv":
        raise VoiceError(f"{source}: its decoder is not a SEANet decoder (layers {seq})")
    first, last = (state.get(f"decoder.layers.{i}.conv.weight") for i in (convs[0], convs[-1]))
    book = state.get("quantizer.layers.0.codebook.embed")
    if first is None or last is None or book is None or first.dim() != 3 or last.dim() != 3 or book.dim() != 2:
        raise VoiceError(f"{source} is not a complete Encodec checkpoint (decoder convolutions or codebooks missing)")
    if last.shape[0] != 1:
        raise VoiceError(f"{source} decodes {last.shape[0]} audio channels: sonorant runs mono Encodecs only")
    ratios, n_res = [], []
    for i in convs[1:-1]:
        k = state[f"decoder.layers.{i}.conv.weight"].shape[-1]
        if k % 2:
            raise VoiceError(f"{source}: upsampling layer {i} has an odd kernel {k} (SEANet's is 2 x its ratio)")
        ratios.append(k // 2)
        n_res.append(sum(1 for j, kind in _kinds(state, "decoder") if kind == "res" and i < j < _next(convs, i)))
    if len(set(n_res)) != 1:
        raise VoiceError(f"{source}: its decoder stages have different numbers of residual blocks {n_res}")
    block = [k for k in state if k.startswith("decoder.") and k.endswith(".block.1.conv.weight")]
    res_w = state[block[0]] if block else None
    n_q = sum(1 for k in state if re.fullmatch(r"quantizer\.layers\.\d+\.codebook\.embed", k))
    lstm = sum(1 for k in state if re.fullmatch(r"decoder\.layers\.\d+\.lstm\.weight_ih_l\d+", k))
    try:
        return EncodecConfig(
            dimension=int(book.shape[1]), n_filters=int(last.shape[1]), ratios=tuple(ratios),
            n_residual_layers=n_res[0], kernel_size=int(first.shape[-1]), last_kernel_size=int(last.shape[-1]),
            residual_kernel_size=int(res_w.shape[-1]) if res_w is not None else 3,
            compress=max(1, int(res_w.shape[1]) // int(res_w.shape[0])) if res_w is not None else 2,
            lstm_layers=lstm, conv_shortcut=any(".shortcut." in k for k in state), n_q=n_q,
            bins=int(book.shape[0]))
    except ValueError as exc:
        raise VoiceError(f"{source}: its weights describe no valid Encodec ({exc})") from None


def _next(convs: list[int], i: int) -> int:
    later = [j for j in convs if j > i]
    return later[0] if later else 1 << 30


def config_from_json(data: dict[str, Any], source: Path | str) -> EncodecConfig:
    """An `EncodecConfig` from transformers' `config.json`; VoiceError for a layout sonorant does not run."""
    def get(name: str, default: Any) -> Any:
        value = data.get(name)
        return default if value is None else value

    problems = []
    if get("audio_channels", 1) != 1:
        problems.append(f"audio_channels {data['audio_channels']} (mono only)")
    if not get("use_causal_conv", True) or get("norm_type", "weight_norm") != "weight_norm":
        problems.append("a non-causal or group-normed layout (the 48 kHz model?)")
    if get("normalize", False) or get("chunk_length_s", None) is not None:
        problems.append("audio normalization or chunking (the 48 kHz model?)")
    if float(get("trim_right_ratio", 1.0)) != 1.0:
        problems.append(f"trim_right_ratio {data['trim_right_ratio']} (1.0 only)")
    dim = int(get("hidden_size", 128))
    if int(get("codebook_dim", dim)) != dim:
        problems.append(f"codebook_dim {data['codebook_dim']} != hidden_size {dim}")
    if problems:
        raise VoiceError(f"{source}: sonorant runs the causal mono 24 kHz Encodec layout; this config has "
                         + "; ".join(problems))
    try:
        cfg = EncodecConfig(
            sample_rate=int(get("sampling_rate", 24_000)), dimension=dim, n_filters=int(get("num_filters", 32)),
            ratios=tuple(int(r) for r in get("upsampling_ratios", (8, 5, 4, 2))),
            n_residual_layers=int(get("num_residual_layers", 1)), kernel_size=int(get("kernel_size", 7)),
            last_kernel_size=int(get("last_kernel_size", 7)),
            residual_kernel_size=int(get("residual_kernel_size", 3)),
            dilation_base=int(get("dilation_growth_rate", 2)), compress=int(get("compress", 2)),
            lstm_layers=int(get("num_lstm_layers", 2)), conv_shortcut=bool(get("use_conv_shortcut", True)),
            pad_mode=str(get("pad_mode", "reflect")), bins=int(get("codebook_size", 1024)))
        bandwidths = [float(b) for b in get("target_bandwidths", (1.5, 3.0, 6.0, 12.0, 24.0))]
        nbits = (cfg.bins - 1).bit_length()
        n_q = int(1000 * max(bandwidths) // (cfg.frame_rate * nbits))  # transformers' count
        return EncodecConfig(**{**cfg.__dict__, "n_q": n_q})
    except (TypeError, ValueError) as exc:
        raise VoiceError(f"{source}: config.json describes no valid Encodec ({exc})") from None


def to_codec_state(state: dict[str, Any], cfg: EncodecConfig, source: Path | str) -> dict[str, Any]:
    """A canonical state dict under `EncodecCodec`'s own names (codebooks stacked); VoiceError for keys the
    config has no place for."""
    import torch

    names = dict(_layer_names(cfg))
    out: dict[str, Any] = {}
    unused = []
    for key, value in state.items():
        m = re.match(r"^((?:en|de)coder\.layers\.\d+)\.(.*)$", key)
        rest = None
        if m:
            layer, rest = names.get(m[1]), m[2]
            rest = re.sub(r"^block\.1\.", "conv1.", re.sub(r"^block\.3\.", "conv2.", rest))
        if m and layer is not None:
            out[f"{layer}.{rest}"] = value
        elif not (_IGNORED.match(key) or re.fullmatch(r"quantizer\.layers\.\d+\.codebook\.embed", key)):
            unused.append(key)
    if unused:
        raise VoiceError(f"{source} has weights an Encodec of its config does not: {', '.join(sorted(unused)[:5])}")
    books = [state.get(f"quantizer.layers.{k}.codebook.embed") for k in range(cfg.n_q)]
    if any(b is None for b in books):
        raise VoiceError(f"{source} has {sum(b is not None for b in books)} of the {cfg.n_q} codebooks its "
                         "config says")
    if any(b is not None for b in [state.get(f"quantizer.layers.{cfg.n_q}.codebook.embed")]):
        raise VoiceError(f"{source} has more codebooks than the {cfg.n_q} its config says")
    shapes = {tuple(b.shape) for b in books}
    if shapes != {(cfg.bins, cfg.dimension)}:
        raise VoiceError(f"{source}: codebooks of shapes {sorted(shapes)}, expected ({cfg.bins}, {cfg.dimension})")
    out["quantizer.codebooks"] = torch.stack(books)
    return out


def check_weights(source: Path | str, expected: dict[str, Any], state: dict[str, Any], cfg: EncodecConfig) -> None:
    """VoiceError naming (in transformers' layer names) the weights `state` lacks or has in the wrong shape."""
    back = {mine: canon for canon, mine in _layer_names(cfg)}

    def name(key: str) -> str:
        layer, _, rest = key.rpartition(".")
        while layer and layer not in back:
            layer, _, part = layer.rpartition(".")
            rest = f"{part}.{rest}"
        rest = re.sub(r"^conv1\.", "block.1.", re.sub(r"^conv2\.", "block.3.", rest))
        return f"{back[layer]}.{rest}" if layer else key

    missing = sorted(name(k) for k in expected if k not in state)
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise VoiceError(f"{source} is not a complete Encodec checkpoint: missing {', '.join(missing[:5])}{more}")
    for key, ref in expected.items():
        if tuple(state[key].shape) != tuple(ref.shape):
            raise VoiceError(f"{source}: weight {name(key)} has shape {tuple(state[key].shape)}, expected "
                             f"{tuple(ref.shape)} from its config")


def _layer_names(cfg: EncodecConfig) -> list[tuple[str, str]]:
    """(canonical layer prefix, `EncodecCodec` module prefix) of every layer with weights; the canonical
    indices count the parameter-free ELUs too, as Meta's `nn.Sequential` does."""
    pairs = [("decoder.layers.0", "decoder.conv_in")]
    i = 1
    if cfg.lstm_layers:
        pairs.append((f"decoder.layers.{i}", "decoder.lstm"))
        i += 1
    for s in range(len(cfg.ratios)):
        pairs.append((f"decoder.layers.{i + 1}", f"decoder.stages.{s}.up"))
        i += 2
        for j in range(cfg.n_residual_layers):
            pairs.append((f"decoder.layers.{i}", f"decoder.stages.{s}.res.{j}"))
            i += 1
    pairs.append((f"decoder.layers.{i + 1}", "decoder.conv_out"))
    pairs.append(("encoder.layers.0", "encoder.conv_in"))
    i = 1
    for s in range(len(cfg.ratios)):
        for j in range(cfg.n_residual_layers):
            pairs.append((f"encoder.layers.{i}", f"encoder.stages.{s}.res.{j}"))
            i += 1
        pairs.append((f"encoder.layers.{i + 1}", f"encoder.stages.{s}.down"))
        i += 2
    if cfg.lstm_layers:
        pairs.append((f"encoder.layers.{i}", "encoder.lstm"))
        i += 1
    pairs.append((f"encoder.layers.{i + 1}", "encoder.conv_out"))
    return pairs



# ---- the codec registry's entry points (`voices.codecs`) --------------------------------------------------


def info(path: Path) -> Any:
    """The codec's name and sample rate (torch-free; only the 24 kHz model is read)."""
    from .codecs import CodecInfo

    return CodecInfo(name="encodec_24khz", sample_rate=24000)


def load(path: Path) -> Any:
    """The codec module at 1.5 kbps (2 codebooks), as toktts uses it."""
    return load_codec(path)
