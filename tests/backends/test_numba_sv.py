"""The numba kernels, one by one, against the dense oracle (tests/support/dense.py).

Kernels work on chunks of states in the lane layout (C, 2, 2^n, L); each case
runs several lanes at once, every lane with its own state and angle, and checks
every lane. Every gate of the table on every wire and ordered pair (and its
adjoint), every generator overlap and fused backward, every readout and its
adjoint seed; then the layout itself (chunking, padding, packing, the serial
and parallel drivers, 1 vs 2 numba threads), and whole random programs from
DSL text against the oracle.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from dense import dense_run, embed
from hypothesis import given, settings
from hypothesis import strategies as st
from programs import GATE_CASE_IDS, GATE_CASES, model_texts, random_inputs, random_states

import qrnnc
from qrnnc.backends.numba_sv import SUPPORTED_GATES, Cell, kernels
from qrnnc.cell import simulate
from qrnnc.gates import GATE_CODES, GATE_NAMES, GATES, PAULI, Z

LANES = 5  # not a whole vector: the lane loops' remainders run too
PARAMETRIC_CASES = [c for c in GATE_CASES if GATES[c[0]].parametric]
PARAMETRIC_IDS = [
    i for c, i in zip(GATE_CASES, GATE_CASE_IDS, strict=True) if c in PARAMETRIC_CASES
]


def chunk_of(states: np.ndarray) -> np.ndarray:
    """(L, 2^n) complex states -> one chunk (2, 2^n, L) holding them lane by lane."""
    return kernels.pack(states, states.shape[0])[0]


def states_of(chunk: np.ndarray) -> np.ndarray:
    return kernels.unpack(chunk[None], chunk.shape[2])


def half_angle_table(theta: np.ndarray, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    return np.cos(theta / 2).astype(dtype), np.sin(theta / 2).astype(dtype)


def wire_args(wires: tuple[int, ...]) -> tuple[int, int]:
    return wires[0], wires[1] if len(wires) == 2 else -1


def apply(states, name, wires, theta, adjoint, dtype=np.complex128):
    """Gate `name` (or its adjoint) on each lane's state with that lane's angle."""
    chunk = chunk_of(states.astype(dtype))
    c, s = half_angle_table(-theta if adjoint else theta, chunk.dtype)
    n = int(math.log2(states.shape[1]))
    kernels.apply_gate(chunk, n, GATE_CODES[name], *wire_args(wires), c, s, adjoint)
    return states_of(chunk)


@pytest.mark.parametrize(("name", "n", "wires"), GATE_CASES, ids=GATE_CASE_IDS)
def test_gate_and_its_adjoint_match_the_dense_matrix(name, n, wires):
    rng = np.random.default_rng([GATE_NAMES.index(name), n, *wires])
    psi = random_states(rng, LANES, n)
    theta = rng.uniform(-7, 7, LANES)
    for adjoint in (False, True):
        got = apply(psi, name, wires, theta, adjoint)
        for lane in range(LANES):
            u = embed(GATES[name].matrix(theta[lane]), wires, n)
            want = (u.conj().T if adjoint else u) @ psi[lane]
            np.testing.assert_allclose(got[lane], want, atol=1e-14)


@pytest.mark.parametrize(("name", "n", "wires"), GATE_CASES[::7], ids=GATE_CASE_IDS[::7])
def test_gates_in_single_precision(name, n, wires):
    rng = np.random.default_rng([GATE_NAMES.index(name), n, *wires, 32])
    psi = random_states(rng, LANES, n)
    theta = rng.uniform(-7, 7, LANES)
    got = apply(psi, name, wires, theta, False, np.complex64)
    assert got.dtype == np.complex64
    for lane in range(LANES):
        u = embed(GATES[name].matrix(theta[lane]), wires, n)
        np.testing.assert_allclose(got[lane], u @ psi[lane], atol=1e-6)


@pytest.mark.parametrize(("name", "n", "wires"), PARAMETRIC_CASES, ids=PARAMETRIC_IDS)
def test_generator_overlap_and_fused_backward_match_dense(name, n, wires):
    """adjoint_gate: Im<lam|G psi> per lane, then psi and lam both uncomputed."""
    rng = np.random.default_rng([GATE_NAMES.index(name), n, *wires, 7])
    psi = random_states(rng, LANES, n)
    lam = random_states(rng, LANES, n)
    theta = rng.uniform(-7, 7, LANES)
    g = embed(GATES[name].generator, wires, n)
    want = np.array([np.vdot(lam[k], g @ psi[k]) for k in range(LANES)])
    c, s = half_angle_table(-theta)
    # Im<i lam|G psi> = -Re<lam|G psi>: the second run checks the real part too.
    for lam_k, part in ((lam, want.imag), (1j * lam, -want.real)):
        p, ll = chunk_of(psi), chunk_of(lam_k)
        acc = np.zeros(LANES)
        kernels.adjoint_gate(p, ll, n, GATE_CODES[name], *wire_args(wires), c, s, acc)
        np.testing.assert_allclose(acc, part, atol=1e-13)
        for k in range(LANES):
            u_dag = embed(GATES[name].matrix(theta[k]), wires, n).conj().T
            np.testing.assert_allclose(states_of(p)[k], u_dag @ psi[k], atol=1e-14)
            np.testing.assert_allclose(states_of(ll)[k], u_dag @ lam_k[k], atol=1e-14)


def observable(obs: str, wires: tuple[int, int], n: int) -> np.ndarray:
    if obs == "zz":
        return embed(np.kron(Z, Z), wires, n)
    return embed(PAULI[obs], (wires[0],), n)


@pytest.mark.parametrize("obs", ["x", "y", "z", "zz"])
@pytest.mark.parametrize("n", [2, 3])
def test_readouts_and_their_adjoint_seeds_match_dense(obs, n):
    rng = np.random.default_rng([n, len(obs)])
    psi = random_states(rng, LANES, n)
    lam = random_states(rng, LANES, n)
    g = rng.normal(size=LANES)  # each lane its own dL/dz
    for a in range(n):
        for b in range(n):
            if (obs == "zz") == (a == b):
                continue
            o = observable(obs, (a, b), n)
            seeded = chunk_of(lam)
            values = np.zeros((3, LANES))
            if obs == "zz":
                kernels.expect_zz(chunk_of(psi), n, a, b, values[0])
                kernels.seed_zz(seeded, chunk_of(psi), n, a, b, g)
                value = values[0]
            else:
                kernels.expect_xyz(chunk_of(psi), n, a, values)
                value = values["xyz".index(obs)]
                g3 = np.zeros((3, LANES))
                g3["xyz".index(obs)] = g
                kernels.seed_xyz(seeded, chunk_of(psi), n, a, g3)
            for k in range(LANES):
                assert abs(value[k] - np.vdot(psi[k], o @ psi[k]).real) < 1e-14
                want = lam[k] + 2 * g[k] * (o @ psi[k])
                np.testing.assert_allclose(states_of(seeded)[k], want, atol=1e-14)


def test_one_pass_seeds_all_three_paulis_at_once():
    rng = np.random.default_rng(3)
    n = 3
    psi = random_states(rng, LANES, n)
    lam = random_states(rng, LANES, n)
    g3 = rng.normal(size=(3, LANES))
    seeded = chunk_of(lam)
    kernels.seed_xyz(seeded, chunk_of(psi), n, 1, g3)
    for k in range(LANES):
        o = sum(g3[p, k] * observable(p_name, (1, 1), n) for p, p_name in enumerate("xyz"))
        np.testing.assert_allclose(states_of(seeded)[k], lam[k] + 2 * o @ psi[k], atol=1e-14)


def test_every_gate_of_the_table_has_a_kernel():
    assert set(SUPPORTED_GATES) == set(GATE_NAMES)


# ---- the lane layout ------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("batch", [1, 2, 5, 8, 9, 63, 64, 65, 100, 128, 129, 1000])
def test_chunking_covers_the_batch_with_little_padding(batch, threads):
    chunks, lanes = kernels.chunking(batch, threads)
    assert chunks * lanes >= batch > (chunks - 1) * lanes  # every chunk holds a real lane
    assert lanes <= kernels.MAX_LANES
    # Whole SIMD vectors, unless the batch is too small to share out that way.
    assert lanes % kernels.LANE_MULTIPLE == 0 or lanes < kernels.LANE_MULTIPLE
    if batch >= threads * kernels.MAX_LANES:
        assert chunks >= threads  # every thread gets work
    if threads == 1 and batch <= kernels.MAX_LANES:
        assert chunks == 1  # one thread: the widest chunk is the fastest


def test_chunking_refuses_an_empty_batch():
    with pytest.raises(ValueError, match="batch=0"):
        kernels.chunking(0, 1)


@pytest.mark.parametrize("plus", [False, True])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_initial_states_in_every_lane_padding_included(plus, dtype):
    state = kernels.initial_state(5, 3, plus, dtype, lanes=4)
    assert state.shape == (2, 2, 8, 4)
    assert state.dtype == (np.float32 if dtype == np.complex64 else np.float64)
    want = np.full(8, 8**-0.5) if plus else np.eye(8)[0]
    for psi in kernels.unpack(state, 8):  # all 8 lanes, the 3 padded ones too
        np.testing.assert_allclose(psi, want, atol=1e-7)


def test_pack_and_unpack_are_inverse():
    psi = random_states(np.random.default_rng(0), 7, 3)
    state = kernels.pack(psi, 3)
    assert state.shape == (3, 2, 8, 3)
    np.testing.assert_array_equal(kernels.unpack(state, 7), psi)
    np.testing.assert_array_equal(kernels.unpack(state, 9)[7:], np.eye(8)[[0, 0]])  # padding


def test_angle_table_pads_with_angle_zero_and_shares_static_angles():
    sources = np.array(
        [kernels.SRC_CONTROLLER, kernels.SRC_PARAM, kernels.SRC_CONST, kernels.SRC_INPUT,
         kernels.SRC_NONE]
    )  # fmt: skip
    slots = np.array([1, 0, 0, 1, -1])
    theta = np.array([[0.0, 0.4], [0.0, -1.2], [0.0, 2.0]])
    x = np.array([[0.0, 0.7], [0.0, 0.1], [0.0, -0.3]])
    phi, consts = np.array([0.9]), np.array([-2.5])
    table = np.full((5, 2, 2), 7.0)
    kernels.angle_table(table, 2, sources, slots, theta, phi, consts, x, -1.0)  # lanes 2, 3
    half = -0.5 * np.array([[2.0, 0.0], [0.9, 0.9], [-2.5, -2.5], [-0.3, 0.0]])
    np.testing.assert_allclose(table[:4, 0], np.cos(half), atol=1e-15)
    np.testing.assert_allclose(table[:4, 1], np.sin(half), atol=1e-15)
    assert np.all(table[4] == 7.0)  # a fixed gate's row is not touched


def test_vectorized_sincos_agrees_with_libm_to_one_ulp():
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.uniform(-r, r, 4000) for r in (1e-8, 1, 10, 1e3, 1e5, 1e9)])
    x = np.concatenate([x, np.arange(-64, 65) * np.pi / 4, [0.0, -0.0, np.inf, -np.inf, np.nan]])
    cos, sin = np.empty_like(x), np.empty_like(x)
    kernels.sincos(x, cos, sin)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(cos, np.cos(x), atol=2.3e-16, rtol=0)
        np.testing.assert_allclose(sin, np.sin(x), atol=2.3e-16, rtol=0)


# ---- the drivers over a whole batch -----------------------------------------------------

DRIVER_MODEL = """
model m {
    qubits 3
    init plus
    input features(dim=3)
    cell {
        ry all <- input
        rx q[0] <- param(0.3)
        crz (0, 2)
        cry (1, 0) <- param(-1.1)
        rxx (0, 1)
        ryy (2, 0) <- 0.4
        rzz (1, 2)
        h q[1]
        s q[2]
        cnot (2, 0)
        rz all
    }
    readout x, y, z on all
    readout zz on (0, 1)
}
"""


def driver_args(program, batch, rng):
    a = program.arrays()
    qgroups, zzs = kernels.readout_groups(a.readout_obs, a.readout_wires)
    theta = rng.uniform(-3, 3, (batch, program.n_controller))
    x = rng.uniform(-3, 3, (batch, 3))
    phi = np.array([0.3, -1.1])
    prog = (a.gates, a.wires, a.sources, a.slots)
    return prog, theta, phi, a.constants, x, qgroups, zzs


@pytest.mark.parametrize(("batch", "lanes"), [(1, 1), (1, 8), (5, 8), (5, 2), (70, 64), (130, 16)])
def test_serial_and_parallel_drivers_agree_with_dense_padding_and_all(batch, lanes):
    program = qrnnc.loads(DRIVER_MODEL).program
    rng = np.random.default_rng([batch, lanes])
    prog, theta, phi, consts, x, qgroups, zzs = driver_args(program, batch, rng)
    dz = rng.normal(size=(batch, program.n_readouts))
    want = dense_run(program, theta[None], phi, x[None])[0]
    results = []
    for forward, backward, uncompute in (
        (kernels.forward_step, kernels.backward_step, kernels.uncompute_step),
        (kernels.forward_step_serial, kernels.backward_step_serial,
         kernels.uncompute_step_serial),
    ):  # fmt: skip
        psi = kernels.initial_state(batch, 3, True, np.complex128, lanes)
        start = psi.copy()
        z = np.zeros((batch, program.n_readouts))
        forward(psi, 3, *prog, theta, phi, consts, x, qgroups, zzs, z)
        np.testing.assert_allclose(z, want, atol=1e-13)
        after = psi.copy()
        lam = np.zeros_like(psi)
        grads = (np.zeros_like(theta), np.zeros((batch, 2)), np.zeros_like(x))
        backward(psi, lam, 3, *prog, theta, phi, consts, x, qgroups, zzs, dz, *grads)
        np.testing.assert_allclose(psi, start, atol=1e-13)  # padded lanes come back too
        # Padded lanes get no seed, so their adjoint stays zero.
        np.testing.assert_array_equal(kernels.unpack(lam, psi.shape[0] * lanes)[batch:], 0)
        psi[:] = after
        uncompute(psi, 3, *prog, theta, phi, consts, x)
        np.testing.assert_allclose(psi, start, atol=1e-13)
        results.append((z, *grads))
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_backward_step_gradients_match_finite_differences_per_lane():
    program = qrnnc.loads(DRIVER_MODEL).program
    batch, lanes = 11, 8  # two chunks, the second one padded
    prog, theta, phi, consts, x, qgroups, zzs = driver_args(
        program, batch, np.random.default_rng(5)
    )
    w = np.random.default_rng(6).normal(size=(batch, program.n_readouts))

    def loss(theta, phi, x):
        return (dense_run(program, theta[None], phi, x[None])[0] * w).sum()

    psi = kernels.initial_state(batch, 3, True, np.complex128, lanes)
    z = np.zeros((batch, program.n_readouts))
    kernels.forward_step_serial(psi, 3, *prog, theta, phi, consts, x, qgroups, zzs, z)
    grads = (np.zeros_like(theta), np.zeros((batch, 2)), np.zeros_like(x))
    lam = np.zeros_like(psi)
    kernels.backward_step_serial(psi, lam, 3, *prog, theta, phi, consts, x, qgroups, zzs, w, *grads)
    eps = 1e-6
    summed = (grads[0], grads[1].sum(axis=0), grads[2])  # dphi comes one row per lane
    for which, grad in enumerate(summed):
        args = [theta, phi, x]
        fd = np.zeros(args[which].size)
        for i in range(fd.size):
            plus, minus = list(args), list(args)
            plus[which] = args[which].copy()
            minus[which] = args[which].copy()
            plus[which].flat[i] += eps
            minus[which].flat[i] -= eps
            fd[i] = (loss(*plus) - loss(*minus)) / (2 * eps)
        np.testing.assert_allclose(grad.ravel(), fd, atol=1e-7)


def test_run_exposes_its_states_as_complex_rows():
    program = qrnnc.loads(DRIVER_MODEL).program
    run = Cell(program).begin(3)
    assert run.psi.shape == (3, 8) and run.psi.dtype == np.complex128
    np.testing.assert_allclose(run.psi, np.full((3, 8), 8**-0.5))


TWO_THREADS = """
import json, sys
import numpy as np
import qrnnc
from qrnnc.backends.numba_sv import kernels as K
import numba

program = qrnnc.loads(sys.argv[1]).program
a = program.arrays()
prog = (a.gates, a.wires, a.sources, a.slots)
readouts = K.readout_groups(a.readout_obs, a.readout_wires)
rng = np.random.default_rng(11)
theta = rng.uniform(-3, 3, (5, program.n_controller))
x = rng.uniform(-3, 3, (5, 3))
phi = np.array([0.3, -1.1])
dz = rng.normal(size=(5, program.n_readouts))
runs = []
for forward, backward, lanes in ((K.forward_step, K.backward_step, 3),
                                 (K.forward_step_serial, K.backward_step_serial, 5)):
    psi = K.initial_state(5, 3, True, np.complex128, lanes)
    z = np.zeros((5, program.n_readouts))
    forward(psi, 3, *prog, theta, phi, a.constants, x, *readouts, z)
    grads = (np.zeros_like(theta), np.zeros((5, 2)), np.zeros_like(x))
    backward(psi, np.zeros_like(psi), 3, *prog, theta, phi, a.constants, x, *readouts, dz, *grads)
    runs.append([z, *grads])
print(json.dumps({
    "threads": numba.get_num_threads(),
    "diff": max(float(np.abs(p - s).max()) for p, s in zip(*runs)),
    "small": K.step_threads(64, 6, 56),
    "large": K.step_threads(64, 10, 56),
}))
"""


def test_two_threads_over_two_chunks_agree_with_one_chunk():
    """With two numba threads, B=5 as two chunks of 3 lanes (one padded) in parallel gives
    the numbers of one serial chunk of 5 lanes, to rounding."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QRNNC_", "NUMBA_"))}
    env["QRNNC_NUMBA_THREADS"] = "2"
    done = subprocess.run(
        [sys.executable, "-c", TWO_THREADS, DRIVER_MODEL],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["threads"] == 2
    assert got["diff"] < 1e-13
    assert (got["small"], got["large"]) == (1, 2)  # a small step stays on one thread


@pytest.mark.parametrize("batch", [1, 3, 65, 130])
def test_cell_matches_dense_whatever_the_batch(batch):
    """One lane, a partial chunk, more than one chunk: the cell through its public API."""
    program = qrnnc.loads(DRIVER_MODEL).program
    rng = np.random.default_rng(batch)
    theta, phi, x = random_inputs(rng, program, 2, batch)
    got = simulate(program, torch.tensor(theta), "numba", params=phi, inputs=x).numpy()
    np.testing.assert_allclose(got, dense_run(program, theta, phi, x), atol=1e-12)


@settings(max_examples=max(60, settings.default.max_examples))
@given(text=model_texts(), seed=st.integers(0, 2**32 - 1))
def test_random_programs_match_dense(text, seed):
    program = qrnnc.loads(text).program
    theta, phi, x = random_inputs(np.random.default_rng(seed), program, 3, 2)
    got = simulate(program, theta, "numba", params=phi, inputs=x).numpy()
    np.testing.assert_allclose(got, dense_run(program, theta, phi, x), atol=1e-12)
