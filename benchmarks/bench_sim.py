"""Simulation benchmarks: the numba backend against the torch reference, in one run.

    python benchmarks/bench_sim.py [--quick] [--out benchmarks/results]

1. grid: full QRNN forward+backward (zoo/copying.qrnn with n qubits, B = 64,
   random tokens) for n in {6, 8, 10, 12} and T in {32, 128, 512}, numba vs
   torch: seconds and peak memory (RSS growth over the process after warm-up),
   each cell in a fresh subprocess so cells do not share memory;
2. where time goes at n=8, B=64, T=128: the numba kernels alone, the cell
   through its autograd Function, the full net;
3. per-gate throughput at n=12 against PennyLane Lightning's C++ state vector
   (the `bench` extra), for rz (diagonal), cnot (permutation), rx (dense) and
   one step of the copying cell;
4. a sequential-MNIST epoch (60,000 sequences of 784 steps, B = 64) estimated
   from the measured forward+backward of zoo/smnist.qrnn at 8 qubits, T = 784.

Threads: the numba backend runs with the project's plan (qrnnc.threads); the
reference gets every core for torch, its best setting. Results go to
sim.json and sim.md in --out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT = 12 * 2**30  # skip reference cells whose autograd graph would not fit
TIME_LIMIT = 150.0  # seconds for one reference forward+backward


def copying_text(n: int) -> str:
    return (ROOT / "zoo" / "copying.qrnn").read_text().replace("qubits 6", f"qubits {n}")


def rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ---- one grid cell, in its own process -----------------------------------------------


def run_cell(backend: str, n: int, steps: int, batch: int, repeats: int) -> dict:
    import torch

    import qrnnc
    from qrnnc import threads

    threads.configure()
    if backend == "torch":
        torch.set_num_threads(threads.available_cores())
    torch.manual_seed(0)
    net = qrnnc.loads(copying_text(n)).build(backend=backend)
    warm = torch.randint(0, 10, (batch, 2))
    net(warm).sum().backward()  # compile / first-call costs out of the measurement
    base = current_rss()
    x = torch.randint(0, 10, (batch, steps))
    w = torch.randn(batch, steps, 10)
    times = []
    for _ in range(repeats):
        net.zero_grad()
        start = time.perf_counter()
        (net(x) * w).sum().backward()
        times.append(time.perf_counter() - start)
    return {"seconds": sorted(times)[len(times) // 2], "peak_bytes": max(0, rss() - base)}


def cell_in_subprocess(backend: str, n: int, steps: int, batch: int, repeats: int) -> dict:
    cmd = [sys.executable, __file__, "--cell", backend, str(n), str(steps), str(batch)]
    cmd += ["--repeats", str(repeats)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        return {"skipped": f"failed: {done.stderr.strip().splitlines()[-1:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def grid(ns: list[int], ts: list[int], batch: int) -> list[dict]:
    rows = []
    probe = None  # the reference's last measured cost, scaled to other n and T below
    for n in ns:
        for steps in ts:
            row = {"n": n, "T": steps, "B": batch}
            row["numba"] = cell_in_subprocess("numba", n, steps, batch, 3 if n < 12 else 1)
            if probe is not None:
                # The reference keeps every state: cost grows as T * 2^n.
                scale = steps / probe["T"] * 2.0 ** (n - probe["n"])
                est_mem = probe["peak_bytes"] * scale
                est_time = probe["seconds"] * scale
                if est_mem > MEMORY_LIMIT or est_time > TIME_LIMIT:
                    row["torch"] = {
                        "skipped": f"estimated {est_mem / 2**30:.1f} GiB, {est_time:.0f} s"
                        f" (limits {MEMORY_LIMIT / 2**30:.0f} GiB, {TIME_LIMIT:.0f} s)"
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    continue
            row["torch"] = cell_in_subprocess("torch", n, steps, batch, 1)
            if "seconds" in row["torch"]:
                probe = {**row["torch"], "T": steps, "n": n}
                row["speedup"] = row["torch"]["seconds"] / row["numba"]["seconds"]
                row["memory_ratio"] = row["torch"]["peak_bytes"] / max(
                    1, row["numba"]["peak_bytes"]
                )
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


# ---- where time goes -------------------------------------------------------------


def breakdown(n: int = 8, batch: int = 64, steps: int = 128) -> dict:
    import numpy as np
    import torch

    import qrnnc
    from qrnnc.backends.numba_sv import Cell, kernels

    compiled = qrnnc.loads(copying_text(n))
    program = compiled.program
    cell = Cell(program)
    theta = np.random.default_rng(0).uniform(-3, 3, (batch, program.n_controller))
    phi, consts, x = np.zeros(0), cell.consts, np.zeros((batch, 0))
    psi = kernels.initial_state(batch, n, False, np.complex128)
    lam = np.zeros_like(psi)
    z = np.zeros((batch, program.n_readouts))
    dz = np.random.default_rng(1).normal(size=z.shape)
    dtheta, dphi = np.zeros_like(theta), np.zeros((batch, 0))
    args = (cell.gates, cell.wires, cell.sources, cell.slots)

    def fwd() -> None:
        kernels.forward_step(psi, n, *args, theta, phi, consts, x, cell.qgroups, cell.zzs, z)

    def bwd() -> None:
        kernels.backward_step(
            psi, lam, n, *args, theta, phi, consts, x, cell.qgroups, cell.zzs, dz, dtheta, dphi, x
        )

    def per_call(f, reps: int = 200) -> float:
        f()
        start = time.perf_counter()
        for _ in range(reps):
            f()
        return (time.perf_counter() - start) / reps

    angles = torch.randn(steps, batch, program.n_controller, dtype=torch.float64)

    def cell_only() -> None:
        a = angles.clone().requires_grad_()
        qrnnc.simulate(program, a, "numba").sum().backward()

    torch.manual_seed(0)
    net = compiled.build(backend="numba")
    tokens = torch.randint(0, 10, (batch, steps))

    def full() -> None:
        net(tokens).sum().backward()

    kernel_fwd, kernel_bwd = per_call(fwd), per_call(bwd)
    cell_s = per_call(cell_only, 3) / steps
    full_s = per_call(full, 3) / steps
    return {
        "n": n,
        "B": batch,
        "T": steps,
        "kernel_forward_ms_per_step": kernel_fwd * 1e3,
        "kernel_backward_ms_per_step": kernel_bwd * 1e3,
        "cell_ms_per_step": cell_s * 1e3,
        "full_net_ms_per_step": full_s * 1e3,
        "torch_overhead_share": 1 - (kernel_fwd + kernel_bwd) / full_s,
    }


# ---- per-gate throughput against Lightning -----------------------------------------------


def gates_vs_lightning(n: int = 12) -> dict:
    import numpy as np

    import qrnnc
    from qrnnc.backends.numba_sv import Cell, kernels

    try:
        from pennylane_lightning.lightning_qubit_ops import StateVectorC128
    except ImportError:
        return {"skipped": "pennylane-lightning not installed (pip install -e '.[bench]')"}
    program = qrnnc.loads(copying_text(n)).program
    cell = Cell(program)
    rng = np.random.default_rng(0)
    out: dict = {"n": n, "rows": []}

    def circuit_numba(gates, wires, angles, batch: int, reps: int) -> float:
        psi = kernels.initial_state(batch, n, False, np.complex128)
        sources = np.full(len(gates), kernels.SRC_CONTROLLER)
        slots = np.arange(len(gates))
        theta = np.tile(angles, (batch, 1))
        empty = np.zeros((0, 4), dtype=np.int64)
        z = np.zeros((batch, 0))
        call = (psi, n, gates, wires, sources, slots, theta, np.zeros(0), np.zeros(0))
        kernels.forward_step(*call, np.zeros((batch, 0)), empty, empty[:, :3], z)
        start = time.perf_counter()
        for _ in range(reps):
            kernels.forward_step(*call, np.zeros((batch, 0)), empty, empty[:, :3], z)
        return (time.perf_counter() - start) / reps

    def circuit_lightning(names, wires, angles, batch: int, reps: int) -> float:
        states = [StateVectorC128(n) for _ in range(batch)]
        ops = []
        for name, w, a in zip(names, wires, angles, strict=True):
            fn = {"rx": "RX", "ry": "RY", "rz": "RZ", "cnot": "CNOT"}[name]
            ops.append((fn, [int(w[0])] if w[1] < 0 else [int(w[0]), int(w[1])], [float(a)]))
        start = time.perf_counter()
        for _ in range(reps):
            for sv in states:
                for fn, ws, params in ops:
                    getattr(sv, fn)(ws, False, params if fn != "CNOT" else [])
        return (time.perf_counter() - start) / reps

    cases = {
        f"{name} on every qubit": (
            [name] * n,
            [(q, -1) for q in range(n)] if name != "cnot" else [(q, (q + 1) % n) for q in range(n)],
        )
        for name in ("rz", "cnot", "rx")
    }
    cases["one step of the copying cell"] = (list(program.gates), list(program.wires))
    codes = {"rx": kernels.RX, "ry": kernels.RY, "rz": kernels.RZ, "cnot": kernels.CNOT}
    for label, (names, wires) in cases.items():
        gates = np.array([codes[g] for g in names], dtype=np.int64)
        w = np.array(wires, dtype=np.int64)
        angles = rng.uniform(-3, 3, len(names))
        for batch in (1, 64):
            reps = 200 if batch == 1 else 10
            ours = circuit_numba(gates, w, angles, batch, reps)
            theirs = circuit_lightning(names, wires, angles, batch, reps)
            per = len(names) * batch * 2**n
            out["rows"].append(
                {
                    "circuit": label,
                    "gates": len(names),
                    "states": batch,
                    "numba_ns_per_gate_amp": ours / per * 1e9,
                    "lightning_ns_per_gate_amp": theirs / per * 1e9,
                    "lightning_over_numba": theirs / ours,
                }
            )
    del cell
    return out


# ---- sequential MNIST epoch estimate ---------------------------------------------------


def smnist_epoch(qubits: int = 8, batch: int = 64, steps: int = 784) -> dict:
    import torch

    import qrnnc
    from qrnnc import threads

    threads.configure()
    torch.manual_seed(0)
    # The yardstick is 8 qubits; the zoo file has 6.
    text = (ROOT / "zoo" / "smnist.qrnn").read_text().replace("qubits 6", f"qubits {qubits}")
    net = qrnnc.loads(text).build(backend="numba")
    x = torch.rand(batch, steps, 1)
    net(x[:, :2]).sum().backward()
    start = time.perf_counter()
    net(x).sum().backward()
    seconds = time.perf_counter() - start
    batches = 60_000 / batch
    return {
        "qubits": net.program.qubits,
        "B": batch,
        "T": steps,
        "seconds_per_batch": seconds,
        "steps_per_second": steps / seconds,
        "epoch_minutes": seconds * batches / 60,
    }


# ---- report ------------------------------------------------------------------------------


def machine() -> dict:
    import numba
    import torch

    from qrnnc import threads

    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    plan = threads.plan()
    return {
        "cpu": cpu,
        "cores": threads.available_cores(),
        "ram_gib": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numba": numba.__version__,
        "threads": {
            "numba_backend": f"numba {plan.numba} ({plan.layer}) + torch {plan.torch}",
            "torch_reference": f"torch {threads.available_cores()}",
        },
        "date": datetime.date.today().isoformat(),
        "command": "python " + " ".join(sys.argv),
    }


def mib(b: float) -> str:
    return f"{b / 2**20:,.0f} MiB"


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB; python {m['python']},"
        f" torch {m['torch']}, numba {m['numba']}; threads: numba backend"
        f" {m['threads']['numba_backend']}, torch reference {m['threads']['torch_reference']}."
        f" {m['date']}, `{m['command']}`.",
        "",
        "Forward+backward of the full QRNN (zoo/copying.qrnn with n qubits, B = 64):",
        "",
        "| n | T | numba s | torch s | speed-up | numba peak | torch peak | memory ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results["grid"]:
        nb, tr = r["numba"], r["torch"]
        if "seconds" not in nb:
            lines.append(f"| {r['n']} | {r['T']} | {nb['skipped']} | | | | | |")
            continue
        if "seconds" in tr:
            lines.append(
                f"| {r['n']} | {r['T']} | {nb['seconds']:.2f} | {tr['seconds']:.2f} |"
                f" {r['speedup']:.0f}x | {mib(nb['peak_bytes'])} | {mib(tr['peak_bytes'])} |"
                f" {r['memory_ratio']:.0f}x |"
            )
        else:
            lines.append(
                f"| {r['n']} | {r['T']} | {nb['seconds']:.2f} | skipped: {tr['skipped']} | |"
                f" {mib(nb['peak_bytes'])} | | |"
            )
    b = results.get("breakdown")
    if b:
        lines += [
            "",
            f"Where time goes (n={b['n']}, B={b['B']}, T={b['T']}, ms per step):",
            "",
            "| kernels forward | kernels backward | cell (autograd Function) | full net |"
            " torch share |",
            "|---|---|---|---|---|",
            f"| {b['kernel_forward_ms_per_step']:.2f} | {b['kernel_backward_ms_per_step']:.2f} |"
            f" {b['cell_ms_per_step']:.2f} | {b['full_net_ms_per_step']:.2f} |"
            f" {100 * b['torch_overhead_share']:.0f}% |",
        ]
    g = results.get("gates")
    if g and "rows" in g:
        lines += [
            "",
            f"Per-gate throughput at n={g['n']}, ns per gate per amplitude (lower is better):",
            "",
            "| circuit | gates | states | numba | Lightning | Lightning time / numba time |",
            "|---|---|---|---|---|---|",
        ]
        for r in g["rows"]:
            lines.append(
                f"| {r['circuit']} | {r['gates']} | {r['states']} |"
                f" {r['numba_ns_per_gate_amp']:.3f} | {r['lightning_ns_per_gate_amp']:.3f} |"
                f" {r['lightning_over_numba']:.2f} |"
            )
    elif g:
        lines += ["", f"Per-gate throughput: {g['skipped']}"]
    s = results.get("smnist")
    if s:
        lines += [
            "",
            f"Sequential MNIST (zoo/smnist.qrnn at {s['qubits']} qubits, B={s['B']}, T={s['T']}):"
            f" {s['seconds_per_batch']:.2f} s per forward+backward batch,"
            f" {s['steps_per_second']:.0f} steps/s, so one epoch of 60,000 sequences"
            f" takes about {s['epoch_minutes']:.0f} minutes.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description="numba vs torch reference benchmarks")
    ap.add_argument("--quick", action="store_true", help="a small grid, for a smoke run")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--cell", nargs=4, metavar=("BACKEND", "N", "T", "B"), help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cell:
        backend, n, steps, batch = args.cell
        print(json.dumps(run_cell(backend, int(n), int(steps), int(batch), args.repeats)))
        return
    ns, ts = ([6, 8], [32]) if args.quick else ([6, 8, 10, 12], [32, 128, 512])
    results: dict = {"machine": machine(), "grid": grid(ns, ts, 64)}
    results["breakdown"] = breakdown(steps=32 if args.quick else 128)
    results["gates"] = gates_vs_lightning(8 if args.quick else 12)
    if not args.quick:
        results["smnist"] = smnist_epoch()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sim.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "sim.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
