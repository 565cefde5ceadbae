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


# ---- the voice registry's entry points ----------------------------------------------------------------------

TOKEN_VOICES = True
"""This loader's voices are token voices (a codec decodes what a token model generates)."""
OPTIONS = ("codec", "max_tokens", "frontend", "kwargs")
"""`codec`: what the semantic tokens decode with (required); `max_tokens`: the default bound; `frontend`: how
text becomes the checkpoint's text ids ("phonemes:VOICE", a Piper voice's phoneme ids, default
"phonemes:joe"; or "bytes": UTF-8 byte + 1), since upstream stores no tokenizer; `kwargs`: the
`TextToSemantic` arguments (a JSON file or dict) when there is no sidecar."""


def load(path: Path, *, name: str | None = None, codec: str | Path | None = None, max_tokens: int | None = None,
         frontend: str = "phonemes:joe", kwargs: str | Path | dict[str, Any] | None = None) -> Any:
    """The Spear-TTS checkpoint at `path` as a token voice speaking through `codec`."""
    from .card import LoadedVoice, VoiceCard
    from .codecs import codec_info
    from .token_source import token_source

    if codec is None:
        raise VoiceError(f"{path} is a Spear-TTS text-to-semantic model: it needs the codec its semantic tokens "
                         "decode with, e.g. load_voice(voice, codec='units.npz') or --codec units.npz")
    args = read_kwargs(path, kwargs)
    if args.get("use_openai_tokenizer"):
        raise VoiceError(f"{path} reads text through the CLIP BPE tokenizer (use_openai_tokenizer), which sonorant "
                         "does not ship; train it on phoneme or byte ids to speak it here")
    if frontend.partition(":")[0] not in ("phonemes", "bytes"):
        raise VoiceError(f"frontend must be 'phonemes:VOICE' or 'bytes', not {frontend!r}")
    info = codec_info(codec)
    card = VoiceCard(name=name or path.stem, family="speartts", sample_rate=info.sample_rate, language="en",
                     tokens=True)

    def build(p: Path) -> Any:
        from .speartts import MAX_TARGET, load_speartts

        return load_speartts(p, kwargs, max_target=MAX_TARGET)[0]

    text_tokens = int(args.get("num_text_token_ids", 0)) or None
    eos = text_tokens if args.get("autoset_text_eos_id", True) else None
    bound = int(max_tokens) if max_tokens is not None else 2048
    return LoadedVoice(card, token_source("speartts", path, Path(codec), bound, build),
                       _pipeline(frontend, eos, text_tokens), path, args)


def _pipeline(frontend: str, eos: int | None, text_tokens: int | None) -> Any:
    """A text pipeline making the checkpoint's text ids (the front end's, then the text EOS)."""
    kind, _, voice = frontend.partition(":")
    if kind not in ("phonemes", "bytes"):
        raise VoiceError(f"frontend must be 'phonemes:VOICE' or 'bytes', not {frontend!r}")

    def make(normalize: bool, max_ids: int) -> Any:
        from ..text.suffix import SuffixPipeline

        if kind == "bytes":
            from ..text.bytes import byte_pipeline

            inner = byte_pipeline(normalize, max_ids - 1, offset=1, eos=None)
        else:
            from .registry import load as load_voice

            inner = load_voice(voice or "joe").pipeline(normalize, max_ids - 1)
        return SuffixPipeline(inner, () if eos is None else (eos,), limit=text_tokens)

    return make
