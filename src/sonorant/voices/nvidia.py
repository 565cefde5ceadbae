"""NVIDIA DeepLearningExamples (DLE) Tacotron2 and WaveGlow checkpoints -> sonorant modules.

DLE's `train.py` saves a dict holding `state_dict` (the model's, its keys prefixed `module.` when trained
distributed), `config` (the model's constructor arguments: plain ints, floats, bools and a nested dict),
`optimizer`, `epoch` and random states; a bare state dict is accepted too. Everything is read with
`torch.load(weights_only=True)`: a file that pickles whole model objects (NVIDIA's original WaveGlow
release) is refused with a message saying so. Sizes come from `config` where the file has one, and are
read off the weights' shapes otherwise; every weight is then checked against the model built from them.
WaveGlow's weight norm is folded on load (and its 1x1 convolutions inverted, `models.waveglow`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import VoiceError
from ..models.tacotron2.config import Tacotron2Config
from ..models.waveglow.config import WaveGlowConfig
from .weights import check_state, fold_weight_norm

if TYPE_CHECKING:
    from ..models.tacotron2.model import Tacotron2
    from ..models.tacotron2.voice import Tacotron2Voice
    from ..models.waveglow.model import WaveGlow

_PREFIXES = ("module.1.", "module.")
_KINDS = {"tacotron2": "Tacotron2 (text -> mel)", "waveglow": "WaveGlow (mel -> audio)"}
_SUPPORTED = "sonorant runs NVIDIA DeepLearningExamples Tacotron2 and WaveGlow checkpoints (.pt)"


@dataclass
class DleCheckpoint:
    """A DLE checkpoint as read: its model kind, stored config and state dict (`module.` prefixes removed,
    weight norm not yet folded)."""

    path: Path
    """Where it was read from."""
    kind: str | None
    """"tacotron2", "waveglow", or None if its keys are neither's."""
    config: dict[str, Any] | None
    """The `config` dict the checkpoint stores (a model's constructor arguments), or None."""
    state: dict[str, Any]
    """Tensors by key."""


def kind_of(state: dict[str, Any]) -> str | None:
    """"tacotron2" or "waveglow" by the keys of a (prefix-stripped) state dict, or None."""
    if "embedding.weight" in state and any(k.startswith("decoder.attention_rnn.") for k in state):
        return "tacotron2"
    if "upsample.weight" in state and any(k.startswith("WN.0.") for k in state):
        return "waveglow"
    return None


def read_dle(path: str | Path) -> DleCheckpoint:
    """Read a DLE checkpoint (or a bare state dict saved with torch.save); `VoiceError` if it cannot be."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise VoiceError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    try:
        try:  # memory-mapped: the optimizer state a training checkpoint carries is never read into memory
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            data = torch.load(path, map_location="cpu", weights_only=True)  # the legacy (non-zip) format
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a file we do not read
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = (" It pickles Python objects (a whole model?), which sonorant does not load: re-save its "
                "state_dict() with torch.save." if "weights_only" in str(exc) or "global" in str(exc) else "")
        raise VoiceError(f"{path} is not a checkpoint sonorant can read ({text}).{hint} {_SUPPORTED}.") from None
    config = None
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        state, config = data["state_dict"], data.get("config")
        if config is not None and not isinstance(config, dict):
            config = None
    elif isinstance(data, dict) and data and all(isinstance(v, torch.Tensor) for v in data.values()):
        state = data
    else:
        raise VoiceError(f"{path} holds a {type(data).__name__} without a `state_dict`: not a DLE checkpoint. "
                         f"{_SUPPORTED}.")
    clean: dict[str, Any] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        for prefix in _PREFIXES:
            key = key.removeprefix(prefix)
        clean[key] = value
    return DleCheckpoint(path, kind_of(clean), config, clean)


def probe(path: str | Path) -> str | None:
    """"tacotron2" or "waveglow" if `path` is a readable DLE checkpoint of that model, else None (never raises
    for a bad file)."""
    try:
        return read_dle(path).kind
    except VoiceError:
        return None


def _expect(ckpt: DleCheckpoint, kind: str) -> None:
    if ckpt.kind != kind:
        what = _KINDS.get(ckpt.kind or "", "neither a Tacotron2 nor a WaveGlow")
        raise VoiceError(f"{ckpt.path} is {'a ' + what if ckpt.kind else what} checkpoint, not a {_KINDS[kind]} "
                         f"one. {_SUPPORTED}.")


def _count(state: dict[str, Any], pattern: str) -> int:
    """Distinct integers matched by the group of `pattern` in the keys of `state`."""
    found = {int(m.group(1)) for k in state if (m := re.match(pattern, k))}
    return len(found)


def _shape(state: dict[str, Any], *keys: str) -> tuple[int, ...]:
    """The shape of the first of `keys` that `state` holds (a weight-normed direction counts)."""
    for key in keys:
        for k in (key, key.removesuffix(".weight") + ".weight_v"):
            if k in state:
                return tuple(state[k].shape)
    raise VoiceError(f"the checkpoint has none of the weights {', '.join(keys)}")


def waveglow_config(ckpt: DleCheckpoint) -> WaveGlowConfig:
    """The WaveGlow's config: from the checkpoint's `config` where it has one, else from weight shapes."""
    try:
        if ckpt.config is not None and "n_flows" in ckpt.config:
            return WaveGlowConfig.from_dle(ckpt.config)
        s = ckpt.state
        n_flows = _count(s, r"convinv\.(\d+)\.")
        groups = [_shape(s, f"convinv.{k}.conv.weight")[0] for k in range(n_flows)]
        drops = [k for k in range(1, n_flows) if groups[k] < groups[k - 1]]
        every = drops[0] if drops else WaveGlowConfig.n_early_every
        up = _shape(s, "upsample.weight")
        return WaveGlowConfig(
            n_mel=up[0], n_flows=n_flows, n_group=groups[0], n_early_every=every,
            n_early_size=groups[0] - groups[drops[0]] if drops else WaveGlowConfig.n_early_size,
            wn_layers=_count(s, r"WN\.0\.in_layers\.(\d+)\."), wn_channels=_shape(s, "WN.0.start.weight")[0],
            wn_kernel=_shape(s, "WN.0.in_layers.0.weight")[2], upsample_kernel=up[2])
    except (ValueError, TypeError, IndexError) as exc:
        raise VoiceError(f"{ckpt.path}: not a consistent WaveGlow: {exc}") from None


def tacotron2_config(ckpt: DleCheckpoint) -> Tacotron2Config:
    """The Tacotron2's config: from the checkpoint's `config` where it has one, else from weight shapes."""
    try:
        if ckpt.config is not None and "n_symbols" in ckpt.config:
            return Tacotron2Config.from_dle(ckpt.config)
        s = ckpt.state
        emb = _shape(s, "embedding.weight")
        loc = _shape(s, "decoder.attention_layer.location_layer.location_conv.conv.weight")
        n_post = _count(s, r"postnet\.convolutions\.(\d+)\.")
        post = _shape(s, "postnet.convolutions.0.0.conv.weight")
        return Tacotron2Config(
            n_mel=post[1], n_symbols=emb[0], embedding_dim=emb[1],
            encoder_kernel=_shape(s, "encoder.convolutions.0.0.conv.weight")[2],
            encoder_convs=_count(s, r"encoder\.convolutions\.(\d+)\."), encoder_dim=emb[1],
            attention_rnn_dim=_shape(s, "decoder.attention_rnn.weight_hh")[1],
            attention_dim=_shape(s, "decoder.attention_layer.query_layer.linear_layer.weight")[0],
            location_filters=loc[0], location_kernel=loc[2],
            decoder_rnn_dim=_shape(s, "decoder.decoder_rnn.weight_hh")[1],
            prenet_dim=_shape(s, "decoder.prenet.layers.0.linear_layer.weight")[0],
            postnet_dim=post[0], postnet_kernel=post[2], postnet_convs=n_post)
    except (ValueError, TypeError, IndexError) as exc:
        raise VoiceError(f"{ckpt.path}: not a consistent Tacotron2: {exc}") from None


def _load(model: Any, state: dict[str, Any], ckpt: DleCheckpoint, what: str) -> None:
    expected = model.state_dict()
    check_state(str(ckpt.path), expected, state, what)
    extra = sorted(k for k in state if k not in expected)
    if extra:
        raise VoiceError(f"{ckpt.path}: weights {', '.join(extra[:6])} are not part of the {what} its config "
                         "describes (a different architecture?)")
    model.load_state_dict({k: state[k] for k in expected}, strict=True)
    model.float().eval()


def load_waveglow(path: str | Path) -> WaveGlow:
    """A WaveGlow from a DLE checkpoint (weight norm folded, 1x1 convolutions inverted), in eval mode."""
    from ..models.waveglow.model import WaveGlow, dle_state

    ckpt = read_dle(path)
    _expect(ckpt, "waveglow")
    model = WaveGlow(waveglow_config(ckpt))
    _load(model, dle_state(fold_weight_norm(ckpt.state)), ckpt, "WaveGlow")
    return model


def load_tacotron2(path: str | Path) -> Tacotron2:
    """A Tacotron2 from a DLE checkpoint, in eval mode."""
    from ..models.tacotron2.model import Tacotron2, dle_state

    ckpt = read_dle(path)
    _expect(ckpt, "tacotron2")
    model = Tacotron2(tacotron2_config(ckpt))
    _load(model, dle_state(ckpt.state), ckpt, "Tacotron2")
    return model


def load_tacotron2_voice(path: str | Path, vocoder: str | Path, *, denoise: float = 0.0, max_steps: int | None = None,
                         block: int | None = None) -> Tacotron2Voice:
    """The Tacotron2 at `path` paired with the WaveGlow at `vocoder` (both DLE checkpoints) as one staged
    model: `denoise` the denoiser's strength (0: off), `max_steps` the decoder's bound (None: the
    checkpoint's config), `block` decode steps per call (None: 16)."""
    from ..models.tacotron2.voice import Tacotron2Voice

    return Tacotron2Voice(load_tacotron2(path), load_waveglow(vocoder), block=16 if block is None else int(block),
                          max_steps=max_steps, denoise=float(denoise)).eval()
