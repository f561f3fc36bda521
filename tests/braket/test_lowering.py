"""The Braket lowering against the gate table, the dense oracle and the numba backend.

Every gate of the table on every wire and ordered pair: Braket's unitary of
the lowered instruction equals the table's matrix (so angle conventions, wire
order and qubit order agree); free parameters bind to the same circuit;
prefixes and measurement bases reproduce the numba readouts; the OpenQASM
export runs on Braket's LocalSimulator and gives one step's readouts.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from braket.circuits import Circuit
from braket.devices import LocalSimulator
from braket.ir.openqasm import Program as OpenQASMProgram
from dense import embed
from hypothesis import given, settings
from hypothesis import strategies as st
from programs import GATE_CASE_IDS, GATE_CASES, model_texts, random_inputs

import qrnnc
from qrnnc.backends.braket import lower
from qrnnc.cell import simulate
from qrnnc.gates import GATE_NAMES, GATES

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
ZOO = sorted((ROOT / "zoo").glob("*/model.qrnn"))
ZOO_PROGRAMS = [
    (f"{p.parent.name}:{name}", prog) for p in ZOO for name, prog in qrnnc.load(p).programs.items()
]
ZOO_IDS = [name for name, _ in ZOO_PROGRAMS]
EXACT = 1e-10

TWO_GATES = """
model two {
    qubits 3
    input features(dim=2)
    cell {
        ry q[0, 2] <- input
        crx (2, 0)
        rzz (1, 2) <- param(0.25)
        rx q[1] <- -1.5e-3
        cnot (0, 1)
    }
    readout x, y on q[0, 2]
    readout z on q[1]
    readout zz on (2, 0)
}
"""


def spanning(n: int) -> Circuit:
    """An identity on every qubit first, so that the circuit's unitary is over all n."""
    circuit = Circuit()
    for q in range(n):
        circuit.i(q)
    return circuit


def test_every_gate_of_the_table_has_a_braket_gate():
    for name in GATE_NAMES:
        assert GATES[name].braket.removeprefix(lower.CONTROL) in lower.BRAKET_GATES, name


@pytest.mark.parametrize("controlled", ["modifier", "decompose"])
@pytest.mark.parametrize(("name", "n", "wires"), GATE_CASES, ids=GATE_CASE_IDS)
def test_gate_unitary_equals_the_table(name, n, wires, controlled):
    angle = 0.731 - 0.29 * n + 0.17 * sum(wires)  # differs from case to case
    circuit = spanning(n).add(lower.gate_instructions(name, wires, angle, controlled=controlled))
    expected = embed(GATES[name].matrix(angle), wires, n)
    np.testing.assert_allclose(circuit.to_unitary(), expected, atol=1e-12)


@pytest.mark.parametrize("name", [g for g in GATE_NAMES if GATES[g].parametric])
def test_rotation_angle_convention_is_exp_minus_i_theta_p_over_2(name):
    # One full turn is -1 (a 2 pi rotation flips the sign), a half turn is -i P.
    wires = (0, 1) if GATES[name].two_qubit else (0,)
    n = len(wires)
    turn = spanning(n).add(lower.gate_instructions(name, wires, 2 * math.pi)).to_unitary()
    spec = GATES[name]
    if spec.braket.startswith(lower.CONTROL):  # only the target's block turns
        np.testing.assert_allclose(turn, np.diag([1, 1, -1, -1]), atol=1e-12)
    else:
        np.testing.assert_allclose(turn, -np.eye(2**n), atol=1e-12)
        half = spanning(n).add(lower.gate_instructions(name, wires, math.pi)).to_unitary()
        np.testing.assert_allclose(half, -1j * spec.generator, atol=1e-12)


def test_qubit_zero_is_the_most_significant_bit_of_to_unitary():
    u = spanning(3).add(lower.gate_instructions("x", (0,))).to_unitary()
    assert np.argmax(np.abs(u[:, 0])) == 0b100
    u = spanning(3).add(lower.gate_instructions("cnot", (2, 0))).to_unitary()
    assert np.argmax(np.abs(u[:, 0b001])) == 0b101  # control q2 set: target q0 flips


@pytest.mark.parametrize("name", GATE_NAMES)
def test_braket_serializes_each_gate_as_the_export_writes_it(name):
    """The hand-written QASM line of a gate is the one Braket's own serializer writes."""
    spec = GATES[name]
    target = "(1, 0)" if spec.two_qubit else "q[1]"
    cell = f"{name} {target} <- 0.5" if spec.parametric else f"{name} {target} ry all"
    text = f"model m {{ qubits 2 input features(dim=1) cell {{ {cell} }} readout z on all }}"
    program = qrnnc.loads(text).program
    ours = [ln for ln in lower.to_qasm(program).splitlines() if ln.startswith(spec.braket)]
    circuit = spanning(2).add(lower.step_instructions(program, np.zeros(program.n_controller)))
    theirs = circuit.to_ir("OPENQASM").source.splitlines()
    assert ours and all(line in theirs for line in ours), (ours, theirs)


def test_step_circuit_with_free_parameters_binds_to_the_bound_one():
    program = qrnnc.loads(TWO_GATES).program
    rng = np.random.default_rng(1)
    theta, phi, x = random_inputs(rng, program, 1, 1)
    free = lower.step_circuit(program, free=True)
    assert {p.name for p in free.parameters} == {"theta_0", "phi_0", "x_0", "x_1"}
    values = {"theta_0": theta[0, 0, 0], "phi_0": phi[0]}
    values |= {f"x_{j}": v for j, v in enumerate(x[0, 0])}
    bound = lower.step_circuit(program, theta[0, 0], phi, x[0, 0])
    np.testing.assert_allclose(
        (spanning(3) + lower.bind(free, values)).to_unitary(),
        (spanning(3) + bound).to_unitary(),
        atol=1e-14,
    )
    # The device binds inputs= in the OpenQASM it runs: same readouts as the bound circuit.
    types, index = lower.expectations(program)
    device = LocalSimulator()
    by_inputs = device.run(with_results(free, types), shots=0, inputs=values).result().values
    by_value = device.run(with_results(bound, types), shots=0).result().values
    np.testing.assert_allclose(np.array(by_inputs)[index], np.array(by_value)[index], atol=1e-14)
    with pytest.raises(ValueError, match=r"no value for free parameters \['x_1'\]"):
        lower.bind(free, {k: v for k, v in values.items() if k != "x_1"})


def test_decomposed_free_circuit_binds_to_the_decomposed_bound_one():
    program = qrnnc.loads(TWO_GATES).program
    values = {"theta_0": 0.4, "phi_0": 0.25, "x_0": -1.0, "x_1": 2.0}
    free = lower.step_circuit(program, free=True, controlled="decompose")
    bound = lower.step_circuit(program, [0.4], [0.25], [-1.0, 2.0], controlled="decompose")
    assert len(free.instructions) == len(program.gates) + 3  # crx: 4 gates
    np.testing.assert_allclose(
        (spanning(3) + lower.bind(free, values)).to_unitary(),
        (spanning(3) + lower.step_circuit(program, [0.4], [0.25], [-1.0, 2.0])).to_unitary(),
        atol=1e-14,
    )
    assert lower.bind(free, values).to_ir("OPENQASM").source == bound.to_ir("OPENQASM").source


def with_results(circuit, types):
    circuit = circuit.copy()
    for rt in types:
        circuit.add_result_type(rt)
    return circuit


def test_step_circuit_errors_say_what_to_pass():
    program = qrnnc.loads(TWO_GATES).program
    with pytest.raises(ValueError, match=r"pass shape \(1,\)"):
        lower.step_circuit(program, np.zeros(3), x=np.zeros(2))
    with pytest.raises(ValueError, match=r"pass x of shape \(2,\)"):
        lower.step_circuit(program, np.zeros(1))
    smnist = qrnnc.load(ROOT / "zoo" / "smnist" / "model.qrnn").program  # `param` without a value
    with pytest.raises(ValueError, match="--free-params"):
        lower.to_qasm(smnist)


# ---- whole programs ---------------------------------------------------------------


def prefix_state(program, theta, phi, x, b, t):
    """Braket's state after steps 1..t+1 of sequence b (from the prefix's unitary)."""
    xs = None if x is None else x[: t + 1, b]
    return lower.prefix_circuit(program, theta[: t + 1, b], phi, xs).to_unitary()[:, 0]


def basis_readouts(program, psi):
    """Every readout from the outcome probabilities of its basis, as the shot path estimates."""
    z = np.zeros(program.n_readouts)
    for basis in lower.bases(program):
        rotated = (spanning(program.qubits).add(basis.rotation())).to_unitary() @ psi
        z[list(basis.readouts)] = basis.estimate_probabilities(np.abs(rotated) ** 2)
    return z


@pytest.mark.parametrize("program", [p for _, p in ZOO_PROGRAMS], ids=ZOO_IDS)
def test_zoo_prefixes_and_bases_equal_numba(program):
    rng = np.random.default_rng(2)
    theta, _, x = random_inputs(rng, program, 3, 2)
    phi = rng.uniform(-math.pi, math.pi, program.n_params)
    expected = simulate(program, theta, params=phi, inputs=x).numpy()
    for t in range(3):
        for b in range(2):
            z = basis_readouts(program, prefix_state(program, theta, phi, x, b, t))
            np.testing.assert_allclose(z, expected[t, b], atol=EXACT)


@settings(max_examples=30)
@given(text=model_texts(max_qubits=4), seed=st.integers(0, 2**32 - 1))
def test_random_prefixes_and_bases_equal_numba(text, seed):
    program = qrnnc.loads(text).program
    theta, phi, x = random_inputs(np.random.default_rng(seed), program, 2, 2)
    expected = simulate(program, theta, params=phi, inputs=x).numpy()
    for t in range(2):
        for b in range(2):
            z = basis_readouts(program, prefix_state(program, theta, phi, x, b, t))
            np.testing.assert_allclose(z, expected[t, b], atol=EXACT)


# ---- measurement bases ------------------------------------------------------------


def labels(text):
    return [b.label for b in lower.bases(qrnnc.loads(text).program)]


def model(readouts: str, n: int = 3) -> str:
    return f"model m {{ qubits {n} input features(dim=1) cell {{ ry all }} {readouts} }}"


def test_bases_group_readouts_by_commuting_paulis():
    assert labels(model("readout x, y, z on all")) == ["XXX", "YYY", "ZZZ"]
    assert labels(model("readout z on all readout zz on ring")) == ["ZZZ"]
    assert labels(model("readout x on q[0] readout z on q[1]")) == ["XZZ"]
    assert labels(model("readout x on q[0] readout zz on (0, 1)")) == ["XZZ", "ZZZ"]
    assert labels(model("readout x, y on q[1] readout x on q[1]")) == ["ZXZ", "ZYZ"]
    program = qrnnc.loads(model("readout x, y on q[0, 2] readout zz on (2, 1)")).program
    got = [(b.label, b.readouts, b.parities) for b in lower.bases(program)]
    assert got == [("XZX", (0, 1), ((0,), (2,))), ("YZY", (2, 3), ((0,), (2,))),
                   ("ZZZ", (4,), ((2, 1),))]  # fmt: skip


def test_basis_rotations_map_x_and_y_to_z():
    for pauli, expected in (("x", GATES["x"].matrix()), ("y", GATES["y"].matrix())):
        basis = lower.Basis(paulis=(pauli,), readouts=(0,), parities=((0,),))
        u = spanning(1).add(basis.rotation()).to_unitary()
        np.testing.assert_allclose(u.conj().T @ np.diag([1, -1]) @ u, expected, atol=1e-14)


def test_estimates_from_bits_count_parities():
    basis = lower.Basis(paulis=("z", "z"), readouts=(0, 1, 2), parities=((0,), (1,), (0, 1)))
    bits = np.array([[0, 0], [0, 1], [1, 1], [0, 0]])
    np.testing.assert_allclose(basis.estimate_bits(bits), [0.5, 0.0, 0.5])
    p = np.array([0.5, 0.25, 0.0, 0.25])  # |00>, |01>, |10>, |11>; qubit 0 the high bit
    np.testing.assert_allclose(basis.estimate_probabilities(p), [0.5, 0.0, 0.5])


# ---- OpenQASM 3 -------------------------------------------------------------------


def run_qasm(source, inputs):
    program = OpenQASMProgram(source=source, inputs=inputs)
    return np.array(LocalSimulator().run(program, shots=0).result().values)


@pytest.mark.parametrize("free_params", [False, True], ids=["bound", "free-params"])
@pytest.mark.parametrize("program", [p for _, p in ZOO_PROGRAMS], ids=ZOO_IDS)
def test_zoo_qasm_runs_on_braket_and_gives_one_step(program, free_params):
    rng = np.random.default_rng(3)
    theta, _, x = random_inputs(rng, program, 1, 1)
    phi = rng.uniform(-math.pi, math.pi, program.n_params)
    source = lower.to_qasm(program, None if free_params else phi, free_params=free_params)
    inputs = lower.qasm_inputs(
        program, theta[0, 0], None if x is None else x[0, 0], phi, free_params=free_params
    )
    expected = simulate(program, theta, params=phi, inputs=x).numpy()[0, 0]
    np.testing.assert_allclose(run_qasm(source, inputs), expected, atol=EXACT)


@settings(max_examples=25)
@given(text=model_texts(max_qubits=4), seed=st.integers(0, 2**32 - 1))
def test_random_qasm_runs_on_braket_and_gives_one_step(text, seed):
    program = qrnnc.loads(text).program
    theta, phi, x = random_inputs(np.random.default_rng(seed), program, 1, 1)
    source = lower.to_qasm(program, phi)
    inputs = lower.qasm_inputs(program, theta[0, 0], None if x is None else x[0, 0])
    expected = simulate(program, theta, params=phi, inputs=x).numpy()[0, 0]
    np.testing.assert_allclose(run_qasm(source, inputs), expected, atol=EXACT)


def test_qasm_layout_is_the_documented_one():
    program = qrnnc.loads(TWO_GATES).program
    source = lower.to_qasm(program)
    lines = source.splitlines()
    assert lines[0] == "OPENQASM 3.0;"
    declared = [ln for ln in lines if ln.startswith("input float")]
    assert declared == ["input float theta_0;", "input float x_0;", "input float x_1;"]
    assert "qubit[3] q;" in lines
    assert "ctrl @ rx(theta_0) q[2], q[0];" in lines
    assert "zz(0.25) q[1], q[2];" in lines  # the param, bound to the file's value
    assert "rx(-0.0015) q[1];" in lines  # a constant, inlined
    pragmas = [
        ln.removeprefix("#pragma braket result expectation ") for ln in lines if "pragma" in ln
    ]
    assert pragmas == ["x(q[0])", "x(q[2])", "y(q[0])", "y(q[2])", "z(q[1])", "z(q[2]) @ z(q[0])"]
    free = lower.to_qasm(program, free_params=True)
    assert "input float phi_0;" in free and "zz(phi_0) q[1], q[2];" in free
    assert re.search(r"^h q\[", source, re.M) is None  # init zero: no preparation


def test_qasm_binds_a_trained_phi_exactly():
    program = qrnnc.loads(TWO_GATES).program
    phi = np.array([0.1 + 0.2])  # 0.30000000000000004: the repr keeps every bit
    assert "zz(0.30000000000000004) q[1], q[2];" in lower.to_qasm(program, phi)
