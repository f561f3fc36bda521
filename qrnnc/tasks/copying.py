"""Copying memory (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016).

Tokens: blank 0, data symbols 1..symbols, delimiter symbols + 1. An example is

    x = s_1 .. s_L, `delay` blanks, delimiter, L blanks        (T = delay + 2L + 1)
    y = blanks for the first L + delay + 1 steps, then s_1 .. s_L

as in examples/train_copying.py. A predictor without memory outputs blank until
the delimiter and a uniform guess over the symbols after it, so its mean
cross-entropy is L ln(symbols) / T: `memoryless`, the number to beat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from qrnnc import ir
from qrnnc.tasks.base import Batch, Scores
from qrnnc.tasks.metrics import CrossEntropyTask, check_logits, correct, cross_entropy
from qrnnc.tasks.splits import SPLITS, GeneratedSplit, check_sizes

DEFAULT_SIZES = {"train": 10_000, "valid": 1_000, "test": 1_000}
BLANK = 0


@dataclass
class CopyingData(CrossEntropyTask):
    length: int = 10  # symbols to recall, the last `length` steps of y

    @torch.no_grad()
    def score(self, out: torch.Tensor, batch: Batch) -> Scores:
        y = batch["y"]
        check_logits(out, y, self.name)
        ce = float(cross_entropy(out, y, total=True))
        return {
            "accuracy": correct(out[:, -self.length :], y[:, -self.length :]),
            "loss": (ce, float(y.numel())),
        }

    def summarize(self, scores: Scores) -> dict[str, float]:
        # The baseline rides along so that a table of runs can put it beside the loss.
        return {**super().summarize(scores), "memoryless": float(self.info["memoryless"])}


def make_example(
    rng: np.random.Generator, delay: int, length: int, symbols: int
) -> dict[str, torch.Tensor]:
    data = rng.integers(1, symbols + 1, size=length)
    x = np.zeros(delay + 2 * length + 1, dtype=np.int64)
    y = np.zeros_like(x)
    x[:length] = data
    x[length + delay] = symbols + 1
    y[-length:] = data
    return {"x": torch.from_numpy(x), "y": torch.from_numpy(y)}


def memoryless_ce(delay: int, length: int, symbols: int) -> float:
    """Mean cross-entropy per step of the best predictor without memory."""
    return length * math.log(symbols) / (delay + 2 * length + 1)


def load(
    task: ir.CopyingTask, data: Path | None = None, *, seed: int, sizes: dict[str, int] | None
) -> CopyingData:
    """Generated on the fly from `seed`; `data` is not used (the task has no files)."""
    n = {**DEFAULT_SIZES, **check_sizes(sizes)}
    make = partial(make_example, delay=task.delay, length=task.length, symbols=task.symbols)
    steps = task.delay + 2 * task.length + 1
    vocab = ["<blank>", *(str(s) for s in range(1, task.symbols + 1)), "<delim>"]
    return CopyingData(
        name="copying",
        splits={s: GeneratedSplit(n[s], seed, s, make) for s in SPLITS},
        inputs="tokens",
        n_in=task.symbols + 2,
        n_out=task.symbols + 2,
        target="per_step",
        source=(
            f"generated: copying memory, delay {task.delay}, length {task.length},"
            f" {task.symbols} symbols, seed {seed}"
        ),
        vocab=vocab,
        metric="accuracy",
        higher_is_better=True,
        info={
            "steps": steps,
            "memoryless": memoryless_ce(task.delay, task.length, task.symbols),
            **{f"{s}_size": n[s] for s in SPLITS},
        },
        length=task.length,
    )
