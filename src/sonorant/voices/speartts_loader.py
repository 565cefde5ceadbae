"""Spear-TTS checkpoints without torch: recognising one, and the constructor arguments stored beside it.

lucidrains' spear-tts-pytorch saves ``torch.save({"model": state_dict, "optim": ..., "scheduler": ...})``
(`TextToSemanticTrainer.save`) and stores no config; the constructor arguments that the weights cannot tell
(pad ids, whether EOS rows exist, the early-exit layer) come from a JSON sidecar holding the keyword
arguments of ``TextToSemantic(...)``: ``<checkpoint stem>.json`` next to the file, or a path given to the
loader. `probe` looks for the module names a Spear-TTS state dict is made of in the first megabytes of the
file (a zip checkpoint stores its pickle uncompressed, key names included). The weights themselves are
read by `voices.speartts`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import VoiceError

_HEAD = 4 << 20  # bytes scanned by `probe`
_MARKERS = (b"start_token.speech", b"source_transformer.layers.", b"target_transformer.layers.")

UPSTREAM_DEFAULTS: dict[str, Any] = {
    "dim_head": 64,
    "heads": 8,
    "ff_mult": 4,
    "semantic_pad_id": -1,
    "text_pad_id": 0,
    "autoset_semantic_eos_id": True,
    "autoset_text_eos_id": True,
    "target_early_exit_layer": None,
    "use_openai_tokenizer": False,
}
"""`TextToSemantic`'s defaults (spear-tts-pytorch 0.4.8) for the arguments the weights do not show."""

_KNOWN = {
    "dim", "source_depth", "target_depth", "num_text_token_ids", "num_semantic_token_ids", "dim_head", "heads",
    "target_kv_heads", "ff_mult", "semantic_pad_id", "text_pad_id", "autoset_semantic_eos_id",
    "autoset_text_eos_id", "target_early_exit_layer", "use_openai_tokenizer", "attn_dropout", "ff_dropout",
    "attn_flash", "cond_drop_prob", "detach_early_exit_embed", "align_reg_loss_weight",
    "align_reg_use_logsumexp_pool", "align_reg_logsumexp_pool_temp",
}
"""Constructor arguments a sidecar may hold (training-only ones are accepted and ignored)."""


@dataclass(frozen=True)
class SpearSpec:
    """What a Spear-TTS text-to-semantic checkpoint means beyond its weights."""

    text_tokens: int
    """Text ids 0 .. text_tokens - 1 (`num_text_token_ids`)."""
    semantic_tokens: int
    """Semantic ids 0 .. semantic_tokens - 1 (`num_semantic_token_ids`); the EOS id follows them."""
    text_pad: int
    """The source padding id (`text_pad_id`, upstream 0): never a real text id."""
    text_eos: int | None
    """The id upstream appends after each source text (`num_text_token_ids`), or None when it appends none."""
    semantic_eos: int
    """The semantic EOS id (`num_semantic_token_ids`)."""
    semantic_pad: int
    """What upstream writes after a row's EOS (`semantic_pad_id`, default -1: not a token)."""
    early_exit_layer: int | None
    """Decoder blocks before the early-exit (draft) head, or None when the model has none."""
    openai_tokenizer: bool
    """Whether text ids are the CLIP BPE tokenizer's (`use_openai_tokenizer`)."""


def probe(path: Path) -> bool:
    """Whether `path` is a Spear-TTS checkpoint (cheap: no unpickling)."""
    if path.suffix in (".onnx", ".json", ".nemo", ".yaml"):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except OSError:
        return False
    return all(m in head for m in _MARKERS)


def sidecar(path: Path) -> Path | None:
    """The constructor-arguments JSON stored next to a checkpoint (`<stem>.json`), if there is one."""
    candidate = path.with_suffix(".json")
    return candidate if candidate.is_file() and candidate != path else None


def read_kwargs(path: Path, kwargs: str | Path | dict[str, Any] | None = None) -> dict[str, Any]:
    """The `TextToSemantic` keyword arguments for the checkpoint at `path`: `kwargs` itself (a dict or a JSON
    file), else the sidecar, else {} (the loader then reads sizes off the weights and takes upstream's
    defaults for the rest)."""
    if isinstance(kwargs, dict):
        data, source = kwargs, "the given arguments"
    else:
        file = Path(kwargs).expanduser() if kwargs is not None else sidecar(path)
        if file is None:
            return {}
        if not file.is_file():
            raise VoiceError(f"Spear-TTS arguments file not found: {file}")
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VoiceError(f"{file} is not a readable JSON file of TextToSemantic arguments ({exc})") from None
        source = str(file)
    if not isinstance(data, dict):
        raise VoiceError(f"{source}: expected a JSON object of TextToSemantic keyword arguments")
    unknown = sorted(set(data) - _KNOWN - {"wav2vec", "tokenizer_encode"})
    if unknown:
        raise VoiceError(f"{source}: unknown TextToSemantic arguments {', '.join(unknown)}")
    for key in ("dim", "source_depth", "target_depth", "num_text_token_ids", "num_semantic_token_ids",
                "dim_head", "heads", "target_kv_heads", "semantic_pad_id", "text_pad_id", "target_early_exit_layer"):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise VoiceError(f"{source}: {key} must be an integer, not {value!r}")
    return dict(data)
