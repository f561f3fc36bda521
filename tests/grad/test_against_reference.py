"""Adjoint gradients (numba) against torch autograd (the reference) on random programs.

Random cells from DSL text, 1..8 qubits: readouts to 1e-10 and the gradients
of every angle source (controller angles, static params, inputs) to 1e-8;
then one long sequence (T = 1,000) where uncomputation has had time to drift.
The whole model (controller and head weights) is compared in tests/model.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from programs import model_texts, random_inputs

import qrnnc
from qrnnc.cell import simulate


def forward_backward(program, backend, theta, phi, x, w):
    leaves = [None if a is None else torch.tensor(a).requires_grad_() for a in (theta, phi, x)]
    z = simulate(program, leaves[0], backend, params=leaves[1], inputs=leaves[2])
    if not z.requires_grad:  # a cell of constant gates: nothing to differentiate
        return z.detach(), [None, None, None]
    (z * torch.as_tensor(w)).sum().backward()
    grads = [None if a is None else a.grad for a in leaves]
    return z.detach(), grads


def assert_same(program, theta, phi, x, w, grad_tol):
    z_n, g_n = forward_backward(program, "numba", theta, phi, x, w)
    z_t, g_t = forward_backward(program, "torch", theta, phi, x, w)
    torch.testing.assert_close(z_n, z_t, atol=1e-10, rtol=0)
    for name, a, b in zip(("theta", "phi", "x"), g_n, g_t, strict=True):
        if a is None or b is None:  # nothing reads it: one backend has no graph for it
            assert all(g is None or not g.any() for g in (a, b)), name
            continue
        torch.testing.assert_close(a, b, atol=grad_tol, rtol=0, msg=name)


@settings(max_examples=max(40, settings.default.max_examples))
@given(text=model_texts(max_qubits=8, max_ops=8), seed=st.integers(0, 2**32 - 1))
def test_random_programs_agree_with_the_reference(text, seed):
    program = qrnnc.loads(text).program
    rng = np.random.default_rng(seed)
    theta, phi, x = random_inputs(rng, program, 4, 3)
    w = rng.normal(size=(4, 3, program.n_readouts))
    assert_same(program, theta, phi, x, w, grad_tol=1e-8)


def test_gradients_still_agree_after_a_thousand_steps():
    text = """
    model long {
        qubits 4
        input features(dim=4)
        cell {
            ry all <- input
            rx all
            rz all <- param(0.2)
            cnot ring
            crz (0, 2)
            rzz (1, 3) <- param(-0.4)
        }
        readout x, y, z on all
        readout zz on (0, 3)
    }
    """
    program = qrnnc.loads(text).program
    rng = np.random.default_rng(5)
    steps = 1000
    theta, phi, x = random_inputs(rng, program, steps, 2)
    w = rng.normal(size=(steps, 2, program.n_readouts)) / steps
    assert_same(program, theta, phi, x, w, grad_tol=1e-8)
