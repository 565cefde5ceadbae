"""Pseudo-labelling (back-translation), as Spear-TTS builds its pseudo-parallel corpus: a tokens -> text model
trained on a little paired data transcribes a manifest of unpaired speech tokens, and the result is a new
manifest of (generated text, tokens) lines to add to the text -> tokens training data
(data.extra_manifests)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DecodeLimitError
from .data import AudioEncoder, read_manifest, record_tokens
from .frontends import FrontEnd
from .models import Generate

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class PseudoLabelReport:
    """What a pseudo-labelling pass wrote."""

    output: Path
    """The manifest written."""
    written: int
    """Lines written (each with generated text)."""
    skipped: int
    """Lines left out because generation never ended or produced nothing (with skip_failed)."""


def _moved(value: str, old_base: Path, new_base: Path) -> str:
    """A path relative to `old_base`, rewritten relative to `new_base` (absolute when no relative path exists)."""
    path = Path(value) if Path(value).is_absolute() else (old_base / value).resolve()
    try:
        return os.path.relpath(path, new_base.resolve())
    except ValueError:
        return str(path)


def pseudo_label(manifest: Path, output: Path, generate: Generate, frontend: FrontEnd, *, batch_size: int = 16,
                 codec: AudioEncoder | None = None, max_audio_seconds: float = 0.0, skip_failed: bool = False,
                 force: bool = False) -> PseudoLabelReport:
    """Label every line of `manifest` (tokens, tokens_path or audio; any text is replaced) with text that
    `generate` produces from its tokens, decoded by `frontend`, and write the lines to `output`.

    A line whose generation never ends (None) or is empty is a DecodeLimitError naming it, or is left out
    and counted with `skip_failed`. Relative file paths are rewritten relative to the output's directory."""
    manifest, output = Path(manifest), Path(output)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if output.exists() and not force:
        raise ConfigError(f"{output} exists: pass --force (force=True) to replace it")
    if output.resolve() == manifest.resolve():
        raise ConfigError(f"the output {output} is the input manifest")
    records = read_manifest(manifest)
    sources = []
    for number, record in records:
        try:
            sources.append(record_tokens(record, manifest.parent, codec, max_audio_seconds))
        except ValueError as exc:
            raise ConfigError(f"{manifest}:{number}: {exc}") from None
    order = np.argsort([len(s) for s in sources], kind="stable")  # batch similar lengths together
    generated: list[list[int] | None] = [None] * len(sources)
    for start in range(0, len(order), batch_size):
        chunk = order[start: start + batch_size]
        results = generate([sources[i] for i in chunk])
        if len(results) != len(chunk):
            raise ConfigError(f"the generator returned {len(results)} results for {len(chunk)} sources")
        for i, ids in zip(chunk, results):
            generated[i] = ids
    lines, skipped = [], 0
    for (number, record), ids in zip(records, generated):
        if not ids:
            what = "never ended (no EOS within the length limit)" if ids is None else "produced no text"
            if not skip_failed:
                raise DecodeLimitError(f"{manifest}:{number}: generation {what}; raise the limit, or skip such "
                                       f"lines (--skip-failed)")
            skipped += 1
            continue
        out = {k: v for k, v in record.items() if k not in ("text", "phonemes")}
        for key in ("tokens_path", "audio"):
            if isinstance(out.get(key), str):
                out[key] = _moved(out[key], manifest.parent, output.parent)
        out.update(frontend.decode(ids))
        out["pseudo_label"] = True
        lines.append(json.dumps(out, ensure_ascii=False))
    if skipped:
        _LOG.warning("pseudo-labelling %s: left out %d of %d lines whose generation failed", manifest, skipped,
                     len(records))
    if not lines:
        raise ConfigError(f"pseudo-labelling {manifest}: no line could be labelled")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, output)
    return PseudoLabelReport(output, len(lines), skipped)
