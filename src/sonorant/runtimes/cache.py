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
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

_LOG = logging.getLogger(__name__)

MANIFEST = "manifest.json"
"""Name of the file in each cache entry that records what its key was made of."""


def default_cache_root() -> Path:
    """`~/.cache/sonorant`: the root under which each runtime keeps its own kind of entry."""
    return Path.home() / ".cache" / "sonorant"


def weights_digest(model: nn.Module) -> str:
    """SHA-256 over every parameter and buffer (names, dtypes, shapes, values) and the model's config."""
    import torch

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

    import torch

    out = {"torch": torch.__version__}
    for name in modules:
        try:
            out[name] = str(getattr(import_module(name), "__version__", "?"))
        except ImportError:
            out[name] = "absent"
    return out


def installed_versions(*distributions: str) -> dict[str, str]:
    """Installed versions of the named distributions, read from their metadata without importing them
    ("absent" for those not installed)."""
    from importlib import metadata

    out = {}
    for name in distributions:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def source_digest(paths: Iterable[Path]) -> str:
    """SHA-256 of the given source files (name and bytes): an artifact built by code that has since
    changed gets a new key."""
    h = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def file_digest(path: str | Path, root: Path | None = None) -> str:
    """SHA-256 of a file's contents, remembered per (path, size, modification time, inode) in
    `<root>/digests.json`, so a large voice file is read and hashed once, not on every start."""
    path = Path(path).resolve()
    st = path.stat()
    stamp = f"{path}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"
    memo_path = (root or default_cache_root()) / "digests.json"
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
        if not isinstance(memo, dict):
            memo = {}
    except (OSError, ValueError):
        memo = {}
    known = memo.get(stamp)
    if isinstance(known, str) and len(known) == 64:
        return known
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    memo = {k: v for k, v in memo.items() if not k.startswith(f"{path}|")}  # one entry per file
    memo[stamp] = digest
    try:
        atomic_write_text(memo_path, json.dumps(memo, indent=0, sort_keys=True))
    except OSError as exc:  # a read-only cache still works, it just hashes again next time
        _LOG.debug("could not remember the digest of %s: %s", path, exc)
    return digest


class LazyModel:
    """A model that is built only when something needs its weights. `digest` names its contents (e.g.
    the digest of the file it comes from, computed on first use), so caches keyed by it are found
    without loading the model."""

    def __init__(self, digest: str | Callable[[], str], load: Callable[[], Any], description: str = "") -> None:
        self._digest = digest
        self.description = description
        self._load = load
        self._model: Any = None

    @property
    def digest(self) -> str:
        """The digest naming the model's contents."""
        if callable(self._digest):
            self._digest = self._digest()
        return self._digest

    @property
    def loaded(self) -> bool:
        """Whether the model has been built."""
        return self._model is not None

    def get(self) -> Any:
        """The model (built on first use)."""
        if self._model is None:
            self._model = self._load()
        return self._model


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
                _touch(manifest)
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

    def prune_siblings(self, max_age_days: float = 30.0) -> list[Path]:
        """Remove the other entries under this entry's root that no process has opened for `max_age_days`
        (each `open` marks its entry as used): what old versions of sonorant or deleted voices left behind.
        Returns the removed directories."""
        cutoff = time.time() - max_age_days * 86400
        removed = []
        for other in self.path.parent.iterdir() if self.path.parent.is_dir() else ():
            manifest = other / MANIFEST
            if other == self.path or not manifest.is_file():
                continue  # not an entry of this kind of cache (or this one)
            try:
                stale = manifest.stat().st_mtime < cutoff
            except OSError:
                continue
            if stale:
                shutil.rmtree(other, ignore_errors=True)
                removed.append(other)
        if removed:
            _LOG.info("removed %d cache entries unused for %g days under %s", len(removed), max_age_days,
                      self.path.parent)
        return removed

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


def _touch(path: Path) -> None:
    """Mark an entry as used now (its manifest's modification time); a read-only cache is left as it is."""
    try:
        os.utime(path)
    except OSError:
        pass


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    """`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))
