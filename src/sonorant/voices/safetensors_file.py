"""Reading `.safetensors` files (what transformers' `save_pretrained` and `sonorant train-export` write) with
the safetensors package, its errors (a truncated, corrupt or foreign file) turned into `VoiceError`s that
name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import VoiceError


def _refuse(path: Path, exc: Exception) -> VoiceError:
    return VoiceError(f"{path} is not a safetensors file sonorant can read (truncated, corrupt or another "
                      f"format): {exc}")


def tensor_names(path: str | Path) -> list[str]:
    """The names of the tensors in `path` (reads only its header); VoiceError if it is not a safetensors file."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise VoiceError(f"{path} not found")
    try:
        with safe_open(str(path), framework="np") as f:  # numpy: probing needs no torch
            return list(f.keys())
    except (SafetensorError, OSError) as exc:
        raise _refuse(path, exc) from None


def read_safetensors(path: str | Path) -> dict[str, Any]:
    """Every tensor of a safetensors file, as CPU torch tensors; VoiceError for a malformed or truncated file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise VoiceError(f"{path} not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise _refuse(path, exc) from None
