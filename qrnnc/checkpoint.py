"""Checkpoints: one safetensors file holding weights, optimizer state and metadata.

Everything a resume needs goes into a single file, so a checkpoint is replaced
in one atomic rename and can never be half old and half new: tensors are
stored as safetensors tensors ("model.*", "optim.*", "rng.*") and everything
else as JSON in the safetensors header's metadata (key "qrnnc"). Loading
parses that JSON and the tensors; nothing is ever unpickled. A readable copy
of the metadata is written beside it as NAME.json for people and tools.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from qrnnc import __version__

FORMAT = 1


@dataclass
class Checkpoint:
    """What `load` returns: the metadata and the tensors, split by owner."""

    meta: dict[str, Any]
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any] | None
    rng: dict[str, torch.Tensor]


def save(
    path: str | os.PathLike[str],
    *,
    model: dict[str, torch.Tensor],
    meta: dict[str, Any],
    optimizer: dict[str, Any] | None = None,
    rng: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write `path` (a .safetensors file) atomically, and its metadata as path.json.

    model: a state_dict; optimizer: `torch.optim.Optimizer.state_dict()`;
    meta: JSON-able (config, metrics, counters); rng: named generator states.
    """
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.items():
        tensors[f"model.{k}"] = v.detach().cpu().contiguous()
    record = dict(meta, format=FORMAT, qrnnc_version=__version__)
    if optimizer is not None:
        record["optimizer"] = _split_optimizer(optimizer, tensors)
    for k, v in (rng or {}).items():
        tensors[f"rng.{k}"] = v.detach().cpu().contiguous()
    text = json.dumps(record, sort_keys=True)
    _atomic(path, lambda tmp: save_file(tensors, tmp, metadata={"qrnnc": text}))
    _atomic(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(_pretty(record)))
    return path


def load(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by `save`; a clear ValueError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint there")
    try:
        with open(path, "rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
            if not 0 < header_len < 100_000_000:
                raise ValueError("bad header length")
            header = json.loads(f.read(header_len))
        tensors = load_file(path)
    except (SafetensorError, ValueError, OSError) as e:
        raise ValueError(f"{path}: not a qrnnc checkpoint (safetensors): {e}") from None
    text = (header.get("__metadata__") or {}).get("qrnnc")
    if text is None:
        raise ValueError(f"{path}: a safetensors file without qrnnc metadata; not a checkpoint")
    meta = json.loads(text)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: checkpoint format {meta.get('format')!r}, expected {FORMAT}")
    model = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    rng = {k[4:]: v for k, v in tensors.items() if k.startswith("rng.")}
    optimizer = None
    if "optimizer" in meta:
        optimizer = _join_optimizer(meta.pop("optimizer"), tensors)
    return Checkpoint(meta=meta, model=model, optimizer=optimizer, rng=rng)


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """JSON to `path` via a temporary file and a rename: readers never see half a file."""
    _atomic(Path(path), lambda tmp: Path(tmp).write_text(_pretty(data)))


# ---- optimizer state: tensors to safetensors, the rest to JSON ---------------------


def _split_optimizer(state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    out: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for idx, slots in state["state"].items():
        kept: dict[str, Any] = {}
        for name, value in slots.items():
            if isinstance(value, torch.Tensor):
                key = f"optim.{idx}.{name}"
                tensors[key] = value.detach().cpu().contiguous()
                kept[name] = {"tensor": key}
            else:
                kept[name] = value
        out["state"][str(idx)] = kept
    return out


def _join_optimizer(record: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for idx, slots in record["state"].items():
        state[int(idx)] = {
            name: tensors[v["tensor"]] if isinstance(v, dict) and "tensor" in v else v
            for name, v in slots.items()
        }
    return {"state": state, "param_groups": record["param_groups"]}


# ---- files -------------------------------------------------------------------------


def _pretty(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _atomic(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
