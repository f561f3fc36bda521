"""The gate table: one row per gate, in step with the grammar, with matrices
that follow the OpenQASM 3 / Braket conventions of DESIGN.md."""

import re

import numpy as np
import pytest

from qrnnc.gates import GATE_NAMES, GATES, PAULI, X, Z
from qrnnc.ir import GateName
from qrnnc.parser import grammar_text

RNG = np.random.default_rng(0)
ANGLES = [0.0, 0.3, -1.7, np.pi, 2.9]


def test_grammar_lists_exactly_the_gates_of_the_table() -> None:
    rule = re.search(r"!gate_name:(.*?)\n(?!\s*\|)", grammar_text(), re.S)
    assert rule is not None
    assert re.findall(r'"(\w+)"', rule.group(1)) == list(GATE_NAMES)


def test_ir_gate_literal_matches_the_table() -> None:
    assert list(GateName.__args__) == list(GATE_NAMES)


@pytest.mark.parametrize("name", GATE_NAMES)
@pytest.mark.parametrize("theta", ANGLES)
def test_matrix_is_unitary_of_the_right_size(name: str, theta: float) -> None:
    g = GATES[name]
    u = g.matrix(theta)
    assert u.shape == (2**g.wires, 2**g.wires)
    np.testing.assert_allclose(u.conj().T @ u, np.eye(2**g.wires), atol=1e-12)


@pytest.mark.parametrize("name", [n for n in GATE_NAMES if GATES[n].parametric])
@pytest.mark.parametrize("theta", ANGLES)
def test_generator_matches_central_finite_difference(name: str, theta: float) -> None:
    g = GATES[name]
    h = 1e-6
    numeric = (g.matrix(theta + h) - g.matrix(theta - h)) / (2 * h)
    # dU/dtheta = -i/2 G U for every parametrized gate in the table.
    analytic = -0.5j * g.generator @ g.matrix(theta)
    np.testing.assert_allclose(numeric, analytic, atol=1e-8)


@pytest.mark.parametrize("name", [n for n in GATE_NAMES if GATES[n].parametric])
def test_rotations_vanish_at_zero(name: str) -> None:
    g = GATES[name]
    np.testing.assert_allclose(g.matrix(0.0), np.eye(2**g.wires), atol=1e-15)


@pytest.mark.parametrize("name", GATE_NAMES)
def test_groups_are_consistent_with_the_matrix(name: str) -> None:
    g = GATES[name]
    u = g.matrix(0.7)
    if g.diagonal:
        np.testing.assert_allclose(u, np.diag(np.diag(u)), atol=1e-15)
    if g.permutation:
        assert np.all(np.count_nonzero(np.abs(u) > 1e-12, axis=1) == 1)


def test_conventions() -> None:
    # R_P(theta) = exp(-i theta P / 2)
    np.testing.assert_allclose(GATES["rx"].matrix(np.pi), -1j * X, atol=1e-15)
    # cnot: the first wire (most significant bit) is the control
    cnot = GATES["cnot"].matrix()
    assert cnot[0b10, 0b11] == 1 and cnot[0b01, 0b01] == 1
    # crz: identity when the control (first wire) is 0
    crz = GATES["crz"].matrix(1.1)
    np.testing.assert_allclose(crz[:2, :2], np.eye(2), atol=1e-15)
    np.testing.assert_allclose(crz[2:, 2:], GATES["rz"].matrix(1.1), atol=1e-15)
    # rzz is exp(-i theta Z(x)Z / 2)
    np.testing.assert_allclose(
        np.diag(GATES["rzz"].matrix(0.4)), np.exp(-0.2j * np.diag(np.kron(Z, Z))), atol=1e-15
    )
    assert set(PAULI) == {"x", "y", "z"}
