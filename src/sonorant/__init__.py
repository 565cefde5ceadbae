"""sonorant: fast, exact text-to-speech on CPU, GPU and XLA devices.

    import sonorant
    voice = sonorant.load_voice()                 # the bundled default voice (joe, medium)
    audio = voice.synthesize("Hello from sonorant.")
    audio.save("hello.wav")
"""

from __future__ import annotations

from pathlib import Path

from .audio import Audio, AudioChunk
from .config import SynthesisConfig
from .engine import BucketConfig
from .errors import ConfigError, PhonemizerError, SonorantError, TextError, VoiceError
from .runtimes import Runtime
from .voice import Voice

__version__ = "0.1.0"

__all__ = [
    "Audio", "AudioChunk", "BucketConfig", "ConfigError", "PhonemizerError", "SonorantError", "SynthesisConfig",
    "TextError", "Voice", "VoiceError", "load_voice", "__version__",
]


def load_voice(
    voice: str | Path | None = None,
    *,
    runtime: str = "eager",
    buckets: BucketConfig | None = None,
    runtime_options: dict[str, object] | None = None,
    warmup: bool = False,
) -> Voice:
    """Load a voice: None for the bundled default (joe, medium), a bundled name, or a Piper `.onnx` path.

    `runtime` picks how the model runs: "eager" (PyTorch), "compile" (torch.compile), "onnx" (ONNX
    Runtime stage graphs, exported once and cached), "xla" (PyTorch/XLA) or "tensorrt";
    `runtime_options` go to that runtime's constructor. `warmup=True` runs every bucket shape once
    before returning, so compiling runtimes never compile while serving.
    """
    from .voices.piper import load_piper_model, read_piper_config
    from .voices.registry import resolve_voice

    from .runtimes import RUNTIMES, make_runtime

    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown runtime {runtime!r}: choose one of {', '.join(RUNTIMES)}")
    files = resolve_voice(voice)
    config = read_piper_config(files.config)
    model = load_piper_model(files.model)
    loaded = Voice(model, config, files.name, files.model, runtime=make_runtime(runtime, model, **(runtime_options or {})),
                   buckets=buckets)
    if warmup:
        loaded.engine.warmup()
    return loaded
