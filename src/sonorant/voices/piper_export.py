"""Write a sonorant `Vits` as a Piper voice: an `.onnx` with Piper's exact I/O plus its `.onnx.json`.

The exported graph has Piper's signature, so piper-tts, sherpa-onnx and anything else that runs
Piper voices can run it:

- inputs: ``input`` int64 [B, T] phoneme ids, ``input_lengths`` int64 [B], ``scales`` float32 [3] =
  (noise_scale, length_scale, noise_w), and ``sid`` int64 [B] only for multi-speaker voices;
- output: ``output`` float32 [B, 1, 1, samples], samples dynamic (frames of the longest utterance
  times the hop length; shorter utterances are zero past their own length).

Noise is drawn inside the graph (``RandomNormalLike``) like Piper's own export, and the frame count
is computed from the data (``frames.max()`` feeding a ``Range``), so one file serves every length.
The model's submodules are registered on a small wrapper under their own names, so tensor and
node names (``enc_p.*``, ``/flow/flows.0/enc/in_layers.0/Conv``) are those of Piper's voices and
`sonorant.voices.piper.load_piper_model` reads the file back.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..models.vits import Vits
from ..runtimes.onnx_export import export_onnx

_LOG = logging.getLogger(__name__)

PIPER_FORMAT_VERSION = "1.0.0"
"""`piper_version` written into the config: the voice format of Piper 1.x."""

_DEFAULT_SAMPLE_RATE = 22050
_DEFAULT_INFERENCE = {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8}
_TRACE_IDS = 50
"""Length of the example id sequence the graph is traced with (any length works afterwards)."""

# Piper's default phoneme inventory (espeak-ng IPA): symbols in id order, id = position.
# Ids 0-3 are pad, BOS, EOS and space; then punctuation, letters, IPA, digits, diacritics.
_DEFAULT_SYMBOLS: tuple[str, ...] = (
    ("_", "^", "$", " ", "!", "'", "(", ")", ",", "-", ".", ":", ";", "?")
    + tuple("abcdefhijklmnopqrstuvwxyz")
    + tuple("æçðøħŋœǀǁǂǃɐɑɒɓɔɕɖɗɘəɚɛɜɞɟɠɡɢɣɤɥɦɧɨɪɫɬɭɮɯɰɱɲɳɴɵɶɸ")
    + tuple("ɹɺɻɽɾʀʁʂʃʄʈʉʊʋʌʍʎʏʐʑʒʔʕʘʙʛʜʝʟʡʢʲˈˌːˑ˞βθχᵻⱱ")
    + tuple("0123456789")
    + ("\u0327", "\u0303", "\u032a", "\u032f", "\u0329", "ʰ", "ˤ", "ε", "↓", "#", '"', "↑", "\u033a", "\u033b")
    + ("g", "ʦ", "X", "\u031d", "\u030a", "ɝ", "ʷ")
    + ("aɪ", "aʊ", "ɔɪ", "eɪ", "oʊ")  # diphthongs (vowel clusters)
)


def default_phoneme_id_map(n_vocab: int | None = None) -> dict[str, list[int]]:
    """Piper's default espeak phoneme -> [id] map (166 symbols), keeping ids below `n_vocab` if given."""
    return {sym: [i] for i, sym in enumerate(_DEFAULT_SYMBOLS) if n_vocab is None or i < n_vocab}


class PiperExportGraph(nn.Module):
    """Piper's inference signature around a `Vits`: draws its own noise, sizes frames from the data.

    The voice's submodules (`enc_p`, `dp`, `flow`, `dec`, `emb_g`) are registered here under their
    own names, so exported tensors and nodes are named as in Piper's voices; the `Vits` itself is
    only called, never modified.
    """

    def __init__(self, model: Vits) -> None:
        super().__init__()
        for name, child in model.named_children():
            self.add_module(name, child)
        self._vits = (model,)  # a tuple keeps it out of the module tree (no `vits.` prefix on names)

    @property
    def vits(self) -> Vits:
        """The wrapped voice."""
        return self._vits[0]

    def forward(
        self, ids: torch.Tensor, lengths: torch.Tensor, scales: torch.Tensor, sid: torch.Tensor | None = None
    ) -> torch.Tensor:
        """ids [b, t_x] int64, lengths [b], scales [3] = (noise, length, noise_w). Returns [b, 1, 1, samples]."""
        vits = self.vits
        b = ids.shape[0]
        noise_scale, length_scale, noise_w = scales[0].expand(b), scales[1].expand(b), scales[2].expand(b)  # [b]
        dur_noise = torch.randn_like(ids.unsqueeze(1).expand(-1, 2, -1).to(scales.dtype))  # [b, 2, t_x]
        enc = vits.encode(ids, lengths, noise_w, length_scale, dur_noise, sid)
        frame = torch.arange(enc.frames.max(), device=ids.device).to(enc.m_p.dtype)  # [t_y]
        z_like = enc.m_p[:, :, :1] * 0 + frame.view(1, 1, -1) * 0  # [b, c, t_y]: the frame bucket's shape
        audio = vits.decode(enc, noise_scale, torch.randn_like(z_like))  # [b, t_y * hop]
        return audio.unsqueeze(1).unsqueeze(1)  # [b, 1, 1, samples]


def _language(value: Any) -> dict[str, str]:
    """Piper's `language` object from a dict or a code such as "en_US"."""
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    code = str(value or "en_US")
    family, _, region = code.partition("_")
    return {"code": code, "family": family, "region": region}


def build_piper_config(model: Vits, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `.onnx.json` for `model`: fields of `config` (Piper's JSON layout) over sensible defaults.

    `num_symbols` and `num_speakers` always describe the model; a `config` that says otherwise, or a
    phoneme id map with ids outside the embedding or without pad/BOS/EOS, raises `ConfigError`.
    """
    cfg = model.cfg
    given: dict[str, Any] = dict(config or {})
    for key, actual in (("num_symbols", cfg.n_vocab), ("num_speakers", cfg.n_speakers)):
        if key in given and int(given[key]) != actual:
            raise ConfigError(f"config says {key}={given[key]} but the model has {actual}")

    audio = {"sample_rate": _DEFAULT_SAMPLE_RATE, "quality": "medium", **dict(given.pop("audio", None) or {})}
    espeak = {"voice": "en-us", **dict(given.pop("espeak", None) or {})}
    inference = {**_DEFAULT_INFERENCE, **dict(given.pop("inference", None) or {})}
    raw_map = given.pop("phoneme_id_map", None) or default_phoneme_id_map(cfg.n_vocab)
    id_map = {str(k): [int(i) for i in (v if isinstance(v, (list, tuple)) else [v])] for k, v in raw_map.items()}
    bad = sorted(k for k, ids in id_map.items() if any(not 0 <= i < cfg.n_vocab for i in ids))
    if bad:
        raise ConfigError(f"phoneme_id_map has ids outside 0..{cfg.n_vocab - 1} for {bad[:5]}")
    missing = [s for s in ("_", "^", "$") if s not in id_map]
    if missing:
        raise ConfigError(f"phoneme_id_map lacks the pad/BOS/EOS symbols {missing}")
    if "speaker_id_map" in given:
        speakers = {str(k): int(v) for k, v in (given.pop("speaker_id_map") or {}).items()}
    else:
        speakers = {f"speaker_{i}": i for i in range(cfg.n_speakers)} if cfg.n_speakers > 1 else {}

    out: dict[str, Any] = {
        "audio": audio,
        "espeak": espeak,
        "inference": inference,
        "phoneme_type": given.pop("phoneme_type", "espeak"),
        "phoneme_map": given.pop("phoneme_map", None) or {},
        "phoneme_id_map": id_map,
        "num_symbols": cfg.n_vocab,
        "num_speakers": cfg.n_speakers,
        "speaker_id_map": speakers,
        "hop_length": cfg.hop_length,
        "piper_version": given.pop("piper_version", PIPER_FORMAT_VERSION),
        "language": _language(given.pop("language", None)),
        "dataset": given.pop("dataset", "sonorant"),
    }
    for key in ("num_symbols", "num_speakers", "hop_length"):
        given.pop(key, None)
    out.update(given)  # anything else Piper understands (vowel_clusters, default_speaker_id, ...)
    return out


def export_piper_voice(
    model: Vits, onnx_path: str | Path, config: Mapping[str, Any] | None = None, *, opset: int = 15
) -> Path:
    """Export `model` as a Piper voice at `onnx_path` (+ `<onnx_path>.json`); returns the `.onnx` path.

    Uses PyTorch's TorchScript exporter (as Piper does) with constant folding, on a float32 CPU copy
    of the model, so `model` itself is left as it was. `config` supplies `.onnx.json` fields in
    Piper's layout (see `build_piper_config`).
    """
    onnx_path = Path(onnx_path)
    piper_json = build_piper_config(model, config)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)

    vits = copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()
    graph = PiperExportGraph(vits).eval()
    gen = torch.Generator().manual_seed(1234)
    ids = torch.randint(0, vits.cfg.n_vocab, (1, _TRACE_IDS), generator=gen)  # [1, t_x]
    lengths = torch.tensor([_TRACE_IDS], dtype=torch.long)  # [1]
    scales = torch.tensor([0.667, 1.0, 0.8], dtype=torch.float32)  # [3]
    multi = vits.cfg.n_speakers > 1
    args: tuple[torch.Tensor, ...] = (ids, lengths, scales) + ((torch.zeros(1, dtype=torch.long),) if multi else ())
    input_names = ["input", "input_lengths", "scales"] + (["sid"] if multi else [])
    dynamic_axes: dict[str, dict[int, str]] = {
        "input": {0: "batch_size", 1: "phonemes"},
        "input_lengths": {0: "batch_size"},
        "output": {0: "batch_size", 3: "samples"},
    }
    if multi:
        dynamic_axes["sid"] = {0: "batch_size"}

    export_onnx(graph, args, onnx_path, input_names, ["output"], dynamic_axes, opset=opset)
    config_path = onnx_path.with_name(onnx_path.name + ".json")
    config_path.write_text(json.dumps(piper_json, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    _LOG.info("exported Piper voice %s (%d symbols, %d speakers)", onnx_path, vits.cfg.n_vocab, vits.cfg.n_speakers)
    return onnx_path
