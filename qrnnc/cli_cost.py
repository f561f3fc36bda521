"""`qrnnc estimate / fit`: what a model costs on a Braket device, and whether it fits one.

Both send no tasks: `estimate` reads the dated price table
(backends/braket/prices.json, or --prices FILE over it) and works offline;
`fit` reads a saved device-properties JSON offline, or, with --device ARN, asks
AWS for the device's properties (credentials from the usual AWS chain, read
by boto3, never by qrnnc).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from qrnnc import ir, runs
from qrnnc.cli import _fail, _load, app, out
from qrnnc.compiled import Compiled, compile_ir
from qrnnc.errors import QrnnError
from qrnnc.program import Program

_SOURCE_HELP = "a .qrnn file or a run folder"


def sequence_length(task: ir.Task | None, data: str | None = None) -> int | None:
    """Steps per sequence of a task (the longest, where lengths vary); None without a task.

    data: the run's data folder, for tasks whose length is the data's (pixel sequences).
    """
    if task is None:
        return None
    if isinstance(task, ir.CopyingTask):
        return task.delay + 2 * task.length + 1
    if isinstance(task, ir.AddingTask):
        return task.length
    if isinstance(task, ir.SmnistTask | ir.PsmnistTask):
        folder = data or task.data
        if folder is None:
            return 28 * 28  # one pixel per step of MNIST's images
        from qrnnc.tasks.mnist import image_side

        try:
            return image_side(folder) ** 2
        except (OSError, ValueError) as e:  # DataError is a ValueError
            raise _fail(QrnnError(f"cannot read the image size: {e}; give --steps T")) from None
    if isinstance(task, ir.ImdbTask):
        return task.max_len
    if isinstance(task, ir.PtbTask):
        return task.seq_len
    if isinstance(task, ir.TranslationTask):
        return task.max_len + 1  # the decoder reads <bos> + the target
    return None


def load_program(
    source: Path, model: str | None = None
) -> tuple[Program, ir.Task | None, str | None]:
    """The Program of a .qrnn file or a run folder (its recorded IR), the task it runs, and
    the run's data folder."""
    data = None
    if source.is_dir():
        try:
            cfg = runs.read_config(source)
        except (FileNotFoundError, ValueError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(1) from None
        if cfg.baseline is not None:
            raise _fail(
                QrnnError(
                    f"this run trains a classical {cfg.baseline} baseline: nothing of it runs on a"
                    " quantum device",
                    file=str(source),
                )
            )
        try:
            compiled: Compiled = compile_ir(cfg.doc)
        except QrnnError as e:
            raise _fail(e) from None
        model = model or cfg.model
        data = cfg.data
    else:
        compiled = _load(source)
    programs = compiled.programs
    if model is None:
        if len(programs) != 1:
            raise _fail(
                QrnnError(
                    f"defines models {', '.join(programs)}; pick one with --model", file=str(source)
                )
            )
        return next(iter(programs.values())), compiled.ir.task, data
    if model not in programs:
        raise _fail(
            QrnnError(f"no model {model!r}; it defines {', '.join(programs)}", file=str(source))
        )
    return programs[model], compiled.ir.task, data


def _braket_module(name: str) -> Any:
    """qrnnc.backends.braket.NAME; the package imports the Braket SDK, which is optional."""
    try:
        return importlib.import_module(f"qrnnc.backends.braket.{name}")
    except ImportError as e:
        typer.echo(f"error: {e}", err=True)
        typer.echo("the Braket commands need the SDK: pip install -e '.[braket]'", err=True)
        raise typer.Exit(1) from None


@app.command("estimate")
def estimate_cost(
    source: Annotated[Path, typer.Argument(help=_SOURCE_HELP)],
    device: Annotated[
        str, typer.Option(help="a Braket device ARN, or local / braket_sv / braket_dm")
    ],
    shots: Annotated[int, typer.Option(help="shots per task (0: exact, simulators only)")] = 1000,
    samples: Annotated[int, typer.Option(help="sequences to evaluate")] = 1,
    steps: Annotated[
        int | None, typer.Option(help="steps T per sequence (default: the task's length)")
    ] = None,
    prices: Annotated[
        Path | None, typer.Option(help="a price table laid over the shipped one")
    ] = None,
    model: Annotated[str | None, typer.Option(help="which model of a multi-model file")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """Tasks, shots, circuit sizes and price of evaluating a model on a device; sends nothing."""
    estimate = _braket_module("cost").estimate
    program, task, data = load_program(source, model)
    if steps is None:
        steps = sequence_length(task, data)
        if steps is None:
            raise _fail(
                QrnnError(
                    "has no `task` to take the sequence length from; give --steps T",
                    file=str(source),
                )
            )
    try:
        est = estimate(
            program, steps=steps, sequences=samples, shots=shots, device=device, prices=prices
        )
    except QrnnError as e:
        raise _fail(e) from None
    if as_json:
        typer.echo(est.to_json())
        return
    out.print(est.table())
    out.print(est.step_table())


@app.command("fit")
def fit_device(
    source: Annotated[Path, typer.Argument(help=_SOURCE_HELP)],
    properties: Annotated[
        Path | None,
        typer.Option(help="the device's properties JSON (AwsDevice(ARN).properties.json())"),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            help="a Braket device ARN: read its properties from AWS (network, credentials)"
        ),
    ] = None,
    model: Annotated[str | None, typer.Option(help="which model of a multi-model file")] = None,
    verbatim: Annotated[
        bool, typer.Option("--verbatim", help="native gates and coupling only, nothing compiled")
    ] = False,
    controlled: Annotated[
        str, typer.Option(help="crx/cry/crz as sent: decompose (the runner's default) or modifier")
    ] = "decompose",
    exact: Annotated[
        bool, typer.Option("--exact", help="check the shots-0 path (Expectation results)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the problems as JSON")] = False,
) -> None:
    """Whether a model's cell runs on a device as it is sent: gates, qubits, coupling."""
    fit = _braket_module("fit")
    if (properties is None) == (device is None):
        raise typer.BadParameter(
            "give one of --properties FILE (offline) or --device ARN (asks AWS)",
            param_hint="--properties / --device",
        )
    if controlled not in ("decompose", "modifier"):
        raise typer.BadParameter(
            f"{controlled!r}: expected decompose or modifier", param_hint="--controlled"
        )
    program, _, _ = load_program(source, model)
    try:
        props = fit.device_properties(device) if device is not None else properties
        problems = fit.check_fit(
            program,
            props,
            verbatim=verbatim,
            controlled=controlled,  # type: ignore[arg-type]
            exact=exact,
        )
    except QrnnError as e:
        raise _fail(e) from None
    if as_json:
        typer.echo(json.dumps({"model": program.model, "fits": not problems, "problems": problems}))
    elif not problems:
        out.print(f"model {program.model} fits {device or properties}")
    else:
        for problem in problems:
            out.print(f"- {problem}", markup=False)
    if problems:
        raise typer.Exit(1)
