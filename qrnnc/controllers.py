"""The classical controller: c_t = concat(embed(x_t), z_{t-1}) -> theta_t.

One builder reads the IR node (`controller linear | mlp | glu`) and returns a
plain torch module; the QRNN calls it once per step on a (B, D + K) batch.
"""

from __future__ import annotations

import torch
from torch import nn

from qrnnc import ir

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def build_controller(
    node: ir.Controller,
    in_features: int,
    angles: int,
    *,
    dtype: torch.dtype = torch.float32,
) -> nn.Module | None:
    """The controller for `node`: (B, in_features) -> (B, angles); None when angles == 0.

    - linear(dropout): Dropout, then Linear(in, angles) — the QRNNLinear ablation;
      dropout acts on the controller's input since there is no hidden layer.
    - mlp(hidden, layers, act, dropout): [Linear, act, Dropout] x layers, then
      Linear(hidden, angles).
    - glu(hidden, dropout): Linear(in, 2 hidden), GLU, Dropout, Linear(hidden, angles).
    """
    if angles == 0:
        # Every rotation takes its angle elsewhere (param, const, input): nothing to learn here.
        return None
    if isinstance(node, ir.LinearController):
        layers: list[nn.Module] = [nn.Dropout(node.dropout), nn.Linear(in_features, angles)]
    elif isinstance(node, ir.MlpController):
        layers = []
        width = in_features
        for _ in range(node.layers):
            layers += [
                nn.Linear(width, node.hidden),
                ACTIVATIONS[node.act](),
                nn.Dropout(node.dropout),
            ]
            width = node.hidden
        layers.append(nn.Linear(width, angles))
    elif isinstance(node, ir.GluController):
        layers = [
            nn.Linear(in_features, 2 * node.hidden),
            nn.GLU(dim=-1),
            nn.Dropout(node.dropout),
            nn.Linear(node.hidden, angles),
        ]
    else:  # pragma: no cover - the IR's discriminated union admits nothing else
        raise TypeError(f"unknown controller {node!r}")
    return nn.Sequential(*layers).to(dtype)
