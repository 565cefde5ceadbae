"""Spear-TTS (lucidrains' spear-tts-pytorch) text-to-semantic checkpoints -> `TokenTransformer`.

The file is what `TextToSemanticTrainer.save` writes, ``{"model": state_dict, "optim", "scheduler"}``, or a
bare state dict; it is read with ``torch.load(weights_only=True)``. Sizes are read off the weights (the
head width from the rotary frequencies, heads and kv heads from the projections, depths from the layer
indices); what the weights cannot tell comes from the constructor arguments (`speartts_loader.read_kwargs`)
or upstream's defaults. Only the text -> speech direction is built: the text embedding feeds the encoder,
the speech embedding (tied to the logits, its last row the EOS) the decoder, whose first input is the
learned `start_token.speech` vector.

Upstream's names -> sonorant's (per block i; ``.0`` self-attention, ``.1`` cross-attention, ``.2`` GEGLU
feed-forward, an `nn.Sequential` of RMSNorm, Linear, GEGLU, Dropout, Linear):

    {source,target}_transformer.layers.i.0.norm.gamma   -> {encoder,decoder}.layers.i.norm1.weight
    ....i.0.to_q.0.weight / .to_out.weight              -> ....attn.q.weight / .attn.o.weight
    ....i.0.to_kv.0.weight [2 * g * dh, d]              -> ....attn.k.weight (first half), .attn.v.weight
    target_transformer.layers.i.1.*                     -> decoder.layers.i.norm_x / .cross.{q, k, v, o}
    target_transformer.layers.i.1.null_kv [2, g, 1, dh] -> decoder.layers.i.cross.null_k / .null_v
    ....i.2.0.gamma / .2.1.* / .2.4.*                   -> ....norm2.weight / .ffn.fc.* / .ffn.proj.*
    {source,target}_transformer.final_norm.gamma        -> {encoder,decoder}.norm.weight
    token_emb.text / token_emb.speech / start_token.speech -> src_emb / tgt_emb / start
    to_early_exit_semantic_logits.0.fn.{0,1,4}          -> exit_ffn_norm / exit_ffn.fc / exit_ffn.proj
    to_early_exit_semantic_logits.1 / .2                -> exit_norm / exit_head

Not mapped: `to_logits.*` and `semantic_token_emb` (the same tensors as the embeddings; checked),
`start_token.text` (the speech -> text direction), `rotary_emb.freqs` (checked against the rotary base),
`wav2vec.*` (the audio tokenizer, when the model was built with one).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, VoiceError
from ..models.tokens import StackConfig, TokenModelConfig
from ..models.tokens.model import TokenTransformer
from .speartts_loader import UPSTREAM_DEFAULTS, SpearSpec, read_kwargs
from .weights import check_state

_LOG = logging.getLogger(__name__)

MAX_TARGET = 2049
"""Default decoder bound: upstream's `generate(max_length=2048)` semantic tokens plus the start vector."""
_ANCHOR = "start_token.speech"
_LAYER = re.compile(r"^(source|target)_transformer\.layers\.(\d+)\.")


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """The model state dict of a Spear-TTS checkpoint (a trainer's ``{"model": ...}`` or a bare state dict;
    a wrapper's prefix such as ``model.`` is removed)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise VoiceError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    try:
        try:  # memory-mapped: the optimizer state a trainer's checkpoint carries is never read into memory
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            data = torch.load(path, map_location="cpu", weights_only=True)  # the legacy (non-zip) format
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a file we do not read
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise VoiceError(f"{path} is not a PyTorch checkpoint sonorant can read ({text})") from None
    state = data.get("model") if isinstance(data, dict) and isinstance(data.get("model"), dict) else data
    if not isinstance(state, dict):
        raise VoiceError(f"{path} holds no state dict (expected torch.save({{'model': state_dict, ...}}))")
    anchors = [k for k in state if isinstance(k, str) and k.endswith(_ANCHOR)]
    if not anchors:
        raise VoiceError(f"{path} is not a Spear-TTS TextToSemantic checkpoint (no {_ANCHOR})")
    prefix = min(anchors, key=len)[: -len(_ANCHOR)]
    out = {k[len(prefix):]: v for k, v in state.items() if isinstance(k, str) and k.startswith(prefix)}
    bad = [k for k, v in out.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise VoiceError(f"{path}: {bad[0]} is not a tensor")
    return out


def _get(state: dict[str, torch.Tensor], key: str, source: str) -> torch.Tensor:
    if key not in state:
        raise VoiceError(f"{source} is not a complete Spear-TTS checkpoint: missing {key}")
    return state[key]


def _rows(t: torch.Tensor, per: int, key: str, source: str) -> int:
    if t.dim() != 2 or t.shape[0] % per:
        raise VoiceError(f"{source}: {key} has shape {tuple(t.shape)}, not [k * {per}, dim]")
    return t.shape[0] // per


def _theta(freqs: torch.Tensor, head_dim: int, source: str) -> float:
    """The rotary base that gives upstream's stored frequencies 1 / theta^(2i / dh)."""
    if freqs.shape != (head_dim // 2,):
        raise VoiceError(f"{source}: rotary frequencies of shape {tuple(freqs.shape)} for head width {head_dim}")
    freqs = freqs.double()
    theta = 10000.0 if head_dim == 2 else float(freqs[1] ** (-head_dim / 2))
    expect = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    if not torch.allclose(freqs, expect, rtol=1e-5, atol=0.0):
        raise VoiceError(f"{source}: rotary frequencies are not 1 / theta^(2i / dh) for any theta (custom "
                         "frequencies are not supported)")
    return 10000.0 if abs(theta - 10000.0) < 1e-2 else theta


def spear_config(state: dict[str, torch.Tensor], kwargs: dict[str, Any] | None = None, source: str = "checkpoint",
                 max_target: int = MAX_TARGET) -> tuple[TokenModelConfig, SpearSpec]:
    """The `TokenModelConfig` and `SpearSpec` of a Spear-TTS state dict (sizes from the weights, checked
    against `kwargs`, the `TextToSemantic` arguments, where they give them)."""
    kw = {**UPSTREAM_DEFAULTS, **(kwargs or {})}
    given = kwargs or {}
    text_emb = _get(state, "token_emb.text.weight", source)
    speech_emb = _get(state, "token_emb.speech.weight", source)
    dim = speech_emb.shape[1]
    depth = {"source": 0, "target": 0}
    for key in state:
        m = _LAYER.match(key)
        if m:
            depth[m[1]] = max(depth[m[1]], int(m[2]) + 1)
    if not depth["source"] or not depth["target"]:
        raise VoiceError(f"{source} is not a complete Spear-TTS checkpoint: no encoder or no decoder layers")
    freqs_key = "source_transformer.layers.0.0.rotary_emb.freqs"
    head_dim = 2 * state[freqs_key].numel() if freqs_key in state else int(kw["dim_head"])
    theta = _theta(state[freqs_key], head_dim, source) if freqs_key in state else 10000.0

    def heads_of(stack: str, part: int) -> tuple[int, int, int]:
        pre = f"{stack}_transformer.layers.0.{part}."
        q = _rows(_get(state, pre + "to_q.0.weight", source), head_dim, pre + "to_q.0.weight", source)
        kv = _rows(_get(state, pre + "to_kv.0.weight", source), 2 * head_dim, pre + "to_kv.0.weight", source)
        return q, kv, head_dim

    heads, enc_kv, _ = heads_of("source", 0)
    _, dec_kv, _ = heads_of("target", 0)
    _, cross_kv, _ = heads_of("target", 1)
    ffn_keys = ("source_transformer.layers.0.2.1.weight", "target_transformer.layers.0.2.1.weight")
    enc_ffn, dec_ffn = (_rows(_get(state, key, source), 2, key, source) for key in ffn_keys)

    if not kw["autoset_semantic_eos_id"]:
        raise VoiceError(f"{source}: built with autoset_semantic_eos_id=False, so it has no semantic EOS and "
                         "its decoding never ends; sonorant needs the EOS row")
    n_sem = speech_emb.shape[0] - 1
    n_text = text_emb.shape[0] - int(bool(kw["autoset_text_eos_id"]))
    exit_layer = kw["target_early_exit_layer"]
    has_exit = "to_early_exit_semantic_logits.2.weight" in state
    if has_exit and exit_layer is None:
        _LOG.warning("%s has an early-exit head but no target_early_exit_layer is known (no arguments JSON): "
                     "loading it without the head, so speculative decoding is unavailable", source)
    if exit_layer is not None and not has_exit:
        raise VoiceError(f"{source}: target_early_exit_layer={exit_layer} but the checkpoint has no early-exit head")
    exit_layer = exit_layer if has_exit else None
    exit_ffn = 0
    if exit_layer is not None:
        key = "to_early_exit_semantic_logits.0.fn.1.weight"
        exit_ffn = _rows(_get(state, key, source), 2, key, source)

    inferred = {"dim": dim, "source_depth": depth["source"], "target_depth": depth["target"], "heads": heads,
                "dim_head": head_dim, "num_text_token_ids": n_text, "num_semantic_token_ids": n_sem,
                "target_kv_heads": dec_kv}
    for key, value in inferred.items():
        want = given.get(key)
        if key == "target_kv_heads" and want is None and "target_kv_heads" in given:
            want = heads  # None means as many kv heads as heads
        if want is not None and want != value:
            raise VoiceError(f"{source}: the arguments say {key}={want} but the weights have {value}")
    text_pad = int(kw["text_pad_id"])
    if not 0 <= text_pad < text_emb.shape[0]:
        raise VoiceError(f"{source}: text_pad_id {text_pad} is not a row of the text embedding")

    common = dict(dim=dim, heads=heads, head_dim=head_dim, ffn="geglu", gelu="exact", norm="rms", bias=False,
                  ffn_bias=True, positions="rotary", rotary_theta=theta)
    eos = n_sem
    try:
        enc = StackConfig(layers=depth["source"], kv_heads=enc_kv, ffn_dim=enc_ffn, causal=False, **common)
        dec = StackConfig(layers=depth["target"], kv_heads=dec_kv, ffn_dim=dec_ffn, causal=True, cross=True,
                          null_kv=True, cross_kv_heads=cross_kv, **common)
        cfg = TokenModelConfig(src_vocab=text_emb.shape[0], tgt_vocab=speech_emb.shape[0], encoder=enc, decoder=dec,
                               bos=eos, eos=eos, pad=eos, src_pad=text_pad, start_vector=True, tie_embeddings=True,
                               early_exit_layer=exit_layer, exit_ffn_dim=exit_ffn, max_target=max_target)
    except ConfigError as exc:
        raise VoiceError(f"{source}: not a Spear-TTS model sonorant can build ({exc})") from None
    spec = SpearSpec(text_tokens=n_text, semantic_tokens=n_sem, text_pad=text_pad,
                     text_eos=n_text if kw["autoset_text_eos_id"] else None, semantic_eos=eos,
                     semantic_pad=int(kw["semantic_pad_id"]), early_exit_layer=exit_layer,
                     openai_tokenizer=bool(kw["use_openai_tokenizer"]))
    return cfg, spec


def _ffn(state: dict, src: str, norm: str, ffn: str, out: dict, used: set) -> None:
    """A GEGLU feed-forward `Sequential(RMSNorm, Linear, GEGLU, Dropout, Linear)` at `src` -> `norm`, `ffn`."""
    for part, name in ((".0.gamma", f"{norm}.weight"), (".1.weight", f"{ffn}.fc.weight"),
                       (".1.bias", f"{ffn}.fc.bias"), (".4.weight", f"{ffn}.proj.weight"),
                       (".4.bias", f"{ffn}.proj.bias")):
        if src + part in state:
            out[name] = state[src + part]
            used.add(src + part)


def map_state(state: dict[str, torch.Tensor], cfg: TokenModelConfig) -> tuple[dict[str, torch.Tensor], set[str]]:
    """Upstream weights -> `TokenTransformer` names (see the module docstring); also the upstream keys used."""
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()

    def take(src: str, dst: str) -> None:
        if src in state:
            out[dst] = state[src]
            used.add(src)

    def attention(src: str, dst: str, null: bool) -> None:
        take(f"{src}.norm.gamma", f"{dst[0]}.weight")
        take(f"{src}.to_q.0.weight", f"{dst[1]}.q.weight")
        take(f"{src}.to_out.weight", f"{dst[1]}.o.weight")
        kv = state.get(f"{src}.to_kv.0.weight")
        if kv is not None:
            out[f"{dst[1]}.k.weight"], out[f"{dst[1]}.v.weight"] = kv.chunk(2, dim=0)  # rows: (kv, heads, dh)
            used.add(f"{src}.to_kv.0.weight")
        if null and f"{src}.null_kv" in state:
            nkv = state[f"{src}.null_kv"]  # [2, g, 1, dh]
            out[f"{dst[1]}.null_k"], out[f"{dst[1]}.null_v"] = nkv[0, :, 0], nkv[1, :, 0]
            used.add(f"{src}.null_kv")
        if f"{src}.rotary_emb.freqs" in state:
            used.add(f"{src}.rotary_emb.freqs")  # checked by spear_config

    for stack, name, layers in (("source", "encoder", cfg.encoder.layers), ("target", "decoder", cfg.decoder.layers)):
        for i in range(layers):
            src, dst = f"{stack}_transformer.layers.{i}", f"{name}.layers.{i}"
            attention(f"{src}.0", (f"{dst}.norm1", f"{dst}.attn"), null=False)
            if stack == "target":
                attention(f"{src}.1", (f"{dst}.norm_x", f"{dst}.cross"), null=True)
            _ffn(state, f"{src}.2", f"{dst}.norm2", f"{dst}.ffn", out, used)
        take(f"{stack}_transformer.final_norm.gamma", f"{name}.norm.weight")
    take("token_emb.text.weight", "src_emb.weight")
    take("token_emb.speech.weight", "tgt_emb.weight")
    take("start_token.speech", "start")
    if cfg.early_exit_layer is not None:
        head = "to_early_exit_semantic_logits"
        _ffn(state, f"{head}.0.fn", "exit_ffn_norm", "exit_ffn", out, used)
        take(f"{head}.1.gamma", "exit_norm.weight")
        take(f"{head}.2.weight", "exit_head.weight")
    return out, used


def _ignorable(key: str, cfg: TokenModelConfig) -> bool:
    """Upstream keys sonorant's text -> speech model does not need."""
    return (key.startswith(("to_logits.", "wav2vec.")) or key in ("semantic_token_emb.weight", "start_token.text")
            or (cfg.early_exit_layer is None and key.startswith("to_early_exit_semantic_logits.")))


def load_speartts(path: str | Path, kwargs: str | Path | dict[str, Any] | None = None,
                  max_target: int = MAX_TARGET) -> tuple[TokenTransformer, SpearSpec]:
    """The text -> semantic model of the Spear-TTS checkpoint at `path` (eval mode, float32) and what its
    ids mean. `kwargs`: the `TextToSemantic` arguments (a dict or a JSON file; default the `<stem>.json`
    sidecar, else sizes from the weights and upstream's defaults); `max_target`: the decoder's bound."""
    path = Path(path).expanduser()
    state = read_state(path)
    cfg, spec = spear_config(state, read_kwargs(path, kwargs), str(path), max_target)
    for tied in ("to_logits.speech.weight", "semantic_token_emb.weight"):
        if tied in state and not torch.equal(state[tied], state["token_emb.speech.weight"]):
            raise VoiceError(f"{path}: {tied} differs from token_emb.speech.weight (upstream ties them)")
    mapped, used = map_state(state, cfg)
    unknown = sorted(k for k in state if k not in used and not _ignorable(k, cfg))
    if unknown:
        shown = ", ".join(unknown[:6]) + (f" and {len(unknown) - 6} more" if len(unknown) > 6 else "")
        raise VoiceError(f"{path}: weights sonorant does not know how to use: {shown}")
    model = TokenTransformer(cfg)
    check_state(str(path), model.state_dict(), mapped, "Spear-TTS TextToSemantic checkpoint")
    model.load_state_dict({k: v.float() for k, v in mapped.items()}, strict=True)
    return model.eval(), spec
