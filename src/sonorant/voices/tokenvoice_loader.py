"""The `tokens` loader: a token voice trained by `sonorant train` (kind "tokens") and exported with
`sonorant train-export`, as a directory:

    voice.json         {"format": "sonorant-token-voice", "version": 1, "name", "model": TokenModelConfig,
                        "frontend": {"kind": "phonemes", "voice": "joe"} | {"kind": "bytes"},
                        "codec": "codec.npz" (a file in the directory), "max_tokens", "training": {...}}
    model.safetensors  the TokenTransformer's weights
    codec.*            the codec its tokens decode with (a unit codec over the named voice, or Encodec)

"phonemes" voices read text through the named Piper voice's front end (normalizer + espeak-ng + its
phoneme ids), which is what their training corpus was made with. Torch-free until the weights are needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import VoiceError
from .card import LoadedVoice, VoiceCard
from .safetensors_file import read_safetensors
from .token_source import token_source

FORMAT = "sonorant-token-voice"
VERSION = 1
DIRECTORIES = True
"""A token voice is a directory (the registry probes directories with loaders that say so)."""
TOKEN_VOICES = True
"""This loader's voices are token voices (a codec decodes what a token model generates)."""
OPTIONS = ("codec", "max_tokens")
"""`codec` replaces the voice's own codec file; `max_tokens` its default bound."""


def _dir(path: Path) -> Path:
    return path.parent if path.is_file() and path.name == "voice.json" else path


def read_header(path: Path) -> dict[str, Any]:
    """voice.json of the token voice at `path`; VoiceError if it is not one."""
    side = _dir(Path(path)) / "voice.json"
    try:
        header = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VoiceError(f"{side}: not a readable token voice header ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise VoiceError(f"{side} is not a sonorant token voice (format {FORMAT!r})")
    if header.get("version") != VERSION:
        raise VoiceError(f"{side}: token voice version {header.get('version')} is not {VERSION}; re-export it")
    for key in ("model", "frontend", "codec"):
        if key not in header:
            raise VoiceError(f"{side} lacks {key!r}")
    return header


def probe(path: Path) -> bool:
    """Whether `path` is a token voice directory (or its voice.json)."""
    side = _dir(Path(path)) / "voice.json"
    if not side.is_file():
        return False
    try:
        return json.loads(side.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def load(path: Path, *, name: str | None = None, codec: str | Path | None = None,
         max_tokens: int | None = None) -> LoadedVoice:
    """The token voice at `path`."""
    from .codecs import codec_info

    root = _dir(Path(path))
    header = read_header(root)
    codec_path = Path(codec) if codec is not None else root / header["codec"]
    info = codec_info(codec_path)
    frontend = header["frontend"]
    bound = int(max_tokens if max_tokens is not None else header.get("max_tokens") or 0) or None
    card = VoiceCard(name=name or header.get("name") or root.name, family="tokens", sample_rate=info.sample_rate,
                     language=header.get("language", "en_US"), tokens=True)

    def build(directory: Path) -> Any:
        return load_transformer(directory)

    model_cfg = header["model"]
    return LoadedVoice(card, token_source("tokens", root, codec_path, bound or model_cfg["max_target"] - 1, build),
                       _pipeline(frontend), root, header)


def load_transformer(root: Path) -> Any:
    """The voice's `TokenTransformer` (eval mode)."""
    from ..models.tokens.config import TokenModelConfig
    from ..models.tokens.model import TokenTransformer

    header = read_header(root)
    model = TokenTransformer(TokenModelConfig.from_dict(header["model"]))
    weights = root / "model.safetensors"
    if not weights.is_file():
        raise VoiceError(f"{root} has no model.safetensors")
    state = read_safetensors(weights)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise VoiceError(f"{weights} does not fit its voice.json: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval()


def _pipeline(frontend: dict[str, Any]) -> Any:
    kind = frontend.get("kind")
    if kind == "bytes":
        def make(normalize: bool, max_ids: int) -> Any:
            from ..text.bytes import byte_pipeline

            return byte_pipeline(normalize, max_ids)
        return make
    if kind == "phonemes":
        voice = frontend.get("voice", "joe")

        def make_phonemes(normalize: bool, max_ids: int) -> Any:
            from .registry import load as load_voice

            return load_voice(voice).pipeline(normalize, max_ids)
        return make_phonemes
    raise VoiceError(f"unknown token voice front end {frontend!r} (bytes, or phonemes with a Piper voice)")


def export_token_voice(model: Any, out: Path, *, codec: Path, frontend: dict[str, Any], name: str,
                       max_tokens: int | None = None, training: dict[str, Any] | None = None,
                       force: bool = False) -> Path:
    """Write a `TokenTransformer` as a token voice directory (never over an existing one unless `force`)."""
    import shutil

    from safetensors.torch import save_file

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise VoiceError(f"{out} exists and is not empty: choose another directory or pass force")
    out.mkdir(parents=True, exist_ok=True)
    codec = Path(codec)
    if codec.is_dir():
        shutil.copytree(codec, out / "codec", dirs_exist_ok=True)
        codec_name = "codec"
    else:
        codec_name = "codec" + "".join(codec.suffixes)
        shutil.copyfile(codec, out / codec_name)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"))
    header = {"format": FORMAT, "version": VERSION, "name": name, "model": model.cfg.to_dict(),
              "frontend": frontend, "codec": codec_name, "max_tokens": max_tokens, "training": training or {}}
    (out / "voice.json").write_text(json.dumps(header, indent=2), encoding="utf-8")
    shutil.copymode(out / "voice.json", out / "model.safetensors")  # save_file makes it owner-only (0600)
    return out
