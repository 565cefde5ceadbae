"""Keyed on-disk caches for compiled artifacts (ONNX graphs, inductor code, TensorRT engines).

Every cache entry lives in a directory named by a key that digests everything deciding its contents:
the model's weights and config, the artifact format, the shapes it was built for and the versions of
the tools that built it. A different model, bucket or toolchain therefore never finds another's
entry. Each directory holds a `manifest.json` stating what its key was made of; a directory whose
manifest is missing, unreadable or describes something else is wiped and rebuilt (with a warning),
so a corrupt or stale entry costs a rebuild, never wrong audio.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

_LOG = logging.getLogger(__name__)

MANIFEST = "manifest.json"
"""Name of the file in each cache entry that records what its key was made of."""


def default_cache_root() -> Path:
    """`~/.cache/sonorant`: the root under which each runtime keeps its own kind of entry."""
    return Path.home() / ".cache" / "sonorant"


def weights_digest(model: nn.Module) -> str:
    """SHA-256 over every parameter and buffer (names, dtypes, shapes, values) and the model's config."""
    h = hashlib.sha256()
    h.update(repr(getattr(model, "cfg", type(model).__name__)).encode())
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def versions(*modules: str) -> dict[str, str]:
    """`{"torch": ..., <module>: <its __version__>}` for the named modules that are importable."""
    from importlib import import_module

    out = {"torch": torch.__version__}
    for name in modules:
        try:
            out[name] = str(getattr(import_module(name), "__version__", "?"))
        except ImportError:
            out[name] = "absent"
    return out


def make_key(fields: Mapping[str, Any]) -> str:
    """A short stable digest of `fields` (JSON-serializable values; key order does not matter)."""
    blob = json.dumps(fields, sort_keys=True, default=repr).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


class CacheEntry:
    """One keyed cache directory: `<root>/<key>/` with a manifest of the fields behind the key."""

    def __init__(self, root: str | Path, fields: Mapping[str, Any]) -> None:
        self.fields = json.loads(json.dumps(dict(fields), sort_keys=True, default=repr))
        self.key = make_key(self.fields)
        self.path = Path(root) / self.key

    def open(self) -> Path:
        """Create the directory (or check the existing one) and return it.

        An existing directory whose manifest does not parse or does not match this key's fields is
        emptied first: whatever is in it was not built for this key.
        """
        manifest = self.path / MANIFEST
        if self.path.is_dir():
            problem = self._manifest_problem(manifest)
            if problem is None:
                return self.path
            _LOG.warning("cache entry %s %s: rebuilding it", self.path, problem)
            shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(manifest, json.dumps({"key": self.key, "fields": self.fields}, indent=2, sort_keys=True))
        return self.path

    def _manifest_problem(self, manifest: Path) -> str | None:
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return "has no manifest"
        except (OSError, ValueError) as exc:
            return f"has an unreadable manifest ({exc.__class__.__name__})"
        if not isinstance(data, dict) or data.get("key") != self.key or data.get("fields") != self.fields:
            return "has a manifest for something else"
        return None

    def wipe(self) -> None:
        """Remove the whole entry (the next `open` starts it afresh)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def discard(self, name: str) -> None:
        """Remove one artifact of this entry (e.g. one that failed to load) so it is built again."""
        target = self.path / name
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    """`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))
