"""The SSML subset: every supported element, nesting, entities, errors and unsafe documents."""

from __future__ import annotations

import logging

import pytest

from sonorant.errors import TextError
from sonorant.text import letters
from sonorant.text.ssml import Segment, SSMLError, is_ssml, parse_ssml


def _texts(ssml: str) -> list[str]:
    return [s.text for s in parse_ssml(ssml)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<speak>Hi</speak>", True),
        ("  \n<speak version='1.1'>Hi</speak>", True),
        ('<?xml version="1.0" encoding="UTF-8"?>\n<speak>Hi</speak>', True),
        ("\ufeff<!-- note --><speak>Hi</speak>", True),
        ("<!DOCTYPE speak><speak>Hi</speak>", True),
        ("<speak/>", True),
        ("Hello <speak>", False),
        ("<speaker>x</speaker>", False),
        ("speak", False),
        ("", False),
    ],
)
def test_is_ssml(text: str, expected: bool) -> None:
    assert is_ssml(text) is expected


def test_plain_speak() -> None:
    assert parse_ssml("<speak>Hello   world.\n  Bye.</speak>") == [Segment(text="Hello world. Bye.")]


def test_namespaced_document() -> None:
    ssml = (
        '<?xml version="1.0"?><speak version="1.1" xmlns="http://www.w3.org/2001/10/synthesis" '
        'xml:lang="en-US"><s>Hi there</s></speak>'
    )
    assert _texts(ssml) == ["Hi there"]


def test_paragraphs_and_sentences_start_new_sentences() -> None:
    segments = parse_ssml("<speak>Intro <p><s>One</s><s>Two</s></p><p>Three</p> tail</speak>")
    assert [(s.text, s.new_sentence) for s in segments] == [
        ("Intro", False), ("One", True), ("Two", True), ("Three", True), ("tail", True)
    ]


@pytest.mark.parametrize(
    ("attrs", "seconds"),
    [
        ('time="500ms"', 0.5),
        ('time="1.5s"', 1.5),
        ('time="2s"', 2.0),
        ('time=" 250 ms "', 0.25),
        ('strength="none"', 0.0),
        ('strength="x-weak"', 0.1),
        ('strength="weak"', 0.25),
        ('strength="medium"', 0.5),
        ('strength="strong"', 0.75),
        ('strength="x-strong"', 1.0),
        ("", 0.5),
        ('time="100ms" strength="x-strong"', 0.1),
    ],
)
def test_break(attrs: str, seconds: float) -> None:
    segments = parse_ssml(f"<speak>Before <break {attrs}/> after</speak>")
    if not seconds:  # no pause: the text runs on
        assert segments == [Segment(text="Before after")]
        return
    assert [s.text for s in segments] == ["Before", "after"]
    assert segments[0].break_after == pytest.approx(seconds)
    assert segments[1].break_after == 0.0


def test_consecutive_breaks_add_up_and_a_leading_break_is_kept() -> None:
    segments = parse_ssml('<speak><break time="1s"/>A<break time="200ms"/><break time="300ms"/>B</speak>')
    assert segments[0] == Segment(text="", break_after=1.0)
    assert [(s.text, s.break_after) for s in segments[1:]] == [("A", pytest.approx(0.5)), ("B", 0.0)]


@pytest.mark.parametrize(
    ("rate", "scale"),
    [("x-slow", 2.0), ("slow", 1 / 0.75), ("medium", 1.0), ("fast", 0.8), ("x-fast", 1 / 1.5), ("80%", 1.25),
     ("200%", 0.5), ("100%", 1.0), ("1.25", 0.8)],
)
def test_prosody_rate(rate: str, scale: float) -> None:
    (segment,) = parse_ssml(f'<speak><prosody rate="{rate}">words</prosody></speak>')
    assert segment.rate == pytest.approx(scale)


def test_nested_prosody_multiplies() -> None:
    segments = parse_ssml(
        '<speak>a <prosody rate="50%">b <prosody rate="slow">c</prosody> d</prosody> e</speak>'
    )
    assert [(s.text, round(s.rate, 6)) for s in segments] == [
        ("a", 1.0), ("b", 2.0), ("c", round(2.0 / 0.75, 6)), ("d", 2.0), ("e", 1.0)
    ]


def test_prosody_pitch_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sonorant.text.ssml"):
        assert _texts('<speak><prosody pitch="high">up</prosody></speak>') == ["up"]
    assert "pitch" in caplog.text


@pytest.mark.parametrize(
    ("kind", "content", "spoken", "spell"),
    [
        ("characters", "NASA", "N A S A", True),
        ("spell-out", "ab1", "A B one", True),
        ("characters", "I9", "I nine", True),
        ("characters", "a@b.c", "A at B dot C", True),
        ("digits", "1234", "one two three four", True),
        ("digits", "12-34", "one two, three four", True),
        ("telephone", "+1 (555) 123-4567", "plus one, five five five, one two three, four five six seven", True),
        ("cardinal", "1,234", "1,234", False),
        ("cardinal", "1234", "1,234", False),
        ("cardinal", "1234567.5", "1,234,567.5", False),
        ("cardinal", "-7", "-7", False),
        ("ordinal", "1", "1st", False),
        ("ordinal", "2", "2nd", False),
        ("ordinal", "3", "3rd", False),
        ("ordinal", "11", "11th", False),
        ("ordinal", "12", "12th", False),
        ("ordinal", "13", "13th", False),
        ("ordinal", "21", "21st", False),
        ("ordinal", "112", "112th", False),
        ("ordinal", "4th", "4th", False),
        ("time", "14:30", "2:30 PM", False),
        ("time", "9:05", "9:05 AM", False),
        ("time", "0:00", "12 AM", False),
        ("time", "12:15", "12:15 PM", False),
        ("time", "7:45pm", "7:45 PM", False),
        ("time", "7:45 p.m.", "7:45 PM", False),
        ("time", "10:20:30", "10:20:30 AM", False),
    ],
)
def test_say_as(kind: str, content: str, spoken: str, spell: bool) -> None:
    (segment,) = parse_ssml(f'<speak><say-as interpret-as="{kind}">{content}</say-as></speak>')
    assert (letters.plain(segment.text), segment.spell, segment.source) == (spoken, spell, content)
    if kind in ("characters", "spell-out"):  # each letter is its own letter group: the pipeline says its name
        assert segment.text.count(letters.OPEN) == sum(c.isalpha() for c in content)


@pytest.mark.parametrize(
    ("fmt", "content", "spoken"),
    [
        ("mdy", "3/4/2024", "March 4th, 2024"),
        ("dmy", "3/4/2024", "April 3rd, 2024"),
        ("ymd", "2024-03-04", "March 4th, 2024"),
        (None, "2024-12-25", "December 25th, 2024"),
        (None, "12/25/2024", "December 25th, 2024"),
        ("md", "7/1", "July 1st"),
        ("dm", "1.7", "July 1st"),
        ("my", "7/2024", "July 2024"),
        ("ym", "2024-07", "July 2024"),
        ("y", "1999", "1999"),
        ("m", "Feb", "February"),
        ("d", "22", "22nd"),
        ("mdy", "Mar 3 2024", "March 3rd, 2024"),
    ],
)
def test_say_as_date(fmt: str | None, content: str, spoken: str) -> None:
    attr = f' format="{fmt}"' if fmt else ""
    (segment,) = parse_ssml(f'<speak><say-as interpret-as="date"{attr}>{content}</say-as></speak>')
    assert segment.text == spoken


def test_say_as_time_24_hour() -> None:
    ssml = '<speak><say-as interpret-as="time" format="hms24">{}</say-as></speak>'
    assert _texts(ssml.format("14:30")) == ["14:30"]
    assert _texts(ssml.format("14:00")) == ["14 hundred"]


def test_say_as_falls_back_to_the_content(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sonorant.text.ssml"):
        assert _texts('<speak><say-as interpret-as="date" format="mdy">13/45/2024</say-as></speak>') == ["13/45/2024"]
        assert _texts('<speak><say-as interpret-as="ordinal">many</say-as></speak>') == ["many"]
        assert _texts('<speak><say-as interpret-as="unit">5kg</say-as></speak>') == ["5kg"]
        assert _texts('<speak><say-as interpret-as="time">25:61</say-as></speak>') == ["25:61"]
    assert "unit" in caplog.text and "13/45/2024" in caplog.text


def test_say_as_inside_text_keeps_its_neighbours() -> None:
    segments = parse_ssml('<speak>Call <say-as interpret-as="digits">911</say-as> now.</speak>')
    assert [(s.text, s.spell) for s in segments] == [("Call", False), ("nine one one", True), ("now.", False)]


def test_sub() -> None:
    segments = parse_ssml('<speak>The <sub alias="World Wide Web">WWW</sub> is big.</speak>')
    assert [(s.text, s.source) for s in segments] == [("The", ""), ("World Wide Web", "WWW"), ("is big.", "")]


def test_phoneme() -> None:
    segments = parse_ssml('<speak>Say <phoneme alphabet="ipa" ph="təmˈɑːtoʊ">tomato</phoneme> now</speak>')
    assert segments[1].text == "tomato"
    assert segments[1].phonemes is not None and segments[1].alphabet == "ipa"
    assert segments[1].phonemes == "təmˈɑːtoʊ"
    (espeak,) = parse_ssml("<speak><phoneme alphabet='espeak' ph=\"h@l'oU\">hello</phoneme></speak>")
    assert (espeak.phonemes, espeak.alphabet) == ("h@l'oU", "espeak")


def test_phoneme_ipa_is_decomposed() -> None:
    (segment,) = parse_ssml('<speak><phoneme ph="ã">a</phoneme></speak>')
    assert segment.phonemes == "a\u0303"


def test_emphasis_audio_and_mark() -> None:
    ssml = (
        '<speak>A <emphasis level="strong">big</emphasis> deal <mark name="m1"/>here '
        '<audio src="ding.wav">ding<desc>a bell</desc></audio></speak>'
    )
    assert _texts(ssml) == ["A big deal here ding"]


def test_entities_decode() -> None:
    assert _texts("<speak>Fish &amp; chips &lt;3 &quot;yum&quot; &apos;ok&apos; &#233;t&#xE9;</speak>") == [
        "Fish & chips <3 \"yum\" 'ok' été"
    ]


def test_cdata_and_comments() -> None:
    assert _texts("<speak><![CDATA[a < b]]> <!-- hidden --> end</speak>") == ["a < b end"]


def test_unknown_element_warns_and_keeps_content(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sonorant.text.ssml"):
        assert _texts('<speak>Hello <voice name="x">there <b>friend</b></voice></speak>') == ["Hello there friend"]
    assert "<voice>" in caplog.text and "<b>" in caplog.text


@pytest.mark.parametrize(
    "ssml",
    [
        "<speak>Hello",
        "<speak>Hello</spek>",
        "<speak><s>one</speak>",
        "<speak>a &unknown; b</speak>",
        "<speak>a & b</speak>",
        "<speak>\n  <break time='1s'>\n</speak>",
        "<speak a='1' a='2'>x</speak>",
        "",
    ],
)
def test_malformed_ssml(ssml: str) -> None:
    with pytest.raises(SSMLError) as info:
        parse_ssml(ssml)
    message = str(info.value)
    assert "line" in message and "column" in message
    assert isinstance(info.value, TextError)


def test_error_position_is_reported() -> None:
    with pytest.raises(SSMLError) as info:
        parse_ssml("<speak>\n  ok\n  <s>bad</x>\n</speak>")
    assert info.value.line == 3
    assert "line 3" in str(info.value)


@pytest.mark.parametrize(
    ("ssml", "attribute"),
    [
        ('<speak><break time="fast"/></speak>', "time"),
        ('<speak><break time="-1s"/></speak>', "time"),
        ('<speak><break time="5 minutes"/></speak>', "time"),
        ('<speak><break time="600s"/></speak>', "time"),
        ('<speak><break strength="huge"/></speak>', "strength"),
        ('<speak><prosody rate="-5%">x</prosody></speak>', "rate"),
        ('<speak><prosody rate="+10%">x</prosody></speak>', "rate"),
        ('<speak><prosody rate="0%">x</prosody></speak>', "rate"),
        ('<speak><prosody rate="lightning">x</prosody></speak>', "rate"),
        ('<speak><prosody rate="5000%">x</prosody></speak>', "rate"),
        ("<speak><say-as>x</say-as></speak>", "interpret-as"),
        ('<speak><say-as interpret-as="date" format="qq">1/2</say-as></speak>', "format"),
        ("<speak><sub>x</sub></speak>", "alias"),
        ("<speak><phoneme>x</phoneme></speak>", "ph"),
        ('<speak><phoneme alphabet="x-sampa" ph="a">x</phoneme></speak>', "alphabet"),
        ('<speak><phoneme ph="a ]] b">x</phoneme></speak>', "ph"),
    ],
)
def test_bad_attribute_values(ssml: str, attribute: str) -> None:
    with pytest.raises(SSMLError) as info:
        parse_ssml(ssml)
    assert attribute in str(info.value)
    assert "line 1" in str(info.value)


def test_root_must_be_speak() -> None:
    with pytest.raises(SSMLError, match="root"):
        parse_ssml("<p>Hi</p>")


@pytest.mark.parametrize(
    "ssml",
    [
        '<!DOCTYPE speak [<!ENTITY a "aaaaaaaaaa">]><speak>&a;</speak>',
        '<!DOCTYPE speak [<!ENTITY a "x"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><speak>&c;&c;&c;</speak>',
        '<!DOCTYPE speak SYSTEM "http://example.com/evil.dtd"><speak>hi</speak>',
        '<!DOCTYPE speak [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><speak>&xxe;</speak>',
        "<!DOCTYPE speak><speak>hi</speak>",
    ],
)
def test_doctype_rejected(ssml: str) -> None:
    with pytest.raises(SSMLError, match="DOCTYPE"):
        parse_ssml(ssml)


def test_not_a_string() -> None:
    with pytest.raises(TextError):
        parse_ssml(b"<speak/>")  # type: ignore[arg-type]


def test_empty_speak() -> None:
    assert parse_ssml("<speak/>") == []
    assert parse_ssml("<speak>  <break/> </speak>") == [Segment(break_after=0.5)]
