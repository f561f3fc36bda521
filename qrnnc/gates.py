"""The gate table: every fact about a gate kind lives here, once.

Grammar checks, lowering, the backends and the tests read this table, so a
gate is added by adding a row (plus its kernels), nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

I2 = np.eye(2, dtype=np.complex128)
X = np.array([[0, 1], [1, 0]], dtype=np.complex128)
Y = np.array([[0, -1j], [1j, 0]], dtype=np.complex128)
Z = np.array([[1, 0], [0, -1]], dtype=np.complex128)
P0 = np.array([[1, 0], [0, 0]], dtype=np.complex128)
P1 = np.array([[0, 0], [0, 1]], dtype=np.complex128)
PAULI = {"x": X, "y": Y, "z": Z}


def _rotation(generator: np.ndarray) -> Callable[[float], np.ndarray]:
    """exp(-i theta G / 2) for an involutory generator G (G @ G = 1)."""
    eye = np.eye(generator.shape[0], dtype=np.complex128)

    def matrix(theta: float) -> np.ndarray:
        return np.cos(theta / 2) * eye - 1j * np.sin(theta / 2) * generator

    return matrix


def _controlled(u: Callable[[float], np.ndarray]) -> Callable[[float], np.ndarray]:
    """|0><0| (x) 1 + |1><1| (x) U(theta); the first wire is the control."""

    def matrix(theta: float) -> np.ndarray:
        return np.kron(P0, I2) + np.kron(P1, u(theta))

    return matrix


def _fixed(m: np.ndarray) -> Callable[[float], np.ndarray]:
    return lambda theta=0.0: m


@dataclass(frozen=True)
class GateSpec:
    """One gate kind.

    Wire order in `matrix` is (first wire, second wire) with the first wire as
    the most significant bit of the 4x4 matrix index.
    `generator` is G with dU/dtheta = -i/2 G U for the rotations (scale -1/2),
    or, for controlled rotations, the projected generator |1><1| (x) P.
    """

    name: str
    wires: int
    params: int
    matrix: Callable[..., np.ndarray]
    braket: str
    generator: np.ndarray | None = None
    diagonal: bool = False
    permutation: bool = False

    @property
    def parametric(self) -> bool:
        return self.params > 0

    @property
    def two_qubit(self) -> bool:
        return self.wires == 2


_S = np.diag([1, 1j]).astype(np.complex128)
_T = np.diag([1, np.exp(1j * np.pi / 4)]).astype(np.complex128)
_H = np.array([[1, 1], [1, -1]], dtype=np.complex128) / np.sqrt(2)
_CNOT = np.kron(P0, I2) + np.kron(P1, X)
_CZ = np.diag([1, 1, 1, -1]).astype(np.complex128)
_SWAP = np.eye(4, dtype=np.complex128)[[0, 2, 1, 3]]

_ROWS = [
    GateSpec("rx", 1, 1, _rotation(X), "rx", generator=X),
    GateSpec("ry", 1, 1, _rotation(Y), "ry", generator=Y),
    GateSpec("rz", 1, 1, _rotation(Z), "rz", generator=Z, diagonal=True),
    GateSpec("h", 1, 0, _fixed(_H), "h"),
    GateSpec("x", 1, 0, _fixed(X), "x", permutation=True),
    GateSpec("y", 1, 0, _fixed(Y), "y", permutation=True),
    GateSpec("z", 1, 0, _fixed(Z), "z", diagonal=True),
    GateSpec("s", 1, 0, _fixed(_S), "s", diagonal=True),
    GateSpec("t", 1, 0, _fixed(_T), "t", diagonal=True),
    GateSpec("cnot", 2, 0, _fixed(_CNOT), "cnot", permutation=True),
    GateSpec("cz", 2, 0, _fixed(_CZ), "cz", diagonal=True),
    GateSpec("swap", 2, 0, _fixed(_SWAP), "swap", permutation=True),
    GateSpec("crx", 2, 1, _controlled(_rotation(X)), "ctrl @ rx", generator=np.kron(P1, X)),
    GateSpec("cry", 2, 1, _controlled(_rotation(Y)), "ctrl @ ry", generator=np.kron(P1, Y)),
    GateSpec(
        "crz", 2, 1, _controlled(_rotation(Z)), "ctrl @ rz", generator=np.kron(P1, Z), diagonal=True
    ),
    GateSpec("rxx", 2, 1, _rotation(np.kron(X, X)), "xx", generator=np.kron(X, X)),
    GateSpec("ryy", 2, 1, _rotation(np.kron(Y, Y)), "yy", generator=np.kron(Y, Y)),
    GateSpec("rzz", 2, 1, _rotation(np.kron(Z, Z)), "zz", generator=np.kron(Z, Z), diagonal=True),
]

GATES: dict[str, GateSpec] = {g.name: g for g in _ROWS}
GATE_NAMES: tuple[str, ...] = tuple(GATES)
# Stable small-integer codes for flat arrays consumed by kernels.
GATE_CODES: dict[str, int] = {name: i for i, name in enumerate(GATE_NAMES)}
OBSERVABLES: tuple[str, ...] = ("x", "y", "z", "zz")
