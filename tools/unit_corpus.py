"""Build a unit corpus from the joe voice: texts, latent frames, k-means unit codecs, manifests, the ceiling.

Steps, each a subcommand:

  texts     English sentences (`unit_texts.py`): --sentences for training, 20 held out, never trained on
  latents   synthesizes every sentence with sonorant's joe voice through the runtime's own stages
            (--runtime, default onnx: encode, then frames; no vocoder) and keeps, per utterance, the
            vocoder's input frames z [192, t] (float16), the phoneme ids and the frames per id (the
            duration predictor's), under a tag
  prior     the same utterances' length-regulated prior means (encode stage only, the frames stage's
            input: constant over each phoneme's frames), for units in the "regulated" space
  fit       k-means units (k-means++ then Lloyd, torch) on a sample of the training frames, for each
            --bins and --per-unit (latent frames per unit), each written as a unit codec file; --space
            vocoder (z) or regulated (prior means)
  manifest  units for every utterance with one codec: train.jsonl and heldout.jsonl, each line
            {"id", "text", "phonemes", "durations", "tokens", "frames", "seconds", "source"}
  ceiling   held-out sentences -> units -> UnitCodec audio, scored by the Whisper judge against the plain
            joe audio from the same latents (WER, log-spectral distance); writes results.json and WAVs
  extend    a larger manifest for a "regulated"-space codec without the latents step: new sentences from the
            same sources (none equal to a training or held-out one) go through the encode stage only and get
            units from the existing codebook; the base manifest's records and heldout.jsonl are copied, the new
            records appended as they are made (--max-minutes stops early); --check N first re-derives N base
            records and stops unless all match exactly

Everything goes under --out (default ~/.cache/sonorant-corpus), never into the repository:
  texts/{train,heldout}.jsonl  latents/TAG/{frames.npy,prior.npy,utts.jsonl,meta.json}
  codecs/NAME.npz (NAME = TAG[-reg]-kK-fF)  manifests/NAME/{train,heldout}.jsonl + manifest.json
  manifests/NAME-big/ (extend: --name)
  ceiling/results.json + wav/

Example (the 3000-sentence corpus of branch h16-units; DIR: see unit_texts.py):
  python tools/unit_corpus.py texts --sentences 3000 --text-root DIR
  python tools/unit_corpus.py latents --noise-scale 0 --noise-w 0          # tag ns0-nw0
  python tools/unit_corpus.py prior --tag ns0-nw0
  python tools/unit_corpus.py fit --tag ns0-nw0 --space regulated --bins 512 --per-unit 2 --sample 80000 \
      --iterations 20
  python tools/unit_corpus.py ceiling --codecs ns0-nw0-reg-k512-f2
  python tools/unit_corpus.py manifest --codec ns0-nw0-reg-k512-f2
  python tools/unit_corpus.py --threads 1 extend --codec ns0-nw0-reg-k512-f2 --sentences 12000 --text-root DIR
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import unit_texts  # noqa: E402

_LOG = logging.getLogger("unit_corpus")
DEFAULT_OUT = Path.home() / ".cache" / "sonorant-corpus"


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _tag(noise_scale: float, noise_w: float) -> str:
    return f"ns{noise_scale:g}-nw{noise_w:g}"


# ------------------------------------------------------------------------------------------ texts
def cmd_texts(args: argparse.Namespace) -> None:
    from sonorant.bench.texts import DEFAULT_TEXTS, PARAGRAPH

    bench = tuple(DEFAULT_TEXTS) + tuple(s for s in unit_texts._SPLIT.split(PARAGRAPH))
    train, held = unit_texts.build_texts(Path(args.text_root), args.sentences, args.heldout, args.seed, bench)
    _write_jsonl(args.out / "texts" / "train.jsonl", train)
    _write_jsonl(args.out / "texts" / "heldout.jsonl", held)
    counts: dict[str, int] = {}
    for row in train:
        counts[row["source"]] = counts.get(row["source"], 0) + 1
    _LOG.info("texts: %d training (%s), %d held out", len(train), counts, len(held))


# ---------------------------------------------------------------------------------------- latents
def cmd_latents(args: argparse.Namespace) -> None:
    import sonorant
    from sonorant.arrays import pad_ids
    from sonorant.voices.registry import load

    torch.set_num_threads(args.threads)
    voice = sonorant.load_voice(args.voice, runtime=args.runtime)
    rt, spec = voice.runtime, voice.runtime.spec
    values = {"length_scale": 1.0, "noise_scale": args.noise_scale, "noise_w": args.noise_w}
    knob_row = np.array([values[k.name] for k in spec.knobs], dtype=np.float32)
    train_texts = _read_jsonl(args.out / "texts" / "train.jsonl")
    rows = ([dict(r, split="heldout") for r in _read_jsonl(args.out / "texts" / "heldout.jsonl")]
            + [dict(r, split="train") for r in train_texts[: args.limit or len(train_texts)]])
    utts: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        sentences = voice.phoneme_ids(row["text"])
        if len(sentences) != 1:  # a text the front end splits is not one utterance: leave it out
            _LOG.warning("skipping %r: %d sentences", row["text"], len(sentences))
            continue
        utts.append({"id": f"{row['split']}-{i:06d}", **row, "phonemes": sentences[0], "seed": args.seed + i})
    order = sorted(range(len(utts)), key=lambda j: len(utts[j]["phonemes"]))
    frames_out: list[np.ndarray | None] = [None] * len(utts)
    start = time.perf_counter()
    with torch.inference_mode():
        for b0 in range(0, len(order), args.batch):
            batch = [utts[j] for j in order[b0 : b0 + args.batch]]
            ids, lengths = pad_ids([u["phonemes"] for u in batch], max(len(u["phonemes"]) for u in batch))
            knobs = np.repeat(knob_row[None], len(batch), axis=0)  # [b, K]
            seeds = np.array([u["seed"] for u in batch], dtype=np.int64)
            enc = rt.encode(ids, lengths, knobs, seeds, None)
            counts = rt.ops.to_host(enc.frames)  # [b]
            z = rt.ops.to_host(rt.frames(enc, knobs, seeds, int(counts.max())))  # [b, C, t]
            durations = rt.ops.to_host(enc.durations)  # [b, t_x]
            for k, (u, j) in enumerate(zip(batch, order[b0 : b0 + args.batch])):
                n = int(counts[k])
                frames_out[j] = z[k, :, :n].T.astype(np.float16)  # [t, C]
                u["durations"] = [int(d) for d in durations[k, : lengths[k]]]
                u["frames"] = n
            if (b0 // args.batch) % 20 == 0:
                _LOG.info("latents: %d / %d utterances, %.0f s", b0 + len(batch), len(utts),
                          time.perf_counter() - start)
    elapsed = time.perf_counter() - start
    folder = args.out / "latents" / _tag(args.noise_scale, args.noise_w)
    folder.mkdir(parents=True, exist_ok=True)
    offset = 0
    for u, f in zip(utts, frames_out):
        u["start"], offset = offset, offset + f.shape[0]
    np.save(folder / "frames.npy", np.concatenate(frames_out))  # [total, C] float16
    _write_jsonl(folder / "utts.jsonl", utts)
    seconds = offset * spec.hop / spec.sample_rate
    meta = {"voice": args.voice, "voice_sha256": load(args.voice).source.digest,
            "sample_rate": spec.sample_rate, "hop": spec.hop, "channels": spec.channels,
            "stage": "frames (VITS: prior sample and inverse flows, the decoder's input z)", "knobs": values,
            "seeds": f"{args.seed} + utterance index", "utterances": len(utts),
            "train": sum(u["split"] == "train" for u in utts), "heldout": sum(u["split"] == "heldout" for u in utts),
            "frames": offset, "hours": seconds / 3600, "synthesis_seconds": elapsed, "threads": args.threads,
            "runtime": args.runtime}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    _LOG.info("latents %s: %d utterances, %.2f h of audio, %d frames, %.0f s", folder.name, len(utts),
              seconds / 3600, offset, elapsed)


def cmd_prior(args: argparse.Namespace) -> None:
    import sonorant
    from sonorant.arrays import pad_ids

    folder = args.out / "latents" / args.tag
    meta = json.loads((folder / "meta.json").read_text())
    utts = _read_jsonl(folder / "utts.jsonl")
    voice = sonorant.load_voice(meta["voice"], runtime=args.runtime)
    rt, spec = voice.runtime, voice.runtime.spec
    knob_row = np.array([meta["knobs"][k.name] for k in spec.knobs], dtype=np.float32)
    out = np.zeros((meta["frames"], spec.channels), dtype=np.float16)
    order = sorted(range(len(utts)), key=lambda j: len(utts[j]["phonemes"]))
    start = time.perf_counter()
    for b0 in range(0, len(order), args.batch):
        batch = [utts[j] for j in order[b0 : b0 + args.batch]]
        ids, lengths = pad_ids([u["phonemes"] for u in batch], max(len(u["phonemes"]) for u in batch))
        knobs = np.repeat(knob_row[None], len(batch), axis=0)  # [b, K]
        enc = rt.encode(ids, lengths, knobs, np.array([u["seed"] for u in batch], dtype=np.int64), None)
        tokens, durations = rt.ops.to_host(enc.tokens), rt.ops.to_host(enc.durations)  # [b, Ct, t_x], [b, t_x]
        for k, u in enumerate(batch):
            d = durations[k, : lengths[k]].astype(np.int64)
            if d.tolist() != u["durations"]:
                raise SystemExit(f"{u['id']}: durations differ from the latents step (noise_w > 0 needs the same "
                                 "runtime and seeds)")
            means = np.repeat(tokens[k, : spec.channels, : lengths[k]], d, axis=1)  # [C, t]: length regulation
            out[u["start"] : u["start"] + u["frames"]] = means.T
    np.save(folder / "prior.npy", out)
    _LOG.info("prior %s: %d utterances, %d frames, %.0f s", args.tag, len(utts), len(out), time.perf_counter() - start)


def _load_latents(out: Path, tag: str,
                  space: str = "vocoder") -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    folder = out / "latents" / tag
    name = "frames.npy" if space == "vocoder" else "prior.npy"
    if not (folder / name).is_file():
        raise SystemExit(f"no {name} under {folder}: run the {'latents' if space == 'vocoder' else 'prior'} step first")
    meta = json.loads((folder / "meta.json").read_text())
    return np.load(folder / name, mmap_mode="r"), _read_jsonl(folder / "utts.jsonl"), meta


def _utt_vectors(frames: np.ndarray, utt: dict[str, Any], per_unit: int) -> torch.Tensor:
    """One utterance's unit vectors [units, C * per_unit]."""
    from sonorant.models.units import unit_vectors

    z = torch.from_numpy(np.asarray(frames[utt["start"] : utt["start"] + utt["frames"]], dtype=np.float32)).T
    return unit_vectors(z.unsqueeze(0), per_unit)[0]


# -------------------------------------------------------------------------------------------- fit
def cmd_fit(args: argparse.Namespace) -> None:
    from sonorant.models.units import fit_kmeans
    from sonorant.voices.units import UnitHeader, save_unit_codebook

    torch.set_num_threads(args.threads)
    frames, utts, meta = _load_latents(args.out, args.tag, args.space)
    train = [u for u in utts if u["split"] == "train"]
    (args.out / "codecs").mkdir(parents=True, exist_ok=True)
    for per in args.per_unit:
        vectors = torch.cat([_utt_vectors(frames, u, per) for u in train])  # [n, C * per]
        gen = torch.Generator().manual_seed(args.seed)
        sample = vectors[torch.randperm(vectors.shape[0], generator=gen)[: args.sample]]
        variance = float(((sample - sample.mean(0)) ** 2).sum(1).mean())
        for bins in args.bins:
            t0 = time.perf_counter()
            result = fit_kmeans(sample, bins, iterations=args.iterations, seed=args.seed)
            took = time.perf_counter() - t0
            name = f"{args.tag}{'-reg' if args.space == 'regulated' else ''}-k{bins}-f{per}"
            header = UnitHeader(
                voice=meta["voice"], voice_sha256=meta["voice_sha256"], sample_rate=meta["sample_rate"],
                hop=meta["hop"], channels=meta["channels"], frames_per_unit=per, bins=bins, space=args.space,
                latents={k: meta[k] for k in ("stage", "knobs", "seeds", "train", "hours")} | {"tag": args.tag},
                fit={"method": "k-means++ then Lloyd", "sample_units": int(sample.shape[0]),
                     "units_available": int(vectors.shape[0]), "iterations": result.iterations,
                     "mean_sq_distance": result.inertia, "relative_distortion": result.inertia / variance,
                     "reseeded": result.reseeded, "seed": args.seed, "seconds": round(took, 1)})
            centroids = result.centroids.view(bins, meta["channels"], per).numpy()  # channel-major rows
            save_unit_codebook(args.out / "codecs" / f"{name}.npz", centroids, header)
            _LOG.info("fit %s: %d iterations, relative distortion %.3f, %.0f s", name, result.iterations,
                      result.inertia / variance, took)


# --------------------------------------------------------------------------------------- manifest
def cmd_manifest(args: argparse.Namespace) -> None:
    from sonorant.voices.units import read_unit_codebook

    torch.set_num_threads(args.threads)
    path = args.out / "codecs" / f"{args.codec}.npz"
    centroids, header = read_unit_codebook(path)
    frames, utts, meta = _load_latents(args.out, header.latents["tag"], header.space)
    table = torch.from_numpy(centroids).reshape(header.bins, -1)
    from sonorant.models.units import nearest

    rows: dict[str, list[dict[str, Any]]] = {"train": [], "heldout": []}
    for u in utts:
        tokens = nearest(_utt_vectors(frames, u, header.frames_per_unit), table)
        rows[u["split"]].append({"id": u["id"], "text": u["text"], "phonemes": u["phonemes"],
                                 "durations": u["durations"], "tokens": tokens.tolist(), "frames": u["frames"],
                                 "seconds": round(u["frames"] * header.hop / header.sample_rate, 4),
                                 "source": u["source"]})
    folder = args.out / "manifests" / args.codec
    for split, items in rows.items():
        _write_jsonl(folder / f"{split}.jsonl", items)
    train = rows["train"]
    info = {"codec": str(path), "unit_rate": header.unit_rate, "frames_per_unit": header.frames_per_unit,
            "bins": header.bins,
            "durations": f"latent frames per phoneme id ({header.sample_rate / header.hop:.2f} Hz)",
            "phonemes": f"the {meta['voice']} voice's espeak ids (^ _ p1 _ ... pn _ $)",
            "train": {"utterances": len(train), "hours": sum(r["seconds"] for r in train) / 3600,
                      "tokens": sum(len(r["tokens"]) for r in train),
                      "phoneme_ids": sum(len(r["phonemes"]) for r in train)},
            "heldout": {"utterances": len(rows["heldout"])}}
    (folder / "manifest.json").write_text(json.dumps(info, indent=1))
    _LOG.info("manifest %s: %s", args.codec, info["train"])


# ----------------------------------------------------------------------------------------- extend
def _regulated_units(rt: Any, knob_row: np.ndarray, table: torch.Tensor, per_unit: int,
                     utts: list[dict[str, Any]], batch: int) -> None:
    """Sets each utterance's "durations", "frames" and "tokens" from the encode stage alone: its length-regulated
    prior means, rounded to float16 as `prior` stores them, then the nearest unit as `manifest` assigns it."""
    from sonorant.arrays import pad_ids
    from sonorant.models.units import nearest

    channels = rt.spec.channels
    order = sorted(range(len(utts)), key=lambda j: len(utts[j]["phonemes"]))
    with torch.inference_mode():
        for b0 in range(0, len(order), batch):
            part = [utts[j] for j in order[b0 : b0 + batch]]
            ids, lengths = pad_ids([u["phonemes"] for u in part], max(len(u["phonemes"]) for u in part))
            knobs = np.repeat(knob_row[None], len(part), axis=0)  # [b, K]
            enc = rt.encode(ids, lengths, knobs, np.array([u["seed"] for u in part], dtype=np.int64), None)
            means_all, durations = rt.ops.to_host(enc.tokens), rt.ops.to_host(enc.durations)  # [b, Ct, t_x], [b, t_x]
            for k, u in enumerate(part):
                d = durations[k, : lengths[k]].astype(np.int64)
                means = np.repeat(means_all[k, :channels, : lengths[k]], d, axis=1).astype(np.float16)  # [C, t]
                u["durations"], u["frames"] = [int(x) for x in d], int(d.sum())
                u["tokens"] = nearest(_utt_vectors(means.T, {"start": 0, "frames": means.shape[1]}, per_unit),
                                      table).tolist()


def _new_texts(root: Path, count: int, seed: int, exclude: set[str]) -> list[dict[str, str]]:
    """`count` sentences from `unit_texts`' sources whose key is not in `exclude`: ~16 % templates, the rest
    split evenly between WordNet and fortunes, WordNet filling in for fortunes when they run out; shuffled."""
    unit_texts.check_sources(root)
    rng = random.Random(seed)
    pools = {"wordnet": unit_texts.wordnet_examples(root), "fortunes": unit_texts.fortune_sentences(root),
             "template": unit_texts.template_sentences(count + len(exclude) + 200, seed + 1)}
    out: list[dict[str, str]] = []
    seen = set(exclude)

    def take(src: str, n: int) -> None:
        pool = pools[src]
        rng.shuffle(pool)
        while n > 0 and pool:
            text = pool.pop()
            if unit_texts._key(text) not in seen:
                seen.add(unit_texts._key(text))
                out.append({"text": text, "source": src})
                n -= 1

    take("template", round(count * 0.16))
    take("fortunes", (count - len(out)) // 2)
    take("wordnet", count - len(out))
    take("template", count - len(out))
    rng.shuffle(out)
    return out


def _manifest_row(u: dict[str, Any], hop: int, sample_rate: int) -> dict[str, Any]:
    return {"id": u["id"], "text": u["text"], "phonemes": u["phonemes"], "durations": u["durations"],
            "tokens": u["tokens"], "frames": u["frames"], "seconds": round(u["frames"] * hop / sample_rate, 4),
            "source": u["source"]}


def cmd_extend(args: argparse.Namespace) -> None:
    import shutil

    import sonorant
    from sonorant.voices.units import read_unit_codebook

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    centroids, header = read_unit_codebook(args.out / "codecs" / f"{args.codec}.npz")
    if header.space != "regulated":
        raise SystemExit(f"{args.codec}: extend needs a regulated-space codec (the vocoder space needs latents)")
    base = args.out / "manifests" / args.codec
    folder = args.out / "manifests" / (args.name or f"{args.codec}-big")
    if folder.exists():
        raise SystemExit(f"{folder} exists: pick another --name")
    base_train, base_held = _read_jsonl(base / "train.jsonl"), _read_jsonl(base / "heldout.jsonl")
    table = torch.from_numpy(centroids).reshape(header.bins, -1)
    voice = sonorant.load_voice(header.voice, runtime=args.runtime, runtime_options={"threads": args.threads})
    rt, spec = voice.runtime, voice.runtime.spec
    knob_row = np.array([header.latents["knobs"][k.name] for k in spec.knobs], dtype=np.float32)

    if args.check:
        picked = random.Random(args.seed).sample(base_train, min(args.check, len(base_train)))
        again = [{"phonemes": voice.phoneme_ids(r["text"])[0], "seed": 0} for r in picked]
        _regulated_units(rt, knob_row, table, header.frames_per_unit, again, args.batch)
        keys = ("phonemes", "durations", "frames", "tokens")
        same = [all(r[k] == u[k] for k in keys) for r, u in zip(picked, again)]
        for r, u, ok in zip(picked, again, same):
            if not ok:
                _LOG.warning("check %s differs in %s", r["id"], [k for k in keys if r[k] != u[k]])
        _LOG.info("check: %d / %d base records reproduced exactly (%s)", sum(same), len(same), ", ".join(keys))
        if not all(same):
            raise SystemExit("the encode-only path does not reproduce the base manifest: not extending it")

    exclude = {unit_texts._key(r["text"]) for r in base_train + base_held}
    texts = _new_texts(Path(args.text_root), args.sentences, args.seed + 1000, exclude)
    first = 1 + max(int(r["id"].rsplit("-", 1)[1]) for r in base_train + base_held)
    folder.mkdir(parents=True)
    shutil.copyfile(base / "heldout.jsonl", folder / "heldout.jsonl")
    shutil.copyfile(base / "train.jsonl", folder / "train.jsonl")
    added, skipped = 0, 0
    with (folder / "train.jsonl").open("a", encoding="utf-8") as out:
        for c0 in range(0, len(texts), args.chunk):
            if args.max_minutes and time.perf_counter() - start > args.max_minutes * 60:
                _LOG.info("extend: --max-minutes reached")
                break
            utts = []
            for i, row in enumerate(texts[c0 : c0 + args.chunk], start=first + c0):
                sentences = voice.phoneme_ids(row["text"])
                if len(sentences) != 1:  # as in latents: a text the front end splits is not one utterance
                    skipped += 1
                    continue
                utts.append({"id": f"train-{i:06d}", **row, "phonemes": sentences[0], "seed": args.seed + i})
            _regulated_units(rt, knob_row, table, header.frames_per_unit, utts, args.batch)
            for u in utts:
                out.write(json.dumps(_manifest_row(u, header.hop, header.sample_rate), ensure_ascii=False) + "\n")
            out.flush()
            added += len(utts)
            _LOG.info("extend: %d / %d new utterances, %.0f s", added, len(texts), time.perf_counter() - start)
    info = json.loads((base / "manifest.json").read_text())
    totals = {"utterances": 0, "hours": 0.0, "tokens": 0, "phoneme_ids": 0}
    with (folder / "train.jsonl").open(encoding="utf-8") as f:
        for r in map(json.loads, f):
            totals["utterances"] += 1
            totals["hours"] += r["seconds"] / 3600
            totals["tokens"] += len(r["tokens"])
            totals["phoneme_ids"] += len(r["phonemes"])
    info["train"] = totals
    info["extended"] = {"base": str(base), "base_train": len(base_train), "added": added,
                        "skipped_multi_sentence": skipped, "stage": "encode only (prior means, float16)",
                        "seconds": round(time.perf_counter() - start, 1), "threads": args.threads}
    (folder / "manifest.json").write_text(json.dumps(info, indent=1))
    _LOG.info("extend %s: %s", folder.name, info["train"])


# ---------------------------------------------------------------------------------------- ceiling
def _log_spectral_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames of the RMS difference of the log power spectra (dB), 1024-point STFT, hop 256."""
    n = min(len(a), len(b))
    win = torch.hann_window(1024)
    spec = [torch.stft(torch.from_numpy(x[:n].copy()), 1024, 256, window=win, return_complex=True).abs() ** 2
            for x in (a, b)]
    la, lb = (10 * torch.log10(s + 1e-8) for s in spec)  # [f, t]
    return float(((la - lb) ** 2).mean(0).sqrt().mean())


def cmd_ceiling(args: argparse.Namespace) -> None:
    import soundfile as sf

    from sonorant.bench.asr import WhisperJudge
    from sonorant.voices.units import load_unit_codec, read_unit_codebook

    torch.set_num_threads(args.threads)
    judge = WhisperJudge.base(threads=args.threads) if args.judge == "base" else WhisperJudge(threads=args.threads)
    results_path = args.out / "ceiling" / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    wav_dir = args.out / "ceiling" / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    plain_cache: dict[str, list[np.ndarray]] = {}
    for name in args.codecs:
        t0 = time.perf_counter()
        path = args.out / "codecs" / f"{name}.npz"
        codec = load_unit_codec(path)
        header = read_unit_codebook(path)[1]
        tag = header.latents["tag"]
        frames, utts, _ = _load_latents(args.out, tag)
        units_space = _load_latents(args.out, tag, header.space)[0]
        held = [u for u in utts if u["split"] == "heldout"]
        refs = [u["text"] for u in held]

        def cut(a: np.ndarray, u: dict[str, Any]) -> torch.Tensor:
            return torch.from_numpy(np.asarray(a[u["start"] : u["start"] + u["frames"]], dtype=np.float32)).T[None]

        zs = [cut(frames, u) for u in held]  # [1, C, t] each: joe's own vocoder input
        xs = [cut(units_space, u) for u in held]  # [1, C, t] each: in the units' space
        with torch.inference_mode():
            if tag not in plain_cache:
                plain_cache[tag] = [codec.vocoder(z, None, None)[0].numpy() for z in zs]
                hyps = [judge.transcribe(a, codec.spec.sample_rate) for a in plain_cache[tag]]
                results[f"{tag}-plain"] = {"wer": judge.wer(refs, hyps, equivalents=True),
                                           "wer_plain_normalizer": judge.wer(refs, hyps), "hypotheses": hyps}
                _LOG.info("%s plain joe: WER %.3f", tag, results[f"{tag}-plain"]["wer"])
            audio, dist = [], []
            for x in xs:
                codes = codec.encode(x)  # [1, 1, T]
                q = codec.frames(codes)[..., : x.shape[-1]]
                dist.append(float(((q - x) ** 2).sum() / ((x - x.mean(-1, keepdim=True)) ** 2).sum()))
                audio.append(codec.decode(codes)[0].numpy())
        hyps = [judge.transcribe(a, codec.spec.sample_rate) for a in audio]
        lsd = [_log_spectral_distance(a, p) for a, p in zip(audio, plain_cache[tag])]
        results[name] = {"wer": judge.wer(refs, hyps, equivalents=True), "wer_plain_normalizer": judge.wer(refs, hyps),
                         "unit_rate": codec.spec.sample_rate / codec.spec.hop, "bins": codec.spec.bins,
                         "space": header.space, "lookahead": codec.spec.lookahead,
                         "relative_distortion": float(np.mean(dist)), "lsd_db": float(np.mean(lsd)),
                         "hypotheses": hyps, "seconds": round(time.perf_counter() - t0, 1)}
        for i in range(min(3, len(audio))):
            sf.write(wav_dir / f"{name}-{i}.wav", audio[i], codec.spec.sample_rate)
            sf.write(wav_dir / f"{tag}-plain-{i}.wav", plain_cache[tag][i], codec.spec.sample_rate)
        _LOG.info("%s: WER %.3f (plain %.3f), %.1f units/s, distortion %.3f, LSD %.2f dB", name, results[name]["wer"],
                  results[f"{tag}-plain"]["wer"], results[name]["unit_rate"], results[name]["relative_distortion"],
                  results[name]["lsd_db"])
        results_path.write_text(json.dumps(results, indent=1))
    results["_refs"] = refs
    results["_judge"] = args.judge
    results_path.write_text(json.dumps(results, indent=1))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where everything is written")
    p.add_argument("--threads", type=int, default=2, help="torch / Whisper threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("texts")
    t.add_argument("--sentences", type=int, default=3000, help="training sentences")
    t.add_argument("--heldout", type=int, default=20)
    t.add_argument("--text-root", default="/", help="root under which usr/share/{wordnet,games/fortunes} lie")
    lat = sub.add_parser("latents")
    lat.add_argument("--voice", default="joe")
    lat.add_argument("--noise-scale", type=float, default=0.0)
    lat.add_argument("--noise-w", type=float, default=0.0)
    lat.add_argument("--batch", type=int, default=16, help="utterances per pass (sorted by length)")
    lat.add_argument("--runtime", default="onnx", help="sonorant runtime for the stages (onnx: fastest on a CPU)")
    lat.add_argument("--limit", type=int, default=0, help="only the first N training texts (0: all)")
    pr = sub.add_parser("prior")
    pr.add_argument("--tag", required=True, help="latents tag, e.g. ns0-nw0")
    pr.add_argument("--batch", type=int, default=16)
    pr.add_argument("--runtime", default="onnx")
    f = sub.add_parser("fit")
    f.add_argument("--tag", required=True, help="latents tag, e.g. ns0-nw0")
    f.add_argument("--space", choices=("vocoder", "regulated"), default="regulated")
    f.add_argument("--bins", type=int, nargs="+", default=[256, 512, 1024])
    f.add_argument("--per-unit", type=int, nargs="+", default=[1, 2], help="latent frames per unit")
    f.add_argument("--sample", type=int, default=150_000, help="unit vectors the k-means sees")
    f.add_argument("--iterations", type=int, default=30)
    m = sub.add_parser("manifest")
    m.add_argument("--codec", required=True, help="codec name, e.g. ns0-nw0-k512-f2")
    c = sub.add_parser("ceiling")
    c.add_argument("--codecs", nargs="+", required=True)
    c.add_argument("--judge", choices=("base", "tiny"), default="base")
    e = sub.add_parser("extend")
    e.add_argument("--codec", required=True, help="a regulated-space codec whose manifest is extended")
    e.add_argument("--name", default="", help="the new manifest's name (default CODEC-big)")
    e.add_argument("--sentences", type=int, default=12000, help="new training sentences")
    e.add_argument("--text-root", default="/", help="root under which usr/share/{wordnet,games/fortunes} lie")
    e.add_argument("--check", type=int, default=20, help="base records to re-derive first (0: none)")
    e.add_argument("--batch", type=int, default=16)
    e.add_argument("--chunk", type=int, default=512, help="new utterances per appended block")
    e.add_argument("--max-minutes", type=float, default=0, help="stop after this many minutes (0: no limit)")
    e.add_argument("--runtime", default="onnx")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s")
    {"texts": cmd_texts, "latents": cmd_latents, "prior": cmd_prior, "fit": cmd_fit, "manifest": cmd_manifest,
     "ceiling": cmd_ceiling, "extend": cmd_extend}[args.command](args)


if __name__ == "__main__":
    main()
