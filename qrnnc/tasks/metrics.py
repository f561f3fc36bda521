"""Losses and metric sums shared by the classification and sequence tasks.

Scores are (sum, count) pairs so that batches of any size, and DDP ranks, add up
to the exact mean over a split.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from qrnnc.tasks.base import Batch, Scores, TaskData


def check_logits(out: torch.Tensor, y: torch.Tensor, task: str) -> None:
    """Outputs (*y.shape, C): a clear error instead of a broadcasting surprise."""
    if out.dim() != y.dim() + 1 or out.shape[:-1] != y.shape:
        want = (*y.shape, "C")
        raise ValueError(
            f"task {task}: model output has shape {tuple(out.shape)}, expected {want}"
            " (one row of logits per target); check the head's mode and out="
        )


def cross_entropy(
    out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None, *, total: bool = False
) -> torch.Tensor:
    """Cross-entropy of logits (..., C) against targets (...), over the masked positions
    only; the mean, or the sum with total=True."""
    ce = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="none")
    if mask is not None:
        ce = ce[mask.reshape(-1)]
    if total:
        return ce.sum()
    return ce.mean() if ce.numel() else ce.sum()  # an all-padding batch adds nothing


def correct(
    out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[float, float]:
    """(right, counted): argmax predictions that hit the target, over the masked positions."""
    hit = out.argmax(-1) == y
    if mask is not None:
        return float(hit[mask].sum()), float(mask.sum())
    return float(hit.sum()), float(hit.numel())


@dataclass
class CrossEntropyTask(TaskData):
    """Tasks whose loss is the mean cross-entropy of the logits against `y`."""

    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        check_logits(out, batch["y"], self.name)
        return cross_entropy(out, batch["y"])


@dataclass
class LastClassification(CrossEntropyTask):
    """A class per sequence, read from the last step: cross-entropy, accuracy (headline)
    and the mean loss."""

    @torch.no_grad()
    def score(self, out: torch.Tensor, batch: Batch) -> Scores:
        y = batch["y"]
        check_logits(out, y, self.name)
        return {
            "accuracy": correct(out, y),
            "loss": (float(cross_entropy(out, y, total=True)), float(y.numel())),
        }
