"""Training data: JSONL manifests, tokenized once into an on-disk cache, and length-bucketed batches.

A manifest line is a JSON object with the text (`"text"`, or what the front end reads, e.g. `"phonemes"`)
and the audio tokens in one of three ways:

- `"tokens"`: a list of ids, or a list of K lists (codebooks) interleaved frame by frame as toktts does
  (`[c0_t0, c1_t0, c0_t1, ...]`);
- `"tokens_path"`: a `.npy` file of [T] or [K, T] ids (relative paths are relative to the manifest);
- `"audio"`: a sound file (relative likewise) encoded by the config's codec, any object with
  `encode(audio [n] f32, sample_rate) -> codes [T], [K, T] or [1, K, T]`.

The cache (`tokenize_manifest`) holds the text ids and the tokens of every line as flat int32 arrays with
offsets, plus `index.json` whose key hashes the manifest's bytes, the size and modification time of every file
it names, the front end (name, version) and, when a line has audio, the codec's identity and the audio cut.
A cache whose key differs is rebuilt, never reused.

A line may also carry `"durations"`: audio frames per front-end id (as `tools/unit_corpus.py` records them
from the voice that made the audio). The cache then holds each target token's alignment, the index of the
source id whose frames cover the token's centre (tokens spread evenly over the frames), which a model kind
may use as attention supervision (`Batch.align`); lines without durations align to -1 (unknown).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import ConfigError
from .frontends import FrontEnd

_LOG = logging.getLogger(__name__)

CACHE_FORMAT = 2
"""Version of the cache layout (part of the key)."""
INDEX = "index.json"


class AudioEncoder(Protocol):
    """A codec that turns audio into tokens (e.g. Encodec's encoder, a k-means unit extractor)."""

    def encode(self, audio: np.ndarray, sample_rate: int) -> Any:
        """audio [n] f32 at `sample_rate` -> codes [T], [K, T] or [1, K, T] (ints)."""
        ...


CODECS: dict[str, Callable[[Mapping[str, Any]], AudioEncoder]] = {}
"""Codec factories by kind (data.codec.kind): options -> an AudioEncoder."""


def register_codec(kind: str, factory: Callable[[Mapping[str, Any]], AudioEncoder]) -> None:
    """Make `kind` usable as data.codec.kind."""
    CODECS[kind] = factory


def default_cache_dir() -> Path:
    """Where tokenized manifests go unless data.cache_dir says otherwise."""
    return Path.home() / ".cache" / "sonorant" / "train-data"


# ---------------------------------------------------------------------------------------------- manifests
def read_manifest(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for each non-blank line; a line that is not a JSON object is a ConfigError."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"manifest {str(path)!r} cannot be read: {exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not a JSON object: {exc.msg}") from None
        if not isinstance(record, dict):
            raise ConfigError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
        out.append((number, record))
    if not out:
        raise ConfigError(f"manifest {str(path)!r} holds no examples")
    return out


def _source_of(record: Mapping[str, Any]) -> str:
    given = [k for k in ("tokens", "tokens_path", "audio") if k in record]
    if len(given) != 1:
        raise ValueError('needs exactly one of "tokens", "tokens_path" or "audio"'
                         + (f", got {' and '.join(given)}" if given else ""))
    return given[0]


def flatten_codes(codes: Any) -> np.ndarray:
    """Codes [T], [K, T] or [1, K, T] (numpy, torch or lists) -> ids [T * K] int64, frame-major interleaved."""
    if hasattr(codes, "detach"):
        codes = codes.detach().cpu().numpy()
    array = np.asarray(codes)
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim not in (1, 2) or array.size == 0 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"codes must be non-empty integers of shape [T] or [K, T], got {array.dtype} "
                         f"{list(array.shape)}")
    return (array.T.reshape(-1) if array.ndim == 2 else array).astype(np.int64)


def record_tokens(record: Mapping[str, Any], base: Path, codec: AudioEncoder | None,
                  max_audio_seconds: float = 0.0) -> np.ndarray:
    """The token ids [n] of a manifest line (ValueError with a message when it has none usable)."""
    kind = _source_of(record)
    if kind == "tokens":
        value = record["tokens"]
        if not isinstance(value, list) or not value:
            raise ValueError('"tokens" must be a non-empty list of ids or of K lists of ids')
        if isinstance(value[0], list) and len({len(v) for v in value}) != 1:
            raise ValueError('"tokens" codebook lists must have equal lengths')
        try:
            return flatten_codes(np.asarray(value))
        except (TypeError, ValueError) as exc:
            raise ValueError(f'"tokens": {exc}') from None
    path = base / str(record[kind])
    if not path.is_file():
        raise ValueError(f'{kind} file {str(path)!r} does not exist')
    if kind == "tokens_path":
        try:
            return flatten_codes(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise ValueError(f'"tokens_path" {str(path)!r}: {exc}') from None
    if codec is None:
        raise ValueError('gives "audio" but the config has no data.codec to encode it')
    import soundfile

    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise ValueError(f'"audio" {str(path)!r} cannot be read: {exc}') from None
    audio = audio.mean(axis=1)  # [n]
    if max_audio_seconds > 0:
        audio = audio[: int(round(max_audio_seconds * rate))]
    return flatten_codes(codec.encode(audio, int(rate)))


def token_alignment(record: Mapping[str, Any], sources: int, tokens: int) -> np.ndarray | None:
    """The source index [tokens] each target token of a line lies over, from its `"durations"` (frames per
    source id, `sources` of them): the id whose frames cover the token's centre, the tokens spread evenly
    over the frames. None when the line has no durations, or durations of other ids than the front end's
    (e.g. phonemes' durations read by the bytes front end); ValueError when they are not frame counts."""
    value = record.get("durations")
    if value is None:
        return None
    frames = np.asarray(value)
    if frames.ndim != 1 or not np.issubdtype(frames.dtype, np.integer) or (frames < 0).any() or frames.sum() <= 0:
        raise ValueError('"durations" must be a list of frame counts >= 0 with a positive sum')
    if len(frames) != sources:
        return None
    ends = np.cumsum(frames)  # [sources]
    centres = (np.arange(tokens) + 0.5) * ends[-1] / tokens  # [tokens]
    return np.minimum(np.searchsorted(ends, centres, side="right"), sources - 1).astype(np.int64)


# -------------------------------------------------------------------------------------------------- cache
@dataclass(frozen=True)
class Ragged:
    """Variable-length int rows stored flat: row i is values[offsets[i]:offsets[i + 1]]."""

    values: np.ndarray
    """All rows, concatenated [total] int32."""
    offsets: np.ndarray
    """Row starts and the end [n + 1] int64."""

    @classmethod
    def of(cls, rows: Sequence[np.ndarray]) -> "Ragged":
        """Pack rows."""
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(r) for r in rows])
        values = np.concatenate(rows).astype(np.int32) if rows else np.zeros(0, np.int32)
        return cls(values, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i]: self.offsets[i + 1]]

    @property
    def lengths(self) -> np.ndarray:
        """Length of every row [n]."""
        return np.diff(self.offsets)


@dataclass(frozen=True)
class TokenizedManifest:
    """A manifest's examples as cached arrays."""

    text: Ragged
    """Front-end ids of each example (without the source suffix)."""
    tokens: Ragged
    """Token ids of each example."""
    align: Ragged
    """The source index of each token (`token_alignment`; -1 where the line had no durations)."""
    lines: np.ndarray
    """Manifest line number of each example [n]."""
    manifest: Path
    """The manifest it came from."""
    cache: Path
    """The cache directory."""
    key: str
    """The cache key (see the module docstring)."""
    rebuilt: bool
    """True if this call tokenized the manifest, False if the cache was reused."""


def cache_key(path: Path, records: Sequence[tuple[int, Mapping[str, Any]]], frontend: FrontEnd, codec_id: str,
              max_audio_seconds: float) -> str:
    """The key a cache of `path` must carry to be reused (see the module docstring)."""
    h = hashlib.sha256()
    h.update(f"sonorant-train-cache/{CACHE_FORMAT}\n{frontend.name}/{frontend.version}\n".encode())
    h.update(path.read_bytes())
    has_audio = False
    for _, record in records:
        for kind in ("tokens_path", "audio"):
            if isinstance(record.get(kind), str):
                has_audio |= kind == "audio"
                file = path.parent / record[kind]
                stat = file.stat() if file.is_file() else None
                h.update(f"\n{kind}:{record[kind]}:{stat and stat.st_size}:{stat and stat.st_mtime_ns}".encode())
    if has_audio:
        h.update(f"\ncodec:{codec_id}\ncut:{max_audio_seconds!r}".encode())
    return h.hexdigest()


def cache_path(cache_dir: Path, manifest: Path, frontend: FrontEnd) -> Path:
    """The cache directory of one manifest read by one front end (its content is keyed; see cache_key)."""
    where = hashlib.sha256(str(manifest.resolve()).encode()).hexdigest()[:12]
    return cache_dir / f"{manifest.stem}-{where}-{frontend.name}"


def _load_cache(directory: Path, key: str, manifest: Path) -> TokenizedManifest | None:
    try:
        index = json.loads((directory / INDEX).read_text(encoding="utf-8"))
        if index.get("key") != key or index.get("format") != CACHE_FORMAT:
            return None
        arrays = {name: np.load(directory / f"{name}.npy", allow_pickle=False)
                  for name in ("text", "text_offsets", "tokens", "tokens_offsets", "align", "lines")}
    except (OSError, ValueError):
        return None
    if not (len(arrays["lines"]) + 1 == len(arrays["text_offsets"]) == len(arrays["tokens_offsets"])
            == index.get("count", -1) + 1) or len(arrays["align"]) != len(arrays["tokens"]):
        return None
    return TokenizedManifest(Ragged(arrays["text"], arrays["text_offsets"]),
                             Ragged(arrays["tokens"], arrays["tokens_offsets"]),
                             Ragged(arrays["align"], arrays["tokens_offsets"]), arrays["lines"], manifest,
                             directory, key, rebuilt=False)


def tokenize_manifest(manifest: Path, frontend: FrontEnd, cache_dir: Path, *,
                      codec: AudioEncoder | Callable[[], AudioEncoder] | None = None, codec_id: str = "",
                      max_audio_seconds: float = 0.0) -> TokenizedManifest:
    """The manifest's examples, from the cache when its key matches, else tokenized now and cached.

    `codec` (or a function making it, called only when audio must be encoded) encodes `"audio"` lines;
    `codec_id` names it in the key (kind and options, or a hash of its weights)."""
    manifest = Path(manifest)
    records = read_manifest(manifest)
    key = cache_key(manifest, records, frontend, codec_id, max_audio_seconds)
    directory = cache_path(Path(cache_dir), manifest, frontend)
    cached = _load_cache(directory, key, manifest)
    if cached is not None:
        _LOG.info("reusing the tokenized cache %s (%d examples)", directory, len(cached.lines))
        return cached
    if directory.exists():
        _LOG.info("the cache %s is stale (manifest, files, front end or codec changed): rebuilding", directory)
    encoder = codec() if callable(codec) and not hasattr(codec, "encode") else codec
    text, tokens, align, lines = [], [], [], []
    unaligned = 0
    for number, record in records:
        try:
            text.append(np.asarray(frontend.encode(record), dtype=np.int64))
            tokens.append(record_tokens(record, manifest.parent, encoder, max_audio_seconds))  # type: ignore[arg-type]
            aligned = token_alignment(record, len(text[-1]), len(tokens[-1]))
        except ValueError as exc:
            raise ConfigError(f"{manifest}:{number}: {exc}") from None
        unaligned += aligned is None and record.get("durations") is not None
        align.append(np.full(len(tokens[-1]), -1, dtype=np.int64) if aligned is None else aligned)
        lines.append(number)
    if unaligned:
        _LOG.warning("%s: %d lines have durations of another length than the %s front end's ids: not aligned",
                  manifest, unaligned, frontend.name)
    text_r, tokens_r, align_r = Ragged.of(text), Ragged.of(tokens), Ragged.of(align)
    for name, ragged in (("text", text_r), ("tokens", tokens_r)):
        if ragged.values.size and int(ragged.values.min()) < 0:
            row = int(np.searchsorted(ragged.offsets, int(np.argmin(ragged.values)), side="right")) - 1
            raise ConfigError(f"{manifest}:{lines[row]}: negative {name} id")
    tmp = directory.with_name(f"{directory.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, array in (("text", text_r.values), ("text_offsets", text_r.offsets), ("tokens", tokens_r.values),
                        ("tokens_offsets", tokens_r.offsets), ("align", align_r.values),
                        ("lines", np.asarray(lines, dtype=np.int64))):
        np.save(tmp / f"{name}.npy", array, allow_pickle=False)
    index = {"format": CACHE_FORMAT, "key": key, "count": len(lines), "manifest": str(manifest.resolve()),
             "frontend": f"{frontend.name}/{frontend.version}", "codec": codec_id}
    (tmp / INDEX).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    old = directory.with_name(f"{directory.name}.old-{os.getpid()}")
    if directory.exists():
        directory.rename(old)
    tmp.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
    _LOG.info("tokenized %s into %s (%d examples)", manifest, directory, len(lines))
    return TokenizedManifest(text_r, tokens_r, align_r, np.asarray(lines, dtype=np.int64), manifest, directory,
                             key, rebuilt=True)


# ------------------------------------------------------------------------------------------ pairs, batches
@dataclass(frozen=True)
class Pairs:
    """(source, target) examples: a view of tokenized manifests in one direction."""

    sources: list[np.ndarray]
    """Source ids of each example (with the front end's source suffix when the source is text)."""
    targets: list[np.ndarray]
    """Target ids of each example (no BOS/EOS)."""
    origins: list[str]
    """"manifest:line" of each example, for messages."""
    aligns: list[np.ndarray] | None = None
    """The source index of each target token (`token_alignment`, -1 unknown), or None: none known."""

    def __len__(self) -> int:
        return len(self.sources)

    def lengths(self) -> np.ndarray:
        """The longer of source and target length of each example [n] (what batches are bucketed by)."""
        return np.asarray([max(len(s), len(t)) for s, t in zip(self.sources, self.targets)], dtype=np.int64)

    def subset(self, indices: Sequence[int]) -> "Pairs":
        """The examples at `indices`, in that order."""
        return Pairs([self.sources[i] for i in indices], [self.targets[i] for i in indices],
                     [self.origins[i] for i in indices],
                     None if self.aligns is None else [self.aligns[i] for i in indices])

    def alignments(self) -> list[np.ndarray]:
        """`aligns`, with all -1 (unknown) rows when there are none."""
        return self.aligns if self.aligns is not None else [np.full(len(t), -1, np.int64) for t in self.targets]

    def __add__(self, other: "Pairs") -> "Pairs":
        aligns = None if self.aligns is None and other.aligns is None else self.alignments() + other.alignments()
        return Pairs(self.sources + other.sources, self.targets + other.targets, self.origins + other.origins, aligns)


def make_pairs(data: TokenizedManifest, direction: str, frontend: FrontEnd, max_source_len: int = 0,
               max_target_len: int = 0) -> Pairs:
    """The examples of `data` in `direction`; those past the length limits are left out and counted in the log."""
    suffix = np.asarray(frontend.source_suffix, dtype=np.int64)
    sources, targets, origins, aligns = [], [], [], []
    dropped = 0
    forward = direction == "text_to_tokens"
    for i in range(len(data.lines)):
        text, tokens = data.text[i].astype(np.int64), data.tokens[i].astype(np.int64)
        src, tgt = (np.concatenate([text, suffix]), tokens) if forward else (tokens, text)
        if (max_source_len and len(src) > max_source_len) or (max_target_len and len(tgt) > max_target_len):
            dropped += 1
            continue
        sources.append(src)
        targets.append(tgt)
        origins.append(f"{data.manifest}:{int(data.lines[i])}")
        aligns.append(data.align[i].astype(np.int64) if forward else np.full(len(tgt), -1, np.int64))
    if dropped:
        _LOG.warning("%s: left out %d of %d examples longer than data.max_source_len=%d / max_target_len=%d",
                     data.manifest, dropped, len(data.lines), max_source_len, max_target_len)
    if not sources:
        raise ConfigError(f"{data.manifest}: every example is longer than data.max_source_len / max_target_len")
    return Pairs(sources, targets, origins, aligns if forward and any((a >= 0).any() for a in aligns) else None)


def check_ids(pairs: Pairs, spec: Any) -> None:
    """Every target id is a real token of the model (0 <= id < vocab_size, not BOS/EOS/pad), and every source
    id is below the spec's `source_vocab_size` when it has one; a ConfigError names the first bad line."""
    special = {int(spec.bos), int(spec.eos), int(spec.pad)}
    source_vocab = getattr(spec, "source_vocab_size", None)
    for src, tgt, origin in zip(pairs.sources, pairs.targets, pairs.origins):
        if len(tgt) and (int(tgt.max()) >= spec.vocab_size or int(tgt.min()) < 0):
            raise ConfigError(f"{origin}: target id {int(tgt.max())} is outside the model's vocabulary "
                              f"(0..{spec.vocab_size - 1})")
        clash = special.intersection(np.unique(tgt).tolist())
        if clash:
            raise ConfigError(f"{origin}: target holds the model's special id(s) {sorted(clash)} (BOS {spec.bos}, "
                              f"EOS {spec.eos}, pad {spec.pad}); token ids must be ordinary vocabulary")
        if isinstance(source_vocab, int) and len(src) and int(src.max()) >= source_vocab:
            raise ConfigError(f"{origin}: source id {int(src.max())} is outside the model's source vocabulary "
                              f"(0..{source_vocab - 1})")


class BucketSampler:
    """Step batches of similar lengths, a pure function of (seed, epoch): each epoch shuffles the examples,
    sorts pools of `pool` steps' worth by length, cuts them into batches of `step_size`, drops the one
    incomplete batch at the end, and shuffles the batch order."""

    def __init__(self, lengths: np.ndarray, step_size: int, seed: int, pool: int) -> None:
        if len(lengths) < step_size:
            raise ConfigError(f"train.batch_size: the training split has {len(lengths)} examples, fewer than one "
                              f"step's train.batch_size x train.grad_accum = {step_size}")
        self.lengths, self.step_size, self.seed, self.pool = np.asarray(lengths), step_size, seed, pool

    def epoch(self, epoch: int) -> list[np.ndarray]:
        """The step batches of `epoch` (indices, each batch sorted by length)."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        span = self.step_size * self.pool
        pools = [order[i: i + span] for i in range(0, len(order), span)]
        order = np.concatenate([p[np.argsort(self.lengths[p], kind="stable")] for p in pools])
        count = len(order) // self.step_size
        batches = [order[i * self.step_size: (i + 1) * self.step_size] for i in range(count)]
        return [batches[i] for i in rng.permutation(count)]


@dataclass(frozen=True)
class Batch:
    """Padded tensors of one micro-batch."""

    src: Any
    """[b, s] int64, `source_pad` past each length."""
    src_lengths: Any
    """[b] int64."""
    tgt_in: Any
    """[b, t] int64: BOS + target, pad past each length."""
    tgt_lengths: Any
    """[b] int64: target length + 1."""
    targets: Any
    """[b, t] int64: target + EOS, -100 (ignored) past each length."""
    align: Any = None
    """[b, t] int64: the source index each target (and EOS: the last source id) lies over, -100 where
    unknown; None when the batch has no alignments."""

    def to(self, device: Any) -> "Batch":
        """The same batch on `device`."""
        return Batch(*(t.to(device) for t in (self.src, self.src_lengths, self.tgt_in, self.tgt_lengths,
                                              self.targets)), None if self.align is None else self.align.to(device))

    @property
    def target_tokens(self) -> int:
        """Target positions that count in the loss."""
        return int(self.tgt_lengths.sum())


IGNORE = -100
"""The target value of padding positions (cross-entropy's ignore_index)."""


def collate(sources: Sequence[np.ndarray], targets: Sequence[np.ndarray], spec: Any,
            aligns: Sequence[np.ndarray] | None = None) -> Batch:
    """A padded micro-batch; sources are padded with the spec's `source_pad` (default 0). `aligns` (the source
    index of each target token, -1 unknown) become `Batch.align`."""
    import torch

    b = len(sources)
    s = max(len(x) for x in sources)
    t = max(len(y) for y in targets) + 1
    src = torch.full((b, s), int(getattr(spec, "source_pad", 0)), dtype=torch.int64)  # [b, s]
    tgt_in = torch.full((b, t), int(spec.pad), dtype=torch.int64)  # [b, t]
    tgt_out = torch.full((b, t), IGNORE, dtype=torch.int64)  # [b, t]
    for i, (x, y) in enumerate(zip(sources, targets)):
        y = torch.as_tensor(y, dtype=torch.int64)
        src[i, : len(x)] = torch.as_tensor(x, dtype=torch.int64)
        tgt_in[i, 0] = spec.bos
        tgt_in[i, 1: len(y) + 1] = y
        tgt_out[i, : len(y)] = y
        tgt_out[i, len(y)] = spec.eos
    src_lengths = torch.tensor([len(x) for x in sources], dtype=torch.int64)
    tgt_lengths = torch.tensor([len(y) + 1 for y in targets], dtype=torch.int64)
    align = None
    if aligns is not None:
        align = torch.full((b, t), IGNORE, dtype=torch.int64)  # [b, t]
        for i, (x, a) in enumerate(zip(sources, aligns)):
            if len(a) and (a >= 0).all():
                align[i, : len(a)] = torch.as_tensor(a, dtype=torch.int64)
                align[i, len(a)] = len(x) - 1
    return Batch(src, src_lengths, tgt_in, tgt_lengths, tgt_out, align)
