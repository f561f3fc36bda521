"""The head: readouts -> predictions, at every step or from the last one."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from qrnnc import ir


class Head(nn.Module):
    """`head linear | mlp (...) per_step | last` on readouts (B, T, K).

    per_step gives (B, T, out) logits, last gives (B, out) from z_T alone.
    """

    def __init__(self, net: nn.Module, mode: Literal["per_step", "last"], out: int) -> None:
        super().__init__()
        self.net = net
        self.mode = mode
        self.out = out

    def forward(self, readouts: torch.Tensor) -> torch.Tensor:
        if self.mode == "last":
            return self.net(readouts[:, -1])
        return self.net(readouts)

    def extra_repr(self) -> str:
        return f"mode={self.mode}, out={self.out}"


def build_head(
    node: ir.Head, readouts: int, out: int, *, dtype: torch.dtype = torch.float32
) -> Head:
    """The head for `node` with `out` outputs (already resolved from the task if unset).

    - linear: Linear(K, out).
    - mlp(hidden): Linear(K, hidden), GELU, Linear(hidden, out). GELU rather than
      tanh: readouts already lie in [-1, 1], and a non-saturating activation keeps
      the head's gradient from vanishing on top of the cell's.
    """
    if isinstance(node, ir.LinearHead):
        net: nn.Module = nn.Linear(readouts, out)
    elif isinstance(node, ir.MlpHead):
        net = nn.Sequential(
            nn.Linear(readouts, node.hidden), nn.GELU(), nn.Linear(node.hidden, out)
        )
    else:  # pragma: no cover - the IR's discriminated union admits nothing else
        raise TypeError(f"unknown head {node!r}")
    return Head(net.to(dtype), node.mode, out)
