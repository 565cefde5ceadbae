"""Token voices end to end: a token model exported as a voice directory, loaded by `load_voice`, speaking
through a unit codec over joe (the committed tiny codebook): tokens, audio, streaming, batching, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import sonorant
from sonorant import SynthesisConfig
from sonorant.errors import ConfigError, DecodeLimitError, VoiceError
from sonorant.models.tokens import StackConfig, TokenModelConfig
from sonorant.models.tokens.model import TokenTransformer
from sonorant.voices.tokenvoice_loader import export_token_voice

CODEC = Path(__file__).resolve().parents[1] / "fixtures" / "units" / "joe_reg_k64_f2.npz"
BINS, BOS, EOS = 64, 64, 65
HOP = 256 * 2  # joe's hop x 2 latent frames per unit


def tiny_model(eos_bias: float = 0.0) -> TokenTransformer:
    common = dict(dim=32, heads=4, head_dim=8, ffn_dim=64, ffn="geglu", gelu="exact", norm="rms", bias=False,
                  positions="rotary")
    cfg = TokenModelConfig(src_vocab=256, tgt_vocab=66,
                           encoder=StackConfig(layers=1, kv_heads=4, causal=False, **common),
                           decoder=StackConfig(layers=2, kv_heads=2, cross=True, null_kv=True, **common),
                           bos=BOS, eos=EOS, pad=EOS, start_vector=True, logits_bias=True, early_exit_layer=1,
                           max_target=200)
    torch.manual_seed(0)
    model = TokenTransformer(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
        for bias in (model.head_bias, model.exit_head.bias):
            bias.zero_()
            bias[EOS] = eos_bias
            bias[BOS] = -30.0  # never emitted
    return model


@pytest.fixture(scope="module")
def voice_dir(tmp_path_factory) -> Path:
    assert CODEC.is_file(), f"missing committed fixture {CODEC}"
    out = tmp_path_factory.mktemp("tokvoice") / "voice"
    return export_token_voice(tiny_model(), out, codec=CODEC, frontend={"kind": "phonemes", "voice": "joe"},
                              name="tiny-units", max_tokens=150)


@pytest.fixture(scope="module")
def voice(voice_dir: Path):
    return sonorant.load_voice(voice_dir)


SAMPLE = SynthesisConfig(decoding="sample", temperature=1.0, seed=7)


def test_export_files_share_one_mode(voice_dir: Path) -> None:
    """The weights are as readable as the rest of the directory (safetensors' writer makes files 0600)."""
    modes = {p.name: p.stat().st_mode & 0o777 for p in voice_dir.iterdir() if p.is_file()}
    assert len(set(modes.values())) == 1, modes


def test_loads_as_a_token_voice(voice) -> None:
    assert voice.family == "tokens" and voice.card.tokens
    assert voice.runtime.name == "eager"  # "auto" on a CPU: ONNX Runtime does not run token models
    assert voice.sample_rate == 22050


def test_tokens_and_audio_agree(voice) -> None:
    text = "Hello there. How are you today?"
    tokens = voice.tokens(text, SAMPLE)
    assert len(tokens) == 2 and all(t[-1] == EOS for t in tokens)
    assert [t.tolist() for t in tokens] == [t.tolist() for t in voice.tokens(text, SAMPLE)]  # seeded
    audio = voice.synthesize(text, SAMPLE)
    assert len(audio.samples) == sum((len(t) - 1) * HOP for t in tokens)
    assert np.abs(audio.samples).max() > 1e-3


def test_batch_and_stream_equal_single(voice) -> None:
    texts = ["One small step.", "The rain in Spain stays mainly in the plain."]
    cfg = SynthesisConfig(decoding="sample", temperature=1.0, seed=3)
    single = [voice.synthesize(t, cfg).samples for t in texts]
    batched = [a.samples for a in voice.synthesize_batch(texts, cfg)]
    assert len(single[0]) > 50 * HOP
    for a, b in zip(single, batched):
        assert a.shape == b.shape and (a.size == 0 or np.abs(a - b).max() < 1e-5)
    chunks = [c.samples for c in voice.stream(texts[0], cfg)]
    assert len(chunks) > 2  # growing chunks, the codec's state carried across them
    streamed = np.concatenate(chunks)
    assert streamed.shape == single[0].shape and np.abs(streamed - single[0]).max() < 1e-5


def test_every_decoding_method_speaks(voice) -> None:
    text = "Speak to me."
    ended = 0
    for cfg in (SynthesisConfig(decoding="greedy", max_tokens=150),
                SynthesisConfig(decoding="sample", top_k=8, top_p=0.9, temperature=0.8, seed=3),
                SynthesisConfig(decoding="speculative", temperature=1.0, draft=3, seed=3),
                SynthesisConfig(decoding="beam", beams=3)):
        try:
            tokens = voice.tokens(text, cfg)[0]
        except DecodeLimitError:  # a random model may loop under greedy/beam: the bound is an error, not a cut
            continue
        assert tokens[-1] == EOS and (tokens[:-1] < BINS).all()
        ended += 1
    assert ended >= 1  # at least one method ended on this random model (the loop cannot pass vacuously)
    def tokens(cfg: SynthesisConfig) -> list[list[int]]:
        try:
            return [t.tolist() for t in voice.tokens(text, cfg)]
        except DecodeLimitError as err:
            return [t.tolist() for t in err.tokens]

    greedy = tokens(SynthesisConfig(decoding="greedy", max_tokens=40))
    assert len(greedy[0]) > 5
    assert tokens(SynthesisConfig(decoding="speculative", temperature=0.0, draft=3, max_tokens=40)) == greedy


def test_bad_settings_and_files_are_clear_errors(voice, voice_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="decoding must be one of"):
        voice.synthesize("Hi.", SynthesisConfig(decoding="nucleus"))
    with pytest.raises(ConfigError, match="beams must be an integer"):
        voice.synthesize("Hi.", SynthesisConfig(decoding="beam", beams=0))
    with pytest.raises(DecodeLimitError, match="did not end within 2 tokens"):
        voice.synthesize("Hi there, how are you?", SynthesisConfig(decoding="greedy", max_tokens=2))
    with pytest.raises(ConfigError, match="token voice: it runs on the eager, compile or xla runtime"):
        sonorant.load_voice(voice_dir, runtime="onnx")
    with pytest.raises(VoiceError, match="exists and is not empty"):
        export_token_voice(tiny_model(), voice_dir, codec=CODEC, frontend={"kind": "bytes"}, name="x")
    (tmp_path / "voice.json").write_text('{"format": "sonorant-token-voice", "version": 9}')
    with pytest.raises(VoiceError, match="version 9"):
        sonorant.load_voice(tmp_path)
    with pytest.raises(ConfigError, match="only token voices generate tokens"):
        sonorant.load_voice("joe", runtime="eager").tokens("Hi.")


def test_speak_cli(voice_dir: Path, tmp_path: Path) -> None:
    from sonorant.__main__ import main

    out = tmp_path / "out.wav"
    assert main(["speak", "--voice", str(voice_dir), "--decoding", "sample", "--seed", "3",
                 "-o", str(out), "One small step."]) == 0
    import soundfile as sf

    data, rate = sf.read(out)
    assert rate == 22050 and len(data) > 0


def test_the_server_gives_a_token_voice_its_own_scheduler(voice) -> None:
    """Served token voices are tested in tests/serve/test_token_voice.py; here: this family is accepted."""
    from sonorant.engine.token_scheduler import TokenScheduler
    from sonorant.serve.service import SpeechService

    service = SpeechService([voice])
    assert isinstance(service.scheduler_for(voice), TokenScheduler)
    assert list(service.token_schedulers) == [voice.name]


def test_the_bench_refuses_token_voices_clearly(voice_dir: Path, capsys) -> None:
    from sonorant.__main__ import main

    assert main(["bench", "--voice", str(voice_dir)]) == 2
    assert "is a token voice: `sonorant bench` times stage-graph families" in capsys.readouterr().err
