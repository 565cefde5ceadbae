"""NeMo `.nemo` checkpoints (FastPitch spectrogram generators, HiFi-GAN vocoders) -> sonorant modules.

A `.nemo` file is a tar (gzip for old ones) holding `model_config.yaml` (the model's config; `target:`
names its class), `model_weights.ckpt` (a plain state dict) and artifacts stored as `<uuid>_<name>`,
which the config references as `nemo:<uuid>_<name>` (dictionaries for the tokenizer). The config gives
the hyper-parameters; every one of them is cross-checked with the weights' shapes. Weight norm is
folded, and what only training uses (the aligner, stored twice; the mel preprocessor; discriminators)
is dropped.
"""

from __future__ import annotations

import io
import logging
import math
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import VoiceError
from ..models.common.generator_config import GeneratorConfig
from ..models.common.mel import MelConfig
from ..models.fastpitch.config import FastPitchConfig, FFTConfig, PredictorConfig
from ..models.hifigan.config import HifiGanConfig
from .weights import check_state, fold_weight_norm

if TYPE_CHECKING:
    from ..models.fastpitch.model import FastPitch
    from ..models.fastpitch.voice import FastPitchVoice
    from ..models.hifigan.model import HifiGan

_LOG = logging.getLogger(__name__)
CONFIG_NAME = "model_config.yaml"
WEIGHTS_NAME = "model_weights.ckpt"
FASTPITCH_TARGET = "FastPitchModel"
HIFIGAN_TARGET = "HifiGanModel"
_SUPPORTED = f"sonorant runs NeMo {FASTPITCH_TARGET} (text -> mel) and {HIFIGAN_TARGET} (mel -> audio) checkpoints"
_INTERPOLATION = re.compile(r"^\$\{([^}]+)\}$")


@dataclass
class NemoArchive:
    """The contents of a `.nemo` file."""

    path: Path
    """Where it was read from."""
    config: dict[str, Any]
    """`model_config.yaml`, with `${...}` references to other keys resolved."""
    state: dict[str, Any]
    """`model_weights.ckpt` as stored (tensors by key, weight norm not folded)."""
    artifacts: dict[str, bytes] = field(default_factory=dict)
    """Every other file of the archive by its base name (`<uuid>_<name>`)."""

    @property
    def target(self) -> str:
        """The model class the config names (`target:`), or "" if it names none."""
        return str(self.config.get("target") or "")

    def artifact(self, ref: str) -> bytes:
        """An artifact's bytes by its config reference (`nemo:<uuid>_<name>`), stored name, or path ending
        in one; VoiceError if the archive holds none."""
        name = ref.removeprefix("nemo:").rsplit("/", 1)[-1]
        if name in self.artifacts:
            return self.artifacts[name]
        hits = [k for k in self.artifacts if k.split("_", 1)[-1] == name]
        if len(hits) == 1:
            return self.artifacts[hits[0]]
        raise VoiceError(f"{self.path}: no artifact {ref!r} (it holds: {', '.join(sorted(self.artifacts)) or 'none'})")


def read_nemo(path: str | Path, *, weights: bool = True) -> NemoArchive:
    """Read a `.nemo` file (or a directory it was unpacked into); `weights=False` leaves the state dict
    empty and needs no torch (a voice's card and front end come from the config and artifacts alone)."""
    path = Path(path)
    if not path.exists():
        raise VoiceError(f"{path} does not exist")
    files: dict[str, bytes] = {}
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file():
                files[p.relative_to(path).as_posix()] = p.read_bytes()
    else:
        try:
            with tarfile.open(path, "r:*") as tar:
                for member in tar.getmembers():
                    if member.isfile():
                        f = tar.extractfile(member)
                        if f is not None:
                            files[member.name.removeprefix("./")] = f.read()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise VoiceError(f"{path} is not a NeMo .nemo archive (a tar file): {exc}") from None
    config_name = _find(files, CONFIG_NAME)
    weights_name = _find(files, WEIGHTS_NAME)
    if config_name is None or (weights_name is None and weights):
        missing = " and ".join(n for n, f in ((CONFIG_NAME, config_name), (WEIGHTS_NAME, weights_name)) if f is None)
        shown = ", ".join(sorted(files)[:6]) or "nothing"
        raise VoiceError(f"{path} is not a NeMo .nemo archive: it has no {missing} (it holds {shown})")
    config = _load_yaml(path, files.pop(config_name))
    raw = files.pop(weights_name) if weights_name is not None else b""
    artifacts = {name.rsplit("/", 1)[-1]: data for name, data in files.items()}
    if not weights:
        return NemoArchive(path, config, {}, artifacts)
    import torch

    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means an unreadable checkpoint
        raise VoiceError(f"{path}: cannot read {WEIGHTS_NAME}: {exc}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise VoiceError(f"{path}: {WEIGHTS_NAME} holds a {type(state).__name__}, not a state dict")
    return NemoArchive(path, config, dict(state), artifacts)


def _find(files: dict[str, bytes], name: str) -> str | None:
    """The shallowest archive member called `name`."""
    hits = sorted((n for n in files if n.rsplit("/", 1)[-1] == name), key=lambda n: (n.count("/"), n))
    return hits[0] if hits else None


def _load_yaml(path: Path, data: bytes) -> dict[str, Any]:
    import yaml

    try:
        cfg = yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise VoiceError(f"{path}: {CONFIG_NAME} is not valid YAML: {exc}") from None
    if not isinstance(cfg, dict):
        raise VoiceError(f"{path}: {CONFIG_NAME} is not a mapping")
    return _resolve(cfg, cfg)


def _resolve(node: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """`node` with whole-value `${a.b}` references replaced by the value at that path of `root` (a leading
    `model.` is optional: a saved config is the `model:` section of the training config)."""
    if isinstance(node, dict):
        return {k: _resolve(v, root, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, root, depth) for v in node]
    if isinstance(node, str) and depth < 8:
        m = _INTERPOLATION.match(node.strip())
        if m:
            ref = m.group(1).strip()
            for dotted in (ref, ref.removeprefix("model.")):
                value, found = root, True
                for part in dotted.split("."):
                    if isinstance(value, dict) and part in value:
                        value = value[part]
                    else:
                        found = False
                        break
                if found:
                    return _resolve(value, root, depth + 1)
    return node


# ---------------------------------------------------------------------------------------------- configs


def _num(cfg: dict[str, Any], key: str, default: Any = None) -> Any:
    """cfg[key], with `???` (unset) and missing keys taking `default`."""
    v = cfg.get(key, default)
    return default if v is None or v == "???" else v


def _sub(cfg: dict[str, Any], key: str) -> dict[str, Any] | None:
    v = cfg.get(key)
    return v if isinstance(v, dict) else None


def _check_target(archive: NemoArchive, wanted: str, key_hint: str) -> None:
    target = archive.target
    if target:
        if target.rsplit(".", 1)[-1] != wanted:
            raise VoiceError(f"{archive.path} is a NeMo {target.rsplit('.', 1)[-1]} checkpoint ({target}), not a "
                             f"{wanted}; {_SUPPORTED}")
    elif not any(k.startswith(key_hint) for k in archive.state):
        raise VoiceError(f"{archive.path}: its config names no model class and its weights have no {key_hint}* "
                         f"keys, so it is not a {wanted}; {_SUPPORTED}")


def mel_config(archive: NemoArchive, pre: dict[str, Any] | None) -> MelConfig:
    """The mel a model's `preprocessor` config computes (NeMo's ASR-style keys)."""
    cfg = archive.config
    if pre is None:
        raise VoiceError(f"{archive.path}: the config has no preprocessor section, so its mel settings are unknown")
    sr = int(_num(pre, "sample_rate", _num(cfg, "sample_rate", 16000)))

    def samples(n_key: str, s_key: str) -> int | None:
        n = _num(pre, n_key)
        if n:
            return int(n)
        s = _num(pre, s_key)
        return round(float(s) * sr) if s else None

    win = samples("n_window_size", "window_size") or round(0.02 * sr)  # NeMo's defaults: 20 ms windows,
    hop = samples("n_window_stride", "window_stride") or round(0.01 * sr)  # 10 ms apart
    n_fft = _num(pre, "n_fft") or 2 ** math.ceil(math.log2(win))
    fmax = _num(pre, "highfreq")
    return MelConfig(
        sample_rate=sr,
        n_mels=int(_num(pre, "features", _num(pre, "nfilt", 64))),
        n_fft=int(n_fft),
        win_length=win,
        hop=hop,
        fmin=float(_num(pre, "lowfreq", 0.0)),
        fmax=float(sr / 2 if fmax is None else fmax),
        window=str(_num(pre, "window", "hann")),
        mag_power=float(_num(pre, "mag_power", 2.0)),
        log_guard_type=str(_num(pre, "log_zero_guard_type", "add")),
        log_guard=float(_num(pre, "log_zero_guard_value", 2.0**-24)),
    )


def _conditions(archive: NemoArchive, sub: dict[str, Any] | None, what: str) -> bool:
    """Whether a submodule config conditions on the speaker by adding it ("add"); other kinds are unsupported."""
    types = list((sub or {}).get("condition_types") or [])
    other = [t for t in types if t != "add"]
    if other:
        raise VoiceError(f"{archive.path}: the {what} is conditioned by {other} (NeMo's speaker-encoder / adapter "
                         "models); sonorant runs FastPitch models whose speaker embedding is only added")
    return "add" in types


def _fft(archive: NemoArchive, sub: dict[str, Any] | None, name: str, prefix: str) -> FFTConfig:
    if sub is None:
        raise VoiceError(f"{archive.path}: the config has no {name} section")
    cfg = FFTConfig(
        n_layer=int(_num(sub, "n_layer", 6)),
        n_head=int(_num(sub, "n_head", 1)),
        d_head=int(_num(sub, "d_head", 64)),
        d_inner=int(_num(sub, "d_inner", 1536)),
        kernel_size=int(_num(sub, "kernel_size", 3)),
        pre_lnorm=bool(_num(sub, "pre_lnorm", False)),
    )
    layers = _count(archive.state, prefix + "layers.")
    if layers != cfg.n_layer:
        raise VoiceError(f"{archive.path}: {name} has n_layer {cfg.n_layer} in its config but {layers} in its weights")
    return cfg


def _predictor(archive: NemoArchive, sub: dict[str, Any] | None, name: str) -> PredictorConfig:
    if sub is None:
        raise VoiceError(f"{archive.path}: the config has no {name} section")
    return PredictorConfig(filter_size=int(_num(sub, "filter_size", 256)), kernel_size=int(_num(sub, "kernel_size", 3)),
                           n_layers=int(_num(sub, "n_layers", 2)))


def _count(state: dict[str, Any], prefix: str) -> int:
    """How many numbered children `prefix<N>.` the keys have."""
    ids = {k[len(prefix):].split(".", 1)[0] for k in state if k.startswith(prefix)}
    return len([i for i in ids if i.isdigit()])


def _padding_idx(archive: NemoArchive, n_vocab: int) -> int:
    """The tokenizer's pad id: the input transformer's own `padding_idx` if the config sets it, else NeMo's
    tokenizer layout (the regular tokens, then `<pad>`, [`<blank>`], `<oov>`)."""
    fft = _sub(archive.config, "input_fft") or {}
    if _num(fft, "padding_idx") is not None:
        return int(fft["padding_idx"])
    tok = _sub(archive.config, "text_tokenizer")
    if tok is None:
        return 0  # FFTransformerEncoder's default (FastPitch without a learnt aligner)
    return n_vocab - (3 if _num(tok, "add_blank_at") is not None else 2)


def fastpitch_config(archive: NemoArchive, padding_idx: int | None = None) -> FastPitchConfig:
    """A `FastPitchConfig` from a FastPitch `.nemo` config, cross-checked with its weights."""
    _check_target(archive, FASTPITCH_TARGET, "fastpitch.")
    cfg, state = archive.config, archive.state
    if cfg.get("speaker_encoder"):
        raise VoiceError(f"{archive.path}: this FastPitch takes its speaker from a speaker encoder (reference audio "
                         "/ GST); sonorant runs FastPitch models with a speaker embedding table or none")
    emb = state.get("fastpitch.encoder.word_emb.weight")
    if emb is None:
        raise VoiceError(f"{archive.path}: missing fastpitch.encoder.word_emb.weight: not a FastPitch checkpoint")
    n_vocab, d_model = (int(s) for s in emb.shape)
    if int(_num(cfg, "symbols_embedding_dim", d_model)) != d_model:
        raise VoiceError(f"{archive.path}: symbols_embedding_dim is {cfg['symbols_embedding_dim']} in the config "
                         f"but the token embedding is {d_model} wide")
    n_speakers = int(_num(cfg, "n_speakers", 0) or 0)
    sites = []
    if n_speakers > 1 or _conditions(archive, _sub(cfg, "input_fft"), "input transformer"):
        sites.append("encoder")
    prosody = bool(_num(cfg, "speaker_emb_condition_prosody", False))
    if prosody or _conditions(archive, _sub(cfg, "duration_predictor"), "duration predictor"):
        sites.append("duration")
    if prosody or _conditions(archive, _sub(cfg, "pitch_predictor"), "pitch predictor"):
        sites.append("pitch")
    energy = _sub(cfg, "energy_predictor")
    if energy is not None and _conditions(archive, energy, "energy predictor"):
        sites.append("energy")
    if bool(_num(cfg, "speaker_emb_condition_decoder", False)) or _conditions(archive, _sub(cfg, "output_fft"),
                                                                               "output transformer"):
        sites.append("decoder")
    if n_speakers <= 1:
        if sites != ["encoder"] and sites:
            raise VoiceError(f"{archive.path}: the config conditions {sites} on a speaker but has no speaker table "
                             f"(n_speakers {n_speakers})")
        sites = []
    pitch_mean = float(_num(cfg, "pitch_mean", 0.0) or 0.0)
    pitch_std = float(_num(cfg, "pitch_std", 0.0) or 0.0)
    if pitch_std <= 0 and "fastpitch.pitch_std" in state:  # the module's buffers, if a trainer ever filled them
        pitch_mean, pitch_std = float(state["fastpitch.pitch_mean"].reshape(-1)[0]), float(
            state["fastpitch.pitch_std"].reshape(-1)[0])
    mel = mel_config(archive, _sub(cfg, "preprocessor"))
    n_mels = int(_num(cfg, "n_mel_channels", mel.n_mels))
    proj = state.get("fastpitch.proj.weight")
    if proj is not None and int(proj.shape[0]) != n_mels:
        raise VoiceError(f"{archive.path}: n_mel_channels is {n_mels} but the projection emits {int(proj.shape[0])}")
    if n_mels != mel.n_mels:
        raise VoiceError(f"{archive.path}: n_mel_channels {n_mels} differs from its preprocessor's {mel.n_mels} bins")
    try:
        return FastPitchConfig(
            n_vocab=n_vocab,
            padding_idx=_padding_idx(archive, n_vocab) if padding_idx is None else int(padding_idx),
            d_model=d_model,
            encoder=_fft(archive, _sub(cfg, "input_fft"), "input_fft", "fastpitch.encoder."),
            decoder=_fft(archive, _sub(cfg, "output_fft"), "output_fft", "fastpitch.decoder."),
            duration_predictor=_predictor(archive, _sub(cfg, "duration_predictor"), "duration_predictor"),
            pitch_predictor=_predictor(archive, _sub(cfg, "pitch_predictor"), "pitch_predictor"),
            energy_predictor=None if energy is None else _predictor(archive, energy, "energy_predictor"),
            pitch_embedding_kernel_size=int(_num(cfg, "pitch_embedding_kernel_size", 3)),
            energy_embedding_kernel_size=int(_num(cfg, "energy_embedding_kernel_size", 3)),
            mel=mel,
            n_speakers=max(1, n_speakers),
            speaker_sites=tuple(sites),
            min_token_duration=float(_num(cfg, "min_token_duration", 0)),
            max_token_duration=float(_num(cfg, "max_token_duration", 75)),
            pitch_mean=pitch_mean,
            pitch_std=pitch_std,
        )
    except ValueError as exc:
        raise VoiceError(f"{archive.path}: unsupported FastPitch config: {exc}") from None


def hifigan_config(archive: NemoArchive) -> HifiGanConfig:
    """A `HifiGanConfig` from a HiFi-GAN `.nemo` config, cross-checked with its weights."""
    _check_target(archive, HIFIGAN_TARGET, "generator.")
    gen = _sub(archive.config, "generator")
    if gen is None:
        raise VoiceError(f"{archive.path}: the config has no generator section")
    target = str(gen.get("_target_") or "")
    if target and not target.endswith("hifigan_modules.Generator"):
        raise VoiceError(f"{archive.path}: the generator is a {target}; sonorant runs NeMo's "
                         "hifigan_modules.Generator")
    mel = mel_config(archive, _sub(archive.config, "preprocessor"))
    try:
        g = GeneratorConfig(
            in_channels=int(_num(gen, "initial_input_size", 80)),
            upsample_initial_channel=int(gen["upsample_initial_channel"]),
            upsample_rates=tuple(int(r) for r in gen["upsample_rates"]),
            upsample_kernel_sizes=tuple(int(k) for k in gen["upsample_kernel_sizes"]),
            resblock=str(gen["resblock"]),
            resblock_kernel_sizes=tuple(int(k) for k in gen["resblock_kernel_sizes"]),
            resblock_dilation_sizes=tuple(tuple(int(d) for d in ds) for ds in gen["resblock_dilation_sizes"]),
            post_bias=True,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise VoiceError(f"{archive.path}: incomplete HiFi-GAN generator config: {exc}") from None
    if g.resblock not in ("1", "2"):
        raise VoiceError(f"{archive.path}: unknown HiFi-GAN resblock type {g.resblock!r} (NeMo has 1 and 2)")
    ups = _count(archive.state, "generator.ups.")
    if ups != len(g.upsample_rates):
        raise VoiceError(f"{archive.path}: {len(g.upsample_rates)} upsample rates in the config, {ups} upsampling "
                         "layers in the weights")
    if g.in_channels != mel.n_mels:
        raise VoiceError(f"{archive.path}: the generator takes {g.in_channels} channels but the preprocessor "
                         f"makes {mel.n_mels} mel bins")
    if g.hop != mel.hop:
        raise VoiceError(f"{archive.path}: the upsampling gives {g.hop} samples per frame but the mel hop is {mel.hop}")
    return HifiGanConfig(mel=mel, generator=g)


# ---------------------------------------------------------------------------------------------- weights


_FASTPITCH_DROPPED = ("aligner.", "fastpitch.aligner.", "preprocessor.", "fastpitch.pitch_mean", "fastpitch.pitch_std")
_HIFIGAN_DROPPED = ("discriminator", "mpd.", "msd.", "mrd.", "audio_to_melspec_precessor.", "trg_melspec_fn.",
                    "preprocessor.")


def _load(module: Any, state: dict[str, Any], source: str, what: str) -> None:
    """Load `state` (keys of `module`) strictly, with VoiceErrors for missing, unexpected, mis-shaped or
    non-finite weights."""
    import torch

    expected = module.state_dict()
    check_state(source, expected, state, what)
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        shown = ", ".join(unexpected[:6]) + (f" and {len(unexpected) - 6} more" if len(unexpected) > 6 else "")
        raise VoiceError(f"{source}: weights sonorant's {what} has no place for (an unsupported variant?): {shown}")
    state = {k: v.to(torch.float32) for k, v in state.items()}
    if not all(bool(torch.isfinite(v).all()) for v in state.values()):
        raise VoiceError(f"{source}: weights contain NaN or infinite values")
    module.load_state_dict(state)


def load_fastpitch(path: str | Path | NemoArchive, padding_idx: int | None = None) -> FastPitch:
    """A `FastPitch` in eval mode from a FastPitch `.nemo`. `padding_idx` overrides the pad id the loader
    derives from the tokenizer config (the tokenizer port knows it exactly)."""
    from ..models.fastpitch.model import FastPitch

    archive = path if isinstance(path, NemoArchive) else read_nemo(path)
    cfg = fastpitch_config(archive, padding_idx)
    state = fold_weight_norm({k: v for k, v in archive.state.items() if not k.startswith(_FASTPITCH_DROPPED)})
    state = {k.removeprefix("fastpitch."): v for k, v in state.items() if not k.endswith(".pos_emb.inv_freq")}
    model = FastPitch(cfg)
    _load(model, state, str(archive.path), "FastPitch")
    return model.eval()


def load_hifigan(path: str | Path | NemoArchive) -> HifiGan:
    """A `HifiGan` vocoder in eval mode from a HiFi-GAN `.nemo` (generator weights only, weight norm folded)."""
    from ..models.hifigan.model import HifiGan

    archive = path if isinstance(path, NemoArchive) else read_nemo(path)
    cfg = hifigan_config(archive)
    kept = {k: v for k, v in archive.state.items() if not k.startswith(_HIFIGAN_DROPPED)}
    state = _flat_resblocks(fold_weight_norm(kept), len(cfg.generator.resblock_kernel_sizes))
    model = HifiGan(cfg)
    _load(model, state, str(archive.path), "HiFi-GAN generator")
    return model.eval()


def _flat_resblocks(state: dict[str, Any], n_kernels: int) -> dict[str, Any]:
    """NeMo's nested `generator.resblocks.{stage}.{j}.*` keys renumbered flat (`resblocks.{stage * n + j}`);
    old checkpoints' flat keys stay as they are."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if len(parts) > 4 and parts[:2] == ["generator", "resblocks"] and parts[2].isdigit() and parts[3].isdigit():
            key = ".".join(["generator", "resblocks", str(int(parts[2]) * n_kernels + int(parts[3]))] + parts[4:])
        out[key] = value
    return out


def load_nemo_model(fastpitch_path: str | Path, vocoder_path: str | Path,
                    padding_idx: int | None = None) -> FastPitchVoice:
    """A FastPitch `.nemo` and a HiFi-GAN `.nemo` paired as one `FastPitchVoice` (a `StagedModel`);
    VoiceError if the vocoder expects another mel than the FastPitch emits."""
    from ..models.fastpitch.voice import FastPitchVoice

    fastpitch = load_fastpitch(fastpitch_path, padding_idx)
    vocoder = load_hifigan(vocoder_path)
    return FastPitchVoice(fastpitch, vocoder).eval()
