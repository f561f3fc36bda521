"""`qrnnc train / eval / plot / analyze`: commands that make and read run folders."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from qrnnc import ir, runs
from qrnnc.cli import _fail, _load, analyze_app, app, out
from qrnnc.compiled import compile_ir
from qrnnc.errors import QrnnError


def _parse_sets(items: list[str]) -> dict[str, Any]:
    """`--set delay=100` pairs: values read as JSON (numbers, true/false), else as text."""
    update: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(
                f"{item!r}: expected KEY=VALUE, e.g. delay=100", param_hint="--set"
            )
        try:
            update[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            update[key.strip()] = raw
    return update


def resolve(
    file: Path,
    *,
    flags: dict[str, Any],
    task_sets: list[str],
) -> runs.RunConfig:
    """The file's `task` and `train` settings with the command line's on top."""
    compiled = _load(file)
    doc = compiled.ir.model_dump(mode="json")
    if task_sets:
        if doc.get("task") is None:
            raise typer.BadParameter(f"{file} has no `task` statement to --set", param_hint="--set")
        doc["task"].update(_parse_sets(task_sets))
    settings = dict(doc.get("train") or {})
    settings.pop("span", None)
    settings.update({k: v for k, v in flags.items() if v is not None})
    try:
        checked = compile_ir(ir.IR.model_validate(doc)).ir  # overrides are validated too
        return runs.RunConfig(source=str(file), ir=checked.model_dump(mode="json"), **settings)
    except QrnnError as e:
        raise _fail(e) from None
    except ValidationError as e:  # pydantic's message names the bad field
        raise typer.BadParameter(str(e)) from None


@app.command()
def train(
    file: Annotated[Path | None, typer.Argument(help="a .qrnn file with a `task`")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="the run folder to create")] = None,
    data: Annotated[Path | None, typer.Option(help="the task's data folder")] = None,
    epochs: Annotated[int | None, typer.Option(help="override train(epochs=)")] = None,
    batch: Annotated[int | None, typer.Option(help="override train(batch=); global")] = None,
    lr: Annotated[float | None, typer.Option(help="override train(lr=)")] = None,
    optimizer: Annotated[str | None, typer.Option(help="adam, adamw, rmsprop or sgd")] = None,
    seed: Annotated[int | None, typer.Option(help="override train(seed=)")] = None,
    clip: Annotated[float | None, typer.Option(help="gradient norm clip")] = None,
    schedule: Annotated[str | None, typer.Option(help="constant, cosine or step")] = None,
    backend: Annotated[str | None, typer.Option(help="numba (CPU, adjoint) or torch")] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (torch backend)")] = None,
    baseline: Annotated[
        str | None, typer.Option(help="train rnn, lstm, gru or orthogonal instead, matched")
    ] = None,
    hidden: Annotated[
        int | None, typer.Option(help="baseline hidden size (default matched)")
    ] = None,
    model: Annotated[str | None, typer.Option(help="which model of a multi-model file")] = None,
    shots: Annotated[int | None, typer.Option(help="readout shots (0: exact)")] = None,
    task_set: Annotated[
        list[str] | None, typer.Option("--set", help="override a task setting, e.g. delay=100")
    ] = None,
    train_size: Annotated[int | None, typer.Option(help="examples in the train split")] = None,
    valid_size: Annotated[int | None, typer.Option(help="examples in the valid split")] = None,
    test_size: Annotated[int | None, typer.Option(help="examples in the test split")] = None,
    checkpoint_every: Annotated[
        int | None, typer.Option(help="also save `last` every N steps (0: per epoch only)")
    ] = None,
    log_every: Annotated[int | None, typer.Option(help="log the train loss every N steps")] = None,
    resume: Annotated[Path | None, typer.Option(help="continue this run folder")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="replace the run already in --out")
    ] = False,
) -> None:
    """Train a model (or a matched classical baseline) on its task; progress, then a table."""
    from qrnnc.train import TrainingStopped
    from qrnnc.train import train as run_training

    if resume is not None:
        cfg = runs.read_config(resume)
        if epochs is not None:  # the one setting a resume may change: train for longer
            cfg = cfg.model_copy(update={"epochs": epochs})
        if file is not None and _load(file).ir.model_dump(mode="json") != cfg.ir:
            if not task_set:
                out.print(f"note: {file} differs from the run's recorded IR; resuming the run's")
        folder = resume
    else:
        if file is None or out_dir is None:
            raise typer.BadParameter("give a .qrnn FILE and --out DIR (or --resume DIR)")
        given = (("train", train_size), ("valid", valid_size), ("test", test_size))
        sizes = {k: v for k, v in given if v}
        flags = {
            "data": None if data is None else str(data),
            "epochs": epochs, "batch": batch, "lr": lr, "optimizer": optimizer, "seed": seed,
            "clip": clip, "schedule": schedule, "backend": backend, "device": device,
            "baseline": baseline, "hidden": hidden, "model": model, "shots": shots,
            "sizes": sizes or None, "checkpoint_every": checkpoint_every, "log_every": log_every,
        }  # fmt: skip
        cfg = resolve(file, flags=flags, task_sets=task_set or [])
        folder = out_dir
        if overwrite:
            runs.clear(folder)
        if (folder / runs.CONFIG).exists():
            raise typer.BadParameter(
                f"{folder} already holds a run; use --resume {folder}, --overwrite,"
                " or another --out",
                param_hint="--out",
            )
    bar = _ProgressReporter()
    try:
        with bar:
            summary = run_training(cfg, folder, resume=resume is not None, report=bar)
    except TrainingStopped as e:
        typer.echo(f"{folder}: error: {e}", err=True)
        raise typer.Exit(2) from None
    except (ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one table, not one per rank
        _print_summary(folder, summary)


class _ProgressReporter:
    """rich progress for `train`: loss, steps/s, ETA; epoch lines above the bar."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} steps/s"),
            TimeRemainingColumn(),
            console=out,
            transient=True,
        )
        self.task: Any = None
        self.started = time.perf_counter()
        self.first_step = 0

    def __enter__(self) -> _ProgressReporter:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["kind"]
        if kind == "start":
            data, net = event["data"], event["net"]
            n = sum(p.numel() for p in net.parameters())
            out.print(
                f"task {data.name}: {data.source}; model {type(net).__name__},"
                f" {n:,} parameters; {event['total']} steps"
            )
            self.first_step = event["step"]
            self.started = time.perf_counter()
            self.task = self.progress.add_task(
                "training", total=event["total"], completed=event["step"], rate="-"
            )
        elif kind == "step":
            rate = (event["step"] - self.first_step) / max(time.perf_counter() - self.started, 1e-9)
            self.progress.update(
                self.task,
                completed=event["step"],
                description=f"epoch {event['epoch'] + 1} loss {event['loss']:.4f}",
                rate=f"{rate:.1f}",
            )
        elif kind == "epoch":
            shown = ", ".join(f"{k} {v:.4g}" for k, v in event["valid"].items())
            out.print(f"epoch {event['epoch']}: valid {shown}")


def _print_summary(folder: Path, summary: dict[str, Any]) -> None:
    table = Table(title=f"{folder}", show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    best = summary["best_valid"]
    table.add_row(f"best valid {summary['metric']}", "-" if best is None else f"{best:.4f}")
    for key, value in summary["info"].items():
        if isinstance(value, float):
            table.add_row(key, f"{value:.4f}")
    table.add_row("steps", str(summary["steps"]))
    table.add_row("training time", f"{summary['seconds']:.1f} s")
    out.print(table)


@app.command("eval")
def evaluate_run(
    run: Annotated[Path, typer.Argument(help="a run folder (or a checkpoint file)")],
    split: Annotated[str, typer.Option(help="train, valid or test")] = "test",
    which: Annotated[str, typer.Option("--checkpoint", help="best or last")] = "best",
    data: Annotated[Path | None, typer.Option(help="data folder (default: the run's)")] = None,
    backend: Annotated[str | None, typer.Option(help="override the backend")] = None,
) -> None:
    """The task's metrics of a trained run on a split, as a table."""
    from qrnnc.train import evaluate_checkpoint

    try:
        metrics = evaluate_checkpoint(run, split=split, which=which, data=data, backend=backend)
    except (ValueError, FileNotFoundError, KeyError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    table = Table(title=f"{run} — {split}", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    out.print(table)


@app.command()
def plot(
    run_dirs: Annotated[list[Path], typer.Argument(help="run folders")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="PNG path")] = None,
) -> None:
    """Training curves (train loss, validation metric) of runs in one PNG."""
    from qrnnc.analysis import plot_curves

    try:
        path = plot_curves(run_dirs, output)
    except (ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    out.print(f"wrote {path}")


@analyze_app.command("grads")
def analyze_grads(
    run_dirs: Annotated[list[Path], typer.Argument(help="run folders")],
    batches: Annotated[int, typer.Option(help="validation batches to average over")] = 4,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="PNG path")] = None,
) -> None:
    """||dL/dh_t|| over t (QRNN: dL/dz_t; baselines: dL/dh_t), averaged; PNG + CSV."""
    from qrnnc.analysis import gradient_norms

    try:
        png, csv = gradient_norms(run_dirs, batches=batches, output=output)
    except (ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    out.print(f"wrote {png} and {csv}")
