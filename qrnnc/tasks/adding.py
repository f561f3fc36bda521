"""The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015).

Each step has two features: a value uniform in [0, 1) and a marker that is 1 at
exactly two steps, one in each half of the sequence (the first in [0, T // 2),
the second in [T // 2, T)), 0 elsewhere. The target, read at the last step, is
the sum of the two marked values. Always answering 1.0 (the mean of the sum)
scores an MSE of Var(sum) = 1/6: `baseline_mse`, the number to beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from qrnnc import ir
from qrnnc.tasks.base import Batch, DataError, Scores, TaskData
from qrnnc.tasks.splits import SPLITS, GeneratedSplit, check_sizes

DEFAULT_SIZES = {"train": 10_000, "valid": 1_000, "test": 1_000}
BASELINE_MSE = 1.0 / 6.0


@dataclass
class AddingData(TaskData):
    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        return F.mse_loss(self._prediction(out, batch["y"]), batch["y"].to(out.dtype))

    @torch.no_grad()
    def score(self, out: torch.Tensor, batch: Batch) -> Scores:
        y = batch["y"]
        err = (self._prediction(out, y) - y.to(out.dtype)).square().sum()
        return {"mse": (float(err), float(y.numel()))}

    def summarize(self, scores: Scores) -> dict[str, float]:
        return {**super().summarize(scores), "baseline_mse": BASELINE_MSE}

    def _prediction(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # A `last` head with out=1 gives (B, 1); the target is (B,).
        if out.shape == (*y.shape, 1):
            out = out.squeeze(-1)
        if out.shape != y.shape:
            raise ValueError(
                f"task adding: model output has shape {tuple(out.shape)}, expected"
                f" {(*y.shape, 1)}: one number per sequence (`head linear(out=1) last`)"
            )
        return out


def make_example(rng: np.random.Generator, length: int) -> dict[str, torch.Tensor]:
    x = np.zeros((length, 2), dtype=np.float32)
    x[:, 0] = rng.random(length, dtype=np.float32)
    half = length // 2
    marked = [rng.integers(0, half), rng.integers(half, length)]
    x[marked, 1] = 1.0
    y = x[marked, 0].sum(dtype=np.float32)
    return {"x": torch.from_numpy(x), "y": torch.tensor(y, dtype=torch.float32)}


def load(
    task: ir.AddingTask, data: Path | None = None, *, seed: int, sizes: dict[str, int] | None
) -> AddingData:
    """Generated on the fly from `seed`; `data` is not used (the task has no files)."""
    if task.length < 2:
        raise DataError(
            f"task adding(length={task.length}): the two marked numbers need one step in each"
            " half; use length >= 2"
        )
    n = {**DEFAULT_SIZES, **check_sizes(sizes)}
    make = partial(make_example, length=task.length)
    return AddingData(
        name="adding",
        splits={s: GeneratedSplit(n[s], seed, s, make) for s in SPLITS},
        inputs="features",
        n_in=2,
        n_out=1,
        target="last",
        source=f"generated: adding problem, length {task.length}, seed {seed}",
        metric="mse",
        higher_is_better=False,
        info={"steps": task.length, "baseline_mse": BASELINE_MSE}
        | {f"{s}_size": n[s] for s in SPLITS},
    )
