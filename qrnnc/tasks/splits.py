"""Split sizes, seeded subsets and the validation split carved from train.

A run's `sizes` ({"train": n, "valid": n, "test": n}, any of them) sets how many
examples a synthetic task generates and caps how many a real-data task takes; the
examples kept are a seeded subset, so two runs with the same seed see the same
data. Where a format ships no validation split, one is carved from train by a
permutation with a fixed seed, not the run's: every run of a task then validates
on the same examples and their numbers compare.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch.utils.data import Dataset

from qrnnc.tasks.base import DataError

SPLITS = ("train", "valid", "test")
CARVE_SEED = 0x5EED  # fixed, so the carved valid split is the same for every run seed

Example = dict[str, torch.Tensor]


def check_sizes(sizes: Mapping[str, int] | None) -> dict[str, int]:
    """`sizes` with only known splits and positive counts, else a DataError."""
    out: dict[str, int] = {}
    for split, n in (sizes or {}).items():
        if split not in SPLITS:
            raise DataError(f"sizes: unknown split {split!r}; the splits are {', '.join(SPLITS)}")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise DataError(f"sizes: {split}={n!r}, expected a positive number of examples")
        out[split] = int(n)
    return out


def rng_for(seed: int, *purpose: int) -> np.random.Generator:
    """A generator for one use of the run seed (negative seeds are fine)."""
    return np.random.default_rng([seed % 2**64, *purpose])


def pick(n: int, size: int | None, seed: int, split: str) -> np.ndarray:
    """Indices of `size` of the n examples, a seeded subset in their original order
    (all of them when size is None or not smaller than n)."""
    if size is None or size >= n:
        return np.arange(n)
    chosen = rng_for(seed, SPLITS.index(split), 1).choice(n, size=size, replace=False)
    return np.sort(chosen)


def carve(n: int, fraction: float, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, valid) indices into n training examples: `fraction` of them, at least one,
    become the validation split."""
    if n < 2:
        raise DataError(
            f"{what}: {n} training example(s), too few to carve a validation split from;"
            " the folder needs at least 2"
        )
    n_valid = min(n - 1, max(1, round(n * fraction)))
    order = np.random.default_rng(CARVE_SEED).permutation(n)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


class GeneratedSplit(Dataset):
    """n synthetic examples; example i comes from its own generator (seed, split, i), so a
    split costs no memory, and an example is the same whatever order it is asked in."""

    def __init__(
        self, n: int, seed: int, split: str, make: Callable[[np.random.Generator], Example]
    ) -> None:
        self.n = n
        self.seed = seed
        self.split = split
        self.make = make

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Example:
        if not 0 <= i < self.n:
            raise IndexError(f"example {i} of a {self.split} split of {self.n}")
        return self.make(rng_for(self.seed, SPLITS.index(self.split), 2, i))
