"""`qrnnc analyze shots / noise`: a trained QRNN's metric against shots and noise rates."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qrnnc.cli import analyze_app, out
from qrnnc.errors import QrnnError


def _numbers(text: str, kind: type, option: str) -> list:
    try:
        values = [kind(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: expected numbers like 64,256", param_hint=option
        ) from None
    if not values:
        raise typer.BadParameter("give at least one value", param_hint=option)
    return values


def _next_to(run: Path, name: str) -> Path:
    """`name` in the run folder, or beside a checkpoint file."""
    return (run if run.is_dir() else run.parent) / name


def _cell(point_mean: float, point_std: float, repeats: int) -> str:
    return f"{point_mean:.4f}" + (f" ± {point_std:.4f}" if repeats > 1 else "")


@analyze_app.command("shots")
def analyze_shots(
    run: Annotated[Path, typer.Argument(help="a run folder (or a checkpoint file)")],
    shots: Annotated[
        str, typer.Option(help="shot counts per readout, e.g. 64,256,1024,4096")
    ] = "64,256,1024,4096",
    repeats: Annotated[int, typer.Option(min=1, help="seeds per shot count")] = 3,
    seed: Annotated[int, typer.Option(help="the first repeat's seed")] = 0,
    split: Annotated[str, typer.Option(help="train, valid or test")] = "test",
    limit: Annotated[int | None, typer.Option(min=1, help="the first N examples only")] = None,
    which: Annotated[str, typer.Option("--checkpoint", help="best or last")] = "best",
    data: Annotated[Path | None, typer.Option(help="data folder (default: the run's)")] = None,
    check: Annotated[
        bool, typer.Option(help="cross-check the smallest count on Braket's local simulator")
    ] = True,
    check_limit: Annotated[int, typer.Option(min=1, help="examples in the cross-check")] = 2,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="PNG path")] = None,
) -> None:
    """The task metric with N shots per readout, for each N (PNG + CSV).

    Each count is the model's `shots` mode: every readout, including those fed
    back to the controller, is a binomial estimate from N shots. One point (the
    smallest count) is cross-checked on Braket's local simulator, which measures
    for real: its readout errors, in standard errors, should have RMS about 1.
    """
    # Imported here: qrnnc.cli imports this module while cli_braket may still be loading.
    from qrnnc.cli_braket import _braket, _error, load_qrnn_run
    from qrnnc.robustness import braket_shot_check, shot_curve, write_curve

    counts = _numbers(shots, int, "--shots")
    net, task = load_qrnn_run(run, which, data, split, command="qrnnc analyze shots")
    metric = task.metric
    started = time.perf_counter()
    try:
        exact, points = shot_curve(
            net, task, split, counts, repeats=repeats, seed=seed, limit=limit
        )  # fmt: skip
    except ValueError as e:
        raise _error(str(e)) from None
    seconds = time.perf_counter() - started
    png = output or _next_to(run, "shots.png")
    csv_path = write_curve(
        points, png=png, x_name="shots", metric=metric, reference=exact,
        title=f"{net.program.model}: {split} {metric} vs shots per readout",
    )  # fmt: skip
    examples = len(task.splits[split]) if limit is None else min(limit, len(task.splits[split]))
    table = Table(title=f"{run} — {split}, {examples} examples, {repeats} seed(s)")
    table.add_column("shots", justify="right")
    for key in exact:
        table.add_column(key, justify="right")
    table.add_row("exact", *(f"{v:.4f}" for v in exact.values()))
    for p in points:
        table.add_row(f"{int(p.x):,}", *(_cell(p.mean(k), p.std(k), repeats) for k in exact))
    out.print(table)
    out.print(f"numba shots mode: {seconds:.1f} s; wrote {png} and {csv_path}")
    if not check:
        return
    _braket()  # says how to install the SDK when it is missing
    n = min(counts)
    started = time.perf_counter()
    try:
        result = braket_shot_check(
            net, task, split, n, limit=check_limit, repeats=repeats, seed=seed
        )  # fmt: skip
    except (ValueError, RuntimeError, QrnnError) as e:
        raise _error(f"the Braket cross-check failed: {e}") from None
    seconds = time.perf_counter() - started
    check_table = Table(
        title=f"cross-check at {n:,} shots, first {result.examples} example(s) of {split}"
    )
    check_table.add_column("")
    check_table.add_column(f"numba shots mode ({repeats} seeds)", justify="right")
    check_table.add_column("braket-local", justify="right")
    for key in result.braket:
        mode = _cell(result.shots_mode.mean(key), result.shots_mode.std(key), repeats)
        check_table.add_row(key, mode, f"{result.braket[key]:.4f}")
    check_table.add_row(
        "readout error RMS (std. errors)", "1 by construction", f"{result.z_rms:.3f}"
    )
    out.print(check_table)
    out.print(
        f"braket-local: {result.tasks:,} tasks, {result.readouts:,} readouts compared,"
        f" {seconds:.1f} s. An RMS near 1 means Braket's shot noise has the size the shots"
        " mode models."
    )


@analyze_app.command("noise")
def analyze_noise(
    run: Annotated[Path, typer.Argument(help="a run folder (or a checkpoint file)")],
    channel: Annotated[
        str, typer.Option(help="depolarizing, amplitude_damping, bit_flip, readout, ...")
    ] = "depolarizing",
    rates: Annotated[
        str, typer.Option(help="probabilities, e.g. 0,0.001,0.003,0.01,0.03")
    ] = "0,0.001,0.003,0.01,0.03",
    limit: Annotated[int, typer.Option(min=1, help="the first N examples of the split")] = 4,
    shots: Annotated[int, typer.Option(min=0, help="per task; 0: exact expectations")] = 0,
    repeats: Annotated[int, typer.Option(min=1, help="seeds per rate (with --shots)")] = 1,
    seed: Annotated[int, typer.Option(help="the first repeat's seed")] = 0,
    split: Annotated[str, typer.Option(help="train, valid or test")] = "test",
    which: Annotated[str, typer.Option("--checkpoint", help="best or last")] = "best",
    data: Annotated[Path | None, typer.Option(help="data folder (default: the run's)")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="PNG path")] = None,
) -> None:
    """The task metric on Braket's density-matrix simulator as one noise channel grows (PNG + CSV).

    Each step replays the circuit prefix on braket_dm (O(T^2) gates per example,
    see docs/braket_cost.md), so keep --limit small; at most 13 qubits.
    """
    from qrnnc.cli_braket import _braket, _error, load_qrnn_run
    from qrnnc.robustness import Point, noise_curve, write_curve

    values = _numbers(rates, float, "--rates")
    braket = _braket()
    net, task = load_qrnn_run(run, which, data, split, command="qrnnc analyze noise")
    metric = task.metric
    dataset = task.splits[split]
    examples, steps = min(limit, len(dataset)), dataset[0]["x"].shape[0]
    plan = braket.BraketRunner(net, None, shots=shots).plan(examples, steps)
    out.print(f"per rate: {plan.describe()}", markup=False)
    started = time.perf_counter()

    def report(point: Point) -> None:
        done = f"{channel}={point.x:g}: {metric} {point.mean(metric):.4f}"
        out.print(f"{done} ({time.perf_counter() - started:.0f} s)")

    try:
        points = noise_curve(
            net, task, split, channel, values, limit=limit, shots=shots, repeats=repeats,
            seed=seed, on_point=report,
        )  # fmt: skip
    except QrnnError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    except (ValueError, RuntimeError) as e:
        raise _error(str(e)) from None
    seconds = time.perf_counter() - started
    png = output or _next_to(run, "noise.png")
    csv_path = write_curve(
        points, png=png, x_name=f"{channel} rate", metric=metric, reference_label="noise-free",
        title=f"{net.program.model}: {split} {metric} vs {channel} (braket_dm)",
    )  # fmt: skip
    mode = f"{shots:,} shots" if shots else "exact expectations"
    table = Table(title=f"{run} — {split}, first {limit} examples, braket_dm, {mode}")
    table.add_column(f"{channel} rate", justify="right")
    keys = list(points[0].runs[0])
    for key in keys:
        table.add_column(key, justify="right")
    reps = repeats if shots else 1
    for p in points:
        table.add_row(f"{p.x:g}", *(_cell(p.mean(k), p.std(k), reps) for k in keys))
    out.print(table)
    out.print(f"{seconds:.1f} s; wrote {png} and {csv_path}")
