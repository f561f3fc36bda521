"""Random cells as DSL text, and random inputs for them: shared by the backend tests."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from qrnnc.gates import GATE_NAMES, GATES
from qrnnc.program import Program

ONE_QUBIT = [g for g in GATE_NAMES if GATES[g].wires == 1]
TWO_QUBIT = [g for g in GATE_NAMES if GATES[g].wires == 2]


@st.composite
def model_texts(draw: st.DrawFn, max_qubits: int = 5, max_ops: int = 6) -> str:
    """A model over every gate kind, target form, angle source and readout kind."""
    n = draw(st.integers(1, max_qubits))
    dim = draw(st.integers(1, n))
    qubits = st.integers(0, n - 1)
    pairs = st.tuples(qubits, qubits).filter(lambda p: p[0] != p[1])
    ops = []
    for _ in range(draw(st.integers(1, max_ops))):
        gate = draw(st.sampled_from(ONE_QUBIT + (TWO_QUBIT if n > 1 else [])))
        spec = GATES[gate]
        kinds = ["default", "controller", "param", "const", "input"]
        kind = draw(st.sampled_from(kinds)) if spec.parametric else "none"
        count = dim if kind == "input" else draw(st.integers(1, n))
        if spec.two_qubit:
            named = kind != "input" and draw(st.booleans())
            chosen = draw(st.lists(pairs, min_size=count, max_size=count, unique=True))
            target = (
                draw(st.sampled_from(["ring", "chain"]))
                if named
                else ", ".join(f"({a}, {b})" for a, b in chosen)
            )
        else:
            chosen = draw(st.permutations(range(n)))[:count]
            named = kind != "input" and count == n and draw(st.booleans())
            target = "all" if named else f"q[{', '.join(map(str, chosen))}]"
        angle = draw(st.floats(-7, 7, allow_nan=False))
        source = {
            "none": "",
            "default": "",
            "controller": " <- controller",
            "param": f" <- param({angle!r})",
            "const": f" <- {angle!r}",
            "input": " <- input",
        }[kind]
        ops.append(f"{gate} {target}{source}")
    if not any(GATES[op.split()[0]].parametric for op in ops):
        ops.append("ry all")  # a cell needs an angle somewhere
    observables = draw(st.lists(st.sampled_from("xyz"), min_size=1, max_size=3, unique=True))
    readout_qubits = draw(st.permutations(range(n)))[: draw(st.integers(1, n))]
    readouts = f"readout {', '.join(observables)} on q[{', '.join(map(str, readout_qubits))}]"
    if draw(st.booleans()):  # the same qubit read twice for one Pauli
        readouts += f" readout {observables[0]} on q[{readout_qubits[0]}]"
    if n > 1 and draw(st.booleans()):
        zz = draw(st.lists(pairs, min_size=1, max_size=3, unique=True))
        readouts += " readout zz on " + ", ".join(f"({a}, {b})" for a, b in zz)
    init = draw(st.sampled_from(["zero", "plus"]))
    return (
        f"model m {{\n qubits {n}\n init {init}\n input features(dim={dim})\n"
        f" cell {{\n  {chr(10).join(ops)}\n }}\n {readouts}\n}}"
    )


def random_inputs(rng: np.random.Generator, program: Program, steps: int, batch: int):
    """theta (T, B, P), phi (S,) at the written values, x (T, B, D) or None."""
    theta = rng.uniform(-math.pi, math.pi, (steps, batch, program.n_controller))
    phi = np.array(program.param_init, dtype=np.float64)
    x = None
    if program.resources.input_angles:
        x = rng.uniform(-math.pi, math.pi, (steps, batch, program.input_dim))
    return theta, phi, x


def random_states(rng: np.random.Generator, batch: int, n: int) -> np.ndarray:
    psi = rng.normal(size=(batch, 2**n)) + 1j * rng.normal(size=(batch, 2**n))
    return psi / np.linalg.norm(psi, axis=1, keepdims=True)


def placements(wires: int) -> list[tuple[int, tuple[int, ...]]]:
    """(n, wires) for every qubit (one-qubit gates) or ordered pair (two-qubit), n = 1..4."""
    if wires == 1:
        return [(n, (q,)) for n in range(1, 5) for q in range(n)]
    return [(n, (a, b)) for n in range(2, 5) for a in range(n) for b in range(n) if a != b]


GATE_CASES = [(g, n, w) for g in GATE_NAMES for n, w in placements(GATES[g].wires)]
GATE_CASE_IDS = [f"{g}-n{n}-{'-'.join(map(str, w))}" for g, n, w in GATE_CASES]
