"""sonorant's port of NeMo's TTS tokenizers (sonorant.text.nemo) against ids NeMo 2.7.3 gave.

The parity tests read tests/fixtures/nemo/: two tiny FastPitch ``.nemo`` files (ARPAbet
``EnglishPhonemesTokenizer`` + ``EnglishG2p``; IPA ``IPATokenizer`` + ``IpaG2p``) and, per model, the
texts NeMo's ``FastPitchModel.parse(text, normalize=False)`` was run on with the ids it gave, its token
table and its special ids. The other tests use small dictionaries written here.
"""

from __future__ import annotations

import json
import logging
import tarfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sonorant.errors import ConfigError, VoiceError
from sonorant.text import get_phonemizer
from sonorant.text.nemo import ArpabetTokenizer, IpaTokenizer, NemoTokenizer
from sonorant.text.pipeline import TextPipeline

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nemo"
ENGLISH = "nemo.collections.common.tokenizers.text_to_speech.tts_tokenizers.EnglishPhonemesTokenizer"
IPA = "nemo.collections.common.tokenizers.text_to_speech.tts_tokenizers.IPATokenizer"
ENGLISH_G2P = "nemo.collections.tts.g2p.models.en_us_arpabet.EnglishG2p"
IPA_G2P = "nemo.collections.tts.g2p.models.i18n_ipa.IpaG2p"
UUID = "0123456789abcdef0123456789abcdef"
QUICK = "The quick brown fox jumps over the lazy dog."

# --- NeMo's own ids (the committed fixture) -------------------------------------------------------


def _reference(kind: str) -> dict[str, Any]:
    path = FIXTURES / f"tokenizer_{kind}.json"
    assert path.exists(), f"{path} is missing (the NeMo fixtures are made by tools/nemo_fixtures.py and committed)"
    return json.loads(path.read_text(encoding="utf-8"))


def _archive(name: str) -> tuple[dict[str, bytes], bytes]:
    """The small files of a ``.nemo`` (name -> bytes, as stored) and its model_config.yaml."""
    files: dict[str, bytes] = {}
    with tarfile.open(FIXTURES / name) as tar:
        for member in tar.getmembers():
            if member.isfile() and not member.name.endswith(".ckpt"):
                data = tar.extractfile(member)
                assert data is not None
                files[member.name] = data.read()
    config = next(data for name, data in files.items() if name.endswith("model_config.yaml"))
    return files, config


@pytest.fixture(scope="module", params=["arpabet", "ipa"])
def nemo(request: pytest.FixtureRequest) -> tuple[dict[str, Any], NemoTokenizer]:
    ref = _reference(request.param)
    artifacts, _ = _archive(ref["model_file"])
    g2p_cfg = {**ref["g2p_config"], **ref["g2p_files"]}
    return ref, NemoTokenizer.from_config(ref["tokenizer_config"], g2p_cfg, artifacts)


def test_the_fixture_config_is_the_archives(nemo: tuple[dict[str, Any], NemoTokenizer]) -> None:
    """The config in the JSON is the one in the .nemo, and reading it nested (as the .nemo has it) works."""
    yaml = pytest.importorskip("yaml")
    ref, tokenizer = nemo
    artifacts, config = _archive(ref["model_file"])
    section = yaml.safe_load(config)["text_tokenizer"]
    assert section == {**ref["tokenizer_config"], "g2p": {**ref["g2p_config"], **ref["g2p_files"]}}
    again = NemoTokenizer.from_config(section, None, artifacts)
    assert again.tokens == tokenizer.tokens
    assert [again.encode(c["text"]) for c in ref["cases"][:10]] == [tokenizer.encode(c["text"]) for c in ref["cases"][:10]]


def test_table_and_special_ids_match_nemo(nemo: tuple[dict[str, Any], NemoTokenizer]) -> None:
    ref, tokenizer = nemo
    assert tokenizer.tokens == ref["tokens"]
    assert tokenizer.vocab_size == ref["n_tokens"] == len(ref["tokens"])
    assert (tokenizer.pad_id, tokenizer.blank_id, tokenizer.oov_id) == (ref["pad"], ref["blank"], ref["oov"])
    assert tokenizer.space_id == ref["space"] and tokenizer.space == ref["space_symbol"]
    assert sorted(tokenizer.punct) == sorted(ref["punct_list"])
    assert tokenizer.pad_with_space == ref["pad_with_space"]


def test_every_reference_text_gives_nemos_ids(nemo: tuple[dict[str, Any], NemoTokenizer]) -> None:
    ref, tokenizer = nemo
    checked = 0
    for case in ref["cases"]:
        if case.get("ids") is None:
            continue  # NeMo itself failed on this text (see test_texts_nemo_fails_on)
        assert tokenizer.encode(case["text"]) == case["ids"], case["text"]
        framed = [tokenizer.space, *tokenizer.symbols(case["text"]), tokenizer.space]
        assert (framed if tokenizer.pad_with_space else framed[1:-1]) == case["symbols"], case["text"]
        checked += 1
    assert checked >= 25


def test_texts_nemo_fails_on(nemo: tuple[dict[str, Any], NemoTokenizer]) -> None:
    """NeMo's IPA tokenizer raises IndexError on a text of only spaces (it keeps the spaces, then pops
    them all as trailing ones); the port gives just the framing."""
    ref, tokenizer = nemo
    for case in ref["cases"]:
        if case.get("ids") is None:
            expected = [tokenizer.space_id] * 2 if tokenizer.pad_with_space else []
            assert tokenizer.encode(case["text"]) == expected


def test_long_text_is_not_truncated(nemo: tuple[dict[str, Any], NemoTokenizer]) -> None:
    """No 128-token cap (the seed system's bug): a sentence repeated reads as NeMo reads it once, each time."""
    ref, tokenizer = nemo
    once = next(case["ids"] for case in ref["cases"] if case["text"] == QUICK)
    inner = once[1:-1] if tokenizer.pad_with_space else once
    space = tokenizer.space_id
    ids = tokenizer.encode(" ".join([QUICK] * 12))
    expected = [*inner, *[i for _ in range(11) for i in (space, *inner)]]
    assert ids == ([space, *expected, space] if tokenizer.pad_with_space else expected)
    assert len(ids) > 400


def test_unknown_characters_are_skipped_as_nemo_does_with_one_warning_each(
    nemo: tuple[dict[str, Any], NemoTokenizer], caplog: pytest.LogCaptureFixture
) -> None:
    ref, _ = nemo
    artifacts, _ = _archive(ref["model_file"])
    tokenizer = NemoTokenizer.from_config(ref["tokenizer_config"], {**ref["g2p_config"], **ref["g2p_files"]}, artifacts)
    ids = next(case["ids"] for case in ref["cases"] if case["text"] == "日本語 text")
    with caplog.at_level(logging.WARNING, logger="sonorant.text.nemo"):
        assert tokenizer.encode("日本語 text") == ids
        assert tokenizer.encode("日本語 text") == ids
        assert tokenizer.symbols("本") == []
    warned = [r.getMessage() for r in caplog.records if r.name == "sonorant.text.nemo"]
    assert sorted(m[:3] for m in warned) == sorted(f"{c!r}" for c in "日本語")  # once each, whatever the calls


def test_phoneme_blocks_read_as_the_voices_symbols(nemo: tuple[dict[str, Any], NemoTokenizer]) -> None:
    ref, tokenizer = nemo
    if isinstance(tokenizer, ArpabetTokenizer):  # what NeMo's |HH AH0 L OW1| does
        nemo_ids = next(case["ids"] for case in ref["cases"] if case["text"] == "say |HH AH0 L OW1| now")
        assert tokenizer.encode("say [[ HH AH0 L OW1 ]] now") == nemo_ids
    else:  # IPA characters, NFC
        assert tokenizer.symbols("[[ həˈlo\u028a ]]") == list("həˈloʊ")
        assert tokenizer.symbols("say [[ ə ]]") == [*tokenizer.symbols("say"), " ", "ə"]


# --- properties -----------------------------------------------------------------------------------

CMUDICT = b"""\
;;; a comment
HELLO  HH AH0 L OW1
WORLD  W ER1 L D
READ  R EH1 D
READ(1)  R IY1 D
RECORD  R EH1 K ER0 D
RECORD(1)  R IH0 K AO1 R D
CAT  K AE1 T
DOG  D AO1 G
THE  DH AH0
THE(1)  DH AH1
THE(2)  DH IY0
AIRPORT  EH1 R P AO2 R T
JONES  JH OW1 N Z
WELL  W EH1 L
KNOWN  N OW1 N
DON'T  D OW1 N T
FIVE  F AY1 V
DOLLARS  D AA1 L ER0 Z
I  AY1
HAVE  HH AE1 V
THREE  TH R IY1
APPLES  AE1 P AH0 L Z
A  AH0
A(1)  EY1
B  B IY1
C  S IY1
"""
IPA_DICT = """\
HELLO  həˈloʊ
WORLD  ˈwɝld
READ  ˈɹɛd
READ  ˈɹid
CAT  ˈkæt
AIRPORT  ˈɛɹˌpɔɹt
JONES  ˈdʒoʊnz
DOG  ˈdɔɡ
THE  ðə
SAY  ˈseɪ
KISS  ˈkɪs
""".encode()


def _arpabet(**overrides: Any) -> NemoTokenizer:
    g2p = {"_target_": ENGLISH_G2P, "phoneme_dict": f"nemo:{UUID}_cmudict", "heteronyms": f"nemo:{UUID}_heteronyms"}
    cfg = {"_target_": ENGLISH, "punct": True, "stresses": True, "chars": True, "apostrophe": True,
           "pad_with_space": True, "g2p": g2p, **overrides}
    return NemoTokenizer.from_config(cfg, None, {f"./{UUID}_cmudict": CMUDICT, f"./{UUID}_heteronyms": b"record\n"})


def _ipa(**overrides: Any) -> NemoTokenizer:
    g2p = {"_target_": IPA_G2P, "phoneme_dict": f"nemo:{UUID}_ipa.txt", "use_chars": True, "grapheme_prefix": "#"}
    cfg = {"_target_": IPA, "punct": True, "apostrophe": True, "pad_with_space": True, "g2p": g2p, **overrides}
    return NemoTokenizer.from_config(cfg, None, {f"{UUID}_ipa.txt": IPA_DICT})


ARPABET = _arpabet()
IPA_TOKENIZER = _ipa()


def test_arpabet_rules() -> None:
    tok = ARPABET
    assert tok.symbols("Hello, world!") == ["HH", "AH0", "L", "OW1", ",", " ", "W", "ER1", "L", "D", "!"]
    assert tok.symbols("read") == list("read")  # ambiguous: letters (ignore_ambiguous_words)
    assert tok.symbols("record") == list("record")  # heteronym: letters
    assert tok.symbols("cats") == ["K", "AE1", "T", "Z"]  # known word + s
    assert tok.symbols("Cat's") == ["K", "AE1", "T", "Z"]
    assert tok.symbols("well-known") == ["W", "EH1", "L", "-", "N", "OW1", "N"]
    assert tok.symbols("Don’t") == ["D", "OW1", "N", "T"]  # curly apostrophe read as "'"
    assert tok.symbols("café") == list("cafe")  # accents dropped, unknown word spelled
    assert tok.symbols("a | b") == ["a", " ", "B", "IY1"]  # "a" is ambiguous; a lone "|" is dropped
    unstressed = _arpabet(stresses=False, chars=False)
    assert unstressed.symbols("Hello xyz") == ["HH", "AH", "L", "OW"]  # no letters in the table: dropped


def test_ipa_rules() -> None:
    tok = IPA_TOKENIZER
    assert tok.symbols("Hello world") == [*"həˈloʊ", " ", *"ˈwɝld"]
    assert tok.symbols("airports") == [*"ˈɛɹˌpɔɹt", "s"]  # /s/ after t
    assert tok.symbols("Jones's") == [*"ˈdʒoʊnz", "ɪ", "z"]  # /ɪz/ after s
    assert tok.symbols("cats") == [*"ˈkæt", "s"]
    assert tok.symbols("dogs") == [*"ˈdɔɡ", "z"]
    assert tok.symbols("Read") == ["#R", "#E", "#A", "#D"]  # ambiguous: prefixed graphemes
    assert tok.symbols("hi  there")[:4] == ["#H", "#I", " ", " "]
    assert tok.symbols("  the") == [" ", " ", *"ðə"]  # NeMo's IPA tokenizer keeps leading and double spaces


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_encodes_deterministically_within_the_table(text: str) -> None:
    for tokenizer in (ARPABET, IPA_TOKENIZER):
        ids = tokenizer.encode(text)
        assert ids == tokenizer.encode(text)
        assert all(0 <= i < tokenizer.vocab_size for i in ids)
        assert ids == tokenizer.symbol_ids(tokenizer.symbols(text))
        if tokenizer.pad_with_space:
            assert ids[0] == ids[-1] == tokenizer.space_id


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["hello", "World", "cat", "the", "dog", ",", ".", "xyz", "well-known"]), max_size=200))
def test_a_text_reads_as_its_words_in_turn(words: list[str]) -> None:
    """Nothing is lost or cut, however long the text: its symbols are its words' symbols, spaced."""
    expected: list[str] = []
    for word in words:
        expected += [" ", *ARPABET.symbols(word)] if expected else ARPABET.symbols(word)
    assert ARPABET.symbols(" ".join(words)) == expected
    assert len(ARPABET.encode(" ".join(words))) == len(expected) + 2


def test_config_errors() -> None:
    with pytest.raises(VoiceError, match="not supported"):
        NemoTokenizer.from_config({"_target_": "x.EnglishCharsTokenizer"}, None, {})
    with pytest.raises(VoiceError, match="no file"):
        NemoTokenizer.from_config({"_target_": ENGLISH, "g2p": {"_target_": ENGLISH_G2P, "phoneme_dict": "nemo:x_y"}})
    with pytest.raises(VoiceError, match="unknown argument"):
        _arpabet(spaces=True)
    with pytest.raises(VoiceError, match="not supported"):
        _arpabet(g2p={"_target_": ENGLISH_G2P, "phoneme_dict": f"nemo:{UUID}_cmudict", "apply_to_oov_word": "x"})
    with pytest.raises(VoiceError, match="no g2p"):
        NemoTokenizer.from_config({"_target_": IPA}, None, {})


def test_special_ids_follow_add_blank_at() -> None:
    plain = _arpabet()
    assert plain.tokens[-2:] == ["<pad>", "<oov>"] and plain.blank_id is None
    last = _arpabet(add_blank_at="last")
    assert last.tokens[-3:] == ["<pad>", "<oov>", "<blank>"]
    assert (last.pad_id, last.oov_id, last.blank_id) == (len(last.tokens) - 3, len(last.tokens) - 2, len(last.tokens) - 1)
    assert isinstance(_ipa(add_blank_at=True), IpaTokenizer)


def test_a_plain_path_finds_its_artifact_by_name() -> None:
    g2p = {"_target_": ENGLISH_G2P, "phoneme_dict": "scripts/tts_dataset_files/cmudict"}
    tok = NemoTokenizer.from_config({"_target_": ENGLISH}, g2p, {f"{UUID}_cmudict": CMUDICT})
    assert tok.symbols("cat") == ["K", "AE", "T"]


# --- in the text pipeline ---------------------------------------------------------------------------


def _pipeline(tokenizer: NemoTokenizer = ARPABET, **kwargs: Any) -> TextPipeline:
    return TextPipeline.for_tokenizer(tokenizer, **kwargs)


def test_pipeline_normalizes_splits_and_encodes() -> None:
    plans = _pipeline().plan("Hello world. I have $5!")
    assert [p.normalized for p in plans] == ["Hello world.", "I have five dollars!"]
    assert [p.ids for p in plans] == [ARPABET.encode("Hello world."), ARPABET.encode("I have five dollars!")]
    assert plans[0].phonemes == ARPABET.symbols("Hello world.")
    assert [p.sentence_index for p in plans] == [0, 1]


def test_pipeline_ssml_pauses_rates_and_phonemes() -> None:
    ssml = (
        '<speak>Hello <break time="500ms"/> <prosody rate="50%">world</prosody>'
        '<phoneme alphabet="ipa" ph="kæt">cat</phoneme> <say-as interpret-as="characters">act</say-as></speak>'
    )
    plans = _pipeline(IPA_TOKENIZER).plan(ssml)
    assert plans[0].ids == IPA_TOKENIZER.encode("Hello") and plans[0].pause_after == pytest.approx(0.5)
    assert plans[1].length_scale == pytest.approx(2.0)
    assert plans[2].normalized == "[[ kæt ]] A C T"
    assert plans[2].phonemes == ["k", "æ", "t", " ", "#A", " ", "#C", " ", "#T"]


def test_pipeline_cuts_long_sentences_without_losing_symbols() -> None:
    text = ", ".join(["hello world the cat"] * 15) + "."
    whole = ARPABET.symbols(text)
    assert len(whole) > 128
    default = _pipeline().plan(text)
    assert len(default) == 1 and default[0].ids == ARPABET.encode(text)  # no cap below max_ids
    plans = _pipeline(max_ids=60).plan(text)
    assert len(plans) > 3 and all(len(p.ids) <= 60 for p in plans)
    assert [s for p in plans for s in p.phonemes] == whole
    assert all(p.ids == ARPABET.symbol_ids(p.phonemes) for p in plans)


def test_pipeline_analyze_and_constructor() -> None:
    trace = _pipeline().analyze("Hello world.")
    assert "HH|AH0|L|OW1" in trace
    with pytest.raises(ConfigError):
        TextPipeline(get_phonemizer(), "en-us", {}, tokenizer=ARPABET)
    with pytest.raises(ConfigError):
        _pipeline(max_ids=2)
