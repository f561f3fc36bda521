"""How a trained QRNN's metric holds up as its readouts get noisier: shots and noise.

- `shot_curve`: the metric with N shots per readout, for each N, by the QRNN's
  own `shots` mode (binomial estimates fed back into the recurrence, see
  qrnnc.readout), repeated with different seeds; no Braket needed.
- `braket_shot_check`: one point of that curve cross-checked on Braket's local
  statevector simulator, which really measures: its readouts' errors against
  the exact expectations of the angles it ran, in standard errors
  sqrt((1 - z^2) / N), should have RMS about 1, as the shots mode assumes.
- `noise_curve`: the metric on Braket's density-matrix simulator with one noise
  channel at rising rates (exact expectations of the noisy state at shots 0).

`write_curve` writes a CSV (one row per point and repeat) and a PNG.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from qrnnc.qrnn import QRNN
from qrnnc.tasks.base import TaskData
from qrnnc.train import collate, evaluate


@dataclass
class Point:
    """One x (shots, or a noise rate) of a curve: the metrics of each repeat."""

    x: float
    runs: list[dict[str, float]] = field(default_factory=list)

    def mean(self, key: str) -> float:
        return float(np.mean([r[key] for r in self.runs]))

    def std(self, key: str) -> float:
        return float(np.std([r[key] for r in self.runs], ddof=1)) if len(self.runs) > 1 else 0.0


def shot_curve(
    net: QRNN,
    data: TaskData,
    split: str,
    shots: Sequence[int],
    *,
    repeats: int = 3,
    seed: int = 0,
    limit: int | None = None,
    batch: int = 64,
) -> tuple[dict[str, float], list[Point]]:
    """The exact metrics, and the metrics at each shot count (repeats seeded seed, seed+1, ...)."""
    _check_counts(shots, repeats)
    saved = net.shots
    try:
        net.shots = None
        exact = evaluate(net, data, split, batch, limit=limit)
        points = []
        for n in shots:
            net.shots = n
            point = Point(float(n))
            for r in range(repeats):
                torch.manual_seed(seed + r)
                point.runs.append(evaluate(net, data, split, batch, limit=limit))
            points.append(point)
    finally:
        net.shots = saved
    return exact, points


@dataclass
class ShotCheck:
    """One shot count on Braket's local simulator next to the shots mode, same examples."""

    shots: int
    examples: int
    braket: dict[str, float]
    shots_mode: Point
    z_rms: float  # RMS of the readout errors in standard errors; about 1 when they agree
    readouts: int  # how many readouts entered z_rms (those with 1 - z^2 > 0)
    tasks: int


def braket_shot_check(
    net: QRNN,
    data: TaskData,
    split: str,
    shots: int,
    *,
    limit: int = 2,
    repeats: int = 3,
    seed: int = 0,
) -> ShotCheck:
    """Run the first `limit` examples on LocalSimulator("braket_sv") with `shots` per task."""
    from qrnnc.backends.braket import BraketRunner, exact_readouts, local_simulator

    _check_counts([shots], repeats)
    batch = _first(data, split, limit)
    runner = BraketRunner(net, local_simulator("braket_sv"), shots=shots)
    np.random.seed(seed)  # the local simulator samples with numpy's global generator
    braket = data.metrics(runner.forward(batch["x"]), batch)
    trajectory = runner.last
    assert trajectory is not None
    exact = exact_readouts(net, trajectory)
    var = (1.0 - exact**2) / shots
    live = var > 1e-12
    z = (trajectory.readouts - exact)[live] / np.sqrt(var[live])
    _, (point,) = shot_curve(
        net, data, split, [shots], repeats=repeats, seed=seed, limit=limit, batch=limit
    )
    return ShotCheck(
        shots=shots,
        examples=int(batch["x"].shape[0]),
        braket=braket,
        shots_mode=point,
        z_rms=float(np.sqrt(np.mean(z**2))) if z.size else float("nan"),
        readouts=int(z.size),
        tasks=runner.tasks_sent,
    )


def noise_curve(
    net: QRNN,
    data: TaskData,
    split: str,
    channel: str,
    rates: Sequence[float],
    *,
    limit: int = 4,
    shots: int = 0,
    repeats: int = 1,
    seed: int = 0,
    on_point: Callable[[Point], None] | None = None,
) -> list[Point]:
    """The metrics on braket_dm with `channel` at each rate (repeats only matter with shots);
    `on_point` sees each rate's point as soon as it is measured."""
    from qrnnc.backends.braket import BraketRunner
    from qrnnc.backends.braket.noise import noisy_simulator, parse_noise

    _check_counts([shots or 1], repeats)
    if not rates:
        raise ValueError("give at least one noise rate, e.g. 0,0.001,0.01")
    specs = [parse_noise(f"{channel}={rate!r}") for rate in rates]  # checks name and range
    batch = _first(data, split, limit)
    points = []
    for rate, spec in zip(rates, specs, strict=True):
        device = noisy_simulator(spec, qubits=net.program.qubits)
        runner = BraketRunner(net, device, shots=shots)
        point = Point(float(rate))
        for r in range(repeats if shots else 1):
            np.random.seed(seed + r)
            with warnings.catch_warnings():
                # braket_dm warns per task when a circuit gets no noise (rate 0).
                warnings.filterwarnings("ignore", message="You are running a noise-free circuit")
                point.runs.append(data.metrics(runner.forward(batch["x"]), batch))
        points.append(point)
        if on_point is not None:
            on_point(point)
    return points


def write_curve(
    points: Sequence[Point],
    *,
    png: Path,
    x_name: str,
    metric: str,
    reference: dict[str, float] | None = None,
    reference_label: str = "exact",
    title: str = "",
) -> Path:
    """CSV next to the PNG: x_name, repeat, then every metric; the reference as x = 0."""
    csv_path = png.with_suffix(".csv")
    keys = list(points[0].runs[0]) if points else list(reference or {})
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([x_name, "repeat", *keys])
        if reference is not None:
            w.writerow([0, 0, *(reference.get(k, "") for k in keys)])
        for p in points:
            for r, run in enumerate(p.runs):
                w.writerow([_number(p.x), r, *(run.get(k, "") for k in keys)])
    from qrnnc.analysis import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    shown = [p for p in points if p.x > 0]
    ax.errorbar(
        [p.x for p in shown],
        [p.mean(metric) for p in shown],
        yerr=[p.std(metric) for p in shown],
        marker="o",
        capsize=3,
        label=f"{metric} (mean ± std over repeats)",
    )
    zero = next((p for p in points if p.x == 0), None)
    level = reference.get(metric) if reference is not None else None
    if zero is not None:
        level = zero.mean(metric)
    if level is not None and not math.isnan(level):
        ax.axhline(level, color="gray", linestyle="--", label=f"{reference_label}: {level:.4g}")
    if shown:
        ax.set_xscale("log")
    ax.set(xlabel=x_name, ylabel=metric, title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return csv_path


def _check_counts(shots: Sequence[int], repeats: int) -> None:
    if not shots:
        raise ValueError("give at least one shot count, e.g. 64,256,1024")
    bad = [n for n in shots if isinstance(n, bool) or not isinstance(n, int) or n < 1]
    if bad:
        raise ValueError(f"shot counts must be positive integers, got {bad[0]!r}")
    if repeats < 1:
        raise ValueError(f"repeats={repeats}: expected at least 1")


def _first(data: TaskData, split: str, limit: int) -> dict[str, torch.Tensor]:
    if split not in data.splits:
        raise KeyError(f"no split {split!r}; this task has {', '.join(data.splits)}")
    dataset = data.splits[split]
    if len(dataset) == 0:
        raise ValueError(f"the {split} split is empty")
    return collate(dataset, torch.arange(min(limit, len(dataset))), torch.device("cpu"))


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x
