"""The torch side of the array ops: precision scopes that restore exactly what was there, also when the
server's scheduler thread and a caller's thread run stages at the same time."""

from __future__ import annotations

import sys
import threading

import torch

from sonorant.runtimes.torch_ops import _leaves, precision_scope, strict_fp32


def test_concurrent_scopes_leave_the_flags_as_they_were() -> None:
    before = [leaf.fp32_precision for leaf in _leaves()]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: interleaved saves would show

    def work(mode: str) -> None:
        for _ in range(300):
            with precision_scope(mode) if mode == "tf32" else strict_fp32():
                assert torch.backends.cudnn.conv.fp32_precision == torch.backends.cudnn.rnn.fp32_precision

    try:
        threads = [threading.Thread(target=work, args=("tf32" if i % 2 else "ieee",)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert [leaf.fp32_precision for leaf in _leaves()] == before
    assert torch.backends.cudnn.allow_tf32 in (True, False)  # the legacy read raises if conv and RNN differ


def test_scopes_nest_and_restore() -> None:
    before = torch.backends.cuda.matmul.fp32_precision
    with strict_fp32():
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        with precision_scope("tf32"):
            assert torch.backends.cuda.matmul.fp32_precision == "tf32"
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
    assert torch.backends.cuda.matmul.fp32_precision == before
