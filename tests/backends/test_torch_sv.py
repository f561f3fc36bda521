"""The torch reference backend against the dense oracle (tests/support/dense.py).

Every gate of the table on every wire and ordered pair, random programs
compiled from DSL text, gradients against finite differences, complex64,
norm, `qrnnc.simulate`, and the GPU where there is one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from dense import dense_run, embed
from hypothesis import given, settings
from hypothesis import strategies as st
from programs import GATE_CASE_IDS, GATE_CASES, model_texts, random_inputs, random_states

import qrnnc
from qrnnc.backends.torch_sv import SUPPORTED_GATES, Cell
from qrnnc.backends.torch_sv import statevector as sv
from qrnnc.cell import initial_params, simulate
from qrnnc.gates import GATE_NAMES, GATES
from qrnnc.program import Program

PARAMETRIC = [g for g in GATE_NAMES if GATES[g].parametric]


def run_torch(program: Program, theta: np.ndarray, phi: np.ndarray, x: np.ndarray | None):
    """The torch backend over T steps through the public `qrnnc.simulate`, as numpy (T, B, K)."""
    z = qrnnc.simulate(program, theta, backend="torch", params=phi, inputs=x)
    return z.detach().numpy()


# ---- the oracle itself --------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_oracle_embedding_is_the_big_endian_kron_product(n: int) -> None:
    rng = np.random.default_rng(n)
    u2 = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))
    u4 = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    swap = GATES["swap"].matrix()
    for q in range(n):
        expected = np.kron(np.kron(np.eye(2**q), u2), np.eye(2 ** (n - q - 1)))
        np.testing.assert_array_equal(embed(u2, (q,), n), expected)
    for q in range(n - 1):
        left, right = np.eye(2**q), np.eye(2 ** (n - q - 2))
        forward = np.kron(np.kron(left, u4), right)
        np.testing.assert_array_equal(embed(u4, (q, q + 1), n), forward)
        # (q+1, q): the same gate with its wires exchanged, i.e. conjugated by a swap
        backward = np.kron(np.kron(left, swap @ u4 @ swap), right)
        np.testing.assert_array_equal(embed(u4, (q + 1, q), n), backward)


# ---- (a) every gate on every wire ---------------------------------------------------


@pytest.mark.parametrize("name", PARAMETRIC)
@pytest.mark.parametrize("theta", [0.0, 0.3, -1.7, math.pi, 2.9, 7.5])
def test_rotation_is_the_table_matrix(name: str, theta: float) -> None:
    g = sv.as_tensor(GATES[name].generator, torch.complex128, torch.device("cpu"))
    u = sv.rotation(torch.tensor(theta, dtype=torch.float64), g)
    np.testing.assert_allclose(u.numpy(), GATES[name].matrix(theta), atol=1e-15)


@pytest.mark.parametrize(("name", "n", "wires"), GATE_CASES, ids=GATE_CASE_IDS)
def test_gate_on_random_states_matches_dense(name: str, n: int, wires: tuple[int, ...]) -> None:
    rng = np.random.default_rng([GATE_NAMES.index(name), n, *wires])
    spec = GATES[name]
    batch = 3
    psi = random_states(rng, batch, n)
    angles = rng.uniform(-math.pi, math.pi, batch)
    cpu = torch.device("cpu")
    if spec.parametric:
        g = sv.as_tensor(spec.generator, torch.complex128, cpu)
        per_sequence = sv.rotation(torch.tensor(angles), g)  # (B, d, d)
        shared = sv.rotation(torch.tensor(angles[0]), g)  # (d, d), one for the whole batch
        mats = [spec.matrix(a) for a in angles]
    else:
        per_sequence = shared = sv.as_tensor(spec.matrix(), torch.complex128, cpu)
        mats = [spec.matrix()] * batch
    got = sv.apply_matrix(torch.tensor(psi), per_sequence, wires, n).numpy()
    expected = np.stack([embed(m, wires, n) @ p for m, p in zip(mats, psi, strict=True)])
    np.testing.assert_allclose(got, expected, atol=1e-13)
    got_shared = sv.apply_matrix(torch.tensor(psi), shared, wires, n).numpy()
    expected_shared = (embed(mats[0], wires, n) @ psi.T).T
    np.testing.assert_allclose(got_shared, expected_shared, atol=1e-13)


@pytest.mark.parametrize(("name", "n", "wires"), GATE_CASES, ids=GATE_CASE_IDS)
def test_gate_in_a_program_matches_dense(name: str, n: int, wires: tuple[int, ...]) -> None:
    # Random layers first (entangling ones where there are two qubits), so the
    # gate meets a generic state; then every readout kind.
    target = f"q[{wires[0]}]" if len(wires) == 1 else f"({wires[0]}, {wires[1]})"
    source = " <- controller" if GATES[name].parametric else ""
    entangle = "cnot chain  ry all  crx (0, 1)" if n > 1 else ""
    zz = "readout zz on ring" if n > 1 else ""
    text = (
        f"model m {{ qubits {n} input features(dim=1)"
        f" cell {{ ry all  rz all  {entangle}  {name} {target}{source} }}"
        f" readout x, y, z on all {zz} }}"
    )
    program = qrnnc.loads(text).program
    theta, phi, x = random_inputs(np.random.default_rng(n), program, 2, 3)
    np.testing.assert_allclose(
        run_torch(program, theta, phi, x), dense_run(program, theta, phi, x), atol=1e-12
    )


def test_qubit_zero_is_the_most_significant_bit() -> None:
    program = qrnnc.loads(
        "model m { qubits 3 input features(dim=1) cell { x q[0]  rz q[2] <- 0 } readout z on all }"
    ).program
    run = Cell(program).begin(1)
    z = run.step(torch.zeros(1, 0), torch.zeros(0), None)
    assert torch.equal(run.psi[0].abs(), torch.tensor([0, 0, 0, 0, 1, 0, 0, 0.0]).double())
    np.testing.assert_allclose(z.numpy(), [[-1, 1, 1]])


def test_ry_and_init_plus_in_closed_form() -> None:
    program = qrnnc.loads(
        "model m { qubits 2 init plus input features(dim=1)"
        " cell { ry q[0]  rz q[1] } readout x, z on all }"
    ).program
    a, b = 0.4, -1.1
    z = simulate(program, [[[a, b]]], backend="torch")[0, 0].numpy()
    # q0: Ry(a)|+> has <X> = cos a, <Z> = -sin a; q1: Rz(b)|+> has <X> = cos b, <Z> = 0.
    np.testing.assert_allclose(z, [math.cos(a), math.cos(b), -math.sin(a), 0.0], atol=1e-15)


# ---- (b) random programs from DSL text ----------------------------------------------


@settings(max_examples=max(60, settings.default.max_examples))
@given(text=model_texts(), seed=st.integers(0, 2**32 - 1))
def test_random_programs_match_dense(text: str, seed: int) -> None:
    program = qrnnc.loads(text).program
    theta, phi, x = random_inputs(np.random.default_rng(seed), program, 3, 2)
    np.testing.assert_allclose(
        run_torch(program, theta, phi, x), dense_run(program, theta, phi, x), atol=1e-12
    )


# ---- (c) gradients ------------------------------------------------------------------

TINY = """
model tiny {
    qubits 3
    init plus
    input features(dim=2)
    cell {
        ry q[2, 0] <- input
        rx all
        rz q[1] <- param(0.4)
        crx (2, 0)
        cry (0, 1) <- param(-1.2)
        crz (1, 2)
        cnot (2, 1)
        rxx (0, 2)
        ryy (1, 0) <- 0.9
        rzz ring
        h q[1]  s q[0]  t q[2]  cz (0, 2)  swap (1, 2)
        ry q[0, 1] <- input
    }
    readout x, y, z on all
    readout zz on (2, 0), (0, 1)
    precision PRECISION
}
"""


def tiny(precision: str = "complex128") -> Program:
    return qrnnc.loads(TINY.replace("PRECISION", precision)).program


def test_gradients_match_finite_differences_of_the_oracle() -> None:
    program = tiny()
    rng = np.random.default_rng(1)
    theta, phi, x = random_inputs(rng, program, 2, 2)
    phi = rng.uniform(-math.pi, math.pi, program.n_params)
    assert x is not None
    weights = rng.normal(size=(2, 2, program.n_readouts))

    leaves = [torch.tensor(a, requires_grad=True) for a in (theta, phi, x)]
    loss = (
        simulate(program, leaves[0], "torch", params=leaves[1], inputs=leaves[2])
        * torch.tensor(weights)
    ).sum()
    loss.backward()

    def oracle_loss(t: np.ndarray, p: np.ndarray, xx: np.ndarray) -> float:
        return float((dense_run(program, t, p, xx) * weights).sum())

    h = 1e-6
    values = [theta, phi, x]
    for which, leaf in enumerate(leaves):
        numeric = np.zeros_like(values[which])
        for idx in np.ndindex(values[which].shape):
            plus = [v.copy() for v in values]
            minus = [v.copy() for v in values]
            plus[which][idx] += h
            minus[which][idx] -= h
            numeric[idx] = (oracle_loss(*plus) - oracle_loss(*minus)) / (2 * h)
        assert leaf.grad is not None
        np.testing.assert_allclose(leaf.grad.numpy(), numeric, atol=1e-7)


def test_gradcheck_through_theta_phi_and_x() -> None:
    program = tiny()
    rng = np.random.default_rng(2)
    theta, _, x = random_inputs(rng, program, 2, 2)
    phi = torch.tensor(rng.uniform(-math.pi, math.pi, program.n_params), requires_grad=True)
    theta_t = torch.tensor(theta, requires_grad=True)
    x_t = torch.tensor(x, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t, p, xx: simulate(program, t, "torch", params=p, inputs=xx), (theta_t, phi, x_t)
    )


@pytest.mark.parametrize("name", PARAMETRIC)
def test_gradcheck_for_every_parametric_gate(name: str) -> None:
    target = "(2, 0)" if GATES[name].two_qubit else "q[1]"
    program = qrnnc.loads(
        f"model m {{ qubits 3 input features(dim=1) cell {{ ry all  cnot chain  {name} {target}"
        f" {name} {target} <- param(0.3) }} readout x, y, z on all readout zz on (0, 2) }}"
    ).program
    theta = torch.tensor(np.random.default_rng(3).uniform(-3, 3, (2, 2, 4)), requires_grad=True)
    phi = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t, p: simulate(program, t, "torch", params=p), (theta, phi)
    )


def test_the_graph_can_be_differentiated_twice() -> None:
    # Unlike the numba adjoint, autograd keeps every state: retain_graph works.
    program = tiny()
    theta, _, x = random_inputs(np.random.default_rng(4), program, 3, 2)
    theta_t = torch.tensor(theta, requires_grad=True)
    z = simulate(program, theta_t, "torch", inputs=x)
    (first,) = torch.autograd.grad(z.sum(), theta_t, retain_graph=True)
    (second,) = torch.autograd.grad(z.sum(), theta_t)
    torch.testing.assert_close(first, second, rtol=0, atol=0)


# ---- (d) complex64 ------------------------------------------------------------------


def test_complex64_runs_in_single_precision_and_agrees() -> None:
    program = tiny("complex64")
    assert program.precision == "complex64"
    theta, phi, x = random_inputs(np.random.default_rng(5), program, 4, 3)
    theta_t = torch.tensor(theta, dtype=torch.float32, requires_grad=True)
    z = simulate(program, theta_t, "torch", params=phi, inputs=x)
    assert z.dtype == torch.float32
    np.testing.assert_allclose(z.detach().numpy(), dense_run(program, theta, phi, x), atol=1e-5)
    z.sum().backward()
    assert theta_t.grad is not None and theta_t.grad.dtype == torch.float32

    run = Cell(program).begin(3)
    run.step(theta_t[0], initial_params(program), torch.tensor(x[0]))
    assert run.psi.dtype == torch.complex64


# ---- (e) norm -----------------------------------------------------------------------


@pytest.mark.parametrize(("precision", "tol"), [("complex128", 1e-12), ("complex64", 1e-5)])
def test_norm_is_preserved_over_many_steps(precision: str, tol: float) -> None:
    program = tiny(precision)
    theta, phi, x = random_inputs(np.random.default_rng(6), program, 100, 3)
    assert x is not None
    dtype = torch.float32 if precision == "complex64" else torch.float64
    run = Cell(program).begin(3)
    for t in range(100):
        run.step(torch.tensor(theta[t], dtype=dtype), torch.tensor(phi), torch.tensor(x[t]))
    np.testing.assert_allclose(sv.norm(run.psi).numpy(), 1.0, atol=tol)


# ---- the contract and simulate ------------------------------------------------------


def test_every_gate_of_the_table_is_supported() -> None:
    assert set(SUPPORTED_GATES) == set(GATE_NAMES)


def test_cell_steps_match_simulate() -> None:
    program = tiny()
    theta, phi, x = random_inputs(np.random.default_rng(7), program, 3, 2)
    assert x is not None
    run = Cell(program, checkpoint_every=5).begin(2, device=torch.device("cpu"))
    z = [run.step(torch.tensor(theta[t]), torch.tensor(phi), torch.tensor(x[t])) for t in range(3)]
    assert z[0].shape == (2, program.n_readouts) and z[0].dtype == torch.float64
    np.testing.assert_array_equal(torch.stack(z).numpy(), run_torch(program, theta, phi, x))


def test_step_checks_its_arguments() -> None:
    program = tiny()
    run = Cell(program).begin(2)
    phi = initial_params(program)
    good_theta = torch.zeros(2, program.n_controller, dtype=torch.float64)
    with pytest.raises(ValueError, match="theta has shape"):
        run.step(torch.zeros(3, program.n_controller), phi, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="phi has shape"):
        run.step(good_theta, torch.zeros(5), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="feeds gates from its input"):
        run.step(good_theta, phi, None)
    with pytest.raises(ValueError, match="checkpoint_every"):
        Cell(program, checkpoint_every=-1)


def test_x_is_ignored_without_input_gates() -> None:
    program = qrnnc.loads(
        "model m { qubits 2 input features(dim=3) cell { ry all } readout z on all }"
    ).program
    z = Cell(program).begin(1).step(torch.tensor([[0.5, 1.0]]), torch.zeros(0), torch.ones(1, 3))
    np.testing.assert_allclose(z.numpy(), [[math.cos(0.5), math.cos(1.0)]], atol=1e-15)


def test_simulate_of_zero_steps_is_empty() -> None:
    program = tiny()
    z = simulate(
        program, np.zeros((0, 2, program.n_controller)), "torch", inputs=np.zeros((0, 2, 2))
    )
    assert z.shape == (0, 2, program.n_readouts)


# ---- (f) the GPU --------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu_forward_and_gradients() -> None:
    program = tiny()
    theta, phi, x = random_inputs(np.random.default_rng(8), program, 3, 4)
    results = []
    for device in ("cpu", "cuda"):
        theta_t = torch.tensor(theta, device=device, requires_grad=True)
        x_t = torch.tensor(x, device=device, requires_grad=True)
        z = simulate(program, theta_t, "torch", params=phi, inputs=x_t)
        assert z.device.type == device
        z.pow(2).sum().backward()
        assert theta_t.grad is not None and x_t.grad is not None
        results.append([t.detach().cpu().numpy() for t in (z, theta_t.grad, x_t.grad)])
    for on_cpu, on_gpu in zip(*results, strict=True):
        np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-12)
    run = Cell(program).begin(4, device="cuda")
    assert run.psi.device.type == "cuda"
