"""What a loader hands `Voice`: a voice's card (torch-free facts), its model source and its front end."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runtimes.cache import LazyModel
    from ..text.pipeline import TextPipeline


@dataclass(frozen=True)
class VoiceCard:
    """The facts about a voice that sonorant shows and validates against, whatever its family."""

    name: str
    """Short name (the bundled name, or the file stem)."""
    family: str
    """Model family ("vits", "fastpitch", ...): shown, never branched on."""
    sample_rate: int
    """Output samples per second."""
    language: str = ""
    """Language code such as en_US ("" if the voice does not say)."""
    quality: str = ""
    """A quality label if the voice has one (Piper's x_low .. high)."""
    speakers: Mapping[str, int] = field(default_factory=dict)
    """Speaker names -> ids (empty if the voice names none)."""
    num_speakers: int = 1
    """Number of speakers."""
    knob_defaults: Mapping[str, float] = field(default_factory=dict)
    """The voice's own defaults for some of its family's knobs (Piper's `inference` section)."""
    tokens: bool = False
    """Whether the voice generates codec tokens with a token model (decoding settings apply; it runs on
    the eager, compile and xla runtimes)."""


@dataclass
class LoadedVoice:
    """A loader's result: everything `Voice` needs, with the weights loaded only on demand."""

    card: VoiceCard
    """The voice's facts."""
    source: LazyModel
    """The model (a `models.base.StagedModel`), built from its files when a runtime needs the weights."""
    pipeline: Callable[[bool, int], TextPipeline]
    """Builds the text front end: (normalize text?, most ids per model input) -> a `TextPipeline`."""
    path: Path | None = None
    """The voice's main file, if it came from one."""
    native: Any = None
    """The loader's own description of the voice (e.g. a `PiperVoiceConfig`), for callers that know it."""
