"""The `toktts` checkpoint format, torch-free: a Hugging Face `EncoderDecoderModel.save_pretrained` directory of
two GPT-2 configs (github.com/alexeyrodriguez/toktts) read into a `TokenModelConfig`.

toktts' model: ByT5 byte ids in (vocabulary 384, EOS 1, pad 0, no BOS; `text.bytes`), a `GPT2Model` encoder
(causal, as every GPT-2), a GPT-2 decoder with cross-attention over Encodec 24 kHz codes at 1.5 kbps
(2 codebooks x 75 frames/s, interleaved frame by frame, vocabulary 1024 codes + BOS 1024 + EOS 1025, EOS
also the pad). When the encoder is narrower than the decoder, `EncoderDecoderModel` adds `enc_to_dec_proj`
(a Linear from the encoder's width to the decoder's) before cross-attention; `voices.toktts` folds it into
the cross-attention keys and values. The directory holds `config.json` and the weights as
`model.safetensors` or `pytorch_model.bin` (either possibly sharded with an `.index.json`); no tokenizer
files (toktts takes `google/byt5-small`'s, which needs none).

Generation settings are not in the checkpoint: toktts' `generate_samples.py` uses `max_length` =
decoder `seq_length` + 1 (301 for 2 s of audio; `seq_length` lands in the decoder config from toktts' yaml),
`num_beams=4`, `do_sample=True`; `TokttsCheckpoint` carries them as defaults.

`probe` / `read_checkpoint` only read JSON and file headers; the weights are `voices.toktts`'s job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, VoiceError
from ..models.tokens.config import StackConfig, TokenModelConfig
from .card import LoadedVoice, VoiceCard
from .token_source import token_source

SAMPLE_RATE = 24000
"""Encodec 24 kHz: audio samples per second."""
FRAME_RATE = 75
"""Encodec 24 kHz: code frames per second (hop 320)."""
CODEBOOKS = 2
"""Codes per frame at 1.5 kbps (toktts' bandwidth; the checkpoint does not record it)."""
CODE_BINS = 1024
"""Values one code takes; the decoder's tokens above them are BOS and EOS."""
MAX_LENGTH = 301
"""toktts' generation bound (BOS + 2 s x 75 frames x 2 codes) when the config has no `seq_length`."""
NUM_BEAMS = 4
"""toktts' `num_beams`."""
DO_SAMPLE = True
"""toktts' `do_sample` (beam sampling)."""
BYTE_IDS = 259
"""ByT5 ids the encoder must embed: 3 control ids and 256 bytes (toktts' encoder has 384 rows)."""
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
"""Weight files `save_pretrained` writes (each may instead be shards listed in `<name>.index.json`)."""

_GELU = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": "tanh", "gelu": "exact"}
_WHAT = "a toktts checkpoint (a Hugging Face EncoderDecoderModel directory of two GPT-2 models)"


@dataclass(frozen=True)
class TokttsCheckpoint:
    """A toktts checkpoint as described by its files (no weights read)."""

    path: Path
    """The `save_pretrained` directory."""
    config: dict[str, Any]
    """Its `config.json`."""
    model: TokenModelConfig
    """The shared token model's configuration for it."""
    weights: tuple[Path, ...]
    """The weight files (one, or the shards)."""
    memory_proj: bool
    """Whether the weights hold `enc_to_dec_proj` (encoder narrower or wider than the decoder)."""
    max_length: int
    """toktts' generation bound in decoder positions, BOS included (`seq_length` + 1, default 301)."""
    num_beams: int = NUM_BEAMS
    """toktts' beam count."""
    do_sample: bool = DO_SAMPLE
    """Whether toktts samples within its beams."""


def checkpoint_dir(path: str | Path) -> Path:
    """The checkpoint directory `path` names: the directory itself, or the directory of its config.json or
    weight file."""
    path = Path(path).expanduser()
    if path.is_file() and (path.name == "config.json" or path.name.startswith(WEIGHT_FILES)):
        return path.parent
    return path


def _read_config(directory: Path) -> dict[str, Any] | None:
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return config if isinstance(config, dict) else None


def _is_toktts(config: dict[str, Any]) -> bool:
    enc, dec = config.get("encoder"), config.get("decoder")
    return (config.get("model_type") == "encoder-decoder" and isinstance(enc, dict) and isinstance(dec, dict)
            and enc.get("model_type") == "gpt2" and dec.get("model_type") == "gpt2")


def probe(path: str | Path) -> bool:
    """Whether `path` is (or is a file in) an EncoderDecoderModel directory of two GPT-2 models."""
    directory = checkpoint_dir(path)
    if not directory.is_dir():
        return False
    config = _read_config(directory)
    return config is not None and _is_toktts(config)


def read_checkpoint(path: str | Path) -> TokttsCheckpoint:
    """The toktts checkpoint at `path` (see `checkpoint_dir`); VoiceError for anything else."""
    directory = checkpoint_dir(path)
    if not directory.is_dir():
        raise VoiceError(f"{directory} is not a directory: {_WHAT} is a save_pretrained directory")
    config = _read_config(directory)
    if config is None:
        raise VoiceError(f"{directory} has no readable config.json: it is not {_WHAT}")
    if not _is_toktts(config):
        kinds = config.get("model_type"), (config.get("encoder") or {}).get("model_type"), \
            (config.get("decoder") or {}).get("model_type")
        raise VoiceError(f"{directory} holds a {kinds[0] or 'model without a model_type'}"
                         f"{f' ({kinds[1]} -> {kinds[2]})' if kinds[0] == 'encoder-decoder' else ''}: "
                         f"sonorant reads {_WHAT}")
    model = token_config(config, str(directory))
    memory_proj = model.encoder.dim != model.decoder.dim and not config["decoder"].get("cross_attention_hidden_size")
    seq_length = config["decoder"].get("seq_length")
    max_length = int(seq_length) + 1 if isinstance(seq_length, int) and seq_length > 0 else MAX_LENGTH
    if max_length > model.max_target:
        raise VoiceError(f"{directory}: seq_length {seq_length} exceeds the decoder's {model.max_target} positions")
    return TokttsCheckpoint(directory, config, model, weight_files(directory), memory_proj, max_length)


def weight_files(directory: Path) -> tuple[Path, ...]:
    """The checkpoint's weight files: a single file or the shards an index lists; VoiceError if none."""
    for name in WEIGHT_FILES:
        if (directory / name).is_file():
            return (directory / name,)
        index = directory / f"{name}.index.json"
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
                shards = tuple(directory / s for s in sorted(set(weight_map.values())))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise VoiceError(f"{index} is not a readable shard index") from None
            missing = [s.name for s in shards if not s.is_file()]
            if missing or not shards:
                raise VoiceError(f"{directory}: shard {missing[0] if missing else '(none)'} listed in {index.name} "
                                 "is missing")
            return shards
    raise VoiceError(f"{directory} has a config.json but no weights ({' or '.join(WEIGHT_FILES)})")


def _stack(cfg: dict[str, Any], where: str, *, cross: bool) -> StackConfig:
    """One GPT-2 config -> a StackConfig (VoiceError for GPT-2 options sonorant does not run)."""
    try:
        dim, heads, layers = int(cfg["n_embd"]), int(cfg["n_head"]), int(cfg["n_layer"])
        positions = int(cfg.get("n_positions", 1024))
    except (KeyError, TypeError, ValueError):
        raise VoiceError(f"{where}: its GPT-2 config lacks n_embd / n_head / n_layer") from None
    act = cfg.get("activation_function", "gelu_new")
    if act not in _GELU:
        raise VoiceError(f"{where}: activation {act!r} is not supported (GPT-2 GELU variants only: "
                         f"{', '.join(_GELU)})")
    if cfg.get("scale_attn_weights", True) is not True or cfg.get("scale_attn_by_inverse_layer_idx", False):
        raise VoiceError(f"{where}: attention scaling other than GPT-2's 1/sqrt(head width) is not supported "
                         "(scale_attn_weights false or scale_attn_by_inverse_layer_idx true)")
    if bool(cfg.get("add_cross_attention", False)) != cross:
        raise VoiceError(f"{where}: add_cross_attention must be {cross} for the {'decoder' if cross else 'encoder'}")
    if heads < 1 or dim % heads:
        raise VoiceError(f"{where}: n_embd {dim} is not a multiple of n_head {heads}")
    try:
        return StackConfig(
            layers=layers, dim=dim, heads=heads, kv_heads=heads, head_dim=dim // heads,
            ffn_dim=int(cfg.get("n_inner") or 4 * dim), ffn="gelu", gelu=_GELU[act], norm="layer",
            norm_eps=float(cfg.get("layer_norm_epsilon", 1e-5)), bias=True, causal=True, positions="learned",
            max_positions=positions, cross=cross, null_kv=False, final_norm=True)
    except ConfigError as e:
        raise VoiceError(f"{where}: {e}") from None


def token_config(config: dict[str, Any], where: str = "config.json") -> TokenModelConfig:
    """An EncoderDecoderModel config of two GPT-2 configs -> the shared token model's `TokenModelConfig`."""
    enc_cfg, dec_cfg = config["encoder"], config["decoder"]
    if config.get("tie_encoder_decoder"):
        raise VoiceError(f"{where}: tie_encoder_decoder (encoder and decoder sharing weights) is not supported")
    encoder = _stack(enc_cfg, f"{where} (encoder)", cross=False)
    decoder = _stack(dec_cfg, f"{where} (decoder)", cross=True)
    cross_width = dec_cfg.get("cross_attention_hidden_size")
    if cross_width and encoder.dim != decoder.dim:
        raise VoiceError(f"{where}: a GPT-2 decoder cannot cross-attend to a {encoder.dim} wide encoder "
                         f"(cross_attention_hidden_size {cross_width}, decoder width {decoder.dim})")
    tgt_vocab, src_vocab = int(dec_cfg.get("vocab_size", 0)), int(enc_cfg.get("vocab_size", 0))
    if src_vocab < BYTE_IDS:
        raise VoiceError(f"{where}: the encoder's vocabulary ({src_vocab}) does not hold ByT5's {BYTE_IDS} byte ids")
    eos = _token(dec_cfg.get("eos_token_id"), CODE_BINS + 1)
    bos = _token(config.get("decoder_start_token_id"), _token(dec_cfg.get("bos_token_id"), CODE_BINS))
    pad = _token(config.get("pad_token_id"), eos)
    if tgt_vocab < CODE_BINS + 2 or min(bos, eos) < CODE_BINS:
        raise VoiceError(f"{where}: the decoder's vocabulary ({tgt_vocab}, BOS {bos}, EOS {eos}) is not toktts' "
                         f"{CODE_BINS} Encodec codes followed by BOS and EOS")
    try:
        return TokenModelConfig(
            src_vocab=src_vocab, tgt_vocab=tgt_vocab, encoder=encoder, decoder=decoder,
            bos=bos, eos=eos, pad=pad, src_pad=0, start_vector=False,
            tie_embeddings=bool(dec_cfg.get("tie_word_embeddings", True)), logits_bias=False,
            early_exit_layer=None, max_target=decoder.max_positions, codebooks=CODEBOOKS)
    except ConfigError as e:
        raise VoiceError(f"{where}: {e}") from None


def _token(value: Any, default: int) -> int:
    """A token id from a config (a list takes its first entry, as generate does for EOS lists)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return default if value is None else int(value)


# ---- the voice registry's entry points ----------------------------------------------------------------------

DIRECTORIES = True
"""A toktts voice is a directory (the registry probes directories only with loaders that say so)."""
TOKEN_VOICES = True
"""This loader's voices are token voices (a codec decodes what a token model generates)."""
OPTIONS = ("codec", "max_tokens")
"""The options `load` takes (`load_voice(..., codec=...)`, the CLI's --codec)."""


def load(path: Path, *, name: str | None = None, codec: str | Path | None = None,
         max_tokens: int | None = None) -> LoadedVoice:
    """The toktts checkpoint at `path` speaking through the Encodec `codec` (Meta's `.th` or a transformers
    directory). `max_tokens` is the default bound on generated tokens (toktts' own: `seq_length`, 300)."""
    from .codecs import codec_info

    ckpt = read_checkpoint(path)
    if codec is None:
        raise VoiceError(f"{ckpt.path} is a toktts token model: it needs the Encodec codec its tokens are for, "
                         "e.g. load_voice(voice, codec='encodec_24khz.th') or --codec encodec_24khz.th")
    info = codec_info(codec)
    bound = ckpt.max_length - 1 if max_tokens is None else int(max_tokens)
    if not 1 <= bound <= ckpt.model.max_target - 1:
        raise ConfigError(f"max_tokens must be in 1..{ckpt.model.max_target - 1}, got {max_tokens}")
    card = VoiceCard(name=name or ckpt.path.name, family="toktts", sample_rate=info.sample_rate, language="en",
                     tokens=True)
    return LoadedVoice(card, token_source("toktts", ckpt.path, Path(codec), bound, _build), byte_pipeline,
                       ckpt.path, ckpt)


def _build(path: Path) -> Any:
    from .toktts import load_toktts

    return load_toktts(path)


def byte_pipeline(normalize: bool, max_ids: int) -> Any:
    from ..text.bytes import byte_pipeline as pipeline

    return pipeline(normalize, max_ids)
