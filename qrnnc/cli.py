"""The `qrnnc` command line: wires commands to the compiler, nothing more."""

from __future__ import annotations

import json
import os
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from qrnnc.compiled import Compiled, load
from qrnnc.errors import QrnnError
from qrnnc.ir import IR
from qrnnc.program import Program

app = typer.Typer(
    name="qrnnc",
    help="Compile, inspect, train and evaluate hybrid quantum-classical RNNs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)


# `qrnnc analyze ...`: here, not in a command module, so that every module that adds an
# analysis can import it whichever module is imported first.
analyze_app = typer.Typer(help="Analyses of trained runs (PNG + CSV next to the run).")
app.add_typer(analyze_app, name="analyze")


def _fail(e: QrnnError) -> typer.Exit:
    typer.echo(str(e), err=True)
    return typer.Exit(1)


def _load(path: Path) -> Compiled:
    try:
        return load(path)
    except QrnnError as e:
        raise _fail(e) from None


def summary(compiled: Compiled) -> str:
    """`model NAME: N qubits, P controller angles, K readouts` for each model."""
    parts = []
    for p in compiled.programs.values():
        r = p.resources
        parts.append(
            f"model {p.model}: {r.qubits} qubits, {r.controller_angles} controller angles,"
            f" {r.readouts} readouts"
        )
    return "; ".join(parts)


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(help=".qrnn files to check")],
) -> None:
    """Parse and validate .qrnn files; print one line per file."""
    failed = 0
    for path in files:
        try:
            compiled = load(path)
        except QrnnError as e:
            typer.echo(str(e), err=True)
            failed += 1
            continue
        typer.echo(f"{path}: ok — {summary(compiled)}")
    if failed:
        raise typer.Exit(1)


@app.command()
def info(file: Annotated[Path, typer.Argument(help="a .qrnn file")]) -> None:
    """Show each model's resources as a table."""
    compiled = _load(file)
    for name, program in compiled.programs.items():
        model = compiled.ir.model(name)
        r = program.resources
        table = Table(title=f"{file} — model {name}", show_header=True)
        table.add_column("resource")
        table.add_column("value", justify="right")
        rows = [
            ("qubits", str(r.qubits)),
            ("statevector entries", f"{2**r.qubits:,}"),
            ("init", model.init),
            ("precision", model.precision),
            ("readout mode", f"{model.shots} shots" if model.shots else "exact"),
            ("input", _describe(model.input)),
            ("controller", _describe(model.controller)),
            ("head", _describe(model.head) if model.head else "none"),
            ("gates per step", str(r.gates)),
            *((f"  {g}", str(c)) for g, c in r.gate_counts.items()),
            ("two-qubit gates", str(r.two_qubit_gates)),
            ("depth", str(r.depth)),
            ("two-qubit depth", str(r.two_qubit_depth)),
            ("controller angles", str(r.controller_angles)),
            ("static params", str(r.static_params)),
            ("constant angles", str(r.constants)),
            ("input angles", str(r.input_angles)),
            ("readouts", str(r.readouts)),
            *_parameter_rows(compiled, name),
        ]
        for key, value in rows:
            table.add_row(key, value)
        out.print(table)
    doc = compiled.ir
    if doc.task is not None:
        out.print(f"task: {_describe(doc.task)}", markup=False)
    if doc.train is not None:
        out.print(f"train: {_describe(doc.train)}", markup=False)
    if doc.seq2seq is not None:
        out.print(f"seq2seq: {_describe(doc.seq2seq)}", markup=False)


def _parameter_rows(compiled: Compiled, name: str) -> list[tuple[str, str]]:
    """Trainable numbers by part, counted on the built torch Module."""
    from qrnnc.qrnn import build_qrnn, parameter_counts  # torch only for this table

    try:
        counts = parameter_counts(build_qrnn(compiled, name, backend="torch"))
    except ValueError as e:  # e.g. a head without `out=` and no task to default it
        return [("parameters", f"unknown: {e}")]
    rows = [("parameters", f"{counts.pop('total'):,}")]
    rows += [(f"  {part.replace('_', ' ')}", f"{n:,}") for part, n in counts.items()]
    return rows


def _describe(node: object) -> str:
    data = node.model_dump(exclude={"span"})  # type: ignore[attr-defined]
    kind = data.pop("kind", None) or data.pop("name", None)
    mode = data.pop("mode", None)
    args = ", ".join(f"{k}={v}" for k, v in data.items() if v is not None)
    text = f"{kind}({args})" if kind else args
    return f"{text} {mode}" if mode else text


class Emit(StrEnum):
    ir = "ir"
    program = "program"


@app.command()
def compile(
    file: Annotated[Path, typer.Argument(help="a .qrnn file")],
    emit: Annotated[Emit, typer.Option(help="what to write")] = Emit.program,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here instead of stdout")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="which model, for files with several (program only)")
    ] = None,
) -> None:
    """Compile a .qrnn file to its IR or a model's Program, as JSON."""
    compiled = _load(file)
    if emit is Emit.ir:
        text = compiled.ir.model_dump_json(indent=2)
    else:
        text = _pick(compiled, model).model_dump_json(indent=2)
    if output is None:
        typer.echo(text)
    else:
        _write_atomic(output, text + "\n")


def _pick(compiled: Compiled, name: str | None) -> Program:
    if name is not None:
        if name not in compiled.programs:
            raise _fail(
                QrnnError(
                    f"--model {name}: no such model; this file has {', '.join(compiled.programs)}",
                    file=compiled.ir.file,
                )
            )
        return compiled.programs[name]
    if len(compiled.programs) > 1:
        raise _fail(
            QrnnError(
                f"this file defines models {', '.join(compiled.programs)}; pass --model NAME",
                file=compiled.ir.file,
            )
        )
    return compiled.program


def _write_atomic(path: Path, text: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        raise _fail(QrnnError(f"cannot write: {e.strerror or e}", file=str(path))) from None


class SchemaOf(StrEnum):
    ir = "ir"
    program = "program"


@app.command()
def schema(
    of: Annotated[SchemaOf, typer.Option(help="the IR or the Program")] = SchemaOf.ir,
) -> None:
    """Print the JSON Schema of the IR (or the Program)."""
    cls = IR if of is SchemaOf.ir else Program
    typer.echo(json.dumps(cls.model_json_schema(), indent=2))


def main() -> None:
    app()


import qrnnc.cli_braket  # noqa: E402  (registers export, run)
import qrnnc.cli_cost  # noqa: E402  (registers estimate, fit)
import qrnnc.cli_data  # noqa: E402  (registers data)
import qrnnc.cli_robustness  # noqa: E402  (registers analyze shots, noise)
import qrnnc.cli_zoo  # noqa: E402, F401  (registers zoo)
from qrnnc import cli_runs  # noqa: E402, F401  (registers train, eval, plot, analyze)
