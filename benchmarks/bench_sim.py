"""Simulator benchmarks: the numba adjoint backend against the torch autograd reference.

    python benchmarks/bench_sim.py [--quick] [--out DIR]

Measures, side by side in one run (DESIGN.md, "Performance bar"; issue 4, part 7):

1. forward+backward time and peak memory of the full QRNN (zoo/copying/model.qrnn with
   `qubits n`) on a grid of n and T at B=64, numba vs torch, as ratios;
2. memory flat in T: numba's peak at n=10, T=32 vs T=512, against the per-step
   activations autograd keeps for the classical parts;
3. where time goes at n=8, T=128: full net vs the cell alone vs the bare kernels;
4. per-gate throughput at n=12 against PennyLane Lightning on the same circuit;
5. a sequential-MNIST epoch estimate from measured steps/s.

Every measurement runs in its own fresh subprocess (`--worker SPEC`), so that
peak memory (the process's RSS high-water mark) belongs to one cell only and
each backend gets its own thread settings. Writes DIR/sim.json and DIR/sim.md;
`--quick` runs a tiny subset (a smoke test, under a minute) and writes to a
temporary folder unless --out is given. Timings never go into unit tests.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
MIB = 2**20
GIB = 2**30
BATCH = 64
MEM_LIMIT = 12 * GIB  # a reference cell predicted to need more is skipped
TIME_LIMIT = 120.0  # ... or predicted to take longer than this per forward+backward
WORKER_TIMEOUT = 600.0
MNIST_SEQUENCES = 60_000
MNIST_STEPS = 784
RESULT_TAG = "@@RESULT "
QUIET_CORES = 0.3  # before a cell, wait while other processes keep more cores busy...
QUIET_WAIT_S = 120.0  # ... but at most this long

# glibc hands freed heap back to the kernel, and on this kind of VM memory that is
# touched again faults back in slowly: the reference (gigabytes of graph per pass)
# then spends most of its first passes in page faults. Keeping freed memory in the
# process is where a long training run ends up anyway; every worker gets the same
# setting, and the first ("cold") full-size pass is reported separately.
MALLOC_ENV = {"MALLOC_TRIM_THRESHOLD_": str(64 * GIB), "MALLOC_MMAP_THRESHOLD_": str(32 * MIB)}


# =====================================================================================
# Workers: each runs in a fresh process and prints one JSON result line.
# =====================================================================================


def model_text(model: str, n: int | None) -> str:
    """A zoo config with its `qubits` line set to n (None: as written)."""
    text = (ROOT / "zoo" / model / "model.qrnn").read_text()
    if n is None:
        return text
    found = re.search(r"^\s*qubits\s+(\d+)", text, re.MULTILINE)
    if found is None:
        raise ValueError(f"zoo/{model}.qrnn has no `qubits` line")
    return text[: found.start(1)] + str(n) + text[found.end(1) :]


def _rss() -> int:
    """Resident set size now, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> bool:
    """Reset the RSS high-water mark (Linux >= 4.0), so the peak after it is this run's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak() -> int:
    """The RSS high-water mark in bytes (since the last reset, where that worked)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _setup_threads(backend: str) -> dict[str, Any]:
    """numba: the project's plan (before numba is imported); torch: every core (its best)."""
    import torch

    from qrnnc import threads

    if backend == "torch":
        torch.set_num_threads(threads.available_cores())
        return {"torch": torch.get_num_threads(), "numba": None}
    plan = threads.configure()
    import numba

    return {"torch": torch.get_num_threads(), "numba": numba.get_num_threads(), "layer": plan.layer}


def _repeat(fn: Callable[[], object], first: float, budget: float, limit: int) -> list[float]:
    """Warm repeats of fn after a first run that took `first` s: at least one, then as many
    as fit in `budget` s, at most `limit`."""
    times: list[float] = []
    estimate = first
    while len(times) < limit and (not times or sum(times) + estimate <= budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        estimate = min(times)
    return times


def work_net(spec: dict[str, Any]) -> dict[str, Any]:
    """Full QRNN forward+backward (optionally + Adam step) at (n, T, B) on one backend."""
    import torch

    import qrnnc

    backend, steps, batch = spec["backend"], spec["T"], spec["B"]
    threads = _setup_threads(backend)
    torch.manual_seed(0)
    compiled = qrnnc.loads(model_text(spec["model"], spec.get("n")), f"{spec['model']}.qrnn")
    net = compiled.build(backend=backend)
    if backend == "torch":  # building must not have changed the peer's thread count
        torch.set_num_threads(threads["torch"])
    program = compiled.program
    g = torch.Generator().manual_seed(1)
    inp = compiled.model.input
    if inp.kind == "tokens":
        x = torch.randint(0, inp.vocab, (batch, steps), generator=g)
    else:  # features in [0, pi): pixel intensities as angles
        x = torch.rand(batch, steps, inp.dim, generator=g) * math.pi
    weights: dict[tuple[int, ...], torch.Tensor] = {}
    opt = torch.optim.Adam(net.parameters(), lr=1e-3) if spec.get("optimizer") else None

    def once(t: int) -> None:
        out = net(x[:, :t])
        if tuple(out.shape) not in weights:
            weights[tuple(out.shape)] = torch.randn(out.shape, generator=g)
        # A fixed random linear loss: every logit at every step gets a gradient.
        (out * weights[tuple(out.shape)]).sum().backward()
        if opt is not None:
            opt.step()
        net.zero_grad(set_to_none=True)

    # Warm-up at a tiny size: numba's kernels load from cache, torch initializes
    # its pools; the RSS after it is the baseline the cell's peak is measured from.
    once(min(2, steps))
    gc.collect()
    base = _rss()
    reset = _reset_peak()
    t0 = time.perf_counter()
    once(steps)
    cold = time.perf_counter() - t0
    peak = _peak()
    gc.collect()
    times = _repeat(partial(once, steps), cold, spec["budget"], spec["max_repeats"])
    result: dict[str, Any] = {
        "cold_s": cold,
        "times_s": times,
        "best_s": min(times),
        "median_s": statistics.median(times),
        "ms_per_step": 1e3 * min(times) / steps,
        "base_mib": base / MIB,
        "peak_mib": peak / MIB,
        "mem_mib": (peak - base) / MIB,
        "peak_reset": reset,
        "threads": threads,
        "sizes": {
            "qubits": program.qubits,
            "gates": len(program.gates),
            "angles": program.n_controller,
            "readouts": program.n_readouts,
            "static": program.n_params,
            "input_angles": program.resources.input_angles,
            "state_mib": batch * (2**program.qubits) * 16 / MIB,
            "parameters": sum(p.numel() for p in net.parameters()),
        },
    }
    if spec.get("probe_saved"):
        result["saved_per_step"] = _saved_per_step(net, x, batch, program)
    return result


def _saved_per_step(net: Any, x: Any, batch: int, program: Any) -> dict[str, float]:
    """Bytes kept per step for backward outside the quantum state (an estimate).

    autograd: every tensor saved for backward (controller activations, head
    inputs, readouts) plus the output, counted once per storage with
    saved_tensors_hooks, over forwards at two lengths; the difference per step is
    the growth. The numba cell also logs its angles per step (theta, and x for
    input-fed gates, as float64), which the hooks do not see: added from the sizes.
    """
    import torch

    def saved_bytes(t: int) -> int:
        seen: dict[int, int] = {}

        def pack(tensor: torch.Tensor) -> torch.Tensor:
            storage = tensor.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            out = net(x[:, :t])
        return sum(seen.values()) + out.numel() * out.element_size()

    long = min(x.shape[1], 24)
    short = long // 3
    autograd = (saved_bytes(long) - saved_bytes(short)) / (long - short)
    x_angles = program.input_dim if program.resources.input_angles else 0
    angle_log = batch * (program.n_controller + x_angles) * 8
    return {"autograd_bytes": autograd, "angle_log_bytes": angle_log}


def work_cell(spec: dict[str, Any]) -> dict[str, Any]:
    """The cell alone (qrnnc.simulate, random angles) forward+backward, no controller."""
    import torch

    import qrnnc

    threads = _setup_threads(spec["backend"])
    program = qrnnc.loads(model_text("copying", spec["n"]), "copying.qrnn").program
    steps, batch = spec["T"], spec["B"]
    g = torch.Generator().manual_seed(3)
    shape = (steps, batch, program.n_controller)
    angles = torch.rand(shape, dtype=torch.float64, generator=g) * (2 * math.pi)
    w = torch.randn(steps, batch, program.n_readouts, dtype=torch.float64, generator=g)

    def once(t: int) -> None:
        a = angles[:t].clone().requires_grad_(True)
        r = qrnnc.simulate(program, a, backend=spec["backend"])
        (r * w[:t]).sum().backward()

    once(2)
    t0 = time.perf_counter()
    once(steps)
    cold = time.perf_counter() - t0
    times = _repeat(partial(once, steps), cold, spec["budget"], spec["max_repeats"])
    return {"cold_s": cold, "times_s": times, "best_s": min(times), "threads": threads}


def _kernel_args(n: int, batch: int, steps: int, readouts: bool = True) -> dict[str, Any]:
    """numpy arrays for kernels.forward_step / backward_step, built the way
    backends/numba_sv/cell.py builds them, for the copying cell at n qubits."""
    import numpy as np

    import qrnnc
    from qrnnc.backends.numba_sv import kernels

    program = qrnnc.loads(model_text("copying", n), "copying.qrnn").program
    a = program.arrays()
    obs, owires = a.readout_obs, a.readout_wires
    if not readouts:
        obs, owires = obs[:0], owires[:0]
    qgroups, zzs = kernels.readout_groups(obs, owires)
    rng = np.random.default_rng(4)
    return {
        "program": program,
        "a": a,
        "readouts": (qgroups, zzs),
        "theta": rng.uniform(0, 2 * math.pi, (steps, batch, program.n_controller)),
        "phi": np.zeros(program.n_params),
        "x": np.zeros((batch, 0)),
        "dz": rng.normal(size=(steps, batch, len(obs))),
    }


def work_kernels(spec: dict[str, Any]) -> dict[str, Any]:
    """kernels.forward_step / backward_step called directly on numpy arrays over T steps."""
    import numpy as np

    threads = _setup_threads("numba")
    from qrnnc.backends.numba_sv import kernels as K

    n, batch, steps = spec["n"], spec["B"], spec["T"]
    k = _kernel_args(n, batch, steps)
    a, p, theta, phi, x, dz = k["a"], k["program"], k["theta"], k["phi"], k["x"], k["dz"]
    psi = K.initial_state(batch, n, p.init == "plus", np.complex128)
    lam = np.zeros_like(psi)
    z = np.empty((batch, dz.shape[2]))
    dtheta = np.zeros((batch, p.n_controller))
    dphi = np.zeros((batch, p.n_params))
    dx = np.zeros_like(x)
    prog = (a.gates, a.wires, a.sources, a.slots)
    # The drivers the cell itself picks: serial unless a step is big enough to share out.
    serial = K.step_threads(batch, n, len(a.gates)) == 1
    forward_step = K.forward_step_serial if serial else K.forward_step
    backward_step = K.backward_step_serial if serial else K.backward_step

    def forward(t_steps: int) -> None:
        for t in range(t_steps):
            forward_step(psi, n, *prog, theta[t], phi, a.constants, x, *k["readouts"], z)

    def backward(t_steps: int) -> None:
        lam[:] = 0
        for t in range(t_steps - 1, -1, -1):
            dtheta[:] = 0
            grads = (dz[t], dtheta, dphi, dx)
            backward_step(psi, lam, n, *prog, theta[t], phi, a.constants, x, *k["readouts"], *grads)

    forward(2)
    backward(2)
    fwd: list[float] = []
    bwd: list[float] = []
    deadline = time.perf_counter() + spec["budget"]
    while len(fwd) < spec["max_repeats"] and (len(fwd) < 2 or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        forward(steps)
        t1 = time.perf_counter()
        backward(steps)
        fwd.append(t1 - t0)
        bwd.append(time.perf_counter() - t1)
    # Backward uncomputes, so psi must be back at |0...0>: proof the timed loop did the work.
    drift = float(np.abs(K.unpack(psi, batch)[:, 0] - 1.0).max()) if p.init != "plus" else None
    # The fixed cost of one driver call: an empty program over the same batch (the
    # parallel launch; the cell makes two such calls per step, forward and backward).
    none = np.zeros(0, dtype=np.int64)
    empty = (none, np.zeros((0, 2), dtype=np.int64), none, none)
    no_read = (np.zeros((0, 4), dtype=np.int64), np.zeros((0, 3), dtype=np.int64))
    z0 = np.empty((batch, 0))
    call = partial(forward_step, psi, n, *empty, theta[0][:, :0], phi, a.constants, x, *no_read, z0)
    launch = _time_call(call, 0.05, 5)
    return {
        "launch_us": 1e6 * launch,
        "forward_s": min(fwd),
        "backward_s": min(bwd),
        "ms_per_step_forward": 1e3 * min(fwd) / steps,
        "ms_per_step_backward": 1e3 * min(bwd) / steps,
        "drift_after_uncompute": drift,
        "threads": threads,
    }


def _time_call(fn: Callable[[], object], min_batch_s: float, batches: int) -> float:
    """Seconds per call: calls grouped so that one group lasts >= min_batch_s; median group."""
    fn()
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_batch_s:
            break
        number = max(number * 2, int(number * min_batch_s / max(dt, 1e-9) * 1.2))
    samples = [dt / number]
    for _ in range(batches - 1):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def _layer(kind: str, n: int) -> list[tuple[str, int, int]]:
    """One gate of `kind` on every qubit (cnot: ring), as (gate, wire0, wire1)."""
    if kind == "cnot":
        return [("cnot", q, (q + 1) % n) for q in range(n)]
    return [(kind, q, -1) for q in range(n)]


def _gate_row(
    impl: str, what: str, circuit: str, gates: int, states: int, seconds: float, n: int, note: str
) -> dict[str, Any]:
    return {
        "impl": impl,
        "what": what,
        "circuit": circuit,
        "gates": gates,
        "states": states,
        "seconds": seconds,
        "us_per_gate": 1e6 * seconds / (gates * states),
        "ns_per_gate_amp": 1e9 * seconds / (gates * states * 2**n),
        "note": note,
    }


def work_gates_numba(spec: dict[str, Any]) -> dict[str, Any]:
    """Per-gate throughput of our kernels: the copying cell at n, and single gate kinds."""
    import numpy as np

    threads = _setup_threads("numba")
    from numba import njit

    from qrnnc.backends.numba_sv import kernels as K
    from qrnnc.gates import GATE_CODES

    n, t_min, batches = spec["n"], spec["min_batch_s"], spec["batches"]
    apply_gate = K.apply_gate
    k = _kernel_args(n, BATCH, 1, readouts=False)
    a, p, phi, x = k["a"], k["program"], k["phi"], k["x"]
    with_readouts = _kernel_args(n, BATCH, 1, readouts=True)["readouts"]
    theta = k["theta"][0]  # (B, P) fixed random angles

    @njit(nogil=True, fastmath=True)
    def apply_circuit(chunk, n, gates, wires, c, s):  # type: ignore[no-untyped-def]
        # The gate loop in compiled code: no Python per gate, only the kernels.
        # chunk: one state in the lane layout (2, 2^n, 1); c, s: (G, 1) cos/sin of half angles.
        for g in range(gates.shape[0]):
            apply_gate(chunk, n, gates[g], wires[g, 0], wires[g, 1], c[g], s[g], False)

    circuits: list[tuple[str, Any, Any, Any, Any]] = [
        ("copying cell", a.gates, a.wires, a.sources, a.slots)
    ]
    for kind in spec["kinds"]:
        layer = _layer(kind, n)
        fed = kind != "cnot"
        circuits.append(
            (
                f"{kind} on every qubit",
                np.array([GATE_CODES[g] for g, _, _ in layer], dtype=np.int64),
                np.array([[w0, w1] for _, w0, w1 in layer], dtype=np.int64),
                np.full(n, K.SRC_CONTROLLER if fed else K.SRC_NONE, dtype=np.int64),
                np.arange(n, dtype=np.int64) if fed else np.full(n, -1, dtype=np.int64),
            )
        )
    rows: list[dict[str, Any]] = []

    def add(what: str, circuit: str, gates: int, states: int, call: Callable, note: str) -> None:
        seconds = _time_call(call, t_min, batches)
        row = _gate_row("numba", what, circuit, gates, states, seconds, n, note)
        rows.append({**row, "numba_threads": threads["numba"]})

    for name, gates, wires, sources, slots in circuits:
        count = gates.shape[0]
        prog = (gates, wires, sources, slots)
        if not spec.get("only_batched"):
            state = K.initial_state(1, n, False, np.complex128, lanes=1)
            ang = np.array(
                [
                    theta[0, s] if src == K.SRC_CONTROLLER else 0.0
                    for src, s in zip(sources, slots, strict=True)
                ],
                dtype=np.float64,
            )
            half = 0.5 * ang[:, None]
            call = partial(apply_circuit, state[0], n, gates, wires, np.cos(half), np.sin(half))
            add("apply_gate loop in njit", name, count, 1, call, "kernels only")
            z1 = np.empty((1, 0))
            call = partial(
                K.forward_step_serial,
                state,
                n,
                *prog,
                theta[:1],
                phi,
                a.constants,
                x[:1],
                *k["readouts"],
                z1,
            )
            add("forward_step, B=1", name, count, 1, call, "one numba call per circuit")
        psi = K.initial_state(BATCH, n, False, np.complex128)
        z = np.empty((BATCH, 0))
        # The driver the cell picks for this size: serial unless the step is worth sharing out.
        step = K.forward_step_serial if K.step_threads(BATCH, n, count) == 1 else K.forward_step
        lanes = f"one numba call, {psi.shape[0]} chunk(s) of {psi.shape[3]} lanes"
        call = partial(step, psi, n, *prog, theta, phi, a.constants, x, *k["readouts"], z)
        add(f"forward_step, B={BATCH}", name, count, BATCH, call, lanes)
        if name == "copying cell":
            zr = np.empty((BATCH, p.n_readouts))
            call = partial(step, psi, n, *prog, theta, phi, a.constants, x, *with_readouts, zr)
            what = f"forward_step + {p.n_readouts} readouts, B={BATCH}"
            add(what, name, count, BATCH, call, "as the cell runs it; readouts not counted")
    return {"rows": rows, "threads": threads}


def work_gates_lightning(spec: dict[str, Any]) -> dict[str, Any]:
    """The same circuits on PennyLane Lightning: its C++ state-vector bindings (one Python
    call per gate) and, with more overhead, a QNode."""
    import numpy as np

    try:
        from pennylane_lightning import lightning_qubit_ops as ops
    except ImportError as e:
        return {"skipped": f"pennylane-lightning is not installed ({e}): pip install '.[bench]'"}

    import qrnnc

    n, t_min, batches = spec["n"], spec["min_batch_s"], spec["batches"]
    program = qrnnc.loads(model_text("copying", n), "copying.qrnn").program
    theta = np.random.default_rng(4).uniform(0, 2 * math.pi, (BATCH, program.n_controller))
    names = {"rx": "RX", "ry": "RY", "rz": "RZ", "cnot": "CNOT"}
    cell = [
        (g, (w[0],) if w[1] < 0 else (w[0], w[1]), src, slot)
        for g, w, src, slot in zip(
            program.gates, program.wires, program.sources, program.slots, strict=True
        )
    ]
    circuits = [("copying cell", cell)]
    for kind in spec["kinds"]:
        src = "none" if kind == "cnot" else "controller"
        layer = [(g, (w0,) if w1 < 0 else (w0, w1), src, w0) for g, w0, w1 in _layer(kind, n)]
        circuits.append((f"{kind} on every qubit", layer))

    def bound(sv: Any, circuit: list[tuple[str, tuple[int, ...], str, int]], row: Any) -> list:
        # Method, wires and params prepared up front: the timed loop is one call per gate.
        return [
            (getattr(sv, names[g]), list(w), [float(row[slot])] if src == "controller" else [])
            for g, w, src, slot in circuit
        ]

    def run(calls: list) -> None:
        for f, wires, params in calls:
            f(wires, False, params)

    rows: list[dict[str, Any]] = []
    for name, circuit in circuits:
        calls = bound(ops.StateVectorC128(n), circuit, theta[0])
        s = _time_call(partial(run, calls), t_min, batches)
        what = "StateVectorC128, one Python call per gate"
        rows.append(_gate_row("lightning", what, name, len(circuit), 1, s, n, "incl. the call"))
        flat = [c for b in range(BATCH) for c in bound(ops.StateVectorC128(n), circuit, theta[b])]
        s = _time_call(partial(run, flat), t_min, batches)
        what = f"{BATCH} x StateVectorC128, one Python call per gate"
        rows.append(_gate_row("lightning", what, name, len(circuit), BATCH, s, n, "incl. the call"))
    # What one binding call costs by itself: the same RX call on a 1-qubit state.
    tiny = ops.StateVectorC128(1)
    hundred = partial(run, [(tiny.RX, [0], [0.3])] * 100)
    overhead = _time_call(hundred, t_min, 3) / 100
    result: dict[str, Any] = {
        "rows": rows,
        "call_overhead_us": 1e6 * overhead,
        "version": metadata.version("pennylane-lightning"),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "kernel_map": {g: ops.StateVectorC128(n).kernel_map().get(names[g]) for g in names},
    }
    if spec.get("qnode"):
        result["qnode"] = _qnode_rows(n, cell, theta, t_min)
    return result


def _qnode_rows(n: int, cell: list, theta: Any, t_min: float) -> list[dict[str, Any]]:
    """A qml.QNode on lightning.qubit returning the state, diff_method=None: the user-level
    API, with PennyLane's tape construction and validation on every call."""
    try:
        import pennylane as qml
    except ImportError as e:
        return [{"skipped": f"pennylane is not importable: {e}"}]
    dev = qml.device("lightning.qubit", wires=n)
    gate = {"rx": qml.RX, "ry": qml.RY, "rz": qml.RZ}

    @qml.qnode(dev, diff_method=None)
    def circuit(angles: Any) -> Any:
        for g, wires, src, slot in cell:
            if g == "cnot":
                qml.CNOT(wires=list(wires))
            else:
                gate[g](angles[..., slot] if src == "controller" else 0.0, wires=wires[0])
        return qml.state()

    rows = []
    for states, angles in ((1, theta[0]), (BATCH, theta)):
        try:
            s = _time_call(partial(circuit, angles), t_min, 3)
        except Exception as e:  # broadcasting may be unsupported: say so, keep the rest
            rows.append({"states": states, "skipped": f"{type(e).__name__}: {e}"})
            continue
        what = "qml.QNode(diff_method=None) -> state"
        if states > 1:
            what += " (parameter broadcasting)"
        note = "incl. tape building and validation per call"
        rows.append(_gate_row("lightning", what, "copying cell", len(cell), states, s, n, note))
    return rows


WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "net": work_net,
    "cell": work_cell,
    "kernels": work_kernels,
    "gates_numba": work_gates_numba,
    "gates_lightning": work_gates_lightning,
}


def worker_main(raw: str) -> None:
    spec = json.loads(raw)
    result = WORKERS[spec["kind"]](spec)
    print(RESULT_TAG + json.dumps(result), flush=True)


# =====================================================================================
# Orchestrator
# =====================================================================================


@dataclass
class Config:
    quick: bool
    grid_n: list[int]
    grid_t: list[int]
    flat: tuple[int, int, int]  # n, T short, T long: memory flat in T
    breakdown: tuple[int, int]  # n, T: where time goes (a grid cell)
    gates_n: int
    gate_min_batch_s: float
    gate_batches: int
    mnist: list[tuple[int | None, int]]  # (qubits, None = as written; T measured)
    extras: bool  # all-core rows and the QNode rows
    numba_budget: float
    torch_budget: float
    max_repeats: int

    @staticmethod
    def make(quick: bool) -> Config:
        if quick:
            return Config(
                True, [6], [8, 32], (6, 8, 32), (6, 32), 8, 0.01, 2, [(8, 16)], False, 1.0, 2.0, 2
            )
        return Config(
            False,
            [6, 8, 10, 12],
            [32, 128, 512],
            (10, 32, 512),
            (8, 128),
            12,
            0.1,
            5,
            [(8, MNIST_STEPS), (None, MNIST_STEPS)],
            True,
            20.0,
            60.0,
            5,
        )


def busy_cores(interval: float = 0.5) -> float:
    """Cores kept busy by other processes right now (the orchestrator itself is idle),
    from /proc/stat: a number well above 0 means someone else's work skews the timings."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)

    try:
        b0, t0 = sample()
        time.sleep(interval)
        b1, t1 = sample()
    except OSError:
        return 0.0
    cores = os.cpu_count() or 1
    return cores * (b1 - b0) / max(1, t1 - t0)


def run_worker(
    console: Console,
    spec: dict[str, Any],
    env: dict[str, str] | None = None,
    timeout: float = WORKER_TIMEOUT,
) -> dict[str, Any]:
    """One worker in a fresh process; a failure comes back as {"skipped": why}."""
    full_env = {**os.environ, **MALLOC_ENV, **(env or {})}
    busy = busy_cores()
    waited = 0.0
    # Someone else's tests or builds would skew this cell: give them a while to finish.
    while busy > QUIET_CORES and waited < QUIET_WAIT_S:
        if waited == 0.0:
            console.print(f"[yellow]other processes keep {busy:.1f} cores busy: waiting[/yellow]")
        time.sleep(5.0)
        waited += 5.5
        busy = busy_cores()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return {"skipped": f"skipped: timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG) :])
            result["wall_s"] = time.perf_counter() - t0
            result["busy_cores_before"] = busy
            result["busy_cores_after"] = busy_cores()
            return result
    why = "killed (out of memory?)" if proc.returncode in (-9, 137) else "failed"
    tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
    console.print(f"[red]worker {spec['kind']} {why}[/red]: {tail}")
    return {"skipped": f"{why} (exit {proc.returncode}): {tail[-300:]}"}


def predict_reference(
    measured: dict[int, dict[str, Any]], n: int, steps: int
) -> tuple[float, float, float] | None:
    """(warm s, first-pass s, bytes) of the reference at (n, T), scaled from the nearest
    measured cell at n' <= n: linear in T, and 2^(n-n') in time and memory (the state
    doubles per qubit). None when nothing at n' <= n was measured yet."""
    below = [m for m in measured if m <= n]
    if not below:
        return None
    m = max(below)
    cell = measured[m]
    scale = (steps / cell["T"]) * 2 ** (n - m)
    return cell["best_s"] * scale, cell["cold_s"] * scale, cell["mem_mib"] * MIB * scale


def _proc_field(path: str, key: str) -> str | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    flags = (_proc_field("/proc/cpuinfo", "flags") or "").split()
    ram_kib = (_proc_field("/proc/meminfo", "MemTotal") or "0 kB").split()[0]
    return {
        "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": cores,
        "ram_gib": round(int(ram_kib) / 2**20, 1),
        "simd": [s for s in ("avx2", "fma", "avx512f") if s in flags],
        "platform": platform.platform(),
    }


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("torch", "numba", "numpy", "qrnnc", "pennylane-lightning", "pennylane"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def orchestrate(cfg: Config, out_dir: Path, command: str) -> dict[str, Any]:
    console = Console()
    cores = machine()["cores"]
    available = int((_proc_field("/proc/meminfo", "MemAvailable") or "0 kB").split()[0]) * 1024
    mem_cap = min(MEM_LIMIT, int(0.8 * available)) if available else MEM_LIMIT
    cells = [(n, t) for n in cfg.grid_n for t in cfg.grid_t]
    total = 2 * len(cells) + 2 + 2 + 6 * cfg.extras + len(cfg.mnist)
    meta = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command,
        "quick": cfg.quick,
        "machine": machine(),
        "versions": versions(),
        "batch": BATCH,
        "malloc_env": MALLOC_ENV,
        "loadavg_before": os.getloadavg(),
        "limits": {"reference_mem_gib": mem_cap / GIB, "reference_time_s": TIME_LIMIT},
        "timing": "time = best of the warm passes (at least one, more within a budget) after"
        " a first full-size pass; memory = RSS high-water mark of that first pass minus the"
        " RSS after a warm-up at T=2; every cell in a fresh process",
    }
    results: dict[str, Any] = {"meta": meta}
    net_spec = {"kind": "net", "B": BATCH, "max_repeats": cfg.max_repeats}
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("starting", total=total)

        def run(desc: str, spec: dict[str, Any], env: dict[str, str] | None = None) -> dict:
            progress.update(bar, description=desc)
            r = run_worker(console, spec, env)
            done(desc, r)
            return r

        def done(desc: str, r: dict[str, Any]) -> None:
            progress.advance(bar)
            console.print(f"{desc}: {_fmt_result(r)}")

        # ---- 1. the grid, numba -------------------------------------------------------
        grid: dict[tuple[int, int], dict[str, Any]] = {}
        for n, t in cells:
            spec = {
                **net_spec,
                "backend": "numba",
                "model": "copying",
                "n": n,
                "T": t,
                "budget": cfg.numba_budget,
                "probe_saved": (n, t) == cfg.flat[:2],
            }
            grid[(n, t)] = {"n": n, "T": t, "B": BATCH, "numba": run(f"numba n={n} T={t}", spec)}

        # ---- 1. the grid, torch reference: smallest first, the rest predicted ---------
        measured: dict[int, dict[str, Any]] = {}
        for n, t in cells:
            desc = f"torch n={n} T={t}"
            guess = predict_reference(measured, n, t)
            skip = _skip_reason(guess, mem_cap, measured, n)
            if skip is not None and guess is not None:
                r = {"skipped": skip, "predicted_s": guess[0], "predicted_mib": guess[2] / MIB}
                done(desc, r)
            else:
                spec = {
                    **net_spec,
                    "backend": "torch",
                    "model": "copying",
                    "n": n,
                    "T": t,
                    "budget": cfg.torch_budget,
                }
                r = run(desc, spec)
                if "skipped" not in r and (n not in measured or t > measured[n]["T"]):
                    measured[n] = {**r, "T": t}
            grid[(n, t)]["torch"] = r
        for cell in grid.values():
            a, b = cell["numba"], cell["torch"]
            if "skipped" not in a and "skipped" not in b:
                cell["speedup"] = b["best_s"] / a["best_s"]
                cell["time_ratio"] = a["best_s"] / b["best_s"]
                cell["mem_ratio"] = a["mem_mib"] / b["mem_mib"] if b["mem_mib"] > 0 else None
        results["grid"] = list(grid.values())

        # ---- 3. where time goes -------------------------------------------------------
        bn, bt = cfg.breakdown
        part = {
            "B": BATCH,
            "n": bn,
            "T": bt,
            "budget": cfg.numba_budget,
            "max_repeats": cfg.max_repeats,
        }
        cell_r = run(f"cell alone n={bn} T={bt}", {**part, "kind": "cell", "backend": "numba"})
        kern = run(f"kernels n={bn} T={bt}", {**part, "kind": "kernels"})
        variants: list[tuple[str, dict[str, Any], str]] = []
        if cfg.extras:
            # What two alternative settings would give: every core for numba, and
            # numba's OpenMP layer instead of the plan's workqueue (cheaper launches).
            many = {"QRNNC_NUMBA_THREADS": str(cores)}
            omp = {"NUMBA_THREADING_LAYER": "omp"}
            kspec = {**part, "kind": "kernels"}
            nspec = {
                **net_spec,
                "backend": "numba",
                "model": "copying",
                "n": bn,
                "T": bt,
                "budget": cfg.numba_budget,
            }
            for label, spec, env in (
                (f"kernels, {cores} numba threads", kspec, many),
                ("kernels, omp layer", kspec, omp),
                (f"full QRNN, numba, {cores} numba threads", nspec, many),
                ("full QRNN, numba, omp layer", nspec, omp),
            ):
                variants.append((label, run(label, spec, env), ""))
        results["breakdown"] = _breakdown(grid.get((bn, bt)), cell_r, kern, variants, bn, bt)

        # ---- 4. per-gate throughput ---------------------------------------------------
        gspec = {
            "n": cfg.gates_n,
            "kinds": ["rz", "cnot", "rx"],
            "min_batch_s": cfg.gate_min_batch_s,
            "batches": cfg.gate_batches,
        }
        gnum = run(f"gates n={cfg.gates_n}, numba", {**gspec, "kind": "gates_numba"})
        gall = None
        if cfg.extras:
            env = {"QRNNC_NUMBA_THREADS": str(cores)}
            spec = {**gspec, "kind": "gates_numba", "only_batched": True}
            gall = run(f"gates n={cfg.gates_n}, numba, {cores} threads", spec, env)
        spec = {**gspec, "kind": "gates_lightning", "qnode": cfg.extras}
        glit = run(f"gates n={cfg.gates_n}, Lightning", spec)
        results["per_gate"] = _per_gate(gnum, gall, glit, cfg.gates_n)

        # ---- 5. sequential MNIST ------------------------------------------------------
        mnist = []
        for qubits, t in cfg.mnist:
            spec = {
                **net_spec,
                "backend": "numba",
                "model": "smnist",
                "n": qubits,
                "T": t,
                "budget": cfg.numba_budget,
                "optimizer": True,
                "max_repeats": 3,
            }
            label = f"{qubits} qubits" if qubits else "as written"
            mnist.append(_mnist(run(f"smnist ({label}) T={t}", spec), qubits, t))
            if cfg.extras and qubits == 8:
                # The same with every core for numba (the plan gives it cores - 1).
                env = {"QRNNC_NUMBA_THREADS": str(cores)}
                r = run(f"smnist ({label}) T={t}, {cores} numba threads", spec, env)
                mnist.append({**_mnist(r, qubits, t), "variant": f"{cores} numba threads"})
        results["smnist"] = mnist

    # Other work on the machine would skew every number: the load average says if there was.
    meta["loadavg_after"] = os.getloadavg()
    meta["max_busy_cores_before_a_cell"] = max(_busy_values(results), default=0.0)
    results["memory_flat"] = _memory_flat(grid, cfg)
    results["threads"] = _threads_summary(results)
    results["targets"] = _targets(results, cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sim.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "sim.md").write_text(render_markdown(results))
    show(console, results)
    console.print(f"wrote {out_dir / 'sim.json'} and {out_dir / 'sim.md'}")
    return results


def _busy_values(tree: Any) -> list[float]:
    """Every busy_cores_before recorded anywhere in the results."""
    if isinstance(tree, dict):
        found = [tree["busy_cores_before"]] if "busy_cores_before" in tree else []
        return found + [v for value in tree.values() for v in _busy_values(value)]
    if isinstance(tree, list):
        return [v for value in tree for v in _busy_values(value)]
    return []


def _skip_reason(
    guess: tuple[float, float, float] | None,
    mem_cap: int,
    measured: dict[int, dict[str, Any]],
    n: int,
) -> str | None:
    if guess is None:
        return None
    warm, cold, mem = guess
    if mem > mem_cap:
        m = max(k for k in measured if k <= n)
        per_step = measured[m]["mem_mib"] / measured[m]["T"] * 2 ** (n - m)
        return (
            f"skipped: would need ~{mem / GIB:.0f} GiB (> {mem_cap / GIB:.0f} GiB) at"
            f" ~{per_step:.0f} MiB/step, scaled from n={m}"
        )
    if warm > TIME_LIMIT:
        return f"skipped: would take ~{warm:.0f} s per pass (> {TIME_LIMIT:.0f} s)"
    if cold + warm > 0.8 * WORKER_TIMEOUT:
        return f"skipped: first pass would take ~{cold:.0f} s"
    return None


def _fmt_result(r: dict[str, Any]) -> str:
    if "skipped" in r:
        return f"[yellow]{r['skipped']}[/yellow]"
    if "mem_mib" in r:
        return f"{r['best_s']:.3f} s (first pass {r['cold_s']:.2f} s), +{r['mem_mib']:.0f} MiB"
    if "best_s" in r:
        return f"{r['best_s']:.3f} s"
    if "forward_s" in r:
        return f"forward {r['forward_s']:.3f} s, backward {r['backward_s']:.3f} s"
    return "done"


def _breakdown(
    net_cell: dict[str, Any] | None,
    cell_r: dict[str, Any],
    kern: dict[str, Any],
    variants: list[tuple[str, dict[str, Any], str]],
    n: int,
    steps: int,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    out: dict[str, Any] = {"n": n, "T": steps, "B": BATCH, "rows": rows}

    def row(what: str, seconds: float | None, note: str) -> None:
        ms = None if seconds is None else 1e3 * seconds / steps
        rows.append({"what": what, "seconds": seconds, "ms_per_step": ms, "note": note})

    numba = (net_cell or {}).get("numba", {"skipped": "not run"})
    ref = (net_cell or {}).get("torch", {"skipped": "not run"})
    net_s = None if "skipped" in numba else numba["best_s"]
    cell_s = None if "skipped" in cell_r else cell_r["best_s"]
    k_s = None if "skipped" in kern else kern["forward_s"] + kern["backward_s"]
    if "skipped" not in ref:
        row("full QRNN, torch reference", ref["best_s"], "torch autograd, all cores")
    row("full QRNN, numba", net_s, "embedding + MLP controller + cell + head")
    row("cell alone, numba (qrnnc.simulate)", cell_s, "per-step autograd.Function, no controller")
    if k_s is not None:
        row("kernels: forward_step", kern["forward_s"], "numpy arrays in, no torch")
        row("kernels: backward_step", kern["backward_s"], "seeds + uncompute + overlaps")
        row("kernels: forward+backward", k_s, f"{kern['threads']['numba']} numba thread(s)")
        launch = 2 * steps * kern["launch_us"] * 1e-6
        row("  of which: kernel launches", launch, "2 driver calls per step, empty program")
    for label, r, _ in variants:
        if "skipped" in r:
            row(label, None, r["skipped"])
        else:
            note = f"{r['threads']['numba']} numba thread(s), {r['threads']['layer']} layer"
            row(label, r["forward_s"] + r["backward_s"] if "forward_s" in r else r["best_s"], note)
    if net_s is not None and cell_s is not None:
        row("= controller, embedding, head, their autograd", net_s - cell_s, "net - cell alone")
    if cell_s is not None and k_s is not None:
        row("= the cell's per-step torch overhead", cell_s - k_s, "cell alone - kernels")
    if net_s is not None and k_s is not None:
        out["kernel_share"] = k_s / net_s
    return out


def _per_gate(
    gnum: dict[str, Any], gall: dict[str, Any] | None, glit: dict[str, Any], n: int
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for r in (gnum, gall):
        if r and "skipped" not in r:
            rows.extend(r["rows"])
    out: dict[str, Any] = {"n": n, "rows": rows, "compare": []}
    if "skipped" in glit:
        out["peer"] = {"skipped": glit["skipped"]}
        return out
    rows.extend(glit["rows"])
    rows.extend(q for q in glit.get("qnode", []) if "skipped" not in q)
    out["peer"] = {
        "name": "PennyLane Lightning (lightning.qubit)",
        "version": glit["version"],
        "api": "pennylane_lightning.lightning_qubit_ops.StateVectorC128 gate methods",
        "call_overhead_us": glit["call_overhead_us"],
        "kernel_map": glit["kernel_map"],
        "omp_num_threads": glit["omp_num_threads"],
        "qnode_skipped": [q for q in glit.get("qnode", []) if "skipped" in q],
    }
    # Head to head: our compiled gate loop (1 state) and batched forward_step (64 states,
    # the plan's threads) against Lightning's binding calls on the same circuit.
    plan_threads = gnum.get("threads", {}).get("numba")
    ours = {
        (r["circuit"], r["states"]): r
        for r in rows
        if r["impl"] == "numba"
        and r["what"] in ("apply_gate loop in njit", f"forward_step, B={BATCH}")
        and r["numba_threads"] == plan_threads
    }
    for r in glit["rows"]:
        mine = ours.get((r["circuit"], r["states"]))
        if mine is None:
            continue
        kernel_us = r["us_per_gate"] - glit["call_overhead_us"]
        out["compare"].append(
            {
                "circuit": r["circuit"],
                "states": r["states"],
                "numba_ns_per_gate_amp": mine["ns_per_gate_amp"],
                "lightning_ns_per_gate_amp": r["ns_per_gate_amp"],
                # A negative remainder: the call costs as much as the gate; no estimate.
                "lightning_kernel_ns_per_gate_amp": 1e3 * kernel_us / 2**n
                if kernel_us > 0
                else None,
                "numba_over_lightning": mine["seconds"] / r["seconds"],
                "numba_over_lightning_kernel": mine["us_per_gate"] / kernel_us
                if kernel_us > 0
                else None,
            }
        )
    return out


def _mnist(r: dict[str, Any], qubits: int | None, steps: int) -> dict[str, Any]:
    out: dict[str, Any] = {"qubits": qubits, "as_written": qubits is None, "T": steps}
    if "skipped" in r:
        out["skipped"] = r["skipped"]
        return out
    out["qubits"] = r["sizes"]["qubits"]
    per_batch = r["best_s"] * MNIST_STEPS / steps  # scaled when T < 784
    batches = math.ceil(MNIST_SEQUENCES / BATCH)
    out.update(
        {
            "measured_s": r["best_s"],
            "scaled_from_T": steps if steps != MNIST_STEPS else None,
            "steps_per_s": steps / r["best_s"],
            "seconds_per_batch": per_batch,
            "batches_per_epoch": batches,
            "epoch_minutes": per_batch * batches / 60,
            "includes": "forward + backward + Adam step at B=64; no data loading",
            "raw": r,
        }
    )
    return out


def _memory_flat(grid: dict[tuple[int, int], dict[str, Any]], cfg: Config) -> dict[str, Any]:
    n, t0, t1 = cfg.flat
    lo = grid.get((n, t0), {}).get("numba", {"skipped": "not run"})
    hi = grid.get((n, t1), {}).get("numba", {"skipped": "not run"})
    out: dict[str, Any] = {"n": n, "T": [t0, t1], "B": BATCH}
    if "skipped" in lo or "skipped" in hi:
        out["skipped"] = "numba cells missing"
        return out
    saved = lo["saved_per_step"]
    per_step = saved["autograd_bytes"] + saved["angle_log_bytes"]
    growth = (hi["mem_mib"] - lo["mem_mib"]) * MIB
    out.update(
        {
            "numba_mem_mib": [lo["mem_mib"], hi["mem_mib"]],
            "numba_growth_mib": growth / MIB,
            "numba_growth_per_step_kib": growth / (t1 - t0) / 1024,
            "classical_per_step_kib": per_step / 1024,
            "classical_autograd_per_step_kib": saved["autograd_bytes"] / 1024,
            "angle_log_per_step_kib": saved["angle_log_bytes"] / 1024,
            "classical_growth_mib": per_step * (t1 - t0) / MIB,
            "state_batch_mib": lo["sizes"]["state_mib"],
        }
    )
    # The reference's growth per step at each n: the slope between its measured lengths.
    ref: dict[int, list[tuple[int, float]]] = {}
    for (rn, rt), cell in sorted(grid.items()):
        r = cell.get("torch", {"skipped": ""})
        if "skipped" not in r:
            ref.setdefault(rn, []).append((rt, r["mem_mib"]))
    out["reference_per_step_mib"] = {
        str(rn): (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])
        if len(pts) > 1
        else pts[0][1] / pts[0][0]
        for rn, pts in ref.items()
    }
    return out


def _threads_summary(results: dict[str, Any]) -> dict[str, Any]:
    numba_t = next(
        (c["numba"]["threads"] for c in results["grid"] if "threads" in c["numba"]), None
    )
    torch_t = next(
        (c["torch"]["threads"] for c in results["grid"] if "threads" in c["torch"]), None
    )
    return {
        "numba_backend": numba_t,
        "numba_backend_rule": "qrnnc.threads.configure(): torch cores//4 (>= 1), numba the rest",
        "torch_reference": torch_t,
        "torch_reference_rule": "torch.set_num_threads(all cores): the peer at its best",
        "lightning": "its OpenMP default (OMP_NUM_THREADS unset); its gate calls here are serial",
    }


def _targets(results: dict[str, Any], cfg: Config) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    bn, bt = cfg.breakdown
    cell = next((c for c in results["grid"] if (c["n"], c["T"]) == (bn, bt)), None)
    if cell is not None and "speedup" in cell:
        s = cell["speedup"]
        out.append(
            {
                "target": f"n={bn}, B=64, T={bt}: forward+backward >= 30x faster than the"
                " torch reference (aim 50x)",
                "measured": f"{s:.1f}x",
                "met": s >= 30,
                "margin": f"{s / 30:.2f} of the 30x bar",
            }
        )
    mf = results["memory_flat"]
    if "skipped" not in mf:
        t0, t1 = mf["T"]
        unexplained_kib = 1024 * (mf["numba_growth_mib"] - mf["classical_growth_mib"]) / (t1 - t0)
        out.append(
            {
                "target": f"quantum memory flat in T at n={mf['n']}: the growth from T={t0} to"
                f" {t1} is only the classical per-step activations",
                "measured": f"+{mf['numba_growth_mib']:.1f} MiB measured vs"
                f" +{mf['classical_growth_mib']:.1f} MiB estimated",
                # Flat means: what the estimate does not explain is far below one stored
                # batch of states per step (what keeping psi_t would cost).
                "met": unexplained_kib < 0.1 * 1024 * mf["state_batch_mib"],
                "margin": f"{unexplained_kib:.0f} KiB/step beyond the estimate; one batch of"
                f" states is {1024 * mf['state_batch_mib']:.0f} KiB (bar: 10% of it)",
            }
        )
    cmp = [c for c in results["per_gate"]["compare"] if c["circuit"] == "copying cell"]
    if cmp:
        worst = max(c["numba_over_lightning"] for c in cmp)
        out.append(
            {
                "target": f"per-gate throughput at n={results['per_gate']['n']} at least on"
                " par with Lightning on the same circuit",
                "measured": "; ".join(
                    f"{c['states']} state(s): our time = {c['numba_over_lightning']:.2f} x"
                    " Lightning's"
                    for c in cmp
                ),
                "met": worst <= 1.0,
                "margin": f"{worst:.2f}x Lightning's time at worst",
            }
        )
    plan = [m for m in results["smnist"] if "variant" not in m and "epoch_minutes" in m]
    mn = next((m for m in plan if m["qubits"] == 8), None)
    if mn is not None:
        e = mn["epoch_minutes"]
        out.append(
            {
                "target": "sequential-MNIST epoch (60,000 x 784 steps, 8 qubits, B=64) <= 20 min",
                "measured": f"{e:.1f} min"
                + (f" (scaled from T={mn['T']})" if mn["scaled_from_T"] else ""),
                "met": e <= 20,
                "margin": f"{e / 20:.2f} of the 20-minute bar",
            }
        )
    if cfg.quick:
        for t in out:
            t["note"] = "quick run: not the target's sizes; smoke only"
    return out


# =====================================================================================
# Reporting
# =====================================================================================


def _f(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    if x != 0 and abs(x) < 10 ** (-digits):
        return f"{x:.1e}"
    return f"{x:.{digits}f}"


Tables = list[tuple[str, list[str], list[list[str]], str]]


def tables(results: dict[str, Any]) -> Tables:
    """(title, header, rows, note) for every table, shared by the markdown and the console."""
    out: Tables = []
    rows = []
    for c in results["grid"]:
        a, b = c["numba"], c["torch"]
        sa, sb = "skipped" in a, "skipped" in b
        rows.append(
            [
                str(c["n"]),
                str(c["T"]),
                a["skipped"] if sa else _f(a["best_s"], 3),
                b["skipped"] if sb else _f(b["best_s"], 2),
                "-" if sa else _f(a["ms_per_step"], 2),
                "-" if sb else _f(b["ms_per_step"], 1),
                f"{c['speedup']:.1f}x" if "speedup" in c else "-",
                _f(c.get("time_ratio"), 3),
                "-" if sa else _f(a["mem_mib"], 0),
                "-" if sb else _f(b["mem_mib"], 0),
                _f(c.get("mem_ratio"), 4),
                "-" if sb else _f(b["cold_s"], 1),
            ]
        )
    header = "n|T|numba s|torch s|numba ms/step|torch ms/step|speed-up|time numba/torch"
    header += "|numba MiB|torch MiB|mem numba/torch|torch first pass s"
    note = (
        "s: best warm forward+backward; MiB: peak RSS during the first full-size pass above"
        " the process after a warm-up at T=2; torch first pass: that first pass, page faults"
        " of a fresh heap included."
    )
    out.append(
        (
            "Forward+backward, full QRNN (copying.qrnn, `qubits n`), B=64",
            header.split("|"),
            rows,
            note,
        )
    )
    mf = results["memory_flat"]
    if "skipped" not in mf:
        t0, t1 = mf["T"]
        rows = [
            [f"numba peak, T={t0}", f"{mf['numba_mem_mib'][0]:.1f} MiB"],
            [f"numba peak, T={t1}", f"{mf['numba_mem_mib'][1]:.1f} MiB"],
            [f"numba growth T={t0}->{t1}", f"{mf['numba_growth_mib']:.1f} MiB"],
            ["numba growth per step", f"{mf['numba_growth_per_step_kib']:.1f} KiB"],
            [
                "classical activations per step (estimate)",
                f"{mf['classical_per_step_kib']:.1f} KiB (autograd-saved"
                f" {mf['classical_autograd_per_step_kib']:.1f} + angle log"
                f" {mf['angle_log_per_step_kib']:.1f})",
            ],
            [f"estimate x {t1 - t0} steps", f"{mf['classical_growth_mib']:.1f} MiB"],
            ["one batch of states, B x 2^n x 16 B", f"{1024 * mf['state_batch_mib']:.0f} KiB"],
        ]
        for rn, v in mf["reference_per_step_mib"].items():
            rows.append([f"torch reference growth per step, n={rn}", f"{v:.1f} MiB"])
        out.append((f"Memory flat in T (n={mf['n']}, B=64)", ["quantity", "value"], rows, ""))
    bd = results["breakdown"]
    rows = [
        [r["what"], _f(r["seconds"], 3), _f(r["ms_per_step"], 3), r["note"]] for r in bd["rows"]
    ]
    title = f"Where time goes (n={bd['n']}, B={bd['B']}, T={bd['T']}, forward+backward)"
    out.append((title, ["what", "s", "ms/step", "note"], rows, ""))
    pg = results["per_gate"]
    rows = []
    for r in pg["rows"]:
        note = r["note"]
        if "numba_threads" in r:
            note += f"; {r['numba_threads']} numba thread(s)"
        rows.append(
            [
                r["impl"],
                r["what"],
                r["circuit"],
                str(r["gates"]),
                str(r["states"]),
                _f(r["seconds"] * 1e6, 1),
                _f(r["us_per_gate"], 3),
                _f(r["ns_per_gate_amp"], 3),
                note,
            ]
        )
    peer = pg.get("peer", {})
    if "skipped" in peer:
        note = f"Lightning: {peer['skipped']}"
    else:
        note = (
            f"Lightning {peer['version']}: one Python->C++ call by itself costs"
            f" {peer['call_overhead_us']:.2f} us (RX on a 1-qubit state); its rows include it."
        )
    header = "impl|API|circuit|gates|states|us total|us/gate|ns/gate/amp|includes"
    title = f"Per-gate throughput, n={pg['n']} (complex128)"
    out.append((title, header.split("|"), rows, note))
    if pg["compare"]:
        rows = [
            [
                c["circuit"],
                str(c["states"]),
                _f(c["numba_ns_per_gate_amp"], 3),
                _f(c["lightning_ns_per_gate_amp"], 3),
                _f(c["lightning_kernel_ns_per_gate_amp"], 3),
                _f(c["numba_over_lightning"], 2),
                _f(c["numba_over_lightning_kernel"], 2),
            ]
            for c in pg["compare"]
        ]
        header = "circuit|states|numba ns/gate/amp|Lightning ns/gate/amp"
        header += "|Lightning less call cost|numba/Lightning time|numba/Lightning less call"
        note = (
            "numba: the compiled apply_gate loop for 1 state, forward_step (gates only, the"
            " plan's threads) for 64; Lightning: one binding call per gate."
        )
        out.append((f"Per-gate head to head, n={pg['n']}", header.split("|"), rows, note))
    rows = []
    for m in results["smnist"]:
        label = f"{m['qubits']}" + (" (zoo file as written)" if m["as_written"] else "")
        if "variant" in m:
            label += f", {m['variant']}"
        if "skipped" in m:
            rows.append([label, str(m["T"]), m["skipped"], "-", "-", "-"])
            continue
        scaled = "" if m["scaled_from_T"] is None else " (scaled to 784)"
        rows.append(
            [
                label,
                f"{m['T']}{scaled}",
                _f(m["measured_s"], 2),
                _f(m["steps_per_s"], 0),
                _f(m["seconds_per_batch"], 2),
                _f(m["epoch_minutes"], 1),
            ]
        )
    header = "qubits|T measured|s measured|steps/s|s per 784-step batch|min per epoch"
    note = (
        f"epoch = ceil({MNIST_SEQUENCES:,} / {BATCH}) batches of forward + backward + Adam"
        " step; data loading not included."
    )
    title = "Sequential-MNIST epoch estimate (zoo/smnist/model.qrnn, numba, B=64)"
    out.append((title, header.split("|"), rows, note))
    rows = [
        [t["target"], t["measured"], "met" if t["met"] else "missed", t["margin"]]
        for t in results["targets"]
    ]
    out.append(("Targets (issue 4)", ["target", "measured", "met", "margin"], rows, ""))
    return out


def _threads_str(t: dict[str, Any] | None) -> str:
    if not t:
        return "?"
    parts = [f"torch {t['torch']}"]
    if t.get("numba") is not None:
        parts.append(f"numba {t['numba']} ({t.get('layer')})")
    return " + ".join(parts)


def render_markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    m, v, th = meta["machine"], meta["versions"], results["threads"]
    lines = [
        "# Simulator benchmarks" + (" (quick smoke run)" if meta["quick"] else ""),
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM"
        f" ({', '.join(m['simd'])})",
        f"- versions: Python {v['python']}, torch {v['torch']}, numba {v['numba']},"
        f" numpy {v['numpy']}, pennylane-lightning {v['pennylane-lightning']}",
        f"- threads: numba backend {_threads_str(th['numba_backend'])} (the project's plan);"
        f" torch reference {_threads_str(th['torch_reference'])} (every core)",
        f"- date: {meta['date']}; command: `{meta['command']}`; load average before/after:"
        f" {meta['loadavg_before'][0]:.2f}/{meta['loadavg_after'][0]:.2f} (1 min); other"
        f" processes' load before a cell: at most {meta['max_busy_cores_before_a_cell']:.2f}"
        " cores",
        f"- {meta['timing']}",
        "",
    ]
    for title, header, rows, note in tables(results):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join("---" for _ in header) + "|")
        lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows]
        if note:
            lines += ["", note]
        lines.append("")
    return "\n".join(lines)


def show(console: Console, results: dict[str, Any]) -> None:
    for title, header, rows, note in tables(results):
        table = Table(title=title)
        for h in header:
            table.add_column(h, overflow="fold")
        for r in rows:
            table.add_row(*r)
        console.print(table)
        if note:
            console.print(f"[dim]{note}[/dim]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny subset, under a minute")
    parser.add_argument(
        "--out", type=Path, help="results folder (default benchmarks/results; --quick: a temp dir)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker)
        return
    out = args.out
    if out is None and args.quick:  # a smoke run must not replace the recorded results
        out = Path(tempfile.mkdtemp(prefix="qrnnc-bench-"))
    elif out is None:
        out = ROOT / "benchmarks" / "results"
    command = " ".join(["python benchmarks/bench_sim.py", *map(shlex.quote, sys.argv[1:])])
    orchestrate(Config.make(args.quick), out, command)


if __name__ == "__main__":
    main()
