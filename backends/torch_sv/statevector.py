"""Batched statevectors as torch tensors: gate matrices, gate application, Pauli expectations.

A batch of B states of n qubits is a complex tensor (B, 2^n). Viewed as
(B, 2, ..., 2), axis 1 + q holds qubit q, so qubit 0 is the most significant
bit of the amplitude index (Braket's order): that is exactly what a C-order
reshape gives, which is why no index arithmetic appears below.

Every function is plain torch, out of place, so autograd keeps each
intermediate state and differentiates through everything (TorchQuantum's way).
"""

from __future__ import annotations

import numpy as np
import torch


def initial_state(
    batch: int, n: int, plus: bool, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """|0...0>, or |+...+> (every amplitude 2^(-n/2)), for each of `batch` sequences."""
    if plus:
        return torch.full((batch, 2**n), 2.0 ** (-n / 2), dtype=dtype, device=device)
    psi = torch.zeros((batch, 2**n), dtype=dtype, device=device)
    psi[:, 0] = 1.0
    return psi


def as_tensor(matrix: np.ndarray, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A gate-table matrix on the device (done once per run, never in the step loop)."""
    return torch.as_tensor(np.asarray(matrix), dtype=dtype).to(device)


def rotation(angle: torch.Tensor, generator: torch.Tensor) -> torch.Tensor:
    """exp(-i angle G / 2) for every angle: shape angle.shape + G.shape.

    Every parametric gate in qrnnc.gates is such an exponential of its table
    generator G, and each G satisfies G^3 = G (a Pauli product, G^2 = 1, or a
    projected one, |1><1| (x) P, for the controlled rotations). The series
    then sums to 1 + (cos(angle/2) - 1) G^2 - i sin(angle/2) G, built here
    from torch cos and sin so that autograd reaches the angle.
    """
    eye = torch.eye(generator.shape[-1], dtype=generator.dtype, device=generator.device)
    g2 = generator @ generator
    half = angle[..., None, None] / 2
    return eye + (torch.cos(half) - 1) * g2 - 1j * torch.sin(half) * generator


def apply_matrix(
    psi: torch.Tensor, u: torch.Tensor, wires: tuple[int, ...], n: int
) -> torch.Tensor:
    """U psi for U acting on `wires`; wires[0] is the most significant bit of U's index.

    psi: (B, 2^n). u: (d, d), the same for the whole batch, or (B, d, d), one
    per sequence, with d = 2^len(wires). The wires' axes move to the end, in
    wire order, so that their joint index is U's column index; reversed and
    non-adjacent pairs need nothing special.
    """
    batch, k = psi.shape[0], len(wires)
    axes = [1 + w for w in wires]
    last = list(range(n + 1 - k, n + 1))
    moved = psi.reshape((batch,) + (2,) * n).movedim(axes, last)
    # out[b, r, i] = sum_j u[b, i, j] psi[b, r, j], r running over the other qubits
    out = moved.reshape(batch, -1, 2**k) @ u.mT
    return out.reshape(moved.shape).movedim(last, axes).reshape(batch, 2**n)


def expectation(
    psi: torch.Tensor, observable: torch.Tensor, wires: tuple[int, ...], n: int
) -> torch.Tensor:
    """<psi| O |psi> for a Hermitian O on `wires`: real, shape (B,)."""
    o_psi = apply_matrix(psi, observable, wires, n)
    return torch.sum(psi.conj() * o_psi, dim=-1).real


def norm(psi: torch.Tensor) -> torch.Tensor:
    """The 2-norm of each state, (B,): 1 up to rounding for any unitary cell."""
    return torch.sqrt(torch.sum(psi.abs() ** 2, dim=-1))
