"""The numba kernels, one by one, against the dense oracle (tests/support/dense.py).

Every gate of the table on every wire and ordered pair (and its adjoint), every
generator overlap, every readout and its adjoint seed; then whole random
programs from DSL text against the oracle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from dense import dense_run, embed
from hypothesis import given, settings
from hypothesis import strategies as st
from programs import GATE_CASE_IDS, GATE_CASES, model_texts, random_inputs, random_states

import qrnnc
from qrnnc.backends.numba_sv import SUPPORTED_GATES, kernels
from qrnnc.cell import simulate
from qrnnc.gates import GATE_CODES, GATE_NAMES, GATES, PAULI, Z


def apply(psi: np.ndarray, name: str, wires: tuple[int, ...], theta: float, adjoint: bool):
    out = psi.copy()
    w1 = wires[1] if len(wires) == 2 else -1
    kernels.apply_gate(
        out, int(math.log2(len(psi))), GATE_CODES[name], wires[0], w1, theta, adjoint
    )
    return out


@pytest.mark.parametrize(("name", "n", "wires"), GATE_CASES, ids=GATE_CASE_IDS)
def test_gate_and_its_adjoint_match_the_dense_matrix(name, n, wires):
    rng = np.random.default_rng([GATE_NAMES.index(name), n, *wires])
    for psi, theta in zip(random_states(rng, 3, n), rng.uniform(-7, 7, 3), strict=True):
        u = embed(GATES[name].matrix(theta), wires, n)
        np.testing.assert_allclose(apply(psi, name, wires, theta, False), u @ psi, atol=1e-14)
        np.testing.assert_allclose(
            apply(psi, name, wires, theta, True), u.conj().T @ psi, atol=1e-14
        )


@pytest.mark.parametrize(
    ("name", "n", "wires"),
    [c for c in GATE_CASES if GATES[c[0]].parametric],
    ids=[i for c, i in zip(GATE_CASES, GATE_CASE_IDS, strict=True) if GATES[c[0]].parametric],
)
def test_generator_overlap_and_fused_backward_match_dense(name, n, wires):
    rng = np.random.default_rng([GATE_NAMES.index(name), n, *wires, 7])
    psi, lam = random_states(rng, 2, n)
    g = embed(GATES[name].generator, wires, n)
    w1 = wires[1] if len(wires) == 2 else -1
    code = GATE_CODES[name]
    got = kernels.generator_overlap(lam, psi, n, code, wires[0], w1)
    assert abs(got - np.vdot(lam, g @ psi)) < 1e-13
    if code <= kernels.RZ:  # the fused one-qubit backward: overlap, then undo on both
        theta = 0.8
        p, ll = psi.copy(), lam.copy()
        fused = kernels.adjoint_rotation_1q(p, ll, n, code, wires[0], theta)
        assert abs(fused - got) < 1e-13
        u_dag = embed(GATES[name].matrix(theta), wires, n).conj().T
        np.testing.assert_allclose(p, u_dag @ psi, atol=1e-14)
        np.testing.assert_allclose(ll, u_dag @ lam, atol=1e-14)


def observable(obs: str, wires: tuple[int, int], n: int) -> np.ndarray:
    if obs == "zz":
        return embed(np.kron(Z, Z), wires, n)
    return embed(PAULI[obs], (wires[0],), n)


@pytest.mark.parametrize("obs", ["x", "y", "z", "zz"])
@pytest.mark.parametrize("n", [2, 3])
def test_readouts_and_their_adjoint_seeds_match_dense(obs, n):
    rng = np.random.default_rng([n, len(obs)])
    psi, lam = random_states(rng, 2, n)
    for a in range(n):
        for b in range(n):
            if (obs == "zz") == (a == b):
                continue
            o = observable(obs, (a, b), n)
            seeded = lam.copy()
            if obs == "zz":
                value = kernels.expect_zz(psi, n, a, b)
                kernels.seed_zz(seeded, psi, n, a, b, 0.7)
            else:
                value = kernels.expect_xyz(psi, n, a)["xyz".index(obs)]
                g = {"x": (0.7, 0, 0), "y": (0, 0.7, 0), "z": (0, 0, 0.7)}[obs]
                kernels.seed_xyz(seeded, psi, n, a, *g)
            assert abs(value - np.vdot(psi, o @ psi).real) < 1e-14
            np.testing.assert_allclose(seeded, lam + 1.4 * (o @ psi), atol=1e-14)


def test_every_gate_of_the_table_has_a_kernel():
    assert set(SUPPORTED_GATES) == set(GATE_NAMES)


@settings(max_examples=max(60, settings.default.max_examples))
@given(text=model_texts(), seed=st.integers(0, 2**32 - 1))
def test_random_programs_match_dense(text, seed):
    program = qrnnc.loads(text).program
    theta, phi, x = random_inputs(np.random.default_rng(seed), program, 3, 2)
    got = simulate(program, theta, "numba", params=phi, inputs=x).numpy()
    np.testing.assert_allclose(got, dense_run(program, theta, phi, x), atol=1e-12)
