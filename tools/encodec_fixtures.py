"""Build the Encodec 24 kHz parity fixtures with Meta's `encodec` package and transformers' `EncodecModel`.

NOT a project module and never imported by sonorant: run with any Python 3.11, it makes (once) a throwaway
venv and re-runs itself inside it::

    python3 tools/encodec_fixtures.py                 # -> tests/fixtures/encodec (about 1 min with a warm venv)
    python3 tools/encodec_fixtures.py --out DIR
    python3 tools/encodec_fixtures.py --full          # default sizes -> ~/.cache/sonorant-fixtures/encodec-full

The venv is ``~/.cache/sonorant-fixtures/venvs/encodec`` with ``encodec==0.1.1``, ``transformers==5.25.0``
and ``torch==2.13.0`` (pinned in a constraints file, so pip takes the local CPU wheel and never a CUDA
one); making it takes about a minute.  ``import encodec`` imports ``torchaudio``, whose PyPI build does not
load next to torch 2.13: a stub module stands in for it (nothing used here calls it).

What it builds (every random draw seeded; the weights and references are reproducible with the same torch):

* ``encodec_tiny.th``: a random-init causal 24 kHz Encodec built with Meta's own classes, exactly as
  ``EncodecModel._get_model`` builds ``encodec_24khz`` (SEANet encoder and decoder, ratios 8, 5, 4, 2, ELU,
  weight norm, causal convolutions with reflect padding, a 2-layer LSTM with its skip, a conv shortcut in
  each residual block, trim_right_ratio 1) but shrunk: ``n_filters`` 2 (the real model: 32), ``dimension``
  8 (128) and 4 codebooks (32) of 1024 codes each.  Saved with ``torch.save(model.state_dict())``, the way
  Meta's checkpoints are (keys ``encoder.model.N.conv.conv.weight_g`` / ``_v``, ``decoder.model.N.convtr
  .convtr.*``, ``*.lstm.weight_ih_l0``, ``quantizer.vq.layers.K._codebook.{inited, cluster_size, embed,
  embed_avg}``).  There is no sidecar: every size of this file, like the real one's, can be read off the
  weights' shapes (the sample rate is the 24 kHz model's).
  Random init is made non-trivial first.  With the default init the signal shrinks at every layer and the
  audio is the last convolution's bias plus a code-dependent part 80 dB below it, which would let a wrong
  codebook lookup pass a 60 dB parity test; so every convolution's weight-norm gain ``g`` is set to a He-like
  value (sqrt 2; sqrt(ratio) for the transposed ones) times U(0.6, 1.4) per row (folding ``g`` then matters
  too), biases are cut to a tenth, and each codebook (zero in Meta's init: k-means at the first training
  batch) gets N(0, s^2) codes, s the encoder's output scale on the chirp below, and the last convolution is
  scaled for an audio rms of 0.1 on random codes.  The script records how far the code-dependent part of
  the audio is from the whole (``code_dependence_db``: 0.7 dB here; it refuses to write under -10 dB).
* ``encodec_tiny_hf/``: the same weights in a transformers ``EncodecModel`` (``EncodecConfig`` with the
  shrunk sizes; ``target_bandwidths`` [1.5, 3.0] gives its 4 quantizers), converted by renaming keys
  (``.model.`` -> ``.layers.``, ``.conv.conv.`` / ``.convtr.convtr.`` -> ``.conv.``, ``vq.layers.K._codebook``
  -> ``layers.K.codebook``, ``weight_g`` / ``weight_v`` -> ``parametrizations.weight.original0`` / ``1``),
  loaded strictly and written with ``save_pretrained`` (``config.json`` + ``model.safetensors``).  The
  references are computed from the directory as ``EncodecModel.from_pretrained`` reads it back.
* ``encodec_tiny_ref.npz``:
  - ``codes`` [4, 4, 37] int64: random codes (batch 4, K 4, T 37) with ``lengths`` [37, 20, 5, 1];
    ``meta_audio_i`` / ``hf_audio_i`` [lengths[i] * 320]: upstream decodes of row i alone at its own length
    (neither upstream takes lengths).  Row 2 (5 frames) and row 3 (1 frame) are shorter than the first
    convolution's reflect padding (6), which upstream pads with zeros first.
  - ``meta_batch_audio`` [4, 37 * 320]: Meta's decode of the whole padded batch (rows past their length
    decode the padding codes).
  - ``codes_k2`` [2, 2, 23] and ``meta_audio_k2`` / ``hf_audio_k2`` [2, 23 * 320]: decodes with 2 codebooks
    (1.5 kbps, the toktts setting).
  - ``chirp`` [1, 12000] (0.5 s, 100 Hz -> 6 kHz, amplitude 0.5) and ``chirp_odd`` [1, 11111] (its start;
    not a whole number of frames): ``*_emb`` [1, 8, T] the encoder's output, ``*_codes_bw1_5`` [1, 2, T] and
    ``*_codes_bw3`` [1, 4, T] Meta's codes at 1.5 and 3 kbps, ``*_margin`` the smallest gap between the
    nearest and second-nearest code distance over every RVQ step (how safe "identical codes" is).
* ``README.md``: generated (files, sizes, configs, the measured upstream agreement).

``--full`` makes the same files at Meta's default sizes (``encodec_model_24khz(pretrained=False)`` itself,
32 codebooks; transformers' default ``EncodecConfig()``) as ``encodec_24khz_full*`` in
``~/.cache/sonorant-fixtures/encodec-full`` (about 190 MB, not committed): rows of 150, 40 and 5 frames with
all 32 codebooks, and codes at 1.5 and 24 kbps.  ``tools/check_encodec_full.py`` checks sonorant against them.

The script checks, and records in the README, that transformers' decode equals Meta's on every case and
that both give the same codes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

VENV = Path.home() / ".cache" / "sonorant-fixtures" / "venvs" / "encodec"
PINS = ("torch==2.13.0", "encodec==0.1.1", "transformers==5.25.0")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "encodec"

FULL_OUT = Path.home() / ".cache" / "sonorant-fixtures" / "encodec-full"
SAMPLE_RATE = 24_000
HOP = 320
BINS = 1024


@dataclass(frozen=True)
class Sizes:
    """What differs between the committed tiny fixtures and the default-size ones."""

    name: str
    n_filters: int
    dimension: int
    n_q: int
    bandwidths: tuple[float, ...]
    lengths: tuple[int, ...]


TINY = Sizes("encodec_tiny", 2, 8, 4, (1.5, 3.0), (37, 20, 5, 1))
FULL = Sizes("encodec_24khz_full", 32, 128, 32, (1.5, 3.0, 6.0, 12.0, 24.0), (150, 40, 5))


def log(*a: object) -> None:
    print("[encodec_fixtures]", *a, flush=True)


def ensure_venv() -> None:
    """Re-run this script inside the fixture venv, making the venv first if needed."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not python.exists():
        log(f"making {VENV} (about a minute)")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        constraints = VENV / "constraints.txt"
        constraints.write_text("torch==2.13.0\n")
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS, "-c", str(constraints)], check=True)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def stub_torchaudio() -> None:
    """`import encodec` imports torchaudio (for its file helpers); its wheel does not load with torch 2.13."""
    import importlib.machinery

    for name in ("torchaudio", "torchaudio.transforms", "torchaudio.functional"):
        stub = types.ModuleType(name)
        stub.__spec__ = importlib.machinery.ModuleSpec(name, None)  # transformers asks find_spec about it
        sys.modules[name] = stub


# ---------------------------------------------------------------------------------------------- building


def build_meta(s: Sizes):
    """A causal 24 kHz Encodec from Meta's classes (the default size: `encodec_model_24khz(pretrained=False)`
    itself), with non-trivial random weights."""
    import torch
    from encodec import modules as m
    from encodec import quantization as qt
    from encodec.model import EncodecModel

    torch.manual_seed(0)
    if s == FULL:
        model = EncodecModel.encodec_model_24khz(pretrained=False)
    else:
        kw = dict(channels=1, dimension=s.dimension, n_filters=s.n_filters, norm="weight_norm", causal=True)
        quant = qt.ResidualVectorQuantizer(dimension=s.dimension, n_q=s.n_q, bins=BINS)
        model = EncodecModel(m.SEANetEncoder(**kw), m.SEANetDecoder(**kw), quant, list(s.bandwidths), SAMPLE_RATE,
                             1, normalize=False, segment=None, name=s.name)
    model.eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
                # He-like gains (the default init shrinks the signal at every layer until the biases are all
                # that is left), each row's scaled by U(0.6, 1.4); biases a tenth of their default init
                gain = math.sqrt(module.stride[0] if isinstance(module, torch.nn.ConvTranspose1d) else 2.0)
                module.weight_g.copy_(torch.empty_like(module.weight_g).uniform_(0.6, 1.4, generator=g) * gain)
                module.bias.mul_(0.1)
        scale = float(model.encoder(chirp(12_000)).std())
        for layer in model.quantizer.vq.layers:
            cb = layer._codebook
            cb.embed.copy_(torch.randn(cb.embed.shape, generator=g) * scale)
            cb.embed_avg.copy_(cb.embed)
            cb.cluster_size.fill_(1.0)
            cb.inited.fill_(1.0)
        # audio at a speech-like level: the last convolution scaled to give rms 0.1 on random codes
        codes = torch.randint(0, BINS, (1, 2, 50), generator=g)
        rms = float(model.decode([(codes, None)]).pow(2).mean().sqrt())
        last = model.decoder.model[-1].conv.conv
        last.weight_g.mul_(0.1 / rms)
        last.bias.mul_(0.1 / rms)
    log(f"codebook scale {scale:.4g}, audio rms before the last gain {rms:.4g}")
    return model


def hf_config(s: Sizes):
    from transformers import EncodecConfig

    if s == FULL:
        return EncodecConfig()  # transformers' defaults are facebook/encodec_24khz's
    return EncodecConfig(
        target_bandwidths=list(s.bandwidths), sampling_rate=SAMPLE_RATE, audio_channels=1, normalize=False,
        chunk_length_s=None, overlap=None, hidden_size=s.dimension, num_filters=s.n_filters, num_residual_layers=1,
        upsampling_ratios=[8, 5, 4, 2], norm_type="weight_norm", kernel_size=7, last_kernel_size=7,
        residual_kernel_size=3, dilation_growth_rate=2, use_causal_conv=True, pad_mode="reflect", compress=2,
        num_lstm_layers=2, trim_right_ratio=1.0, codebook_size=BINS, codebook_dim=s.dimension,
        use_conv_shortcut=True)


def meta_to_hf_name(key: str) -> str:
    """Meta's state-dict key -> transformers' (with the parametrization names of `weight_norm`)."""
    key = key.replace("quantizer.vq.layers.", "quantizer.layers.").replace("._codebook.", ".codebook.")
    key = key.replace(".model.", ".layers.").replace(".conv.conv.", ".conv.").replace(".convtr.convtr.", ".conv.")
    key = key.replace(".weight_g", ".parametrizations.weight.original0")
    return key.replace(".weight_v", ".parametrizations.weight.original1")


def build_hf(meta_state: dict, out: Path, s: Sizes):
    import torch
    from transformers import EncodecModel

    model = EncodecModel(hf_config(s))
    state = {meta_to_hf_name(k): v for k, v in meta_state.items()}
    model.load_state_dict(state, strict=True)
    model.save_pretrained(out)
    back = EncodecModel.from_pretrained(out)
    back.eval()
    for k, v in back.state_dict().items():
        if k in state and not torch.equal(v, state[k]):
            raise AssertionError(f"{k} changed through save_pretrained")
    return back


# -------------------------------------------------------------------------------------------- references


def chirp(n: int):
    """0.5 * sin of a linear chirp 100 Hz -> 6 kHz over 0.5 s, [1, 1, n]."""
    import torch

    t = torch.arange(n, dtype=torch.float64) / SAMPLE_RATE
    f0, f1, dur = 100.0, 6000.0, 0.5
    phase = 2 * math.pi * (f0 * t + (f1 - f0) * t * t / (2 * dur))
    return (0.5 * torch.sin(phase)).float().reshape(1, 1, n)


def rvq_margin(codebooks, emb, n_q: int) -> float:
    """The smallest (second-nearest - nearest) squared distance over every frame and RVQ step."""
    import torch

    residual = emb[0].T.double()  # [t, d]
    margin = math.inf
    for cb in codebooks[:n_q]:
        d = torch.cdist(residual, cb.double()) ** 2  # [t, bins]
        two = d.topk(2, dim=1, largest=False).values
        margin = min(margin, float((two[:, 1] - two[:, 0]).min()))
        residual = residual - cb.double()[d.argmin(1)]
    return margin


def references(meta, hf, s: Sizes) -> tuple[dict, dict]:
    import numpy as np
    import torch

    g = torch.Generator().manual_seed(2)
    ref: dict[str, np.ndarray] = {}
    stats: dict[str, float] = {}

    def meta_decode(codes):
        with torch.no_grad():
            return meta.decode([(codes, None)])[:, 0]

    def hf_decode(codes):
        with torch.no_grad():
            return hf.decode(codes[None], [None], return_dict=False)[0][:, 0]

    codes = torch.randint(0, BINS, (len(s.lengths), s.n_q, max(s.lengths)), generator=g)
    ref["codes"], ref["lengths"] = codes.numpy(), np.array(s.lengths, np.int64)
    worst = 0.0
    for i, n in enumerate(s.lengths):
        a, b = meta_decode(codes[i : i + 1, :, :n]), hf_decode(codes[i : i + 1, :, :n])
        assert a.shape == (1, n * HOP), a.shape
        ref[f"meta_audio_{i}"], ref[f"hf_audio_{i}"] = a[0].numpy(), b[0].numpy()
        worst = max(worst, float((a - b).abs().max()))
    ref["meta_batch_audio"] = meta_decode(codes).numpy()
    codes2 = torch.randint(0, BINS, (2, 2, 23), generator=g)
    a, b = meta_decode(codes2), hf_decode(codes2)
    ref["codes_k2"], ref["meta_audio_k2"], ref["hf_audio_k2"] = codes2.numpy(), a.numpy(), b.numpy()
    worst = max(worst, float((a - b).abs().max()))
    stats["decode_max_abs_diff_hf_vs_meta"] = worst
    stats["decode_peak"] = float(np.abs(ref["meta_audio_0"]).max())
    n = s.lengths[1]
    a, b = ref["meta_audio_0"][: n * HOP].astype(np.float64), ref["meta_audio_1"].astype(np.float64)
    stats["code_dependence_db"] = float(10 * np.log10(np.sum((a - b) ** 2) / np.sum(a**2)))

    books = [layer._codebook.embed for layer in meta.quantizer.vq.layers]
    for name, n in (("chirp", 12_000), ("chirp_odd", 11_111)):
        x = chirp(n)
        ref[name] = x[0].numpy()
        with torch.no_grad():
            emb = meta.encoder(x)
            ref[f"{name}_emb"] = emb.numpy()
            hf_emb = hf.encoder(x)
        stats[f"{name}_emb_max_abs_diff_hf_vs_meta"] = float((emb - hf_emb).abs().max())
        for bw in (s.bandwidths[0], s.bandwidths[-1]):
            tag = f"bw{bw:g}".replace(".", "_")
            meta.set_target_bandwidth(bw)
            with torch.no_grad():
                c = meta.encode(x)[0][0]
                hc = hf.encode(x, bandwidth=bw, return_dict=False)[0][0]
            if not torch.equal(c, hc):
                raise AssertionError(f"{name} at {bw} kbps: transformers' codes differ from Meta's")
            assert c.shape == (1, int(bw * 1000 // (75 * 10)), math.ceil(n / HOP)), c.shape
            ref[f"{name}_codes_{tag}"] = c.numpy()
        ref[f"{name}_margin"] = np.array(rvq_margin(books, emb, s.n_q))
        stats[f"{name}_rvq_margin"] = float(ref[f"{name}_margin"])
    return ref, stats


# ------------------------------------------------------------------------------------------------ README


def write_readme(out: Path, stats: dict, ref: dict, s: Sizes) -> None:
    rows = [f"| {p.relative_to(out)} | {p.stat().st_size} |" for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != "README.md"]
    arrays = [f"| {k} | {list(v.shape)} | {v.dtype} |" for k, v in ref.items()]
    cfg = {k: v for k, v in hf_config(s).to_dict().items() if not k.startswith("_") and k not in ("dtype",)}
    text = "\n".join([
        "# Encodec 24 kHz parity fixtures",
        "",
        "Generated by `tools/encodec_fixtures.py` (`python3 tools/encodec_fixtures.py`; see its docstring). "
        "Do not edit.",
        "",
        "| file | bytes |",
        "| --- | --- |",
        *rows,
        "",
        f"Upstream (PyPI): {', '.join(_versions())}; the venv making them took about a minute.",
        "",
        "## Model",
        "",
        f"Meta's SEANet encoder/decoder + RVQ, causal 24 kHz layout, n_filters {s.n_filters}, dimension "
        f"{s.dimension}, {s.n_q} codebooks x {BINS} codes, target bandwidths {list(s.bandwidths)} kbps.",
        "",
        f"transformers config (`{s.name}_hf/config.json`):",
        "",
        f"`{json.dumps(cfg, sort_keys=True)}`",
        "",
        "## Upstream agreement measured by the script",
        "",
        *[f"- {k}: {v:.3g}" for k, v in stats.items()],
        "",
        "Codes: transformers' `encode` equals Meta's on both signals at both bandwidths (checked).",
        "",
        f"## {s.name}_ref.npz",
        "",
        "| key | shape | dtype |",
        "| --- | --- | --- |",
        *arrays,
        "",
    ])
    (out / "README.md").write_text(text)


def _versions() -> list[str]:
    from importlib.metadata import version

    return [f"{name} {version(name)}" for name in ("encodec", "transformers", "torch")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help=f"default: {OUT} ({FULL_OUT} with --full)")
    ap.add_argument("--full", action="store_true", help="the default-size 24 kHz model (~190 MB, not committed)")
    args = ap.parse_args()
    ensure_venv()
    stub_torchaudio()
    import numpy as np
    import torch

    torch.set_num_threads(1)
    s = FULL if args.full else TINY
    out: Path = args.out or (FULL_OUT if args.full else OUT)
    out.mkdir(parents=True, exist_ok=True)
    meta = build_meta(s)
    state = meta.state_dict()
    torch.save(state, out / f"{s.name}.th")
    meta_back = build_meta(s)  # same seeds: then load the saved file into it, as a user of the file would
    meta_back.load_state_dict(torch.load(out / f"{s.name}.th", weights_only=True))
    meta_back.eval()
    hf = build_hf(state, out / f"{s.name}_hf", s)
    ref, stats = references(meta_back, hf, s)
    np.savez_compressed(out / f"{s.name}_ref.npz", **ref)
    write_readme(out, stats, ref, s)
    for k, v in stats.items():
        log(f"{k}: {v:.3g}")
    if stats["decode_max_abs_diff_hf_vs_meta"] > 1e-5 * max(1.0, stats["decode_peak"]):
        raise AssertionError("transformers' decode differs from Meta's")
    if stats["code_dependence_db"] < -10:
        raise AssertionError("the random model's audio hardly depends on its codes: parity would prove little")
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
