"""`qrnnc export` and `qrnnc run`: a model as OpenQASM 3 / Braket IR, and a run on Braket.

braket is imported inside the commands only, so that `qrnnc check`, `train`
and every other command work (and start fast) without it.
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from qrnnc.cli import _load, _pick, _write_atomic, app, out
from qrnnc.errors import QrnnError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

    import torch

    from qrnnc.program import Program
    from qrnnc.qrnn import QRNN
    from qrnnc.tasks.base import TaskData

INSTALL_HINT = "pip install -e '.[braket]'"
BRAKET_STEPS_FORMAT = "qrnnc-braket-steps/1"


class ExportFormat(StrEnum):
    qasm = "qasm"
    braket = "braket"


class BraketBackend(StrEnum):
    local = "braket-local"
    dm = "braket-dm"


def _error(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _braket() -> ModuleType:
    """qrnnc.backends.braket, or an exit that says how to install braket."""
    try:
        import qrnnc.backends.braket as backend
    except ImportError as e:
        message = str(e) if INSTALL_HINT in str(e) else f"{e}; install it with {INSTALL_HINT}"
        raise _error(f"the Braket backend needs amazon-braket-sdk: {message}") from None
    return backend


def _is_run(path: Path) -> bool:
    return path.is_dir() or path.suffix == ".safetensors"


def _run_qrnn(path: Path, model: str | None) -> QRNN:
    """A run's trained QRNN (for a seq2seq run, its --model encoder or decoder)."""
    from qrnnc.qrnn import QRNN
    from qrnnc.train import load_run

    try:
        _, net, _ = load_run(path)
    except (ValueError, FileNotFoundError, KeyError) as e:
        raise _error(str(e)) from None
    parts = {"encoder": getattr(net, "encoder", None), "decoder": getattr(net, "decoder", None)}
    if model is not None and isinstance(parts.get(model), QRNN):
        return parts[model]  # type: ignore[return-value]
    if not isinstance(net, QRNN):
        qrnns = [name for name, part in parts.items() if isinstance(part, QRNN)]
        hint = f"; pass --model {' or '.join(qrnns)}" if qrnns else " (no quantum cell)"
        raise _error(f"{path} holds a {type(net).__name__}, not a QRNN{hint}")
    if model is not None and model != net.program.model:
        raise _error(f"--model {model}: {path} holds model {net.program.model}")
    return net


def load_qrnn_run(
    run: Path, which: str, data: Path | None, split: str, *, command: str
) -> tuple[QRNN, TaskData]:
    """A run's trained QRNN and its task data, with `split` checked; errors exit 1."""
    from qrnnc.qrnn import QRNN
    from qrnnc.train import load_run, task_data

    try:
        cfg, net, _ = load_run(run, which)
    except (ValueError, FileNotFoundError, KeyError) as e:
        raise _error(str(e)) from None
    if not isinstance(net, QRNN):
        raise _error(
            f"{run} holds a {type(net).__name__}; `{command}` evaluates QRNN runs only"
            " (export a seq2seq run's encoder or decoder with `qrnnc export --model`)"
        )
    try:
        task = task_data(cfg, data)
    except (ValueError, FileNotFoundError) as e:
        raise _error(str(e)) from None
    if split not in task.splits:
        raise _error(f"no split {split!r}; this task has {', '.join(task.splits)}")
    return net, task


def _file_qrnn(path: Path, model: str | None, seed: int) -> QRNN:
    """A .qrnn file's model with freshly initialized weights (drawn after manual_seed(seed))."""
    import torch

    from qrnnc.qrnn import build_qrnn

    compiled = _load(path)
    name = _pick(compiled, model).model
    torch.manual_seed(seed)
    try:
        return build_qrnn(compiled, name, dtype=torch.float64)
    except ValueError as e:
        raise _error(str(e)) from None


def _read_input(net: QRNN, tokens: str | None, features: Path | None) -> torch.Tensor:
    """One sequence (1, T) of tokens or (1, T, D) of features, from --input or --features."""
    import numpy as np
    import torch

    reads_tokens = net.program.input_kind == "tokens"
    if reads_tokens:
        if tokens is None or features is not None:
            raise _error(
                f"model {net.program.model} reads tokens: pass --input '3,1,4' (ids, comma-"
                " or space-separated)"
            )
        try:
            ids = [int(t) for t in tokens.replace(",", " ").split()]
        except ValueError:
            raise _error(f"--input {tokens!r}: expected integer token ids like '3,1,4'") from None
        if not ids:
            raise _error("--input is empty: give at least one token id")
        return torch.tensor([ids], dtype=torch.long)
    dim = net.program.input_dim
    if features is None or tokens is not None:
        raise _error(
            f"model {net.program.model} reads {dim} features per step: pass --features FILE,"
            f" a text file with one row of {dim} numbers per step"
        )
    try:
        rows = np.loadtxt(features, dtype=np.float64, ndmin=2, delimiter=None)
    except (OSError, ValueError) as e:
        raise _error(f"--features {features}: {e}") from None
    if dim == 1 and rows.shape[0] == 1 and rows.shape[1] > 1:
        rows = rows.T  # one line of numbers: one feature per step
    if rows.shape[1] != dim or rows.shape[0] == 0:
        raise _error(
            f"--features {features} has shape {rows.shape}; model {net.program.model} needs"
            f" (T, {dim}): one row of {dim} numbers per step"
        )
    return torch.as_tensor(rows, dtype=net.dtype)[None]


def braket_steps(net: QRNN, x: torch.Tensor) -> dict[str, Any]:
    """The Braket programs a run of `net` on one sequence x sends, as JSON (the braket format).

    Step t's program is the prefix U(theta_t)...U(theta_1)|init> with the readouts
    as expectation result types: what the runner sends at shots=0 (crx, cry, crz
    decomposed into rotations and cnot/cz), runnable on a Braket device as it is.
    The angles are those of the exact forward pass; readout k of step t is
    `values[result_index[k]]` of its result (a readout written twice is one
    result type).
    """
    braket = _braket()
    from qrnnc.backends.braket.runner import exact_trajectory

    program = net.program
    trajectory = exact_trajectory(net, x)
    types, index = braket.lower.expectations(program)
    phi = net.phi.detach().double().cpu().numpy()
    steps = []
    for t in range(trajectory.angles.shape[1]):
        xs = None if trajectory.inputs is None else trajectory.inputs[0, : t + 1]
        circuit = braket.prefix_circuit(
            program, trajectory.angles[0, : t + 1], phi, xs, controlled="decompose"
        )
        for rt in types:
            circuit.add_result_type(rt)
        steps.append(
            {
                "t": t + 1,
                "theta": trajectory.angles[0, t].tolist(),
                "x": None if trajectory.inputs is None else trajectory.inputs[0, t].tolist(),
                "readouts": trajectory.readouts[0, t].tolist(),
                "program": json.loads(circuit.to_ir("OPENQASM").json()),
            }
        )
    return {
        "format": BRAKET_STEPS_FORMAT,
        "model": program.model,
        "qubits": program.qubits,
        "init": program.init,
        "readouts": [_readout_name(program, k) for k in range(program.n_readouts)],
        "result_index": index,
        "steps": steps,
    }


def _aws_device(
    arn: str, program: Any, sequences: int, steps: int, shots: int,
    max_cost: float | None, dry: bool,
) -> Any:  # fmt: skip
    """The guarded AWS device for `qrnnc run --device`, or None after printing a dry run.

    The estimate and the budget are checked before AwsDevice is even created, so
    a refused or dry run needs no credentials and makes no network call.
    """
    from qrnnc.backends.braket import cost

    try:
        est = cost.estimate(program, steps=steps, sequences=sequences, shots=shots, device=arn)
        if dry:
            cost.dry_run(est, program, console=out)
            return None
        cost.check_budget(est, max_cost)
    except QrnnError as e:  # already reads `WHERE: error: ...`
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    except ValueError as e:
        raise _error(str(e)) from None
    return cost.GuardedDevice(cost.aws_device(arn), est, max_cost)


@contextlib.contextmanager
def _tracked(aws: bool) -> Iterator[Any]:
    """Braket's Tracker around an AWS run (its Spend, filled on exit); None locally."""
    if not aws:
        yield None
        return
    from qrnnc.backends.braket.cost import track_spend

    with track_spend() as spend:
        yield spend


def _device(backend: BraketBackend, noise: str | None, qubits: int) -> Any:
    from qrnnc.backends.braket import local_simulator
    from qrnnc.backends.braket import noise as noises

    try:
        if backend is BraketBackend.local:
            if noise is not None:
                raise _error("--noise needs --backend braket-dm (the density-matrix simulator)")
            return local_simulator("braket_sv")
        if noise is not None:
            return noises.noisy_simulator(noise, qubits=qubits)
        noises.check_dm_qubits(qubits)
        out.print("note: braket-dm without --noise is noise-free (as braket-local)")
        return local_simulator("braket_dm")
    except QrnnError as e:
        raise _error(str(e)) from None


def _readout_name(program: Program, k: int) -> str:
    obs, (a, b) = program.readout_obs[k], program.readout_wires[k]
    return f"z(q[{a}]) @ z(q[{b}])" if obs == "zz" else f"{obs}(q[{a}])"


@app.command()
def export(
    source: Annotated[Path, typer.Argument(help="a .qrnn file or a run folder")],
    format: Annotated[ExportFormat, typer.Option("--format", help="qasm or braket")] = (
        ExportFormat.qasm
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here instead of stdout")
    ] = None,
    free_params: Annotated[
        bool, typer.Option("--free-params", help="static params as inputs phi_j (qasm)")
    ] = False,
    model: Annotated[str | None, typer.Option(help="which model, for files with several")] = None,
    tokens: Annotated[
        str | None, typer.Option("--input", help="braket: the token ids, e.g. '3,1,4'")
    ] = None,
    features: Annotated[
        Path | None, typer.Option(help="braket: a text file, one row of features per step")
    ] = None,
    seed: Annotated[int, typer.Option(help="braket, .qrnn file: seed of the fresh weights")] = 0,
) -> None:
    """A model for Braket: one step as OpenQASM 3, or the programs of a run on one input.

    qasm: one step of the cell from the initial state, controller angles as
    `input float theta_k`, readouts as result pragmas; a run's trained static
    params are bound (a file's as written). braket: JSON with, per step t, the
    Braket OpenQASM program (prefix replay + readouts) for the given input and
    the angles and exact readouts of the model's forward pass.
    """
    if format is ExportFormat.qasm:
        braket = _braket()
        if _is_run(source):
            net = _run_qrnn(source, model)
            program = net.program
            phi = None if free_params else net.phi.detach().double().cpu().numpy()
        else:
            program, phi = _pick(_load(source), model), None
        try:
            text = braket.to_qasm(program, phi, free_params=free_params)
        except ValueError as e:
            raise _error(str(e)) from None
    else:
        if free_params:
            raise _error("--free-params applies to --format qasm; braket programs are bound")
        net = _run_qrnn(source, model) if _is_run(source) else _file_qrnn(source, model, seed)
        x = _read_input(net, tokens, features)
        try:
            text = json.dumps(braket_steps(net, x), indent=1)
        except ValueError as e:
            raise _error(str(e)) from None
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        _write_atomic(output, text if text.endswith("\n") else text + "\n")


@app.command("run")
def run_on_braket(
    run: Annotated[Path, typer.Argument(help="a run folder (or a checkpoint file)")],
    backend: Annotated[
        BraketBackend, typer.Option(help="braket-local (statevector) or braket-dm")
    ] = BraketBackend.local,
    shots: Annotated[int, typer.Option(min=0, help="per task; 0: exact expectations")] = 0,
    split: Annotated[str, typer.Option(help="train, valid or test")] = "test",
    limit: Annotated[int, typer.Option(min=1, help="the first N examples of the split")] = 4,
    which: Annotated[str, typer.Option("--checkpoint", help="best or last")] = "best",
    data: Annotated[Path | None, typer.Option(help="data folder (default: the run's)")] = None,
    noise: Annotated[
        str | None,
        typer.Option(help="braket-dm: noise channels, e.g. depolarizing=0.01,readout=0.02"),
    ] = None,
    device_arn: Annotated[
        str | None,
        typer.Option("--device", help="an AWS Braket device ARN instead of a local simulator"),
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option(help="USD ceiling, required for an AWS --device")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the tasks and the estimate, send nothing")
    ] = False,
) -> None:
    """Evaluate a run's QRNN on a local Braket simulator, next to the numba forward pass.

    With --device ARN it runs on that AWS device instead: the estimate must fit
    under --max-cost (checked before any task and again before each one), and
    --dry-run prints the task specifications and the estimate and sends nothing.

    Each step replays the circuit prefix and measures every readout basis (see
    docs/braket.md): T x bases tasks per example and O(T^2) gates, so keep
    --limit small. At --shots 0 both columns are equal.
    """
    import torch

    from qrnnc.train import collate, forward

    braket = _braket()
    net, task = load_qrnn_run(run, which, data, split, command="qrnnc run")
    dataset = task.splits[split]
    batch = collate(dataset, torch.arange(min(limit, len(dataset))), torch.device("cpu"))
    net.shots = None  # the reference is the exact forward pass
    net.eval()

    with torch.no_grad():
        started = time.perf_counter()
        reference = forward(net, batch)
        numba_s = time.perf_counter() - started

    b, steps = batch["x"].shape[0], batch["x"].shape[1]
    if device_arn is not None:
        device = _aws_device(device_arn, net.program, b, steps, shots, max_cost, dry_run)
        if device is None:  # a dry run: printed, nothing sent
            return
    else:
        device = _device(backend, noise, net.program.qubits)
    runner = braket.BraketRunner(net, device, shots=shots)
    mode = f"{shots:,} shots per task" if shots else "exact (shots 0)"
    where = device_arn or backend.value
    out.print(f"{where}, {mode}: {runner.plan(b, steps).describe()}", markup=False)
    started = time.perf_counter()
    spend = None
    try:
        with warnings.catch_warnings(), _tracked(device_arn is not None) as spend:
            # braket_dm warns once per task (in each worker) that it has no noise to apply.
            warnings.filterwarnings("ignore", message="You are running a noise-free circuit")
            logits = runner.forward(batch["x"])
    except (ValueError, RuntimeError, QrnnError) as e:
        _report_spend(spend)  # what was sent before it stopped is still billed
        if isinstance(e, QrnnError):  # the guard stopped a task past --max-cost
            typer.echo(str(e), err=True)  # already reads `--max-cost: error: ...`
            raise typer.Exit(1) from None
        raise _error(str(e)) from None
    braket_s = time.perf_counter() - started
    deviation = float(abs(braket.exact_readouts(net, runner.last) - runner.last.readouts).max())

    numba_m = task.metrics(reference, batch)
    braket_m = task.metrics(logits, batch)
    table = Table(title=f"{run} — {split}, first {b} examples", show_header=True)
    table.add_column("metric")
    table.add_column("numba", justify="right")
    table.add_column(where, justify="right")
    for key in numba_m:
        table.add_row(key, f"{numba_m[key]:.6f}", f"{braket_m[key]:.6f}")
    table.add_row("max readout deviation", "", f"{deviation:.3g}")
    table.add_row("tasks", "", f"{runner.tasks_sent:,}")
    table.add_row("shots", "", f"{runner.shots_sent:,}")
    table.add_row("gates", "", f"{runner.gates_sent:,}")
    table.add_row("seconds", f"{numba_s:.3f}", f"{braket_s:.1f}")
    out.print(table)
    _report_spend(spend)


def _report_spend(spend: Any) -> None:
    if spend is not None:
        out.print(
            spend.render() if spend.devices else "the Tracker saw no tasks",
            soft_wrap=True,
            markup=False,
        )
