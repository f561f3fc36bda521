"""What every task gives the training loop: datasets, a loss and metrics.

A task module turns the `task` statement of a .qrnn file (an `ir.Task`) and a
data folder into a `TaskData`. The loop never looks inside: it batches the
splits with the default collate, calls `loss` for the gradient and
`score` for metrics, and sums scores over batches before `summarize`.

Examples are dicts of tensors with the same shapes in every example of a split
(loaders pad or cut), so the default collate stacks them:

- sequence tasks: `x` (T,) int64 tokens or (T, D) float features, `y` the
  target: (T,) per step or () for the whole sequence; `mask` (T,) bool where
  padding must not count (optional);
- translation: `src` (S,), `tgt_in` (U,) (BOS + target), `tgt_out` (U,)
  (target + EOS), `src_mask` (S,), `tgt_mask` (U,).

Loaders never download: a missing or malformed data folder raises `DataError`
naming the folder, the files expected and where to get them.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import Dataset

Batch = Mapping[str, torch.Tensor]
Scores = dict[str, tuple[float, float]]  # metric -> (sum, count), summed over batches


@dataclass
class TaskData(ABC):
    """One task's data and its loss/metrics; subclasses are one per task."""

    name: str
    splits: dict[str, Dataset]  # "train", "valid", "test"
    inputs: Literal["tokens", "features"]
    n_in: int  # token vocabulary (tokens) or feature size per step (features)
    n_out: int  # classes or vocabulary; 1 for regression
    target: Literal["per_step", "last"]  # which outputs the loss reads
    source: str  # where the data came from: a folder and its files, or a generator and seed
    vocab: list[str] | None = None  # token strings, index = id, where the task has words
    metric: str = "accuracy"  # the headline metric, a key of summarize()
    higher_is_better: bool = True
    info: dict[str, object] = field(default_factory=dict)  # sizes, lengths, baselines

    @abstractmethod
    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The scalar the optimizer minimizes, from the model's output for `batch`."""

    @abstractmethod
    def score(self, out: torch.Tensor, batch: Batch) -> Scores:
        """Metric sums and counts for one batch (no grad needed)."""

    def summarize(self, scores: Scores) -> dict[str, float]:
        """Metrics from summed scores: mean by default; `*_nll` also gives perplexity."""
        out = {k: s / max(c, 1e-12) for k, (s, c) in scores.items()}
        if "nll" in out:
            out["perplexity"] = math.exp(min(out["nll"], 700.0))
        return out

    def metrics(self, out: torch.Tensor, batch: Batch) -> dict[str, float]:
        """The metrics of one batch on its own (`score`, then `summarize`)."""
        return self.summarize(self.score(out, batch))


def add_scores(total: Scores, more: Scores) -> Scores:
    for k, (s, c) in more.items():
        s0, c0 = total.get(k, (0.0, 0.0))
        total[k] = (s0 + s, c0 + c)
    return total


class DataError(ValueError):
    """A data folder that is missing, incomplete or malformed; the message says what to do."""


class TensorSplit(Dataset):
    """One split held as tensors with a shared first dimension: example i is {k: v[i]}."""

    def __init__(self, tensors: Mapping[str, torch.Tensor]) -> None:
        sizes = {len(v) for v in tensors.values()}
        if len(sizes) != 1:
            raise ValueError(
                f"tensors of different lengths: { {k: len(v) for k, v in tensors.items()} }"
            )
        self.tensors = dict(tensors)
        self._len = sizes.pop()

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.tensors.items()}


def data_folder(data: str | os.PathLike[str] | None, task: str, expected: str, hint: str) -> Path:
    """`data` as an existing folder, or a DataError that says what the task needs there."""
    if data is None:
        raise DataError(
            f"task {task} needs a data folder with {expected}; {hint}."
            ' Give it with data="DIR" in the task statement or --data DIR'
        )
    folder = Path(data)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DataError(
            f"{folder}: the data folder for task {task} {what}; it should hold {expected}; {hint}"
        )
    return folder
