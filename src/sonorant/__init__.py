"""sonorant: fast, exact text-to-speech on CPU, GPU and XLA devices.

    import sonorant
    voice = sonorant.load_voice()                 # the bundled default voice (joe, medium)
    audio = voice.synthesize("Hello from sonorant.")
    audio.save("hello.wav")

Importing sonorant loads no tensor library: torch is imported only by the runtimes that need it.
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
    vocoder: str | Path | None = None,
    denoise: float | None = None,
    device: str = "auto",
    runtime: str = "auto",
    buckets: BucketConfig | None = None,
    runtime_options: dict[str, object] | None = None,
    warmup: bool = False,
    voice_options: dict[str, object] | None = None,
    codec: str | Path | None = None,
) -> Voice:
    """Load a voice: None for the bundled default (joe, medium), a bundled name, a Piper `.onnx` path, or a
    NeMo FastPitch `.nemo` path with `vocoder` a NeMo HiFi-GAN `.nemo` (a mel vocoder with the same mel
    configuration), or an NVIDIA DeepLearningExamples Tacotron2 checkpoint with `vocoder` its WaveGlow
    checkpoint (`denoise`: the strength of DLE's WaveGlow denoiser, default 0.01, 0 for none). The file's
    format picks its loader (`sonorant.voices.registry`).

    `device` is "auto" (a CUDA GPU if torch can use one, else the CPU), "cpu", "cuda", "cuda:N" or
    "xla"; an unknown or unavailable device is a `ConfigError` naming what exists. `runtime` picks how
    the model runs: "auto" (the fastest for the device: ONNX Runtime on a CPU, torch.compile on CUDA,
    PyTorch/XLA on XLA), "eager" (PyTorch), "compile", "onnx" (stage graphs exported once per voice and
    cached; runs without torch once cached), "xla" or "tensorrt". `runtime_options` go to that
    runtime's constructor. `warmup=True` builds every bucket shape before returning, so compiling
    runtimes never compile while serving. `voice_options` go to the file's loader (e.g. a Tacotron2
    voice's `max_steps` and decode `block`; `sonorant.voices.nvidia_loader.OPTIONS`).

    Token voices (a toktts `save_pretrained` directory, a Spear-TTS checkpoint, a token voice trained by
    `sonorant train`) need the `codec` their tokens decode with (Meta's Encodec `.th` or a transformers
    Encodec directory; a unit codec); they run on "eager", "compile" or "xla" ("auto" picks eager on a
    CPU), and `SynthesisConfig.decoding` chooses greedy, sampling, beam or speculative decoding.
    """
    from .devices import resolve
    from .runtimes import make_runtime
    from .voices.registry import load

    given = {**(voice_options or {}), "vocoder": vocoder, "denoise": denoise, "codec": codec}
    loaded = load(voice, **{k: v for k, v in given.items() if v is not None})
    asked = runtime
    device, runtime = resolve(device, runtime)
    if loaded.card.tokens and runtime not in ("eager", "compile", "xla"):
        if asked != "auto":
            raise ConfigError(f"{loaded.card.name} is a token voice: it runs on the eager, compile or xla runtime, "
                              f"not {runtime}")
        runtime = "eager"
    options = dict(runtime_options or {})
    twice = options.pop("device", None)
    if twice is not None and str(twice) != device:
        raise ConfigError(f"device given twice: device={device!r} and runtime_options['device']={twice!r}")
    if runtime in ("eager", "compile", "onnx"):
        options["device"] = device
    elif runtime == "tensorrt":
        options["device"] = int(device.split(":")[1])
    elif runtime == "xla" and ":" in device:
        options["device"] = device
    result = Voice(make_runtime(runtime, loaded.source, **options), loaded, buckets=buckets)
    if warmup:
        result.engine.warmup()
    return result
