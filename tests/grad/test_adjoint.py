"""Adjoint BPTT on the numba backend: gradients, order of backward, drift, determinism.

Comparisons with the torch reference over random programs live in
tests/grad/test_against_reference.py; here the numba backend is checked on its
own: against central finite differences of its own forward, and for the
bookkeeping that the adjoint method needs (reverse order, one backward per
forward, checkpoints, steps no loss depends on).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qrnnc
from qrnnc.backends.numba_sv import Cell
from qrnnc.cell import simulate

# Every parametric gate kind and every angle source, on 3 qubits.
TINY = """
model m {
    qubits 3
    init plus
    input features(dim=3)
    cell {
        ry all <- input
        rx q[0] <- param(0.3)
        crz (0, 2)
        crx (2, 1)
        cry (1, 0) <- param(-1.1)
        rxx (0, 1)
        ryy (2, 0)
        rzz (1, 2)
        h q[1]
        s q[2]
        t q[0]
        cnot (2, 0)
        rz all
        rx q[1] <- 0.25
    }
    readout x, y, z on all
    readout zz on (0, 1), (2, 0)
}
"""


def tiny_inputs(steps: int = 4, batch: int = 2, seed: int = 0):
    p = qrnnc.loads(TINY).program
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(steps, batch, p.n_controller, generator=g, dtype=torch.float64)
    x = torch.randn(steps, batch, 3, generator=g, dtype=torch.float64)
    phi = torch.tensor([0.3, -1.1], dtype=torch.float64)
    w = torch.randn(steps, batch, p.n_readouts, generator=g, dtype=torch.float64)
    return p, theta, phi, x, w


def loss(p, theta, phi, x, w) -> torch.Tensor:
    return (simulate(p, theta, "numba", params=phi, inputs=x) * w).sum()


def test_gradients_match_central_finite_differences():
    p, theta, phi, x, w = tiny_inputs()
    leaves = [t.clone().requires_grad_() for t in (theta, phi, x)]
    loss(p, *leaves, w).backward()
    eps = 1e-6
    for which, leaf in enumerate(leaves):
        base = [t.detach() for t in leaves]
        flat = base[which].reshape(-1)
        fd = torch.empty_like(flat)
        for i in range(flat.numel()):
            plus = [t.clone() for t in base]
            minus = [t.clone() for t in base]
            plus[which].view(-1)[i] += eps
            minus[which].view(-1)[i] -= eps
            fd[i] = (loss(p, *plus, w) - loss(p, *minus, w)) / (2 * eps)
        torch.testing.assert_close(leaf.grad.reshape(-1), fd, atol=1e-7, rtol=1e-7)


def test_loss_on_a_middle_step_only():
    """Steps after the last one the loss reads are never visited by autograd."""
    p, theta, phi, x, w = tiny_inputs(steps=6)
    th = theta.clone().requires_grad_()
    z = simulate(p, th, "numba", params=phi, inputs=x)
    (z[2] * w[2]).sum().backward()
    assert torch.all(th.grad[3:] == 0)
    th_short = theta[:3].clone().requires_grad_()
    z_short = simulate(p, th_short, "numba", params=phi, inputs=x[:3])
    (z_short[2] * w[2]).sum().backward()
    torch.testing.assert_close(th.grad[:3], th_short.grad, atol=1e-12, rtol=0)


def test_second_backward_raises_a_clear_error():
    p, theta, phi, x, w = tiny_inputs()
    th = theta.clone().requires_grad_()
    z = simulate(p, th, "numba", params=phi, inputs=x)
    (z * w).sum().backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="already ran for this forward pass"):
        (z * w).sum().backward()


def test_forward_after_backward_started_raises():
    p, theta, phi, x, _ = tiny_inputs()
    run = Cell(p).begin(2)
    th = theta.clone().requires_grad_()
    z = run.step(th[0], phi, x[0])
    z.sum().backward()
    with pytest.raises(RuntimeError, match="start a new forward pass"):
        run.step(th[1], phi, x[1])


def test_checkpoints_give_the_same_gradients():
    p, theta, phi, x, w = tiny_inputs(steps=9)
    grads = []
    for every in (0, 1, 4):
        th = theta.clone().requires_grad_()
        run = Cell(p, checkpoint_every=every).begin(2)
        z = torch.stack([run.step(th[t], phi, x[t]) for t in range(9)])
        (z * w).sum().backward()
        grads.append(th.grad)
        assert run.checkpoints == {}  # every stored state was used, then dropped
    torch.testing.assert_close(grads[1], grads[0], atol=1e-12, rtol=0)
    torch.testing.assert_close(grads[2], grads[0], atol=1e-12, rtol=0)


def test_negative_checkpoint_interval_is_refused():
    with pytest.raises(ValueError, match="checkpoint_every=-1"):
        Cell(qrnnc.loads(TINY).program, checkpoint_every=-1)


def test_norm_is_kept_over_ten_thousand_steps():
    p, _, phi, _, _ = tiny_inputs()
    run = Cell(p).begin(2)
    g = torch.Generator().manual_seed(1)
    theta = torch.randn(10_000, 2, p.n_controller, generator=g, dtype=torch.float64)
    x = torch.randn(10_000, 2, 3, generator=g, dtype=torch.float64)
    with torch.no_grad():
        for t in range(10_000):
            run.step(theta[t], phi, x[t])
    norms = np.linalg.norm(run.psi, axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-10, rtol=0)


def test_uncomputation_returns_to_the_initial_state():
    """After backward over 2,000 steps the state is psi_0 again, up to rounding drift."""
    p, _, phi, _, _ = tiny_inputs()
    g = torch.Generator().manual_seed(2)
    steps = 2000
    theta = torch.randn(steps, 2, p.n_controller, generator=g, dtype=torch.float64)
    x = torch.randn(steps, 2, 3, generator=g, dtype=torch.float64)
    for every, bound in ((0, 1e-9), (100, 1e-12)):
        th = theta.clone().requires_grad_()
        run = Cell(p, checkpoint_every=every).begin(2)
        z = torch.stack([run.step(th[t], phi, x[t]) for t in range(steps)])
        z[-1].sum().backward()
        plus = np.full(8, 1 / np.sqrt(8))
        assert np.abs(run.psi - plus).max() < bound


def test_seeded_runs_are_bitwise_deterministic():
    p, theta, phi, x, w = tiny_inputs()
    results = []
    for _ in range(2):
        leaves = [t.clone().requires_grad_() for t in (theta, phi, x)]
        z = simulate(p, leaves[0], "numba", params=leaves[1], inputs=leaves[2])
        (z * w).sum().backward()
        results.append([z.detach(), *(leaf.grad for leaf in leaves)])
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)


def test_complex64_agrees_with_complex128():
    text = TINY.replace("qubits 3", "qubits 3 precision complex64")
    p64 = qrnnc.loads(text).program
    p, theta, phi, x, w = tiny_inputs()
    z128 = simulate(p, theta, "numba", params=phi, inputs=x)
    z64 = simulate(p64, theta.float(), "numba", params=phi.float(), inputs=x.float())
    assert z64.dtype == torch.float32
    torch.testing.assert_close(z64.double(), z128, atol=1e-5, rtol=0)
    th = theta.float().clone().requires_grad_()
    (simulate(p64, th, "numba", params=phi.float(), inputs=x.float()) * w.float()).sum().backward()
    th128 = theta.clone().requires_grad_()
    loss(p, th128, phi, x, w).backward()
    torch.testing.assert_close(th.grad.double(), th128.grad, atol=1e-4, rtol=0)


def test_cuda_tensors_are_refused_with_a_hint():
    with pytest.raises(ValueError, match="backend='torch'"):
        Cell(qrnnc.loads(TINY).program).begin(2, device=torch.device("cuda"))


def test_bad_angle_shapes_name_the_argument():
    p, theta, phi, x, _ = tiny_inputs()
    run = Cell(p).begin(2)
    with pytest.raises(ValueError, match="theta has shape"):
        run.step(theta[0, :, :-1], phi, x[0])
    with pytest.raises(ValueError, match="pass x"):
        run.step(theta[0], phi, None)
