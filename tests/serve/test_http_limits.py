"""HTTP hardening: the work per request is bounded, fields are typed strictly, bodies must be UTF-8, and
an API key guards everything but /health (the interactive docs are off)."""

from __future__ import annotations

import httpx
import openai
import pytest
from serve_support import API_KEY, MAX_PHONEME_IDS, Running, start_server

import sonorant
from sonorant.serve import ServeConfig

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def _post(server: Running, body: bytes | dict) -> httpx.Response:
    kwargs = {"json": body} if isinstance(body, dict) else {"content": body}
    return httpx.post(server.url + "/v1/audio/speech", timeout=60,
                      headers={**AUTH, "content-type": "application/json"}, **kwargs)


def test_digits_over_the_phoneme_limit_are_refused_before_synthesis(server: Running) -> None:
    """300 characters of English read as ~750 ids; 290 nines as several thousand: refused, with the limit
    named, and no forward pass runs for it."""
    text = "9" * 290
    batches_before = len(server.observer.batches)
    tickets_before = set(server.observer.tickets)
    with pytest.raises(openai.APIStatusError) as err:
        server.client().audio.speech.create(model="tts-1", voice="alloy", input=text)
    assert err.value.status_code == 413
    message = err.value.message
    assert str(MAX_PHONEME_IDS) in message and "phoneme ids" in message and "max_phoneme_ids" in message
    assert len(server.observer.batches) == batches_before and set(server.observer.tickets) == tickets_before
    english = ("The quick brown fox jumps over the lazy dog, and then it rests. " * 5)[:290]
    assert server.client().audio.speech.create(model="tts-1", voice="alloy", input=english, response_format="pcm",
                                               extra_body={"stream": False}).content


def test_health_reports_the_phoneme_limit(server: Running) -> None:
    assert httpx.get(server.url + "/health").json()["max_phoneme_ids"] == MAX_PHONEME_IDS


@pytest.mark.parametrize("field, value", [("speed", True), ("speed", False), ("noise_scale", True), ("noise_w", True),
                                          ("sentence_silence", True), ("seed", True), ("speaker", True),
                                          ("speed", "1.5"), ("stream", "no"), ("stream", 1)])
def test_booleans_and_strings_are_not_numbers(server: Running, field: str, value: object) -> None:
    r = _post(server, {"input": "Hi.", "voice": "alloy", field: value})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["param"] == field and field in error["message"]


def test_a_body_that_is_not_utf8_is_422(server: Running) -> None:
    r = _post(server, b'{"input": "caf\xe9", "voice": "alloy"}')  # Latin-1, not UTF-8
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert "UTF-8" in message and "0xe9" in message


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/no-such-path"])
def test_with_a_key_nothing_but_health_is_open_and_the_docs_are_off(server: Running, path: str) -> None:
    assert httpx.get(server.url + path).status_code == 401
    assert httpx.get(server.url + path, headers=AUTH).status_code == 404


def test_without_a_key_the_docs_are_served(steady_voice: sonorant.Voice) -> None:
    running = start_server([steady_voice], ServeConfig())
    try:
        spec = httpx.get(running.url + "/openapi.json")
        assert spec.status_code == 200 and "/v1/audio/speech" in spec.json()["paths"]
        assert httpx.get(running.url + "/docs").status_code == 200
    finally:
        running.server.stop()


@pytest.mark.parametrize("key", ["two words", "tab\tkey", "caf\u00e9", " "])
def test_an_api_key_must_fit_an_http_header(key: str) -> None:
    with pytest.raises(sonorant.ConfigError, match="API key"):
        ServeConfig(api_key=key)
