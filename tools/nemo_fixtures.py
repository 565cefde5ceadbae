"""Build the NeMo FastPitch + HiFi-GAN parity fixtures with NeMo itself.

NOT a project module: it runs in a throwaway venv that has NeMo, never in sonorant's own environment.
It builds random-init models with NeMo's own classes and configs, saves them with NeMo's own
``save_to`` (so every ``.nemo`` here is the real upstream archive format), runs NeMo's inference on
fixed inputs in eval mode, and stores the results as ``.npz`` / ``.json`` for sonorant's loader and
models to be checked against.

Setup (what produced the committed fixtures; about 5 minutes here with a warm pip cache, 3.6 GB)::

    python3 -m venv /tmp/nemo-venv
    /tmp/nemo-venv/bin/pip install torch==2.13.0
    echo "torch==2.13.0" > /tmp/nemo-constraints.txt      # anything looser pulls GBs of CUDA wheels
    /tmp/nemo-venv/bin/pip install "nemo_toolkit[tts]==2.7.3" -c /tmp/nemo-constraints.txt

    # NeMo's configs and dictionaries are not in the wheel: they come from a NeMo checkout
    # (examples/tts/conf, scripts/tts_dataset_files).  --nemo-src points at it.
    /tmp/nemo-venv/bin/python tools/nemo_fixtures.py --nemo-src /path/to/NeMo --out tests/fixtures/nemo
    /tmp/nemo-venv/bin/python tools/nemo_fixtures.py --nemo-src /path/to/NeMo --full   # large, not committed

``--nemo-src`` used for the committed files: NeMo main at 8cfedd7203462cb251a914e700e5605444277561
(2025-09-20; the wheel ships no configs).  Its FastPitch / HiFi-GAN / transformer / tokenizer_utils /
submodules / en_us_arpabet modules are identical to the 2.7.3 wheel's; tts_tokenizers, i18n_ipa and helpers
differ only in docstrings, new classes, an optional heteronym-model hook and ``get_mask_from_lengths``'
``pad_to_factor``, none of which these models use.  (From a bare mirror, ``git show HEAD:<path>`` each file
of ``examples/tts/conf`` and ``scripts/tts_dataset_files`` into a directory: ``git archive`` fails there on
absent large objects.)

The install needed no workaround here: pynini 2.1.6.post1 and pyopenjtalk 0.4.1 built / installed
from PyPI without intervention.  Nothing in this script needs the network (no NLTK data, no model hub).

What it builds (``--out``, default tests/fixtures/nemo):

* ``fastpitch_tiny.nemo``: ``examples/tts/conf/fastpitch_align_v1.05.yaml`` (ARPAbet
  ``EnglishPhonemesTokenizer`` + ``EnglishG2p``, learned aligner) with ``text_normalizer`` dropped,
  ``pitch_mean/std`` filled with the LJSpeech values from the config's comment, and the sizes shrunk
  (d_model 32, 2+2 FFT layers, 1 head, predictors 32 wide).  Its CMUdict and heteronym artifacts are
  reduced to the entries the tokenizer reference texts touch (see ``needed_words``); the script checks
  that the reduced tokenizer gives the same ids as one built on the full files.
* ``fastpitch_tiny_multi.nemo``: the same recipe with the options of NeMo's newer multi-speaker recipe
  (``examples/tts/conf/fastpitch/fastpitch_22050.yaml``): ``n_speakers: 3`` (speaker embedding added to
  the encoder input), ``speaker_emb_condition_prosody`` (and ``_aligner``), an energy predictor +
  ``energy_emb`` (``use_log_energy: false``), ``min_token_duration: 1``, 2-head FFTs (the encoder's
  n_head * d_head = 16 differs from d_model = 32), and the IPA frontend of
  ``fastpitch_align_ipa.yaml`` (``IPATokenizer`` + ``IpaG2p``) with a reduced
  ``ipa_cmudict-0.7b_nv23.01.txt``.  The IPA vocabulary is *built from the dictionary* (every phoneme
  char and every grapheme in it), so the reduced dictionary also keeps a few extra words chosen so that
  its symbol set, and therefore the token list, equals the full dictionary's (asserted).
  All of this works offline with NeMo 2.7.3; nothing had to be replaced by a closer variant.
  ``speaker_emb_condition_decoder`` stays off, as in both upstream recipes.
* ``hifigan_tiny_v1.nemo`` / ``hifigan_tiny_v3.nemo``: ``examples/tts/conf/hifigan/hifigan.yaml`` with
  ``model/generator/v1.yaml`` (resblock 1, upsample 8,8,2,2) or ``v3.yaml`` (resblock 2, upsample 8,8,4),
  kernels/dilations as upstream, ``upsample_initial_channel`` 32, and ``debug: true`` (NeMo's own switch
  for small discriminators; the discriminators are stored in the .nemo but are not used for inference).
* Containers: ``fastpitch_tiny.nemo`` is the plain tar ``save_to`` writes; the other three tiny files
  are that same ``save_to`` output gzip-compressed as a whole (the pre-1.7 NeMo container, still read by
  ``restore_from``), which keeps the committed directory small and covers both containers.  The tiny
  HiFi-GANs are saved without ``mpd`` / ``msd`` (see ``build_hifigan``).  References are always computed
  from the file as NeMo restores it.
* one ``.npz`` per inference case, ``tokenizer_arpabet.json`` / ``tokenizer_ipa.json``, ``keys.txt``
  (every stored state-dict key with shape and dtype), and ``README.md`` (generated: files, keys, shapes).

``--full`` instead builds the default-size FastPitch v1.05 (full CMUdict + heteronyms) and HiFi-GAN v1
(default generator and discriminators) into ``--full-out`` (default ~/.cache/sonorant-fixtures/nemo-full)
with a couple of reference cases, and writes their key list to ``<out>/keys_full.txt``.

Determinism: torch/numpy/random seeds are fixed before every model is built and every random input is
drawn from a seeded generator; the weights and reference arrays are therefore reproducible with the same
torch version.  The ``.nemo`` tar bytes are not (NeMo names artifacts with a random uuid and tar stores
mtimes).  One deliberate weight edit after the random init: the duration predictor's output bias is set to
log(1 + 3) so that a random model predicts ~3 frames per token (otherwise many durations round to 0 and
mel lengths collapse).  The model is then saved with that bias, so the ``.nemo`` is self-consistent.

Text references come from ``model.parse(text, normalize=False)``, which wraps the tokenizer's ``encode``
in ``set_phone_prob(1.0)``: with the configured ``phoneme_probability`` (0.5 ARPAbet, 0.8 IPA)
``tokenizer.encode`` alone randomly spells dictionary words as graphemes (unseeded ``random.Random``
inside the G2P), ``parse`` does not.  The script asserts that repeated ``parse`` calls agree.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import random
import re
import shutil
import tarfile
import wave
from pathlib import Path

import numpy as np

NEMO_VERSION = "2.7.3"
LJSPEECH_PITCH_MEAN = 212.35873413085938  # the example values in fastpitch_align_v1.05.yaml's comments
LJSPEECH_PITCH_STD = 68.52806091308594
DUR_BIAS = math.log(1.0 + 3.0)  # duration predictor output bias: ~3 frames per token
WORK = Path("/tmp/sonorant-nemo-fixtures-work")  # fixed, so the saved configs do not vary between runs

# Texts for the tokenizer references (the reduced dictionaries are cut to what these need).
TEXTS = [
    "hello world",
    "Hello, World!",
    "The quick brown fox jumps over the lazy dog.",
    "HELLO THERE, GENERAL KENOBI",
    "MiXeD CaSe WoRdS",
    "I read the book yesterday; now I read the news.",
    "Please record the record, and present the present.",
    "It's John's dog, isn't it?",
    "don't can't won't y'all",
    "'quoted' words and rock'n'roll",
    "the cats' toys and the dogs",
    "a well-known state-of-the-art model",
    "-leading and trailing- hyphens -- double",
    "zyxqv blorptastic frobnicate",
    "Wait... what?! Really?!",
    'Punctuation: (round) [square] {curly} "double"; a/b',
    "I have 3 apples and 42 pears, not 1990.",
    "",
    "   ",
    "...",
    "café naïve résumé",
    "Ångström über straße",
    "Hello — world – dash",
    "“Smart quotes” and ‘single’ ones’",
    "tab\tand\nnewline  double  spaces",
    "日本語 text",
    "say |HH AH0 L OW1| now",
    "say |h ə ˈ l oʊ| now",
    "a b c, x y z",
    "Mr. Smith lives at 221B Baker St.",
    "wind the clock, feel the wind",
]

# Token batches for the model cases (index into TEXTS).
SINGLE = 2  # "The quick brown fox jumps over the lazy dog."
SHORT = 1  # "Hello, World!"
BATCH = [1, 8, 0]  # lengths differ: padded batch of 3
PAIR = [0, 11]
SHORT_PAIR = [1, 0]  # the vocoders' FastPitch input


# ----------------------------------------------------------------------------------------------- utils


def log(*a):
    print("[nemo_fixtures]", *a, flush=True)


def seed_all(seed: int):
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def write_wav(path: Path, seconds: float, sr: int = 22050):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(int(seconds * sr)) * 0.05 * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(x.tobytes())


def write_manifest(work: Path) -> Path:
    """One-line manifest + a 3.5 s wav: ModelPT.__init__ builds train_ds/validation_ds even with no
    trainer (HiFi-GAN's validation set drops clips shorter than 3 s)."""
    work.mkdir(parents=True, exist_ok=True)
    wav = work / "clip.wav"
    write_wav(wav, 3.5)
    manifest = work / "manifest.json"
    manifest.write_text(json.dumps({"audio_filepath": str(wav), "duration": 3.5, "text": "hello world"}) + "\n")
    (work / "sup").mkdir(exist_ok=True)
    return manifest


def word_candidates(texts):
    """Every dictionary key EnglishG2p / IpaG2p may consult for these texts: the word, the word without
    a final 's / s (the plural/possessive rules), and the same for each hyphen-separated part."""
    from nemo.collections.common.tokenizers.text_to_speech.tokenizer_utils import (
        english_text_preprocessing,
        english_word_tokenize,
    )

    need = set()
    for t in texts:
        for toks, unchanged in english_word_tokenize(english_text_preprocessing(t, lower=False)):
            if unchanged:
                continue
            w = toks[0].lower()
            for part in [w] + w.split("-"):
                need.update({part, part[:-1], part[:-2]})
    need.discard("")
    return need


def reduce_cmudict(src: Path, dst: Path, need: set[str]):
    alt = re.compile(r"\([0-9]+\)")
    keep = []
    with open(src, encoding="latin-1") as f:
        for line in f:
            if line and ("A" <= line[0] <= "Z" or line[0] == "'"):
                word = alt.sub("", line.split("  ")[0]).lower()
                if word in need:
                    keep.append(line)
    dst.write_text("".join(keep), encoding="latin-1")
    return len(keep)


def reduce_heteronyms(src: Path, dst: Path, need: set[str]):
    lines = [l for l in src.read_text(encoding="utf-8").splitlines() if l.strip().lower() in need]
    dst.write_text("".join(l + "\n" for l in lines), encoding="utf-8")
    return lines


def ipa_dict_lines(src: Path):
    """(word_without_alt_suffix, line, NFC line) for each entry line IpaG2p would parse."""
    import unicodedata

    alt = re.compile(r"\([0-9]+\)")
    out = []
    with open(src, encoding="utf-8") as f:
        for line in f:
            if not line:
                continue
            line_n = unicodedata.normalize("NFC", line)
            c = line_n[0]
            if "A" <= c <= "Z" or "a" <= c <= "z" or "À" <= c <= "Ö" or "Ø" <= c <= "ö" or "ø" <= c <= "ÿ" or c == "'":
                out.append((alt.sub("", line_n.strip().split(maxsplit=1)[0]), line, line_n))
    return out


def reduce_ipa_dict(src: Path, dst: Path, need: set[str], full_symbols: set[str], g2p_kwargs: dict):
    """Keep the needed words, then add words (first in file order, greedily) until the reduced dict's
    symbol set (IPA chars + graphemes) equals the full one's, so the token list is unchanged."""
    from nemo.collections.tts.g2p.models.i18n_ipa import IpaG2p

    entries = ipa_dict_lines(src)
    by_word: dict[str, list[list[str]]] = {}
    for w, _, line_n in entries:
        by_word.setdefault(w, []).append(list(re.sub(r"\s+", "", line_n.strip().split(maxsplit=1)[1])))
    chosen = [w for w in by_word if w.lower() in need]
    assert chosen
    g2p = IpaG2p(phoneme_dict={w: by_word[w] for w in chosen}, **g2p_kwargs)
    missing = full_symbols - set(g2p.symbols)
    extra = []
    for w in by_word:  # greedy, in file order; symbols per word through IpaG2p's own normalisation
        if not missing:
            break
        if w in chosen:
            continue
        syms = g2p._normalize_dict({w: by_word[w]})[1]
        if syms & missing:
            extra.append(w)
            missing -= syms
    assert not missing, f"symbols not coverable: {missing}"
    keep_words = set(chosen) | set(extra)
    dst.write_text("".join(line for w, line, _ in entries if w in keep_words), encoding="utf-8")
    return sorted(chosen), extra


# ------------------------------------------------------------------------------------------- configs


def load_yaml(path: Path):
    from omegaconf import OmegaConf

    return OmegaConf.load(str(path))


def fastpitch_cfg(
    nemo_src: Path, manifest: Path, dict_path: Path, het_path: Path, *, ipa: bool, tiny: bool, multi: bool
):
    """The v1.05 (or IPA) FastPitch config, filled and resolved; returns cfg.model."""
    from omegaconf import OmegaConf, open_dict

    conf = nemo_src / "examples/tts/conf"
    cfg = load_yaml(conf / ("fastpitch_align_ipa.yaml" if ipa else "fastpitch_align_v1.05.yaml"))
    with open_dict(cfg):
        cfg.train_dataset = str(manifest)
        cfg.validation_datasets = str(manifest)
        cfg.sup_data_path = str(manifest.parent / "sup")
        cfg.pitch_mean = LJSPEECH_PITCH_MEAN
        cfg.pitch_std = LJSPEECH_PITCH_STD
        cfg.phoneme_dict_path = str(dict_path)
        cfg.heteronyms_path = str(het_path)
        m = cfg.model
        del m["text_normalizer"]
        del m["text_normalizer_call_kwargs"]
        for ds in ("train_ds", "validation_ds"):
            m[ds].dataloader_params.num_workers = 0
            m[ds].dataloader_params.pin_memory = False
        if tiny:
            d = 32
            m.symbols_embedding_dim = d
            m.input_fft.n_layer = 2
            m.input_fft.d_inner = 2 * d
            m.input_fft.d_head = 8 if multi else 16  # multi: 2 heads x 8 != d_model
            m.input_fft.n_head = 2 if multi else 1
            m.output_fft.n_layer = 2
            m.output_fft.d_inner = 2 * d
            m.output_fft.d_head = 16
            m.output_fft.n_head = 2 if multi else 1
            for p in ("duration_predictor", "pitch_predictor"):
                m[p].filter_size = 32
            m.alignment_module.n_att_channels = 16
        if multi:
            m.n_speakers = 3
            m.speaker_emb_condition_prosody = True
            m.speaker_emb_condition_aligner = True
            m.min_token_duration = 1
            m.use_log_energy = False
            m.energy_embedding_kernel_size = 3
            m.energy_predictor = OmegaConf.to_container(m.pitch_predictor)
    resolved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    return resolved.model


def hifigan_cfg(nemo_src: Path, manifest: Path, generator: str, tiny: bool):
    from omegaconf import OmegaConf, open_dict

    conf = nemo_src / "examples/tts/conf/hifigan"
    cfg = load_yaml(conf / "hifigan.yaml")
    with open_dict(cfg):
        del cfg["defaults"]
        cfg.train_dataset = str(manifest)
        cfg.validation_datasets = str(manifest)
        cfg.model.generator = load_yaml(conf / f"model/generator/{generator}.yaml")
        cfg.model.train_ds = load_yaml(conf / "model/train_ds/train_ds.yaml")
        cfg.model.validation_ds = load_yaml(conf / "model/validation_ds/val_ds.yaml")
        for ds in ("train_ds", "validation_ds"):
            cfg.model[ds].dataloader_params.num_workers = 0
            cfg.model[ds].dataloader_params.pin_memory = False
        if tiny:
            cfg.model.generator.upsample_initial_channel = 32
            cfg.model.debug = True
    resolved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    return resolved.model


# ------------------------------------------------------------------------------------------- building


def build_fastpitch(cfg, seed: int, path: Path, gz: bool = False):
    import torch
    from nemo.collections.tts.models import FastPitchModel

    seed_all(seed)
    model = FastPitchModel(cfg=cfg)
    with torch.no_grad():
        model.fastpitch.duration_predictor.fc.bias.fill_(DUR_BIAS)
    save_nemo(model, path, gz)
    restored = FastPitchModel.restore_from(str(path), map_location="cpu")
    restored.eval()
    mine, theirs = model.state_dict(), restored.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    return restored


def build_hifigan(cfg, seed: int, path: Path, strip_discriminators: bool = False, gz: bool = False):
    """strip_discriminators (tiny fixtures only): ``mpd`` / ``msd`` are deleted before ``save_to``.
    They are training-only, their (debug) sizes are hard-coded in NeMo (~300 k parameters, 1.2 MB per
    file) and they would dominate the committed fixtures.  NeMo restores such a file with
    ``strict=False``; real checkpoints (and the --full one) carry ``mpd.*`` / ``msd.*``, which a loader
    must skip (keys_full.txt lists them)."""
    import torch
    from nemo.collections.tts.models import HifiGanModel

    seed_all(seed)
    model = HifiGanModel(cfg=cfg)
    if strip_discriminators:
        del model.mpd
        del model.msd
    save_nemo(model, path, gz)
    restored = HifiGanModel.restore_from(str(path), map_location="cpu", strict=not strip_discriminators)
    restored.eval()
    mine, theirs = model.state_dict(), restored.state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in mine), "restore_from did not load every saved tensor"
    return restored


def save_nemo(model, path: Path, gz: bool):
    """NeMo's save_to; with gz the tar it wrote is then gzip-compressed as a whole (the container of
    NeMo < 1.7, which restore_from still reads: it tries "r:" and falls back to "r:gz")."""
    if not gz:
        model.save_to(str(path))
    else:
        plain = path.with_suffix(".plain.nemo")
        model.save_to(str(plain))
        import gzip

        with (
            open(plain, "rb") as src,
            open(path, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as dst,
        ):
            shutil.copyfileobj(src, dst)
        plain.unlink()
    log("saved", path, f"{path.stat().st_size / 1e3:.0f} kB", "(gzip)" if gz else "(plain tar)")


def nemo_state_dict(path: Path):
    """The state dict exactly as stored in the archive (model_weights.ckpt)."""
    import torch

    with tarfile.open(path) as tar:
        names = tar.getnames()
        member = next(n for n in names if n.endswith("model_weights.ckpt"))
        sd = torch.load(io.BytesIO(tar.extractfile(member).read()), map_location="cpu", weights_only=True)
    return names, sd


def keys_report(path: Path) -> str:
    names, sd = nemo_state_dict(path)
    n_elem = sum(v.numel() for v in sd.values())
    lines = [
        f"## {path.name}",
        f"# archive members: {', '.join(sorted(names))}",
        f"# {len(sd)} tensors, {n_elem} elements",
    ]
    for k in sorted(sd):
        v = sd[k]
        lines.append(f"{k}  {list(v.shape)}  {str(v.dtype).replace('torch.', '')}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ inference


def pad_batch(id_lists, pad_id):
    import torch

    T = max(len(x) for x in id_lists)
    ids = torch.full((len(id_lists), T), pad_id, dtype=torch.long)
    for i, x in enumerate(id_lists):
        ids[i, : len(x)] = torch.tensor(x, dtype=torch.long)
    lens = torch.tensor([len(x) for x in id_lists], dtype=torch.long)
    return ids, lens


def round_durations(durs, pace):
    """NeMo's regulate_len: reps = floor(durs / pace + 0.5) (pace a float or a [B, T] tensor)."""
    import torch

    return torch.floor(durs.float() / pace + 0.5).long()


def fastpitch_case(model, id_lists, pace=1.0, speaker=None, pitch_fn=None, texts=None):
    """generate_spectrogram + the forward pass (the same one generate_spectrogram runs) for the
    intermediate values.  pitch_fn(pitch_pred, lens) -> explicit per-token pitch to feed back in."""
    import torch

    fp = model.fastpitch
    ids, lens = pad_batch(id_lists, model.vocab.pad)
    spk = None if speaker is None else torch.tensor(speaker, dtype=torch.long)
    captured = {}
    hook = fp.encoder.register_forward_hook(lambda m, i, o: captured.__setitem__("enc", o))
    out = {"ids": ids.numpy(), "ids_lens": lens.numpy(), "pace": np.float64(pace)}
    if texts is not None:
        out["texts"] = np.array(texts)
    if spk is not None:
        out["speaker"] = spk.numpy()
    with torch.no_grad():
        res = model(text=ids, durs=None, pitch=None, speaker=spk, pace=pace)
        pitch_pred = res[4]
        pitch_in = None
        if pitch_fn is not None:
            pitch_in = pitch_fn(pitch_pred, lens)
            res = model(text=ids, durs=None, pitch=pitch_in, speaker=spk, pace=pace)
            out["pitch_in"] = pitch_in.numpy()
            mel = res[0]
        else:
            mel = model.generate_spectrogram(tokens=ids, speaker=spk, pace=pace)
            assert torch.equal(mel, res[0]), "generate_spectrogram differs from forward"
    hook.remove()
    spect, dec_lens, durs_pred, log_durs = res[:4]
    energy_pred = res[10]
    reps = round_durations(durs_pred, pace)
    assert torch.equal(reps.sum(1), dec_lens), (reps.sum(1), dec_lens)
    # padded mel frames: the decoder zeroes them, so proj gives its bias there
    bias = fp.proj.bias[:, None]
    for b in range(len(id_lists)):
        n = int(dec_lens[b])
        if n < spect.shape[2]:
            assert torch.allclose(spect[b, :, n:], bias.expand(-1, spect.shape[2] - n)), "pad frames != proj.bias"
    out.update(
        mel=mel.float().numpy(),
        mel_lens=dec_lens.numpy(),
        durs_pred=durs_pred.float().numpy(),
        log_durs_pred=log_durs.float().numpy(),
        durs=reps.numpy(),
        pitch_pred=pitch_pred.float().numpy(),
        enc_out=captured["enc"][0].float().numpy(),
        enc_mask=captured["enc"][1][..., 0].numpy(),
    )
    if energy_pred is not None:
        out["energy_pred"] = energy_pred.float().numpy()
    return out


def fastpitch_infer_case(model, id_lists, pitch_shift, pace_tok, speaker=None):
    """FastPitchModule.infer: the export / Riva path (forward_for_export).  Its ``pitch`` is ADDED to
    the predicted (normalised) pitch, and ``pace`` may be a per-token [B, T] tensor."""
    import torch

    fp = model.fastpitch
    ids, lens = pad_batch(id_lists, model.vocab.pad)
    spk = None if speaker is None else torch.tensor(speaker, dtype=torch.long)
    with torch.no_grad():
        spect, dec_lens, durs_pred, log_durs, pitch_pred, _ = fp.infer(
            text=ids, pitch=pitch_shift, pace=pace_tok, speaker=spk
        )
    reps = round_durations(durs_pred, pace_tok)
    assert torch.equal(reps.sum(1), dec_lens)
    out = {
        "ids": ids.numpy(),
        "ids_lens": lens.numpy(),
        "pitch_shift": pitch_shift.numpy(),
        "pace_tokens": pace_tok.numpy(),
        "mel": spect.float().numpy(),
        "mel_lens": dec_lens.numpy(),
        "durs_pred": durs_pred.float().numpy(),
        "log_durs_pred": log_durs.float().numpy(),
        "durs": reps.numpy(),
        "pitch_pred": pitch_pred.float().numpy(),
    }
    if spk is not None:
        out["speaker"] = spk.numpy()
    return out


def vocoder_case(model, mel, mel_lens=None):
    import torch

    with torch.no_grad():
        audio = model.convert_spectrogram_to_audio(spec=torch.as_tensor(mel))
    out = {"mel": np.asarray(mel, dtype=np.float32), "audio": audio.float().numpy()}
    if mel_lens is not None:
        out["mel_lens"] = np.asarray(mel_lens)
        out["audio_lens"] = np.asarray(mel_lens) * 256
    return out


def save_npz(outdir: Path, name: str, arrays: dict, manifest: list):
    path = outdir / f"{name}.npz"
    np.savez_compressed(path, **arrays)
    manifest.append((path.name, {k: (tuple(np.shape(v)), str(np.asarray(v).dtype)) for k, v in arrays.items()}))
    log("wrote", path.name, ", ".join(f"{k}{list(np.shape(v))}" for k, v in arrays.items()))


# ------------------------------------------------------------------------------------------ tokenizers


def tokenizer_reference(model, model_file: str, cfg, full_tokenizer=None) -> dict:
    """Ids for TEXTS from model.parse(text, normalize=False); token table and settings."""
    from omegaconf import OmegaConf

    tok = model.vocab
    g2p = tok.g2p
    tcfg = OmegaConf.to_container(cfg.text_tokenizer, resolve=True)
    gcfg = tcfg.pop("g2p")
    cases = []
    for text in TEXTS:
        try:
            ids = model.parse(text, normalize=False)[0].tolist()
        except Exception as e:  # noqa: BLE001 - NeMo itself fails on this text: record that
            err = f"{type(e).__name__}: {e}"
            if full_tokenizer is not None:
                with full_tokenizer.set_phone_prob(1.0), contextlib.suppress(type(e)):
                    full_tokenizer.encode(text)
                    raise AssertionError(("reduced dict changes behaviour", text))
            with tok.set_phone_prob(1.0):
                pre = tok.text_preprocessing_func(text)
                cases.append({"text": text, "preprocessed": pre, "g2p": g2p(pre), "error": err})
            continue
        for _ in range(3):  # determinism of parse()
            assert model.parse(text, normalize=False)[0].tolist() == ids, text
        with tok.set_phone_prob(1.0):
            pre = tok.text_preprocessing_func(text)
            g2p_out = g2p(pre)
            if full_tokenizer is not None:
                with full_tokenizer.set_phone_prob(1.0):
                    assert full_tokenizer.encode(text) == ids, ("reduced dict changes ids", text)
        cases.append(
            {"text": text, "preprocessed": pre, "g2p": g2p_out, "ids": ids, "symbols": [tok.tokens[i] for i in ids]}
        )
    # how random is tokenizer.encode() without parse()'s set_phone_prob(1.0)?
    random_diff = 0
    for c in cases:
        if "ids" in c:
            random_diff += sum(tok.encode(c["text"]) != c["ids"] for _ in range(5))
    punct = list(getattr(tok, "punct_list", None) or getattr(tok, "PUNCT_LIST", []))
    return {
        "model_file": model_file,
        "nemo_version": NEMO_VERSION,
        "ids_from": "model.parse(text, normalize=False)[0] (= tokenizer.encode(text) inside tokenizer.set_phone_prob(1.0))",
        "tokenizer_class": tcfg.get("_target_"),
        "tokenizer_config": tcfg,
        "g2p_class": gcfg.get("_target_"),
        "g2p_config": {k: v for k, v in gcfg.items() if k not in ("phoneme_dict", "heteronyms")},
        "g2p_files": {"phoneme_dict": gcfg.get("phoneme_dict"), "heteronyms": gcfg.get("heteronyms")},
        "g2p_effective": {
            "ignore_ambiguous_words": g2p.ignore_ambiguous_words,
            "phoneme_probability_configured": tok.phoneme_probability,
            "grapheme_case": getattr(
                g2p, "grapheme_case", "lower (english_word_tokenize lowercases; dict keys lowercased)"
            ),
            "grapheme_prefix": getattr(g2p, "grapheme_prefix", ""),
            "use_stresses": getattr(g2p, "use_stresses", None),
            "heteronyms_in_reduced_file": sorted(g2p.heteronyms or []),
        },
        "n_tokens": len(tok.tokens),
        "tokens": list(tok.tokens),
        "pad": tok.pad,
        "blank": tok.blank,
        "oov": tok.oov,
        "space": tok.space,
        "space_symbol": tok.tokens[tok.space],
        "punct_enabled": tok.punct,
        "punct_list": punct,
        "pad_with_space": tok.pad_with_space,
        "encode_without_set_phone_prob_differed": f"{random_diff} of {5 * sum('ids' in c for c in cases)} tries differ from parse()",
        "defaults_not_in_config": {
            "add_blank_at": None,
            "silence": None,
            "sep": "|",
            "locale": getattr(tok.g2p, "locale", None),
            "g2p_word_tokenizer": "english_word_tokenize (regex, lowercases words)",
            "text_preprocessing": "english_text_preprocessing(lower=False): NFD, drop combining marks (Mn), "
            "U+2019 -> ', U+201C/U+201D -> \"",
        },
        "notes": TOKENIZER_NOTES["ipa" if "IPATokenizer" in str(tcfg.get("_target_")) else "arpabet"],
        "cases": cases,
    }


TOKENIZER_NOTES = {
    "arpabet": [
        (
            "vocabulary is fixed (not read from the dictionary): ' ' (id 0), 24 consonants, 15 vowels x stress 0/1/2,"
            " a-z, apostrophe, the 15 punctuation marks, then <pad>, <oov> (no blank: add_blank_at is None)"
        ),
        "dictionary: latin-1, lines starting A-Z or ', 'WORD(n)  PH PH ...' split on two spaces, words lowercased",
        (
            "words with more than one pronunciation (hello, the, and, a, ...) are spelled as letters because"
            " EnglishG2p's ignore_ambiguous_words defaults to True; heteronyms are always spelled as letters"
        ),
        (
            "unknown words -> lowercase letters; words not in the dict ending in 's / s use the stem's first"
            " pronunciation + Z; an unknown hyphenated word is split on '-' and each part looked up, '-' kept"
        ),
        (
            "spaces: a space is kept only after a non-space, trailing spaces dropped; characters outside the"
            " vocabulary (digits, tab, newline, non-ASCII letters after accent stripping, dashes) are dropped"
            " silently (with a warning), so 'tab\\tand' gives no space between the words"
        ),
        "parse() = encode() with phoneme_probability forced to 1.0; pad_with_space adds ' ' at both ends",
        "|...| passes space-separated ARPAbet symbols through unchanged",
    ],
    "ipa": [
        (
            "vocabulary = sorted(set of every char in the dictionary's pronunciations + every grapheme of its words"
            " (uppercased, punctuation removed, digits kept) + apostrophe + punctuation list), then ' ', <pad>, <oov>;"
            " so it depends on the dictionary file (the reduced one here keeps the full file's symbol set)"
        ),
        (
            "dictionary: utf-8, NFC, 'WORD(n)  pron' split on whitespace, every char of pron is one symbol"
            " (ˈ ˌ stress marks are separate tokens; diphthongs are two tokens)"
        ),
        (
            "ignore_ambiguous_words is False: the first pronunciation of an ambiguous word is used;"
            " heteronyms are spelled as uppercase graphemes"
        ),
        (
            "unknown words -> uppercase graphemes (grapheme_prefix ''), digits included as tokens;"
            " 's / s rules: stem + s after t, + ɪz after s for 's, else + z"
        ),
        (
            "spaces: unlike the ARPAbet tokenizer every space is kept (the space token is in the vocabulary,"
            " so the dedup branch is bypassed): double spaces and a leading space survive; trailing spaces"
            " dropped; a text of only spaces raises IndexError inside NeMo (recorded as 'error')"
        ),
        "'ß' is uppercased to 'SS' by the G2P (str.upper) and looked up as a word",
        "parse() = encode() with phoneme_probability forced to 1.0; pad_with_space adds ' ' at both ends",
    ],
}


# ---------------------------------------------------------------------------------------------- tiny


def build_tiny(args):
    import torch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("*.npz")) + list(out.glob("*.nemo")):
        old.unlink()
    src = Path(args.nemo_src) / "scripts/tts_dataset_files"
    shutil.rmtree(WORK, ignore_errors=True)
    manifest = write_manifest(WORK)
    files: list = []

    need = word_candidates(TEXTS)
    # ---- ARPAbet dictionary, reduced
    cmu = WORK / "cmudict-0.7b_nv22.10_tiny"
    het = WORK / "heteronyms-052722_tiny"
    n_cmu = reduce_cmudict(src / "cmudict-0.7b_nv22.10", cmu, need)
    hets = reduce_heteronyms(src / "heteronyms-052722", het, need)
    log(f"reduced cmudict: {n_cmu} lines; heteronyms kept: {hets}")

    # ---- IPA dictionary, reduced with the full symbol set preserved
    from nemo.collections.common.tokenizers.text_to_speech.tts_tokenizers import EnglishPhonemesTokenizer, IPATokenizer
    from nemo.collections.tts.g2p.models.en_us_arpabet import EnglishG2p
    from nemo.collections.tts.g2p.models.i18n_ipa import IpaG2p

    ipa_cfg = load_yaml(Path(args.nemo_src) / "examples/tts/conf/fastpitch_align_ipa.yaml").model.text_tokenizer
    ipa_g2p_kwargs = {
        k: ipa_cfg.g2p[k] for k in ("ignore_ambiguous_words", "use_chars", "use_stresses", "phoneme_probability")
    }
    full_ipa_g2p = IpaG2p(
        phoneme_dict=str(src / "ipa_cmudict-0.7b_nv23.01.txt"),
        heteronyms=str(src / "heteronyms-052722"),
        **ipa_g2p_kwargs,
    )
    ipa = WORK / "ipa_cmudict-0.7b_nv23.01_tiny.txt"
    chosen, extra = reduce_ipa_dict(
        src / "ipa_cmudict-0.7b_nv23.01.txt", ipa, need, set(full_ipa_g2p.symbols), ipa_g2p_kwargs
    )
    log(f"reduced IPA dict: {len(chosen)} needed words + {len(extra)} for symbol coverage: {extra}")
    full_ipa_tok = IPATokenizer(
        full_ipa_g2p, punct=ipa_cfg.punct, apostrophe=ipa_cfg.apostrophe, pad_with_space=ipa_cfg.pad_with_space
    )
    v105 = load_yaml(Path(args.nemo_src) / "examples/tts/conf/fastpitch_align_v1.05.yaml").model.text_tokenizer
    full_arpa_tok = EnglishPhonemesTokenizer(
        EnglishG2p(
            phoneme_dict=str(src / "cmudict-0.7b_nv22.10"),
            heteronyms=str(src / "heteronyms-052722"),
            phoneme_probability=v105.g2p.phoneme_probability,
        ),
        punct=v105.punct,
        stresses=v105.stresses,
        chars=v105.chars,
        apostrophe=v105.apostrophe,
        pad_with_space=v105.pad_with_space,
    )

    # ---- FastPitch tiny (ARPAbet)
    cfg = fastpitch_cfg(Path(args.nemo_src), manifest, cmu, het, ipa=False, tiny=True, multi=False)
    fp = build_fastpitch(cfg, 1, out / "fastpitch_tiny.nemo")
    assert fp.vocab.tokens == full_arpa_tok.tokens
    ref = tokenizer_reference(fp, "fastpitch_tiny.nemo", fp.cfg, full_arpa_tok)
    (out / "tokenizer_arpabet.json").write_text(json.dumps(ref, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    ids = {i: c.get("ids") for i, c in enumerate(ref["cases"])}

    mean, std = LJSPEECH_PITCH_MEAN, LJSPEECH_PITCH_STD

    def pitch_scaled(factor):
        # per-token explicit contour: the predicted contour in Hz scaled by `factor`, re-normalised with
        # the config's pitch_mean/std (the pitch_mean/std *buffers* of FastPitchModule stay 0); pads 0.
        def fn(pred, lens):
            hz = pred * std + mean
            p = (hz * factor - mean) / std
            mask = torch.arange(pred.shape[1])[None, :] < lens[:, None]
            return torch.where(mask, p, torch.zeros_like(p))

        return fn

    for pace in (1.0, 1.3, 0.8):
        save_npz(
            out,
            f"fastpitch_tiny__single_pace{pace}",
            fastpitch_case(fp, [ids[SINGLE]], pace, texts=[TEXTS[SINGLE]]),
            files,
        )
    for pace in (1.0, 1.3):
        save_npz(
            out,
            f"fastpitch_tiny__batch3_pace{pace}",
            fastpitch_case(fp, [ids[i] for i in BATCH], pace, texts=[TEXTS[i] for i in BATCH]),
            files,
        )
    save_npz(
        out,
        "fastpitch_tiny__pitch_x1.25_batch2",
        fastpitch_case(fp, [ids[i] for i in PAIR], 1.0, pitch_fn=pitch_scaled(1.25), texts=[TEXTS[i] for i in PAIR]),
        files,
    )
    pids, plens = pad_batch([ids[i] for i in PAIR], fp.vocab.pad)
    valid = (torch.arange(pids.shape[1])[None, :] < plens[:, None]).float()
    shift = 0.5 * valid
    pace_tok = (
        torch.where(torch.arange(pids.shape[1])[None, :] < pids.shape[1] // 2, 1.0, 1.5).expand_as(shift).contiguous()
    )
    save_npz(
        out,
        "fastpitch_tiny__infer_shift0.5_pacetok",
        fastpitch_infer_case(fp, [ids[i] for i in PAIR], shift, pace_tok),
        files,
    )
    save_npz(
        out,
        "fastpitch_tiny__batch2short_pace1.3",
        fastpitch_case(fp, [ids[i] for i in SHORT_PAIR], 1.3, texts=[TEXTS[i] for i in SHORT_PAIR]),
        files,
    )
    batch_mel = np.load(out / "fastpitch_tiny__batch2short_pace1.3.npz")

    # ---- FastPitch tiny multi (IPA, 3 speakers, energy)
    cfg = fastpitch_cfg(Path(args.nemo_src), manifest, ipa, het, ipa=True, tiny=True, multi=True)
    fpm = build_fastpitch(cfg, 2, out / "fastpitch_tiny_multi.nemo", gz=True)
    assert fpm.vocab.tokens == full_ipa_tok.tokens, "reduced IPA dict changed the vocabulary"
    ref = tokenizer_reference(fpm, "fastpitch_tiny_multi.nemo", fpm.cfg, full_ipa_tok)
    (out / "tokenizer_ipa.json").write_text(json.dumps(ref, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    mids = {i: c.get("ids") for i, c in enumerate(ref["cases"])}
    for s in range(3):
        save_npz(
            out,
            f"fastpitch_tiny_multi__single_spk{s}_pace1.0",
            fastpitch_case(fpm, [mids[SHORT]], 1.0, speaker=[s], texts=[TEXTS[SHORT]]),
            files,
        )
    for pace in (1.0, 1.3):
        save_npz(
            out,
            f"fastpitch_tiny_multi__batch3_spk201_pace{pace}",
            fastpitch_case(fpm, [mids[i] for i in BATCH], pace, speaker=[2, 0, 1], texts=[TEXTS[i] for i in BATCH]),
            files,
        )
    save_npz(
        out,
        "fastpitch_tiny_multi__pitch_x0.8_spk1",
        fastpitch_case(fpm, [mids[SHORT]], 1.0, speaker=[1], pitch_fn=pitch_scaled(0.8), texts=[TEXTS[SHORT]]),
        files,
    )

    # ---- HiFi-GAN tiny v1 / v3
    g = torch.Generator().manual_seed(7)
    rand_mel = (torch.randn(2, 80, 16, generator=g) * 1.5 - 5.0).numpy()
    for gen, seed in (("v1", 3), ("v3", 4)):
        hcfg = hifigan_cfg(Path(args.nemo_src), manifest, gen, tiny=True)
        hg = build_hifigan(hcfg, seed, out / f"hifigan_tiny_{gen}.nemo", strip_discriminators=True, gz=True)
        save_npz(
            out,
            f"hifigan_tiny_{gen}__fastpitch_batch2short",
            vocoder_case(hg, batch_mel["mel"], batch_mel["mel_lens"]),
            files,
        )
        save_npz(out, f"hifigan_tiny_{gen}__random_mel", vocoder_case(hg, rand_mel), files)

    # ---- keys + README
    keys = "".join(
        keys_report(out / n) + "\n"
        for n in ("fastpitch_tiny.nemo", "fastpitch_tiny_multi.nemo", "hifigan_tiny_v1.nemo", "hifigan_tiny_v3.nemo")
    )
    (out / "keys.txt").write_text(keys)
    write_readme(out, files, args)
    shutil.rmtree(WORK, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- full


def build_full(args):
    out = Path(args.full_out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    src = Path(args.nemo_src) / "scripts/tts_dataset_files"
    shutil.rmtree(WORK, ignore_errors=True)
    manifest = write_manifest(WORK)
    files: list = []
    cfg = fastpitch_cfg(
        Path(args.nemo_src),
        manifest,
        src / "cmudict-0.7b_nv22.10",
        src / "heteronyms-052722",
        ipa=False,
        tiny=False,
        multi=False,
    )
    fp = build_fastpitch(cfg, 11, out / "fastpitch_full.nemo")
    texts = [TEXTS[SINGLE], TEXTS[11]]
    ids = [fp.parse(t, normalize=False)[0].tolist() for t in texts]
    save_npz(out, "fastpitch_full__single_pace1.0", fastpitch_case(fp, ids[:1], 1.0, texts=texts[:1]), files)
    save_npz(out, "fastpitch_full__batch2_pace1.0", fastpitch_case(fp, ids, 1.0, texts=texts), files)
    m = np.load(out / "fastpitch_full__batch2_pace1.0.npz")
    hcfg = hifigan_cfg(Path(args.nemo_src), manifest, "v1", tiny=False)
    hg = build_hifigan(hcfg, 12, out / "hifigan_full_v1.nemo")
    save_npz(out, "hifigan_full_v1__fastpitch_batch2", vocoder_case(hg, m["mel"], m["mel_lens"]), files)
    keys = "".join(keys_report(out / n) + "\n" for n in ("fastpitch_full.nemo", "hifigan_full_v1.nemo"))
    (out / "keys_full.txt").write_text(keys)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "keys_full.txt").write_text(
        "# state-dict keys of the default-size models built by `tools/nemo_fixtures.py --full` (not committed)\n\n"
        + keys
    )
    lines = [f"# NeMo {NEMO_VERSION} default-size fixtures (tools/nemo_fixtures.py --full)", ""]
    for name, arrays in files:
        lines.append(f"- `{name}`: " + ", ".join(f"`{k}` {list(s)} {d}" for k, (s, d) in arrays.items()))
    for n in ("fastpitch_full.nemo", "hifigan_full_v1.nemo"):
        lines.append(f"- `{n}`: {(out / n).stat().st_size / 1e6:.1f} MB")
    (out / "README.md").write_text("\n".join(lines) + "\n")
    shutil.rmtree(WORK, ignore_errors=True)


# -------------------------------------------------------------------------------------------- README

README_NOTES = """\
## NeMo inference maths these fixtures pin down (NeMo 2.7.3)

- `generate_spectrogram(tokens, speaker, pace)` is `forward(text, durs=None, pitch=None, ...)`, not
  `FastPitchModule.infer`.  Encoder mask = `ids != pad`; speaker embedding (`fastpitch.speaker_emb`,
  shape [n_speakers, d]) is added to word embedding + positional embedding at the encoder input
  (`input_fft.cond_input` "add", all positions incl. pads), and with `speaker_emb_condition_prosody`
  also to the input of the duration / pitch / energy predictors (`*.cond_input` "add", before the mask).
- durations: `durs_pred = clamp(exp(log_durs_pred) - 1, min_token_duration, max_token_duration) * mask`
  (so pads are 0 even with min 1); frames per token `durs = floor(durs_pred / pace + 0.5)`;
  `mel_lens = durs.sum(1)`.  In `infer` (export path) `pace` may be a [B, T] tensor (per token).
- pitch: the predictor output is normalised pitch (target was `(f0 - pitch_mean) / pitch_std` with the
  *config* values `pitch_mean` / `pitch_std`; the `fastpitch.pitch_mean` / `pitch_std` buffers stay 0).
  `forward(pitch=P)` with P per token [B, T_text] *replaces* the prediction (pads must be 0: the k=3
  `pitch_emb` conv reads neighbours); `infer(pitch=P)` *adds* P to the prediction.  `pitch_emb(pitch)`
  is added to the encoder output, then the energy predictor runs on that sum (energy_emb added too),
  then the length regulator.
- the mel from `generate_spectrogram` is [B, 80, max(mel_lens)]; frames past `mel_lens[b]` are not 0:
  the decoder zeroes them, so they hold `fastpitch.proj.bias` (asserted by the script).
- HiFi-GAN `convert_spectrogram_to_audio(spec)` = `generator(spec).squeeze(1)`: [B, 256 * T_mel];
  the tiny fixtures run it on padded FastPitch mels as they are (`audio_lens` = 256 * `mel_lens`).
"""


def write_readme(out: Path, files, args):
    lines = [
        "# NeMo FastPitch + HiFi-GAN parity fixtures",
        "",
        f"Made by NeMo {NEMO_VERSION} itself (random init, `save_to`, eval-mode inference) with:",
        "",
        "```",
        "/tmp/nemo-venv/bin/python tools/nemo_fixtures.py --nemo-src <NeMo checkout> --out tests/fixtures/nemo",
        "```",
        "",
        "(venv recipe and the config choices: the docstring of `tools/nemo_fixtures.py`; configs and",
        "dictionaries from NeMo's `examples/tts/conf` and `scripts/tts_dataset_files`).  Arrays are float32",
        "unless stated; `ids` are padded with the tokenizer's pad id; `*_lens` give the valid lengths.",
        "Regenerating gives identical weights and arrays; only the `.nemo` bytes change (NeMo names artifacts",
        "with a random uuid and tar stores mtimes), so leave the files alone unless the fixtures must change.",
        "",
        "## Models",
        "",
    ]
    for n in ("fastpitch_tiny.nemo", "fastpitch_tiny_multi.nemo", "hifigan_tiny_v1.nemo", "hifigan_tiny_v3.nemo"):
        names, sd = nemo_state_dict(out / n)
        container = "gzip-compressed tar" if (out / n).read_bytes()[:2] == b"\x1f\x8b" else "plain tar"
        lines.append(
            f"- `{n}` ({container}, {(out / n).stat().st_size / 1e3:.0f} kB, {len(sd)} tensors): members "
            + ", ".join(f"`{m}`" for m in sorted(names) if m not in (".", "./"))
        )
    lines += [
        "",
        "Every stored state-dict key with shape: `keys.txt` (`keys_full.txt`: the default-size models).",
        "`fastpitch_tiny.nemo` is the plain (uncompressed) tar that NeMo's `save_to` writes today; the other",
        "three are the same `save_to` output gzip-compressed as a whole (the container of NeMo < 1.7, which",
        "`restore_from` still reads), to keep this directory small and to cover both containers.  The tiny",
        "HiFi-GANs were saved without their training-only discriminators (`mpd.*`, `msd.*`; NeMo restores",
        "them with `strict=False`); real files carry those keys (see `keys_full.txt`) and a loader must skip them.",
        "",
        "## Key meanings",
        "",
        "- `ids` int64 [B, T_text], `ids_lens` [B], `texts` (the source strings), `pace` float64 scalar,",
        "  `speaker` int64 [B] (multi-speaker only)",
        "- `mel` [B, 80, max(mel_lens)] = `generate_spectrogram` output (explicit-pitch cases: the forward's",
        "  spect, since `generate_spectrogram` takes no pitch), `mel_lens` int64 [B]",
        "- `durs_pred` [B, T_text] clamped float durations before pace, `log_durs_pred` the predictor output,",
        "  `durs` int64 [B, T_text] frames per token as `regulate_len` rounds them (sum = `mel_lens`)",
        "- `pitch_pred` [B, T_text] predicted normalised pitch per token (0 at pads); `pitch_in` the explicit",
        "  per-token contour fed to `forward(pitch=...)` (predicted contour in Hz x factor, re-normalised with",
        "  the config's pitch_mean/std, 0 at pads); `energy_pred` [B, T_text] (multi only)",
        "- `enc_out` [B, T_text, d_model] encoder output (before pitch/energy embeddings), `enc_mask` [B, T_text]",
        "- `*__infer_*`: `FastPitchModule.infer` (export path): `pitch_shift` [B, T_text] added to the",
        "  prediction (0 at pads), `pace_tokens` [B, T_text] per-token pace",
        "- vocoder: `mel` [B, 80, T] input, `audio` [B, 256 T] = `convert_spectrogram_to_audio(mel)`,",
        "  `mel_lens` / `audio_lens` where the mel came from FastPitch",
        "",
        "## Files",
        "",
    ]
    for name, arrays in files:
        lines.append(
            f"- `{name}`: "
            + ", ".join(f"`{k}` {list(s)}" + ("" if d == "float32" else f" {d}") for k, (s, d) in arrays.items())
        )
    lines += [
        "- `tokenizer_arpabet.json` (fastpitch_tiny) / `tokenizer_ipa.json` (fastpitch_tiny_multi): token",
        "  table, pad/blank/oov/space ids, punctuation list, tokenizer + G2P config, and per text: the",
        "  preprocessed text, the G2P output, `ids` from `model.parse(text, normalize=False)` and their symbols",
        "",
        README_NOTES,
    ]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="tests/fixtures/nemo")
    ap.add_argument(
        "--nemo-src",
        default=os.environ.get("NEMO_SRC", "/tmp/nemo-src"),
        help="a NeMo checkout (needs examples/tts/conf and scripts/tts_dataset_files)",
    )
    ap.add_argument("--full", action="store_true", help="build the default-size models instead of the tiny ones")
    ap.add_argument("--full-out", default="~/.cache/sonorant-fixtures/nemo-full")
    args = ap.parse_args(argv)
    import nemo

    assert nemo.__version__ == NEMO_VERSION, f"expected NeMo {NEMO_VERSION}, found {nemo.__version__}"
    if args.full:
        build_full(args)
    else:
        build_tiny(args)


if __name__ == "__main__":
    main()
