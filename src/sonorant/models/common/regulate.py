"""Length regulation, static by construction: per-token features spread over frames by a path matrix
(cumulative durations compared with a frame index) applied with `bmm`, so the shapes depend on the
frame bucket only, never on the durations themselves."""

from __future__ import annotations

import torch
from torch import nn


def length_regulate(tokens: torch.Tensor, durations: torch.Tensor, width: int | torch.Tensor) -> torch.Tensor:
    """tokens [b, c, t_x], integral durations [b, t_x] -> frames [b, c, width]: frame f takes token j with
    start_j <= f < end_j; frames past the utterance are zero."""
    frame = torch.arange(width, device=tokens.device, dtype=durations.dtype)  # [t_y]
    end = torch.cumsum(durations, dim=1)  # [b, t_x]
    start = end - durations
    f = frame.view(1, -1, 1)  # [1, t_y, 1]
    path = ((f >= start.unsqueeze(1)) & (f < end.unsqueeze(1))).to(tokens.dtype)  # [b, t_y, t_x]
    return torch.bmm(path, tokens.transpose(1, 2)).transpose(1, 2)  # [b, c, t_y]


class FramesStage(nn.Module):
    """The contract's frames stage (`models.base`) = length regulation + the family's `post` module,
    which maps regulated features [b, Ct, t_y] (with mask, knobs, noise, g) to the vocoder's frames."""

    def __init__(self, post: nn.Module) -> None:
        super().__init__()
        self.post = post

    def forward(self, tokens: torch.Tensor, durations: torch.Tensor, mask: torch.Tensor, knobs: torch.Tensor,
                noise: torch.Tensor | None = None, g: torch.Tensor | None = None) -> torch.Tensor:
        regulated = length_regulate(tokens, durations, mask.shape[-1])  # [b, Ct, t_y]
        return self.post(regulated, mask, knobs, noise, g)  # [b, C, t_y]
