"""Listening to a "tokens" model while it trains: its eval synthesizer (text -> the model's tokens ->
the codec's audio) and the export of a run's weights as a token voice (`sonorant train-export`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..config import Decoding
from ..errors import ConfigError, DecodeLimitError

if TYPE_CHECKING:
    from .config import TrainConfig
    from .token_model import TrainableTokens


def frontend_of(config: TrainConfig) -> dict[str, Any]:
    """The token voice front end a run's data uses: bytes, or a Piper voice's phonemes (model.options.voice)."""
    kind = config.data.frontend
    if kind == "bytes":
        return {"kind": "bytes"}
    if kind == "phonemes":
        return {"kind": "phonemes", "voice": str(config.model.options.get("voice", "joe"))}
    raise ConfigError(f"data.frontend {kind!r} cannot be spoken by a token voice (bytes or phonemes)")


def text_ids(frontend: dict[str, Any]) -> Any:
    """text -> source ids for one sentence, as the voice's pipeline makes them (unnormalized sentence)."""
    from ..voices.tokenvoice_loader import _pipeline

    pipeline = _pipeline(frontend)(True, 400)

    def ids(text: str) -> list[int]:
        return [i for plan in pipeline.plan(text) for i in plan.ids]

    return ids


def synthesizer(model: TrainableTokens, config: TrainConfig) -> Any:
    """texts -> (waves, sample rate) with the model's current weights: greedy tokens, decoded by the codec
    named in model.options.codec (a sentence that does not end within the bound gives its partial audio, so
    the judge scores what the model says)."""
    from ..runtimes.token_decoding import Batch, TokenDecoder
    from ..voices.codecs import load_codec

    codec_path = config.model.options.get("codec")
    if not codec_path:
        raise ConfigError("eval needs model.options.codec: the codec file the model's tokens decode with")
    codec = load_codec(Path(codec_path).expanduser())
    ids = text_ids(frontend_of(config))
    tok = model.model.cfg

    def synthesize(texts: list[str]) -> tuple[list[np.ndarray], int]:
        dev = next(model.parameters()).device
        codec.to(dev)
        was = model.training
        model.eval()
        try:
            return [speak(text, dev) for text in texts], codec.spec.sample_rate
        finally:
            model.train(was)

    def speak(text: str, dev: torch.device) -> np.ndarray:
        src = torch.tensor([ids(text)], device=dev)
        one = torch.ones(1, dtype=torch.int64, device=dev)
        try:
            batch = Batch(src, one * src.shape[1], one * 0)
            tokens = TokenDecoder(model.model).generate(batch, Decoding(temperature=0.0))[0]
        except DecodeLimitError as err:  # an unfinished sentence is scored on what it says
            tokens = err.tokens[0]
        body = tokens[tokens < codec.spec.bins]  # a half-trained model may emit a special token mid-stream
        k = tok.codebooks
        codes = torch.from_numpy(body[:len(body) - len(body) % k].reshape(-1, k).T.copy())  # [K, T]
        if codes.shape[1] == 0:
            return np.zeros(codec.spec.hop, np.float32)
        with torch.no_grad():
            return codec.decode(codes[None].to(dev))[0].float().cpu().numpy()

    return synthesize


def export_run(checkpoint: Path, out: Path, *, name: str | None = None, force: bool = False) -> Path:
    """A `sonorant train` checkpoint of kind "tokens" -> a token voice directory (`voices.tokenvoice_loader`)."""
    from ..voices.tokenvoice_loader import export_token_voice
    from .checkpoint import load_checkpoint
    from .config import parse_config
    from .token_model import build

    state = load_checkpoint(Path(checkpoint))
    if "config" not in state:
        raise ConfigError(f"{checkpoint} does not record its config; export needs the run's config")
    config = parse_config(state["config"], source=str(checkpoint))
    if config.model.kind != "tokens":
        raise ConfigError(f"{checkpoint} is a {config.model.kind!r} run: only 'tokens' runs export as voices")
    model = build(config.model.options)
    model.load_state_dict(state["model"])
    codec = config.model.options.get("codec")
    if not codec:
        raise ConfigError("export needs model.options.codec: the codec file the tokens decode with")
    training = {"steps": state.get("step"), "seconds": state.get("elapsed"), "device": state.get("device")}
    return export_token_voice(model.model, out, codec=Path(codec).expanduser(), frontend=frontend_of(config),
                              name=name or Path(out).name, training=training, force=force)
