"""A dense numpy oracle for backend tests: whole 2^n x 2^n matrices, nothing clever.

It shares only the gate table (qrnnc.gates) with the backends, so a backend
that agrees with it applies the table's matrices with the project's wire
conventions: qubit 0 is the most significant bit of the amplitude index, and
the first wire of a two-qubit gate is the most significant bit of its 4x4
index.
"""

from __future__ import annotations

import numpy as np

from qrnnc.gates import GATES, PAULI, Z
from qrnnc.program import Program


def bits(n: int) -> np.ndarray:
    """(2^n, n): entry [i, q] is qubit q's bit in amplitude index i (qubit 0 most significant)."""
    index = np.arange(2**n)
    return (index[:, None] >> (n - 1 - np.arange(n))) & 1


def embed(u: np.ndarray, wires: tuple[int, ...], n: int) -> np.ndarray:
    """The 2^n x 2^n matrix of `u` acting on `wires` (wires[0] is u's most significant bit).

    Written from the definition rather than as a kron product, so that reversed
    and non-adjacent wires are no special case: <i|U|j> = u[local(i), local(j)]
    when i and j agree on every other qubit, else 0.
    """
    b = bits(n)
    local = sum(b[:, w] << (len(wires) - 1 - k) for k, w in enumerate(wires))
    others = [q for q in range(n) if q not in wires]
    same = np.all(b[:, None, others] == b[None, :, others], axis=-1)
    return u[local[:, None], local[None, :]] * same


def op_wires(w: tuple[int, int]) -> tuple[int, ...]:
    return (w[0],) if w[1] < 0 else (w[0], w[1])


def op_angle(
    program: Program, i: int, theta_row: np.ndarray, phi: np.ndarray, x_row: np.ndarray | None
) -> float:
    source, slot = program.sources[i], program.slots[i]
    if source == "controller":
        return float(theta_row[slot])
    if source == "param":
        return float(phi[slot])
    if source == "const":
        return float(program.constants[slot])
    if source == "input":
        assert x_row is not None
        return float(x_row[slot])
    return 0.0  # a fixed gate ignores its angle


def dense_unitary(
    program: Program,
    theta_row: np.ndarray,
    phi: np.ndarray,
    x_row: np.ndarray | None = None,
) -> np.ndarray:
    """The whole cell for one sequence at one step, (2^n, 2^n)."""
    n = program.qubits
    u = np.eye(2**n, dtype=np.complex128)
    for i, gate in enumerate(program.gates):
        g = GATES[gate].matrix(op_angle(program, i, theta_row, phi, x_row))
        u = embed(g, op_wires(program.wires[i]), n) @ u  # later gates act after earlier ones
    return u


def initial_state(program: Program) -> np.ndarray:
    dim = 2**program.qubits
    if program.init == "plus":
        return np.full(dim, dim**-0.5, dtype=np.complex128)
    psi = np.zeros(dim, dtype=np.complex128)
    psi[0] = 1.0
    return psi


def dense_readouts(program: Program, psi: np.ndarray) -> np.ndarray:
    """<psi|O_k|psi> for every readout of the program, in order, (K,)."""
    n = program.qubits
    out = []
    for obs, w in zip(program.readout_obs, program.readout_wires, strict=True):
        o = np.kron(Z, Z) if obs == "zz" else PAULI[obs]
        out.append(np.vdot(psi, embed(o, op_wires(w), n) @ psi).real)
    return np.array(out)


def dense_run(
    program: Program,
    theta: np.ndarray,
    phi: np.ndarray,
    x: np.ndarray | None = None,
) -> np.ndarray:
    """theta (T, B, P), phi (S,), x (T, B, D) or None -> readouts (T, B, K)."""
    theta = np.asarray(theta, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    steps, batch = theta.shape[:2]
    z = np.zeros((steps, batch, len(program.readout_obs)))
    for b in range(batch):
        psi = initial_state(program)
        for t in range(steps):
            x_row = None if x is None else np.asarray(x[t, b], dtype=np.float64)
            psi = dense_unitary(program, theta[t, b], phi, x_row) @ psi
            z[t, b] = dense_readouts(program, psi)
    return z
