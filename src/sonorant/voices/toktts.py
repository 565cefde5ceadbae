"""toktts checkpoints -> `TokenTransformer`, and toktts' token stream <-> Encodec codes.

Weight mapping (Hugging Face names -> `models.tokens` names; GPT-2's `Conv1D` stores weights [in, out], so
every one is transposed to a Linear's [out, in]):

- `encoder.wte` / `encoder.wpe` -> `src_emb` / `src_pos`; `decoder.transformer.wte` / `.wpe` -> `tgt_emb` /
  `tgt_pos`; `encoder.ln_f` / `decoder.transformer.ln_f` -> `encoder.norm` / `decoder.norm`;
- per block `h.i`: `ln_1` -> `norm1`, `attn.c_attn` [d, 3d] -> `attn.q`, `attn.k`, `attn.v` (split along
  the output), `attn.c_proj` -> `attn.o`, `ln_2` -> `norm2`, `mlp.c_fc` / `mlp.c_proj` -> `ffn.fc` /
  `ffn.proj`; decoder blocks also `ln_cross_attn` -> `norm_x`, `crossattention.q_attn` -> `cross.q`,
  `crossattention.c_attn` [d, 2d] -> `cross.k`, `cross.v`, `crossattention.c_proj` -> `cross.o`;
- `enc_to_dec_proj` (present when the widths differ: memory' = P m + p) is folded into every cross-attention
  key and value: W' = W P, b' = W p + b (computed in float64);
- `decoder.lm_head` is the decoder's `wte` unless the decoder config sets `tie_word_embeddings: false`.

Old checkpoints also store GPT-2's causal-mask buffers (`attn.bias`, `attn.masked_bias`); they are skipped.
Any other key sonorant does not map is an error, as is a missing or mis-shaped one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, VoiceError
from .safetensors_file import read_safetensors
from .toktts_loader import CODE_BINS, CODEBOOKS, TokttsCheckpoint, read_checkpoint
from .weights import check_state

if TYPE_CHECKING:
    import torch

    from ..models.tokens.model import TokenTransformer

BOS = CODE_BINS
"""toktts' decoder start token (1024)."""
EOS = CODE_BINS + 1
"""toktts' end token (1025), also its padding."""

_BUFFERS = re.compile(r"\.h\.\d+\.(attn|crossattention)\.(bias|masked_bias)$")


def read_weights(ckpt: TokttsCheckpoint) -> dict[str, torch.Tensor]:
    """Every tensor of the checkpoint's weight files (shards merged), as float32 where floating point."""
    import pickle
    import zipfile

    import torch

    state: dict[str, torch.Tensor] = {}
    for file in ckpt.weights:
        if file.name.endswith(".safetensors"):
            part = read_safetensors(file)
        else:
            try:
                part = torch.load(file, map_location="cpu", weights_only=True)
            except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError) as e:
                raise VoiceError(f"{file} is not a readable PyTorch state dict ({type(e).__name__})") from None
            if not isinstance(part, dict) or not all(isinstance(v, torch.Tensor) for v in part.values()):
                raise VoiceError(f"{file} does not hold a state dict of tensors")
        state.update(part)
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def convert_state(hf: dict[str, torch.Tensor], ckpt: TokttsCheckpoint) -> dict[str, torch.Tensor]:
    """A toktts (EncoderDecoderModel) state dict -> `TokenTransformer`'s state dict (see the module docstring)."""

    cfg = ckpt.model
    left = {k: v for k, v in hf.items() if not _BUFFERS.search(k)}
    source = str(ckpt.path)

    def take(key: str) -> torch.Tensor:
        if key not in left:
            raise VoiceError(f"{source} is not a complete toktts checkpoint: missing {key}")
        return left.pop(key)

    def conv1d(prefix: str, parts: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A Conv1D [in, parts * out] -> `parts` (weight [out, in], bias [out]) pairs."""
        w, b = take(prefix + ".weight"), take(prefix + ".bias")
        if w.dim() != 2 or w.shape[1] % parts or b.shape != (w.shape[1],):
            raise VoiceError(f"{source}: {prefix} has shapes {tuple(w.shape)} / {tuple(b.shape)}, not a Conv1D "
                             f"of {parts} equal parts")
        return list(zip(w.t().chunk(parts, dim=0), b.chunk(parts, dim=0)))

    out: dict[str, torch.Tensor] = {}

    def put(name: str, pair: tuple[torch.Tensor, torch.Tensor]) -> None:
        out[name + ".weight"], out[name + ".bias"] = pair[0].contiguous(), pair[1].contiguous()

    def norm(src: str, dst: str) -> None:
        put(dst, (take(src + ".weight"), take(src + ".bias")))

    def block(src: str, dst: str, cross: bool) -> None:
        norm(f"{src}.ln_1", f"{dst}.norm1")
        for name, pair in zip("qkv", conv1d(f"{src}.attn.c_attn", 3)):
            put(f"{dst}.attn.{name}", pair)
        put(f"{dst}.attn.o", conv1d(f"{src}.attn.c_proj", 1)[0])
        if cross:
            norm(f"{src}.ln_cross_attn", f"{dst}.norm_x")
            put(f"{dst}.cross.q", conv1d(f"{src}.crossattention.q_attn", 1)[0])
            for name, pair in zip("kv", conv1d(f"{src}.crossattention.c_attn", 2)):
                put(f"{dst}.cross.{name}", fold(pair) if proj is not None else pair)
            put(f"{dst}.cross.o", conv1d(f"{src}.crossattention.c_proj", 1)[0])
        norm(f"{src}.ln_2", f"{dst}.norm2")
        put(f"{dst}.ffn.fc", conv1d(f"{src}.mlp.c_fc", 1)[0])
        put(f"{dst}.ffn.proj", conv1d(f"{src}.mlp.c_proj", 1)[0])

    proj = (take("enc_to_dec_proj.weight"), take("enc_to_dec_proj.bias")) if ckpt.memory_proj else None

    def fold(pair: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Key/value weights reading the projected memory -> weights reading the encoder's memory."""
        (w, b), (p_w, p_b) = pair, proj
        w64 = w.double()  # [d, d_dec]
        return (w64 @ p_w.double()).float(), (w64 @ p_b.double() + b.double()).float()  # [d, d_enc], [d]

    out["src_emb.weight"], out["src_pos.weight"] = take("encoder.wte.weight"), take("encoder.wpe.weight")
    for i in range(cfg.encoder.layers):
        block(f"encoder.h.{i}", f"encoder.layers.{i}", cross=False)
    norm("encoder.ln_f", "encoder.norm")
    dec = "decoder.transformer"
    out["tgt_emb.weight"], out["tgt_pos.weight"] = take(f"{dec}.wte.weight"), take(f"{dec}.wpe.weight")
    for i in range(cfg.decoder.layers):
        block(f"{dec}.h.{i}", f"decoder.layers.{i}", cross=True)
    norm(f"{dec}.ln_f", "decoder.norm")
    if cfg.tie_embeddings:
        left.pop("decoder.lm_head.weight", None)  # a tied copy, when the file stores one
    else:
        out["head.weight"] = take("decoder.lm_head.weight")
    if left:
        extra = sorted(left)
        shown = ", ".join(extra[:6]) + (f" and {len(extra) - 6} more" if len(extra) > 6 else "")
        raise VoiceError(f"{source}: weights sonorant does not know how to use in a toktts model: {shown}")
    return out


def load_toktts(path: str | Path) -> TokenTransformer:
    """The toktts checkpoint at `path` (its directory, or a file in it) as an eval-mode float32 `TokenTransformer`."""
    from ..models.tokens.model import TokenTransformer

    ckpt = read_checkpoint(path)
    state = convert_state(read_weights(ckpt), ckpt)
    model = TokenTransformer(ckpt.model)
    check_state(str(ckpt.path), model.state_dict(), state, "toktts checkpoint")
    model.load_state_dict(state)
    return model.eval()


# ---- the token stream <-> Encodec codes ---------------------------------------------------------------


def codes_from_tokens(tokens: Sequence[int] | torch.Tensor, *, codebooks: int = CODEBOOKS, bins: int = CODE_BINS,
                      bos: int = BOS, eos: int = EOS) -> torch.Tensor:
    """A generated row [n] -> Encodec codes [codebooks, T] int64, as toktts decodes it: a leading BOS is
    dropped, the row ends before its first EOS (or at its end), a trailing incomplete frame (an odd token
    with 2 codebooks) is dropped, and the frame-major tokens [c0_t0, c1_t0, c0_t1, ...] are unstacked.

    A token before the end that is not a code (BOS again, or anything >= `bins`) is a `VoiceError`: the
    model produced a stream that is not audio."""
    import torch

    row = torch.as_tensor(tokens, dtype=torch.long).cpu()
    if row.dim() != 1:
        raise ConfigError(f"tokens must be one row [n], not shape {tuple(row.shape)}")
    if len(row) and int(row[0]) == bos:
        row = row[1:]
    ends = (row == eos).nonzero()
    if len(ends):
        row = row[: int(ends[0])]
    bad = ((row < 0) | (row >= bins)).nonzero()
    if len(bad):
        i = int(bad[0])
        raise VoiceError(f"token {int(row[i])} at position {i} of the generated row is not an audio code "
                         f"(codes are 0..{bins - 1}, EOS {eos}): the model's output cannot be decoded")
    frames = len(row) // codebooks
    return row[: frames * codebooks].reshape(frames, codebooks).t().contiguous()  # [K, T]


def tokens_from_codes(codes: Sequence[Sequence[int]] | torch.Tensor, *, codebooks: int = CODEBOOKS,
                      bins: int = CODE_BINS, eos: int = EOS) -> torch.Tensor:
    """Encodec codes [codebooks, T] -> toktts' target row [T * codebooks + 1]: frame-major interleaving,
    then EOS (no BOS: the decoder input is this row shifted right behind BOS)."""
    import torch

    codes = torch.as_tensor(codes, dtype=torch.long).cpu()
    if codes.dim() != 2 or codes.shape[0] != codebooks:
        raise ConfigError(f"codes must be [{codebooks}, T], not shape {tuple(codes.shape)}")
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= bins):
        raise ConfigError(f"codes must lie in 0..{bins - 1}, got {int(codes.min())}..{int(codes.max())}")
    return torch.cat([codes.t().reshape(-1), torch.tensor([eos])])  # [T * K + 1]
