"""The error types sonorant raises for bad input, bad voices and bad settings.

Every failure a user can cause surfaces as a :class:`SonorantError` subclass with a message that says
what was wrong and what to do, never as a stack trace from deep inside torch or onnx.
"""

from __future__ import annotations


class SonorantError(Exception):
    """Base class of every error sonorant raises on purpose."""


class TextError(SonorantError, ValueError):
    """The text given to synthesize cannot be spoken (empty, only whitespace, not a string)."""


class VoiceError(SonorantError):
    """A voice could not be found or loaded, or is not a voice sonorant can run."""


class ConfigError(SonorantError, ValueError):
    """A synthesis or engine setting is out of range (negative or NaN scale, unknown speaker)."""


class PhonemizerError(SonorantError):
    """espeak-ng could not be loaded or could not phonemize for the requested language."""


class DecodeLimitError(SonorantError):
    """An autoregressive model did not stop within its step limit: its gate never fired for an utterance
    (a failure of the model on that input, or a limit set too low)."""


class TokenError(SonorantError):
    """A token model generated tokens its codec cannot decode (a token that is not a code before EOS)."""
