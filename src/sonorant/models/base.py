"""The contract between a model family and everything above `models/` (engine, runtimes, voices, bench,
server). It is torch-free data plus three stage signatures; a family plugs in by describing itself with
a `FamilySpec` and giving its model a `stages()` method.

Every family runs as the same three stages around one host read-back:

1. **encode** (parallel, bucketed on the id axis): ids -> per-token features, integer durations, the
   frame count of each utterance and an optional conditioning vector `g`. The frame counts are the one
   value read back to the host: they pick the frame bucket of stage 2.
2. **frames** (parallel, bucketed on the frame axis): length regulation (a path matrix built from
   cumulative durations and applied with `bmm`) and whatever turns it into the vocoder's input frames
   (VITS: prior sample and inverse flows; FastPitch: the FFT decoder and the mel projection).
3. **vocode** (a windowed vocoder with a finite receptive field): frames -> samples, `hop` per frame.
   Because its reach is finite, streaming decodes it over overlapping windows exactly.

Stage signatures (tensors; `None` inputs/outputs are absent for families that do not use them):

    encode(ids [b, t_x] i64, lengths [b] i64, knobs [b, K] f32, noise [b, Ce, t_x] | None, sid [b] i64 | None)
        -> tokens [b, Ct, t_x] f32 (zero past each length), durations [b, t_x] f32 (integral, zero on
           padding), frames [b] i64 (>= 1), g [b, G, 1] | None
    frames(tokens, durations, mask [b, 1, t_y] f32, knobs [b, K] f32, noise [b, Cz, t_y] | None, g | None)
        -> z [b, C, t_y] f32, zero where mask is zero (the mask's width is the frame bucket)
    vocode(z [b, C, t], lengths [b] i64 | None, g | None) -> audio [b, t * hop] f32

`lengths=None` on the vocoder means no row is padded.

**Autoregressive families** (Tacotron2: `FamilySpec.decoder` is set) do not know their frame counts after
encode: a gate decides when each row stops. Their encode returns no durations and no frames; a fourth
stage, `decode`, advances every row of a batch by `Decoder.block` steps per call, on the device, with a
per-row `live` flag (a finished row stops changing and stops counting), and the runtime calls it until no
row is live (one host read of `live` per block, never one per step) or `Decoder.max_steps` is reached:

    encode(ids, lengths, knobs, noise | None, sid | None) -> tokens [b, Ct, t_x] (the decoder's memory), g | None
    decode(tokens [b, Ct, t_x], id_mask [b, t_x] f32, state [b, S] f32, attn [b, A, t_x] f32, live [b] f32,
           count [b] i64, knobs [b, K], noise [b, Cn, block] f32)
        -> state, attn, live, count, frames [b, Cd, block] f32 (zero at steps where the row was not live)
    frames(tokens [b, Cd, t_y] (the decoded frames, zero past each count), mask, knobs, noise | None, g | None) -> z
    vocode: as above.

`state` and `attn` start at zero; `count` is the number of frames a row has emitted (the step on which its
gate fires is its last frame). The decode noise of block k covers steps [k * block, (k + 1) * block), so
it depends on the step, never on the block size or the batch. Noise is never an input the engine makes: the
runtime computes it from the utterances' seeds (a pure function of seed, stream, channel and position:
`sonorant.arrays`), so an utterance's audio does not depend on its batch, bucket or device.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

STAGES = ("encode", "decode", "frames", "vocode")
"""The stage names, in order; runtimes key graphs, caches and timings by them ("decode" exists only for
autoregressive families)."""


@dataclass(frozen=True)
class Knob:
    """A per-utterance control of a family (a float; validated against its range)."""

    name: str
    """The name users set (`SynthesisConfig.knobs`, `--knob`, the server's `knobs`)."""
    default: float
    """The value used when none is given (the voice's own default where its card has one)."""
    low: float
    """Smallest allowed value."""
    high: float
    """Largest allowed value."""
    doc: str = ""
    """One line for help texts."""
    positive: bool = False
    """True if 0 itself is not allowed (the range is then (low, high])."""
    rate: str = ""
    """How speaking rate maps onto this knob: "duration" (a duration multiplier: SSML rate x and
    `speed` s divide it), "pace" (a speed: they multiply it), or "" (not a rate knob)."""


@dataclass(frozen=True)
class Noise:
    """Gaussian noise a stage takes: [b, channels, width] from `Ops.normal(seeds, stream, channels, ...)`."""

    stream: int
    """Stream id (distinct per stage so the draws are unrelated)."""
    channels: int
    """Noise channels."""


@dataclass(frozen=True)
class Decoder:
    """The autoregressive decode stage of a family (see the module docstring)."""

    block: int
    """Steps per call of the decode stage (one host sync per block)."""
    max_steps: int
    """Most frames an utterance may have; a row still live after this many steps is an error."""
    state_channels: int
    """Width S of the packed per-row state vector."""
    attn_channels: int
    """Channels A of the per-token state (attention weights and their running sum)."""
    frame_channels: int
    """Channels Cd of each decoded frame."""
    noise: Noise | None = None
    """Per-step noise of the decode stage (over the step axis), or None."""


@dataclass(frozen=True)
class TokenSpec:
    """A token family's generator: source ids -> target tokens -> codec codes (see `models.tokens`)."""

    vocab: int
    """Target tokens (the logits' width)."""
    bos: int
    """The decoder's start token."""
    eos: int
    """The token that ends an utterance."""
    pad: int
    """Target padding."""
    src_pad: int
    """Source padding id."""
    max_tokens: int
    """Most tokens an utterance may generate, EOS included."""
    codebooks: int
    """Codec codes per frame, interleaved frame by frame in the token stream."""
    bins: int
    """Values a code takes; a generated token outside 0..bins-1 (other than EOS) is an error."""
    draft: bool = False
    """Whether the model has an early-exit head (speculative decoding)."""

    def codes(self, tokens: Any) -> Any:
        """One utterance's generated tokens (a numpy int array, EOS last) -> codes [K, T]: the frame-major
        interleaving [c0_t0, c1_t0, ..., c0_t1, ...] undone, a trailing incomplete frame dropped (as toktts
        does). A token that is not a code before EOS is a `TokenError`, never silently skipped."""
        from ..errors import TokenError

        body = tokens[:-1] if len(tokens) and tokens[-1] == self.eos else tokens
        k = self.codebooks
        body = body[:len(body) - len(body) % k]
        bad = body[(body < 0) | (body >= self.bins)]
        if bad.size:
            raise TokenError(f"the model generated {bad.size} tokens that are not codec codes (e.g. {int(bad[0])}; "
                             f"codes are 0..{self.bins - 1})")
        return body.reshape(-1, k).T.astype("int64")  # [K, T]


@dataclass(frozen=True)
class FamilySpec:
    """Everything the engine and the runtimes need to know about a loaded model, without torch."""

    family: str
    """Family name ("vits", "fastpitch", ...): a label for logs, caches and the bench, never branched on."""
    sample_rate: int
    """Output samples per second."""
    hop: int
    """Audio samples per frame of the vocoder's input."""
    n_vocab: int
    """Number of input ids the encoder accepts (0 <= id < n_vocab)."""
    token_channels: int
    """Channels of encode's per-token output (Ct)."""
    channels: int
    """Channels of the vocoder's input frames (C)."""
    cond_channels: int = 0
    """Channels of the conditioning vector g passed from encode to frames and vocode (0: none)."""
    n_speakers: int = 1
    """Number of speakers (sid is an input only when > 1)."""
    knobs: tuple[Knob, ...] = ()
    """Per-utterance controls, in the column order of the `knobs` input."""
    encode_noise: Noise | None = None
    """Noise of the encode stage (over the id axis), or None."""
    frames_noise: Noise | None = None
    """Noise of the frames stage (over the frame axis), or None."""
    vocoder_reach: int = 0
    """Input frames on each side that can change one output frame of the vocoder (an upper bound)."""
    frames_reach: int | None = None
    """Frames on each side that can change one output frame of the frames stage past length regulation
    (an upper bound), or None if it is global (attention): streaming then computes a sentence's whole
    frames first and only windows the vocoder."""
    planar_vocoder: bool = True
    """Whether the vocoder computes the same on [b, C, 1, t] with its 1-D convolutions made 2-D
    (`runtimes.layout.conv2d_copy`, faster on ONNX Runtime's CPU provider); False for vocoders that
    reshape the time axis (WaveGlow's sample groups)."""
    decoder: Decoder | None = None
    """The autoregressive decode stage, or None for families whose encode predicts durations."""
    tokens: TokenSpec | None = None
    """The token generator of a token family (toktts, Spear-TTS), whose stages are a token model and a
    codec rather than encode/frames/vocode; None for the others."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    """Family facts for its own stages and for display (JSON values only)."""

    @property
    def multi_speaker(self) -> bool:
        """Whether `sid` is an input of encode."""
        return self.n_speakers > 1

    def knob(self, name: str) -> Knob:
        """The knob called `name` (KeyError if this family has none)."""
        for k in self.knobs:
            if k.name == name:
                return k
        raise KeyError(name)

    def knob_defaults(self) -> tuple[float, ...]:
        """Every knob's default, in column order."""
        return tuple(k.default for k in self.knobs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (for caches that must run without the model's code)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FamilySpec:
        """The inverse of `to_dict`."""
        d = dict(d)
        d["knobs"] = tuple(Knob(**k) for k in d.get("knobs", ()))
        for key in ("encode_noise", "frames_noise"):
            if d.get(key) is not None:
                d[key] = Noise(**d[key])
        if d.get("tokens") is not None:
            d["tokens"] = TokenSpec(**d["tokens"])
        if d.get("decoder") is not None:
            dec = dict(d["decoder"])
            dec["noise"] = Noise(**dec["noise"]) if dec.get("noise") is not None else None
            d["decoder"] = Decoder(**dec)
        return cls(**d)


@dataclass
class Encoded:
    """The encode stage's results for a batch, in the runtime's array type (the engine reads only
    `frames`, once, and slices rows of the rest for the scheduler)."""

    tokens: Any
    """Per-token features [b, Ct, t_x], zero past each row's length."""
    durations: Any
    """Frames per token, integral floats [b, t_x] (zero on padding)."""
    frames: Any
    """Frames per utterance [b] (int64, at least 1)."""
    g: Any = None
    """Conditioning vector [b, G, 1], or None."""


@dataclass(frozen=True)
class CodecSpec:
    """A token codec: discrete codes [b, K, T] <-> audio (Encodec; k-means units over a vocoder's latents)."""

    name: str
    """A label for logs, caches and the bench ("encodec_24khz", "units"), never branched on."""
    sample_rate: int
    """Audio samples per second."""
    hop: int
    """Audio samples per code frame."""
    codebooks: int
    """Codes per frame (K)."""
    bins: int
    """Values a code takes (0 <= code < bins)."""
    channels: int
    """Channels of the continuous frames the codes embed to (the decoder's input)."""
    lookahead: int = 0
    """Code frames after a frame that can change its audio (0 for a causal decoder such as Encodec's);
    streaming holds back this many frames until more codes or the end arrive."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return asdict(self)


class Codec(Protocol):
    """What a codec module (an `nn.Module`) offers: codes -> audio, whole or streamed with state carried.

    `decode_stream` over consecutive chunks of codes, with `last=True` on the final chunk, gives the same
    audio as `decode` on the whole (the stream state carries whatever the decoder needs: causal convolution
    context, an LSTM's state, held-back frames of a non-causal decoder)."""

    spec: CodecSpec

    def decode(self, codes: Any, lengths: Any = None) -> Any:
        """codes [b, K, T] int64 -> audio [b, T * hop] f32 (`lengths` [b] frames; audio past a row's
        length is zero)."""
        ...

    def stream_state(self, batch: int) -> Any:
        """The state before the first chunk of a stream of `batch` rows."""
        ...

    def decode_stream(self, codes: Any, state: Any, last: bool) -> tuple[Any, Any]:
        """codes [b, K, t] (the next chunk) -> (audio [b, n] for the frames now final, the new state)."""
        ...


class StagedModel(Protocol):
    """What a family's model (an `nn.Module`) offers runtimes: its spec and its three stage modules,
    each an `nn.Module` whose `forward` has the signature in this module's docstring."""

    spec: FamilySpec

    def stages(self) -> dict[str, Any]:
        """{"encode", "frames", "vocode"} modules with the signatures above ("decode" too when the spec has a
        decoder), plus "frames_post": the frames
        stage after its length regulation, `frames_post(regulated [b, Ct, t_y], mask, knobs, noise, g)`
        (`models.common.regulate.FramesStage(frames_post)` is "frames"), for runtimes that regulate
        elsewhere (xla, on the host). All share this model's parameters."""
        ...
