"""Deeply nested SSML (issue 13): any depth is read, or refused with an SSMLError, never a RecursionError;
problems are logged once per kind per document, not once per element."""

from __future__ import annotations

import logging
import sys

import pytest

import sonorant
from sonorant.text.ssml import SSMLError, parse_ssml

DEEP = 10_000
"""Far deeper than Python's recursion limit."""
assert DEEP > 5 * sys.getrecursionlimit()


def _nested(open_tag: str, close_tag: str, depth: int, inner: str = "hi") -> str:
    return f"<speak>{open_tag * depth}{inner}{close_tag * depth}</speak>"


def _spoken(ssml: str) -> str:
    return " ".join(s.text for s in parse_ssml(ssml) if s.text)


@pytest.mark.parametrize("depth", [500, DEEP])
@pytest.mark.parametrize(
    ("open_tag", "close_tag"),
    [
        ("<p>", "</p>"),
        ("<s>", "</s>"),
        ("<emphasis>", "</emphasis>"),
        ("<prosody>", "</prosody>"),
        ("<audio>", "</audio>"),
        ("<voice>", "</voice>"),  # unsupported: content spoken
    ],
)
def test_deep_nesting_of_one_element_speaks_its_content(open_tag: str, close_tag: str, depth: int) -> None:
    assert _spoken(_nested(open_tag, close_tag, depth)) == "hi"


@pytest.mark.parametrize(
    ("open_tag", "close_tag", "spoken"),
    [
        ('<say-as interpret-as="cardinal">', "</say-as>", "1,234"),
        ('<sub alias="one two three four">', "</sub>", "one two three four"),
        ('<prosody rate="fast">', "</prosody>", "1234"),
        ('<prosody rate="slow">', "</prosody>", "1234"),
    ],
)
def test_deep_nesting_of_replacing_elements(open_tag: str, close_tag: str, spoken: str) -> None:
    assert _spoken(_nested(open_tag, close_tag, DEEP, "1234")) == spoken


def test_deep_mixed_nesting_keeps_document_order_and_breaks() -> None:
    cycle = ['<p>', '<prosody rate="90%">', "<emphasis>", "<s>", '<prosody rate="110%">']
    closes = ["</p>", "</prosody>", "</emphasis>", "</s>", "</prosody>"]
    depth = DEEP // len(cycle)
    opening = "".join(f"{cycle[i % 5]}w{i}<break time='1ms'/>" for i in range(depth))
    closing = "".join(closes[i % 5] for i in reversed(range(depth)))
    segments = parse_ssml(f"<speak>{opening}{closing}</speak>")
    words = " ".join(s.text for s in segments).split()
    assert words == [f"w{i}" for i in range(depth)]
    assert sum(s.break_after for s in segments) == pytest.approx(depth * 0.001)


def test_deep_say_as_characters_inside_sub_and_phoneme() -> None:
    inner = '<say-as interpret-as="characters">ab</say-as>'
    ssml = _nested("<emphasis>", "</emphasis>", DEEP, f'<sub alias="x">{inner}</sub><phoneme ph="hi">{inner}</phoneme>')
    assert [(s.text, s.source, s.phonemes) for s in parse_ssml(ssml)] == [("x", "ab", None), ("ab", "", "hi")]


def test_deep_bad_attribute_is_an_ssml_error() -> None:
    with pytest.raises(SSMLError, match="rate"):
        parse_ssml(_nested("<emphasis>", "</emphasis>", DEEP, '<prosody rate="warp">x</prosody>'))


def _ssml_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sonorant.text.ssml" and r.levelno >= logging.WARNING]


def test_nested_prosody_clamping_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sonorant.text.ssml"):
        segments = parse_ssml(_nested('<prosody rate="50%">', "</prosody>", 130))
    assert [s.text for s in segments] == ["hi"]
    warnings = _ssml_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "clamped" in warnings[0] and "times" in warnings[0]


def test_many_unsupported_elements_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    body = " ".join(f"<x{i % 7}>w</x{i % 7}>" for i in range(1000))
    with caplog.at_level(logging.WARNING, logger="sonorant.text.ssml"):
        segments = parse_ssml(f"<speak>{body}</speak>")
    assert segments[0].text.split() == ["w"] * 1000
    warnings = _ssml_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "1000 times" in warnings[0] and "<x0>" in warnings[0] and "<x3>" in warnings[0]


def test_one_line_per_kind_of_problem(caplog: pytest.LogCaptureFixture) -> None:
    ssml = _nested('<prosody pitch="high" rate="50%">', "</prosody>", 200, '<say-as interpret-as="unit">5kg</say-as>')
    with caplog.at_level(logging.WARNING, logger="sonorant.text.ssml"):
        parse_ssml(ssml)
    warnings = _ssml_warnings(caplog)
    assert len(warnings) == 3, warnings  # pitch ignored, rates clamped, say-as unit unsupported


def test_break_content_is_spoken_not_dropped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sonorant.text.ssml"):
        segments = parse_ssml("<speak>a <break time='1s'>b</break> c</speak>")
    assert [(s.text, s.break_after) for s in segments] == [("a", 1.0), ("b c", 0.0)]
    assert any("<break>" in w for w in _ssml_warnings(caplog))


# ------------------------------------------------------------------------------------- through the voice
@pytest.mark.parametrize("depth", [500, DEEP])
def test_voice_plans_and_analyzes_deep_ssml(joe: sonorant.Voice, depth: int) -> None:
    ssml = _nested("<p>", "</p>", depth)
    (plan,) = joe.plan(ssml)
    assert plan.normalized == "hi"
    assert "hi" in joe.analyze(ssml)
    mixed = _nested('<prosody rate="fast"><emphasis><s>', "</s></emphasis></prosody>", depth // 3, "Hello there.")
    assert [p.normalized for p in joe.plan(mixed)] == ["Hello there."]


def test_voice_synthesizes_and_streams_deep_ssml(joe: sonorant.Voice) -> None:
    ssml = _nested("<p>", "</p>", 2_000)
    cfg = sonorant.SynthesisConfig(seed=1)
    audio = joe.synthesize(ssml, cfg)
    assert audio.samples.size > 0
    chunks = list(joe.stream(ssml, cfg))
    assert chunks and sum(c.samples.size for c in chunks) == audio.samples.size
