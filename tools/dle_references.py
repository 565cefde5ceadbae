"""DLE inference with its random draws recorded: Tacotron2 prenet masks, WaveGlow Gaussians (tools/dle_fixtures.py).

Runs inside the DLE venv (see tools/dle_fixtures.py); ``dle`` is the namespace of DLE modules built there.
"""

from __future__ import annotations

import contextlib
import math
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

SEED = 1234
STEPS_RANGE = (15, 80)  # every reference utterance must stop within this many decoder steps
STOP_COUNTER_RATE, STOP_COUNTER_WEIGHT, GATE_SCALES = 0.02, 2.0, (8.0, 4.0, 16.0)  # see add_stop_counter
UTT_LENGTHS = {"tiny": (7, 19, 33, 60), "full": (9, 27, 44)}


def log(msg: str) -> None:
    print(f"[dle_fixtures] {msg}", flush=True)


@contextlib.contextmanager
def patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


# ------------------------------------------------------------------------------------------ Tacotron2
def recording_prenet(record: list[torch.Tensor], masks: list[torch.Tensor] | None = None) -> Callable[..., Any]:
    """Prenet.forward with its dropout masks drawn explicitly (or taken from ``masks``) and recorded."""

    def forward(self: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        step = []
        for i, linear in enumerate(self.layers):
            h = F.relu(linear(x))
            mask = masks[i] if masks is not None else torch.bernoulli(torch.full_like(h, 0.5))
            x = h * mask / 0.5  # == F.dropout(h, p=0.5, training=True) with this mask
            step.append(mask)
        record.append(torch.stack(step, dim=-2))  # [B, 2, prenet_dim]
        return x

    return forward


def check_prenet_patch(dle: types.SimpleNamespace, prenet: torch.nn.Module) -> None:
    """Upstream's forward, its masks recovered from an actual run, fed to the patched forward: equal."""
    x = torch.randn(3, prenet.layers[0].linear_layer.in_features, generator=torch.Generator().manual_seed(5))
    seen: list[torch.Tensor] = []
    hook = prenet.layers[1].register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    torch.manual_seed(SEED + 5)
    with torch.no_grad():
        y = dle.t2model.Prenet.forward(prenet, x)
        hook.remove()
        h0 = F.relu(prenet.layers[0](x))
        h1 = F.relu(prenet.layers[1](seen[0]))
        masks = [(seen[0] != 0).float(), (y != 0).float()]
        assert bool((masks[0] * h0 > 0).any()) and bool((masks[1] == 0).any())
        assert torch.equal(seen[0], h0 * masks[0] / 0.5) and torch.equal(y, h1 * masks[1] / 0.5)
        record: list[torch.Tensor] = []
        assert torch.equal(recording_prenet(record, masks)(prenet, x), y)
    log("patched Prenet.forward == upstream F.dropout(relu(linear(x)), 0.5, training=True) on recovered masks")


def t2_infer(dle: types.SimpleNamespace, model: torch.nn.Module, ids: torch.Tensor, lengths: torch.Tensor,
             seed: int) -> dict[str, torch.Tensor]:
    """DLE's ``Tacotron2.infer`` with prenet masks, encoder output and raw decoder outputs recorded."""
    masks: list[torch.Tensor] = []
    seen: dict[str, Any] = {}
    enc_infer, dec_infer = model.encoder.infer, model.decoder.infer

    def encoder(*a: Any) -> torch.Tensor:
        seen["memory"] = enc_infer(*a)
        return seen["memory"]

    def decoder(*a: Any) -> Any:
        seen["decoder"] = dec_infer(*a)
        return seen["decoder"]

    model.encoder.infer, model.decoder.infer = encoder, decoder
    torch.manual_seed(seed)
    try:
        with patched(dle.t2model.Prenet, "forward", recording_prenet(masks)), torch.no_grad():
            mel_postnet, mel_lengths, align = model.infer(ids, lengths)
    finally:
        del model.encoder.infer, model.decoder.infer
    mel, gate, raw_align, _ = seen["decoder"]
    return {"masks": torch.stack(masks), "memory": seen["memory"], "mel": mel, "gate": gate,
            "align": align, "raw_align": raw_align, "mel_postnet": mel_postnet, "mel_lengths": mel_lengths}


def utterances(size: str) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(SEED + 6)
    return [torch.randint(1, 148, (n,), generator=g) for n in UTT_LENGTHS[size]]


def stop_steps(dle: types.SimpleNamespace, model: torch.nn.Module, utts: list[torch.Tensor]) -> list[int]:
    return [t2_infer(dle, model, u[None], torch.tensor([len(u)]), SEED + 100 + i)["mel"].shape[2]
            for i, u in enumerate(utts)]


def add_stop_counter(decoder: torch.nn.Module) -> None:
    """Make decoder-LSTM unit 0 a step counter (its cell adds ~STOP_COUNTER_RATE per step), read by the gate.

    A random decoder's gate logit is stationary after ~8 steps, with per-utterance offsets larger than its
    step-to-step wobble, so no single bias stops every utterance in STEPS_RANGE; a rising input does.
    """
    rnn, lin = decoder.decoder_rnn, decoder.gate_layer.linear_layer
    rows = [k * rnn.hidden_size for k in range(4)]  # LSTMCell gate order: input, forget, cell, output
    with torch.no_grad():
        rnn.weight_ih[rows] = 0.0
        rnn.weight_hh[rows] = 0.0
        rnn.bias_ih[rows] = torch.tensor([6.0, 6.0, math.atanh(STOP_COUNTER_RATE), 6.0])
        rnn.bias_hh[rows] = 0.0
        lin.weight[0, 0] = STOP_COUNTER_WEIGHT


def tune_gate(dle: types.SimpleNamespace, model: torch.nn.Module, utts: list[torch.Tensor]) -> dict[str, float]:
    """Deterministic search: gate weight scale and bias putting every stop in STEPS_RANGE, all different.

    The gate logits do not feed back into decoding, so one run per utterance without early stopping gives
    the logits for bias 0; the stop step for bias b is the first step where sigmoid(logit + b) > threshold.
    The choice is then checked with real early-stopping runs.
    """
    dec, lin = model.decoder, model.decoder.gate_layer.linear_layer
    base = lin.weight.detach().clone()
    lo, hi = STEPS_RANGE
    for scale in GATE_SCALES:
        with torch.no_grad():
            lin.weight.copy_(base * scale)
            lin.weight[0, 0] = base[0, 0]  # the counter's weight stays as set
            lin.bias.fill_(0.0)
        with patched(dec, "max_decoder_steps", hi + 1), patched(dec, "early_stopping", False):
            logits = [t2_infer(dle, model, u[None], torch.tensor([len(u)]), SEED + 100 + i)["gate"][0]
                      for i, u in enumerate(utts)]
        best: tuple[float, float, list[int]] | None = None
        for b in np.round(np.arange(-8.0, 8.0, 0.01), 2):
            fired = [torch.sigmoid(q + torch.tensor(float(b), dtype=q.dtype)) > dec.gate_threshold for q in logits]
            steps = [int(f.nonzero()[0]) + 1 if bool(f.any()) else hi + 1 for f in fired]
            if all(lo <= n <= hi for n in steps) and len(set(steps)) == len(steps):
                score = abs(float(np.median(steps)) - (lo + hi) / 2)  # prefer stops mid-range
                if best is None or score < best[0]:
                    best = (score, float(b), steps)
        log(f"gate weight scale {scale}: best bias {best and best[1]}, steps {best and best[2]}")
        if best is not None:
            lin.bias.data.fill_(best[1])
            assert stop_steps(dle, model, utts) == best[2]
            return {"gate_bias": lin.bias.item(), "gate_weight_scale": float(scale)}
    raise SystemExit("no gate weight scale / bias puts every utterance in range")


def tacotron2_refs(dle: types.SimpleNamespace, model: torch.nn.Module, utts: list[torch.Tensor],
                   gate: dict[str, float]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for i, u in enumerate(utts):
        r = t2_infer(dle, model, u[None], torch.tensor([len(u)]), SEED + 100 + i)
        steps = r["mel"].shape[2]
        assert torch.equal(r["align"][0], r["raw_align"].T) and r["masks"].shape[1] == 1
        out |= {f"ids_{i}": u.numpy(), f"masks_{i}": r["masks"][:, 0].numpy(), f"memory_{i}": r["memory"][0].numpy(),
                f"mel_{i}": r["mel"][0].numpy(), f"mel_postnet_{i}": r["mel_postnet"][0].numpy(),
                f"gate_{i}": r["gate"][0].numpy(), f"align_{i}": r["align"][0].numpy(),
                f"mel_length_{i}": np.int64(r["mel_lengths"][0])}
        log(f"utterance {i}: {len(u)} ids, {steps} decoder steps, mel_length {int(r['mel_lengths'][0])}")
    order = sorted(range(len(utts)), key=lambda i: -len(utts[i]))
    lengths = torch.tensor([len(utts[i]) for i in order])
    ids = torch.zeros(len(utts), int(lengths[0]), dtype=torch.long)
    for row, i in enumerate(order):
        ids[row, : len(utts[i])] = utts[i]
    r = t2_infer(dle, model, ids, lengths, SEED + 200)
    dec = model.decoder
    out |= {"batch_ids": ids.numpy(), "batch_input_lengths": lengths.numpy(), "batch_order": np.array(order),
            "batch_masks": r["masks"].numpy(), "batch_mel_postnet": r["mel_postnet"].numpy(),
            "batch_mel_lengths": r["mel_lengths"].numpy().astype(np.int64),
            "gate_threshold": np.float64(dec.gate_threshold), "gate_bias": np.float64(gate["gate_bias"]),
            "gate_weight_scale": np.float64(gate["gate_weight_scale"]), "stop_counter_unit": np.int64(0),
            "max_decoder_steps": np.int64(dec.max_decoder_steps), "n_utts": np.int64(len(utts))}
    log(f"batch: order {order}, {r['mel'].shape[2]} steps, mel_lengths {r['mel_lengths'].tolist()}")
    return out


# ------------------------------------------------------------------------------------------- WaveGlow
@contextlib.contextmanager
def recorded_randn(draws: list[torch.Tensor]) -> Iterator[None]:
    real = torch.randn

    def randn(*a: Any, **k: Any) -> torch.Tensor:
        z = real(*a, **k)
        draws.append(z.clone())
        return z

    with patched(torch, "randn", randn):
        yield


def waveglow_refs(dle: types.SimpleNamespace, wg: torch.nn.Module, mels: list[tuple[torch.Tensor, float]]
                  ) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    denoiser = dle.Denoiser(wg)  # inference.py: Denoiser(waveglow) after load_and_setup_model
    out["bias_spec"] = denoiser.bias_spec.numpy()
    split = wg.n_remaining_channels
    for k, (mel, sigma) in enumerate(mels):
        draws: list[torch.Tensor] = []
        torch.manual_seed(SEED + 300 + k)
        with recorded_randn(draws), torch.no_grad():
            audio = wg.infer(mel, sigma=sigma)
        z = torch.cat(draws, dim=1)
        assert [d.shape[1] for d in draws] == [split] + [wg.n_early_size] * ((wg.n_flows - 1) // wg.n_early_every)
        assert z.shape == (1, wg.n_group, mel.shape[2] * 256 // wg.n_group)
        with torch.no_grad():
            scaled = torch.cat([z[:, :split], sigma * z[:, split:]], dim=1)
            onnx = wg.infer_onnx(mel, scaled, sigma=sigma)
            onnx_unscaled = wg.infer_onnx(mel, z, sigma=sigma)
            onnx_all = wg.infer_onnx(mel, sigma * z, sigma=1.0)
        err = (onnx - audio).abs().max().item()
        assert err <= 1e-4 * max(1.0, audio.abs().max().item()), err
        assert (onnx_all - audio).abs().max().item() <= 1e-4 * max(1.0, audio.abs().max().item())
        diff = (onnx_unscaled - audio).abs().max().item()
        assert diff > 1e3 * max(err, 1e-7), (diff, err)
        log(f"waveglow case {k}: T={mel.shape[2]} sigma={sigma} |audio|max {audio.abs().max():.3f}; infer_onnx with "
            f"z[:, {split}:]*sigma matches (max err {err:.2e}), unscaled z differs by {diff:.3f}")
        out |= {f"mel_{k}": mel.numpy(), f"sigma_{k}": np.float64(sigma), f"z_{k}": z.numpy(),
                f"audio_{k}": audio.numpy()}
        for strength in (0.01, 0.1):
            with torch.no_grad():
                out[f"denoised_{k}_{strength}"] = denoiser(audio.float(), strength=strength).numpy()
    out |= {"n_cases": np.int64(len(mels)), "onnx_sigma_scaled_from_channel": np.int64(split)}
    return out
