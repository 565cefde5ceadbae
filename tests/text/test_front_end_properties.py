"""Properties of the whole front end (issue 13), through the public `Voice` entry points:

- any SSML tree (up to 10,000 deep; the supported elements with good and bad attributes, text at any
  level) is planned, analyzed, synthesized and streamed, or refused with a SonorantError;
- any text of letters, digits and punctuation likewise;
- single letters separated by spaces are spoken one letter name per letter, each name being espeak's
  own reading of that letter alone.

Each property is bounded (max_examples) so that the file runs in well under a minute on two cores.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Union
from xml.sax.saxutils import escape

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sonorant
from sonorant import SonorantError
from sonorant.text import get_phonemizer, normalize
from tiny_voices import TinyVoice

MAX_DEPTH = 10_000

# Per element: the attribute strings it may get (good and bad ones), and whether it may have content.
ELEMENTS: dict[str, tuple[list[str], bool]] = {
    "p": ([""], True),
    "s": ([""], True),
    "emphasis": (["", ' level="strong"', ' level="none"'], True),
    "prosody": (["", ' rate="50%"', ' rate="fast"', ' rate="x-slow"', ' rate="150%"', ' rate="2"',
                 ' pitch="high"', ' rate="warp"', ' rate="0%"'], True),
    "say-as": ([' interpret-as="characters"', ' interpret-as="spell-out"', ' interpret-as="cardinal"',
                ' interpret-as="ordinal"', ' interpret-as="digits"', ' interpret-as="telephone"',
                ' interpret-as="date" format="mdy"', ' interpret-as="date" format="qq"', ' interpret-as="time"',
                ' interpret-as="unit"', ""], True),
    "sub": ([' alias="World Wide Web"', ' alias="A B C"', ' alias=""', ""], True),
    "phoneme": ([' ph="həlˈoʊ"', ' alphabet="ipa" ph="ˈeɪ"', ' alphabet="espeak" ph="h@l\'oU"',
                 ' alphabet="x-sampa" ph="a"', ' ph="a ]] b"', ""], True),
    "break": ([' time="10ms"', ' time="0.2s"', ' strength="weak"', "", ' time="later"', ' time="90s"'], True),
    "audio": ([' src="a.wav"'], True),
    "mark": ([' name="m"'], False),
    "voice": ([' name="x"'], True),  # unsupported: its content is spoken
}
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .,;:!?'-/$%&<>", max_size=12)


@dataclass(frozen=True)
class Node:
    tag: str
    attrs: str
    children: tuple[Union["Node", str], ...]


def _render(node: Union[Node, str], out: list[str]) -> None:
    """XML of a small random subtree (recursion is fine here: these are a few levels deep)."""
    if isinstance(node, str):
        out.append(escape(node))
        return
    if not node.children or not ELEMENTS[node.tag][1]:
        out.append(f"<{node.tag}{node.attrs}/>")
        return
    out.append(f"<{node.tag}{node.attrs}>")
    for child in node.children:
        _render(child, out)
    out.append(f"</{node.tag}>")


def _element(children: st.SearchStrategy[tuple[Union[Node, str], ...]]) -> st.SearchStrategy[Node]:
    return st.sampled_from(sorted(ELEMENTS)).flatmap(
        lambda tag: st.builds(Node, st.just(tag), st.sampled_from(ELEMENTS[tag][0]), children)
    )


SUBTREES = st.recursive(TEXT, lambda kids: _element(st.lists(kids, max_size=3).map(tuple)), max_leaves=8)


@st.composite
def ssml_documents(draw: st.DrawFn, max_text: int = 6) -> str:
    """A <speak> document: a spine of up to MAX_DEPTH nested elements (a random cycle of kinds and
    attributes), random subtrees hung at a few random depths, and text at a few others."""
    depth = draw(st.one_of(st.integers(0, 40), st.integers(0, MAX_DEPTH), st.just(MAX_DEPTH)))
    kinds = [k for k in sorted(ELEMENTS) if ELEMENTS[k][1]]
    cycle = draw(st.lists(st.tuples(st.sampled_from(kinds), st.integers(0, 100)), min_size=1, max_size=5))
    spine = [(tag, ELEMENTS[tag][0][pick % len(ELEMENTS[tag][0])]) for tag, pick in cycle]
    extras: dict[int, list[str]] = {}
    for _ in range(draw(st.integers(0, max_text))):
        level = draw(st.integers(0, depth))
        item = draw(st.one_of(TEXT, SUBTREES))
        rendered: list[str] = []
        _render(item, rendered)
        extras.setdefault(level, []).append("".join(rendered))
    out = ["<speak>"]
    for level in range(depth):
        tag, attrs = spine[level % len(spine)]
        out.append(f"<{tag}{attrs}>")
        out.extend(extras.get(level, []))
    out.extend(extras.get(depth, []))
    out.extend(f"</{spine[level % len(spine)][0]}>" for level in reversed(range(depth)))
    out.append("</speak>")
    document = "".join(out)
    if draw(st.integers(0, 9)) == 7:  # now and then a malformed document: cut short
        document = document[: draw(st.integers(1, len(document) - 1))]
    return document


@pytest.fixture(scope="module")
def tiny(tiny_x_low_voice: TinyVoice) -> sonorant.Voice:
    """A tiny random-weight voice with joe's front end (en-us espeak): fast to synthesize."""
    return sonorant.load_voice(tiny_x_low_voice.onnx_path)


def _returns_or_refuses(call: Callable[[], object]) -> object:
    """The call's result, or None when it raised a SonorantError (anything else propagates and fails)."""
    try:
        return call()
    except SonorantError:
        return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ssml_documents())
def test_any_ssml_tree_is_planned_or_refused(joe: sonorant.Voice, document: str) -> None:
    plans = _returns_or_refuses(lambda: joe.plan(document))
    assert plans is None or isinstance(plans, list)
    trace = _returns_or_refuses(lambda: joe.analyze(document))
    assert (trace is None) == (plans is None)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ssml_documents(max_text=2))
def test_any_ssml_tree_is_synthesized_or_refused(tiny: sonorant.Voice, document: str) -> None:
    cfg = sonorant.SynthesisConfig(seed=0)
    audio = _returns_or_refuses(lambda: tiny.synthesize(document, cfg))
    assert audio is None or isinstance(audio, sonorant.Audio) and np.isfinite(audio.samples).all()
    chunks = _returns_or_refuses(lambda: list(tiny.stream(document, cfg)))
    assert (chunks is None) == (audio is None)


PLAIN = st.text(alphabet=string.ascii_letters + string.digits + string.punctuation + "  ", max_size=60)


@settings(max_examples=60, deadline=None)
@given(PLAIN)
def test_any_text_of_letters_digits_and_punctuation_is_planned_or_refused(joe: sonorant.Voice, text: str) -> None:
    assert isinstance(normalize(text), str)
    for entry in (joe.plan, joe.analyze, joe.phonemes, joe.phoneme_ids):
        _returns_or_refuses(lambda: entry(text))
    _returns_or_refuses(lambda: joe.plan(text, normalize=False))


@settings(max_examples=4, deadline=None)
@given(PLAIN.map(lambda text: text[:20]))
def test_any_text_of_letters_digits_and_punctuation_is_synthesized_or_refused(
    tiny: sonorant.Voice, text: str
) -> None:
    cfg = sonorant.SynthesisConfig(seed=0)
    audio = _returns_or_refuses(lambda: tiny.synthesize(text, cfg))
    chunks = _returns_or_refuses(lambda: list(tiny.stream(text, cfg)))
    assert (chunks is None) == (audio is None)
    batch = _returns_or_refuses(lambda: tiny.synthesize_batch([text, "Hello."], cfg))
    assert (batch is None) == (audio is None)


_UNMARKED = str.maketrans("", "", "ˈˌʲ")


@functools.lru_cache(maxsize=None)
def _letter_name(letter: str, voice: str) -> str:
    """espeak's reading of ``letter`` alone, stress marks left out."""
    sentences = get_phonemizer().phonemize(letter, voice)
    return "".join("".join(s) for s in sentences).strip().translate(_UNMARKED)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(string.ascii_letters), min_size=1, max_size=14))
def test_spaced_letters_are_spoken_one_name_each(joe: sonorant.Voice, letters: list[str]) -> None:
    plans = joe.plan(" ".join(letters))
    spoken = " ".join("".join(p.phonemes) for p in plans).translate(_UNMARKED).split()
    assert spoken == [_letter_name(c, joe.config.espeak_voice) for c in letters]
