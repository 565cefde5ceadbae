"""The training config: sections model, data, optim, train, freeze, eval, read from YAML or TOML.

`load_config(path)` reads a `.yaml`/`.yml` or `.toml` file and checks every key against the dataclasses
below (`sonorant.train.schema`); relative paths in it are relative to the file. `sonorant train
--print-schema` prints this schema with each field's documentation.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .frontends import FRONTENDS
from .schema import SchemaError, build, describe_schema, to_plain


@dataclass(frozen=True)
class ModelSection:
    """Which model to train and how it is built."""

    kind: str
    """Model kind in the registry (`sonorant.train.models.MODELS`); its builder makes the nn.Module."""
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword options passed to the builder (sizes, vocabularies), checked by the builder."""
    init: Path | None = field(default=None, metadata={"exists": True})
    """Weights to start from: a `sonorant train` checkpoint or a plain state_dict file (None: random init)."""


@dataclass(frozen=True)
class CodecSection:
    """The codec that turns a manifest line's `audio` into tokens."""

    kind: str
    """Codec kind in the registry (`sonorant.train.data.CODECS`): an object with encode(audio, rate) -> codes."""
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword options passed to the codec's factory (e.g. its weights file)."""


@dataclass(frozen=True)
class DataSection:
    """The training data: manifests, text front end, direction, caching and batching."""

    manifest: Path = field(metadata={"exists": True})
    """JSONL manifest, one example a line: text (or phonemes) with tokens, tokens_path or audio."""
    extra_manifests: list[Path] = field(default_factory=list, metadata={"exists": True})
    """More manifests for the training split only (e.g. pseudo-labelled ones from `sonorant pseudo-label`)."""
    valid_manifest: Path | None = field(default=None, metadata={"exists": True})
    """A held-out manifest for the validation loss (None: hold out valid_fraction of `manifest`)."""
    valid_fraction: float = field(default=0.05, metadata={"range": (0.0, 0.5)})
    """Share of `manifest` held out for the validation loss when no valid_manifest is given (0: none)."""
    split_seed: int = field(default=0, metadata={"range": (0, None)})
    """Seed of the held-out split (fixed apart from train.seed, so runs with other seeds share it)."""
    frontend: str = "bytes"
    """Text front end: bytes (ByT5 ids: utf-8 byte + 3, EOS 1 after a source) or phonemes (each line's id list)."""
    direction: str = field(default="text_to_tokens", metadata={"choices": ("text_to_tokens", "tokens_to_text")})
    """What the model maps: text to tokens (TTS), or tokens to text (the back-translation model that labels speech)."""
    codec: CodecSection | None = None
    """The codec for lines that give audio instead of tokens (None: every line must give tokens)."""
    max_audio_seconds: float = field(default=0.0, metadata={"range": (0.0, None)})
    """Audio longer than this is cut to it before encoding, as toktts keeps the first 2 s (0: whole files)."""
    max_source_len: int = field(default=0, metadata={"range": (0, None)})
    """Examples whose source is longer are left out (their count is logged; 0: no limit)."""
    max_target_len: int = field(default=0, metadata={"range": (0, None)})
    """Examples whose target (without BOS/EOS) is longer are left out, likewise (0: no limit)."""
    cache_dir: Path | None = None
    """Where tokenized manifests are cached (None: ~/.cache/sonorant/train-data)."""
    bucket_pool: int = field(default=32, metadata={"range": (1, None)})
    """Steps' worth of examples sorted by length together, so each batch holds similar lengths."""


@dataclass(frozen=True)
class OptimSection:
    """AdamW and its learning-rate schedule."""

    lr: float = field(default=3e-4, metadata={"range": (0.0, 10.0)})
    """Peak learning rate."""
    betas: tuple[float, float] = field(default=(0.9, 0.98), metadata={"range": (0.0, 0.999999)})
    """AdamW's beta1 and beta2."""
    eps: float = field(default=1e-8, metadata={"range": (0.0, 1.0)})
    """AdamW's epsilon."""
    weight_decay: float = field(default=0.01, metadata={"range": (0.0, 10.0)})
    """Decoupled weight decay, on matrices only (biases, norms and other 1-D parameters get none)."""
    warmup_steps: int = field(default=0, metadata={"range": (0, None)})
    """Steps of linear warm-up from 0 to lr."""
    schedule: str = field(default="cosine", metadata={"choices": ("cosine", "constant")})
    """After warm-up: cosine decay to min_lr at train.steps, or constant lr."""
    min_lr: float = field(default=0.0, metadata={"range": (0.0, 10.0)})
    """The learning rate the cosine schedule ends at."""
    grad_clip: float = field(default=1.0, metadata={"range": (0.0, None)})
    """Clip the global gradient norm to this (0: no clipping; the norm is logged either way)."""


@dataclass(frozen=True)
class TrainSection:
    """The training run: length, batches, precision, device, seeding, checkpoints and logs."""

    output_dir: Path
    """The run directory (checkpoints, metrics.jsonl, loss.png, eval audio); an existing run there needs
    --resume or --force."""
    steps: int = field(metadata={"range": (1, None)})
    """Optimizer steps to train for."""
    batch_size: int = field(default=8, metadata={"range": (1, None)})
    """Examples per micro-batch (one forward/backward)."""
    grad_accum: int = field(default=1, metadata={"range": (1, None)})
    """Micro-batches per optimizer step; the loss is the mean over all target tokens of the step."""
    precision: str = field(default="fp32", metadata={"choices": ("fp32", "bf16", "fp16")})
    """fp32, or autocast bf16 / fp16 (fp16 with a gradient scaler) on a CUDA GPU that has them."""
    device: str = "auto"
    """auto (a CUDA GPU if torch can use one, else the CPU), cpu, cuda or cuda:N."""
    threads: int = field(default=0, metadata={"range": (0, 1024)})
    """CPU threads of torch's operators (0: torch's default); 1 is often fastest for small models on a
    busy or 2-core machine."""
    seed: int = field(default=0, metadata={"range": (0, 2**63 - 1)})
    """Seed of the initial weights, the shuffling and every random draw of training."""
    early_exit_weight: float = field(default=0.0, metadata={"range": (0.0, None)})
    """Weight of the early-exit head's loss (Spear-TTS's draft layer for speculative decoding; 0: none)."""
    checkpoint_every: int = field(default=1000, metadata={"range": (1, None)})
    """Save a checkpoint every this many steps (and at the end)."""
    keep_last: int = field(default=3, metadata={"range": (1, None)})
    """Checkpoints kept; older ones are deleted."""
    eval_every: int = field(default=500, metadata={"range": (0, None)})
    """Compute the validation loss every this many steps (and at the end; 0: only at the end)."""
    log_every: int = field(default=10, metadata={"range": (1, None)})
    """Write a metrics line (mean loss, lr, grad norm, tokens/s) every this many steps."""
    progress: bool = True
    """Show a progress bar on standard error."""
    plot: bool = True
    """Draw loss.png at each checkpoint and at the end (needs matplotlib: pip install sonorant[train])."""


@dataclass(frozen=True)
class FreezeSection:
    """Parameters kept fixed, as Spear-TTS freezes the encoder or the decoder between its stages."""

    parts: list[str] = field(default_factory=list)
    """Named parts: encoder, decoder, embeddings (or the model's own `freeze_parts` names)."""
    patterns: list[str] = field(default_factory=list)
    """Shell-style patterns on parameter names, e.g. "encoder.layers.0.*"; each must match something."""


@dataclass(frozen=True)
class EvalSection:
    """Synthesis of a few sentences scored by the Whisper judge, during training."""

    sentences: list[str] = field(default_factory=list)
    """Sentences to synthesize and transcribe."""
    sentences_file: Path | None = field(default=None, metadata={"exists": True})
    """A UTF-8 file with more sentences, one a line (blank lines skipped)."""
    every: int = field(default=0, metadata={"range": (0, None)})
    """Synthesize and score every this many steps (0: never); needs a synthesizer for the model kind."""
    judge: str = field(default="tiny.en", metadata={"choices": ("tiny.en", "base")})
    """The Whisper judge: tiny.en (fast) or the multilingual base (stricter)."""


@dataclass(frozen=True)
class TrainConfig:
    """A whole training config."""

    model: ModelSection
    """What to train."""
    data: DataSection
    """What to train on."""
    train: TrainSection
    """How long and how."""
    optim: OptimSection = field(default_factory=OptimSection)
    """The optimizer."""
    freeze: FreezeSection = field(default_factory=FreezeSection)
    """What not to train."""
    eval: EvalSection = field(default_factory=EvalSection)
    """How to listen to the model while it trains."""
    source: str = field(default="<config>", init=False, compare=False, repr=False)
    """The file the config was read from (named in errors; not a key of the file)."""

    def eval_sentences(self) -> list[str]:
        """The eval sentences: the inline ones, then those of sentences_file."""
        out = list(self.eval.sentences)
        if self.eval.sentences_file is not None:
            text = self.eval.sentences_file.read_text(encoding="utf-8")
            out += [line.strip() for line in text.splitlines() if line.strip()]
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data (paths as absolute strings), as stored in run.json and in checkpoints."""
        return {k: v for k, v in to_plain(self).items() if k != "source"}

    def error(self, exc: ConfigError) -> ConfigError:
        """`exc` with this config's file named first when its message starts with a key of the file."""
        message = str(exc)
        if message.split(".", 1)[0].split(":", 1)[0] in SECTIONS and not message.startswith(f"{self.source}: "):
            return type(exc)(f"{self.source}: {message}")
        return exc


SECTIONS = ("model", "data", "train", "optim", "freeze", "eval")
"""The sections of a config file."""


def parse_config(data: dict[str, Any], source: str = "<config>", base: Path | None = None) -> TrainConfig:
    """A checked `TrainConfig` from parsed data; `source` names it in errors, `base` anchors relative paths."""
    config: TrainConfig = build(TrainConfig, data, source, base)
    object.__setattr__(config, "source", source)
    if config.data.frontend not in FRONTENDS:
        hint = difflib.get_close_matches(config.data.frontend, list(FRONTENDS), n=1)
        raise SchemaError(f"{source}: data.frontend: unknown front end {config.data.frontend!r}"
                          + (f" (did you mean {hint[0]!r}?)" if hint else "") + f"; known: {', '.join(FRONTENDS)}")
    if config.eval.every and not config.eval_sentences():
        raise SchemaError(f"{source}: eval.every: set to {config.eval.every} but there are no eval sentences "
                          f"(eval.sentences or eval.sentences_file)")
    if config.optim.schedule == "cosine" and config.optim.min_lr > config.optim.lr:
        raise SchemaError(f"{source}: optim.min_lr: {config.optim.min_lr} is above optim.lr {config.optim.lr}")
    if config.optim.warmup_steps > config.train.steps:
        raise SchemaError(f"{source}: optim.warmup_steps: {config.optim.warmup_steps} is more than train.steps "
                          f"{config.train.steps}")
    return config


def load_config(path: str | Path) -> TrainConfig:
    """Read and check a YAML (.yaml/.yml) or TOML (.toml) training config."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"config file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SchemaError(f"{path}: not valid TOML: {exc}") from None
    elif suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SchemaError(f"{path}: not valid YAML: {exc}") from None
    else:
        raise SchemaError(f"{path}: a training config is a .yaml, .yml or .toml file")
    if not isinstance(data, dict):
        raise SchemaError(f"{path}: expected a table of sections (model, data, train, ...), got "
                          f"{type(data).__name__}")
    return parse_config(data, str(path), path.parent.resolve())


def schema_text() -> str:
    """The documented schema, as `sonorant train --print-schema` prints it."""
    head = ["# sonorant train: config schema (YAML or TOML; relative paths are relative to the config file)",
            "# key: type = default  [limits]", ""]
    return "\n".join(head + describe_schema(TrainConfig)) + "\n"
