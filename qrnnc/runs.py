"""A run folder: its resolved config, metrics log and checkpoints, and the model they rebuild.

runs/NAME/
  config.json        the resolved configuration (RunConfig), IR included
  metrics.jsonl      one JSON record per logged step and per epoch
  last.safetensors   the latest checkpoint (+ last.json, readable metadata)
  best.safetensors   the checkpoint with the best validation metric so far
  summary.json       the final metrics, written when training ends
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from torch import nn

from qrnnc import ir

BASELINES = ("rnn", "lstm", "gru", "orthogonal")
CONFIG = "config.json"
METRICS = "metrics.jsonl"
LAST = "last.safetensors"
BEST = "best.safetensors"
SUMMARY = "summary.json"


class RunConfig(BaseModel):
    """Everything that decides a run, after the file's settings and the flags are merged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str  # the .qrnn file as given
    ir: dict[str, Any]  # its IR, with command-line task overrides applied
    model: str | None = None  # which model of a file with several
    baseline: Literal["rnn", "lstm", "gru", "orthogonal"] | None = None
    hidden: PositiveInt | None = None  # baseline hidden size; None: match the QRNN's count
    backend: Literal["numba", "torch"] = "numba"
    device: str = "cpu"
    data: str | None = None
    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0.0)
    epochs: PositiveInt = 10
    batch: PositiveInt = 32
    seed: int = 0
    clip: float | None = Field(None, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    schedule: Literal["constant", "cosine", "step"] = "constant"
    sizes: dict[str, int] = Field(default_factory=dict)  # examples per split, where capped
    shots: int | None = None
    checkpoint_every: int = Field(0, ge=0)  # also save `last` every this many steps
    log_every: PositiveInt = 10

    @property
    def doc(self) -> ir.IR:
        return ir.IR.model_validate(self.ir)


def clear(run: str | os.PathLike[str]) -> None:
    """Remove a run's own files (and only those) so the folder can take a new run."""
    run = Path(run)
    if not run.is_dir():
        return
    names = {CONFIG, METRICS, LAST, BEST, SUMMARY, "last.json", "best.json"}
    names |= {"curves.png", "grads.png", "grads.csv"}
    for path in run.iterdir():
        if path.name in names:
            path.unlink()


def read_config(run: str | os.PathLike[str]) -> RunConfig:
    path = Path(run) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(
            f"{run}: not a run folder (no {CONFIG}); `qrnnc train FILE --out {run}` makes one"
        )
    return RunConfig.model_validate_json(path.read_text())


def read_metrics(run: str | os.PathLike[str]) -> list[dict[str, Any]]:
    path = Path(run) / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def checkpoint_path(run: str | os.PathLike[str], which: str = "best") -> Path:
    """`best` or `last` in a run folder, or a path to a checkpoint file itself."""
    run = Path(run)
    if run.is_file():
        return run
    path = run / f"{which}.safetensors"
    if not path.is_file():
        other = run / (LAST if which == "best" else BEST)
        if other.is_file():
            return other
        raise FileNotFoundError(f"{run}: no {which}.safetensors; has this run saved a checkpoint?")
    return path


# ---- the model a run trains ---------------------------------------------------------


def model_record(net: nn.Module) -> dict[str, Any]:
    """JSON that rebuilds `net` (without weights): its kind and its config()."""
    from qrnnc.qrnn import QRNN

    kind = "qrnn" if isinstance(net, QRNN) else type(net).__name__.lower()
    return {"kind": kind, "config": net.config()}


def rebuild(record: dict[str, Any], **overrides: Any) -> nn.Module:
    """The module `model_record` describes, freshly initialized."""
    kind = record["kind"]
    if kind == "qrnn":
        from qrnnc.qrnn import QRNN

        return QRNN.from_config(record["config"], **overrides)
    if kind == "baseline":
        from qrnnc.baselines import Baseline

        return Baseline.from_config(record["config"])
    if kind == "seq2seq":
        from qrnnc.seq2seq import Seq2Seq

        return Seq2Seq.from_config(record["config"], **overrides)
    raise ValueError(f"unknown model kind {kind!r} in the checkpoint")
