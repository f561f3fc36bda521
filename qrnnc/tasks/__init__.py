"""The training tasks: a `task` statement plus a data folder -> datasets, loss, metrics.

    data = load_task(ir_doc.task, "data/mnist", seed=0, sizes={"train": 1000})

One module per task (copying, adding, mnist for smnist and psmnist, imdb, ptb,
translation), each with a TaskData subclass and `load`. The synthetic tasks
generate their examples from the seed; the others read the standard format of
their data from a folder and never download.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qrnnc import ir
from qrnnc.tasks import adding, copying, imdb, mnist, ptb, translation
from qrnnc.tasks.base import DataError, TaskData

LOADERS: dict[str, Callable[..., TaskData]] = {
    "copying": copying.load,
    "adding": adding.load,
    "smnist": mnist.load,
    "psmnist": mnist.load,
    "imdb": imdb.load,
    "ptb": ptb.load,
    "translation": translation.load,
}

__all__ = ["LOADERS", "DataError", "TaskData", "load_task"]


def load_task(
    task: ir.Task,
    data: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    sizes: dict[str, int] | None = None,
) -> TaskData:
    """The datasets, loss and metrics of `task`.

    data: the task's data folder; given, it overrides the `data=` of the task
      statement (the synthetic tasks have no files and ignore it).
    seed: generates the synthetic tasks' examples and picks the subsets `sizes`
      asks for.
    sizes: examples per split ("train", "valid", "test"): how many a synthetic
      task generates, at most how many a real-data task keeps.
    """
    loader = LOADERS.get(task.name)
    if loader is None:  # pragma: no cover - the IR admits only the tasks above
        raise DataError(f"no loader for task {task.name!r}; the tasks are {', '.join(LOADERS)}")
    folder: Any = data if data is not None else getattr(task, "data", None)
    return loader(task, Path(folder) if folder is not None else None, seed=seed, sizes=sizes)
