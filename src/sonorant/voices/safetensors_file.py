"""Reading `.safetensors` files (what transformers' `save_pretrained` writes) without the safetensors package.

The format: an 8-byte little-endian header size, a JSON header {name: {"dtype", "shape", "data_offsets":
[begin, end]}, "__metadata__": {...}}, then the tensors' bytes, offsets counted from the end of the header.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

from ..errors import VoiceError

_MAX_HEADER = 100 << 20
_DTYPES = {  # safetensors dtype -> (numpy dtype, bytes per element, torch dtype name to view as, or None)
    "F64": ("<f8", 8, None), "F32": ("<f4", 4, None), "F16": ("<f2", 2, None), "BF16": ("<u2", 2, "bfloat16"),
    "I64": ("<i8", 8, None), "I32": ("<i4", 4, None), "I16": ("<i2", 2, None), "I8": ("i1", 1, None),
    "U8": ("u1", 1, None), "BOOL": ("?", 1, None),
}


def read_header(path: str | Path) -> tuple[dict[str, Any], int]:
    """(the tensor entries of the header, the byte offset where the data starts); VoiceError if `path` is not a
    safetensors file. Needs no torch."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise VoiceError(f"{path} is not a safetensors file (too short)")
            (size,) = struct.unpack("<Q", head)
            if size > _MAX_HEADER:
                raise VoiceError(f"{path} is not a safetensors file (header of {size} bytes)")
            raw = f.read(size)
    except OSError as exc:
        raise VoiceError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VoiceError(f"{path} is not a safetensors file (its header is not JSON)") from None
    if len(raw) != size or not isinstance(header, dict):
        raise VoiceError(f"{path} is not a safetensors file (truncated header)")
    header.pop("__metadata__", None)
    return header, 8 + size


def read_safetensors(path: str | Path) -> dict[str, Any]:
    """Every tensor of a safetensors file, as CPU torch tensors; VoiceError for a malformed or truncated file."""
    import numpy as np
    import torch

    path = Path(path)
    header, start = read_header(path)
    data = path.read_bytes()
    out: dict[str, Any] = {}
    for name, entry in header.items():
        try:
            kind, shape, (begin, end) = entry["dtype"], [int(s) for s in entry["shape"]], entry["data_offsets"]
            np_dtype, width, view = _DTYPES[kind]
        except (KeyError, TypeError, ValueError):
            raise VoiceError(f"{path}: tensor {name!r} has a malformed header entry {entry!r}") from None
        if end - begin != math.prod(shape) * width or begin < 0 or start + end > len(data):
            raise VoiceError(f"{path}: tensor {name!r} lies outside the file (truncated or corrupt)")
        array = np.frombuffer(data, dtype=np_dtype, count=math.prod(shape), offset=start + begin).reshape(shape)
        tensor = torch.from_numpy(array.copy())
        out[name] = tensor.view(getattr(torch, view)) if view else tensor
    return out
