"""The ByT5 byte front end against the ids Hugging Face's ByT5Tokenizer gave (tests/fixtures/toktts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sonorant.errors import TextError
from sonorant.text import bytes as byt5

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "toktts" / "reference.json"


@pytest.fixture(scope="module")
def reference() -> dict:
    if not REFERENCE.is_file():  # a committed fixture: its absence is a failure, not a skip
        pytest.fail(f"missing fixture {REFERENCE}: regenerate with python3 tools/toktts_fixtures.py")
    return json.loads(REFERENCE.read_text())


def test_ids_match_upstream_tokenizer(reference: dict) -> None:
    cases = reference["tokenizer"]
    assert len(cases) >= 15 and any(not t.isascii() for t in cases)
    for text, ids in cases.items():
        assert byt5.encode(text) == ids, text


def test_non_ascii_bytes(reference: dict) -> None:
    text = "日本語のテキスト"
    ids = byt5.encode(text)
    assert len(ids) == len(text.encode()) + 1 == 25
    assert ids == reference["tokenizer"][text]
    assert max(ids) <= 255 + byt5.OFFSET and byt5.decode(ids) == text


def test_markers_are_text(reference: dict) -> None:
    """Upstream turns '</s>' etc. into control ids; here they are spelled out (the documented difference)."""
    for text, upstream in reference["special_markers"].items():
        ids = byt5.encode(text)
        assert ids == [b + 3 for b in text.encode()] + [1]
        assert ids != upstream
        assert byt5.decode(ids) == text


def test_vocab_matches_toktts_encoder(reference: dict) -> None:
    assert reference["tokenizer_len"] == byt5.VOCAB == 384


def test_errors() -> None:
    with pytest.raises(TextError, match="surrogate"):
        byt5.encode("a\ud800")
    with pytest.raises(TextError, match="string"):
        byt5.encode(b"abc")  # type: ignore[arg-type]
    with pytest.raises(TextError, match="at most 3"):
        byt5.encode("abcd", max_ids=4)
    assert byt5.encode("abc", max_ids=4) == [100, 101, 102, 1]
    with pytest.raises(TextError, match="not a byte id"):
        byt5.decode([300])


def test_pad_batch() -> None:
    rows, lengths = byt5.pad_batch([byt5.encode("ab"), byt5.encode("")])
    assert rows == [[100, 101, 1], [1, 0, 0]] and lengths == [3, 1]
    with pytest.raises(TextError):
        byt5.pad_batch([[1, 2, 3]], width=2)
