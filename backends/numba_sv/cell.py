"""The numba cell: forward in place, backward by adjoint BPTT (DESIGN.md).

Forward keeps, per step, only the angles it used; the statevector is one
batch of states in the kernels' lane layout (kernels.py), updated in place, so
quantum memory does not grow with T.
Backward walks the steps in reverse: each step's `torch.autograd.Function`
uncomputes its gates on the shared state while carrying the adjoint vector
lambda, and hands angle gradients to the controller's ordinary autograd.

A zero-size "token" output of step t-1 is an input of step t, and the first
step's token requires grad, so autograd visits every step, strictly in
reverse. The run checks that order: a second backward through the same
forward raises, since the state it would need has been uncomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from qrnnc.backends.numba_sv import kernels
from qrnnc.cell import real_dtype
from qrnnc.program import Program

AGAIN = (
    "backward through the quantum cell already ran for this forward pass: the numba backend"
    " uncomputes its statevector while it backpropagates, so the graph cannot be reused"
    " (retain_graph=True does not keep it). Run the forward pass again, or build with"
    " backend='torch' to differentiate twice."
)


@dataclass
class _Angles:
    """What forward keeps per step: the angles it applied (float64 arrays)."""

    theta: np.ndarray  # (B, P)
    phi: np.ndarray  # (S,)
    x: np.ndarray  # (B, D), (B, 0) when no gate is input-fed


class Cell:
    """The cell of one Program on numba kernels (see qrnnc.cell for the contract)."""

    def __init__(self, program: Program, checkpoint_every: int = 0) -> None:
        if checkpoint_every < 0:
            raise ValueError(f"checkpoint_every={checkpoint_every}: expected 0 (off) or more")
        self.program = program
        self.checkpoint_every = checkpoint_every
        a = program.arrays()
        self.gates, self.wires, self.sources, self.slots = a.gates, a.wires, a.sources, a.slots
        self.consts = a.constants
        self.n_readouts = a.readout_obs.shape[0]
        self.qgroups, self.zzs = kernels.readout_groups(a.readout_obs, a.readout_wires)
        self.complex_dtype = np.complex64 if program.precision == "complex64" else np.complex128
        self.real_dtype = real_dtype(program)
        self.n_x = program.input_dim if program.resources.input_angles else 0

    def begin(self, batch: int, device: torch.device | None = None) -> Run:
        if device is not None and torch.device(device).type != "cpu":
            raise ValueError(
                f"the numba backend runs on the CPU, not {device}; build with backend='torch'"
                " to simulate on a GPU"
            )
        return Run(self, batch)


class Run:
    """One forward pass over a batch: the shared state, the adjoint, the step log."""

    def __init__(self, cell: Cell, batch: int) -> None:
        p = cell.program
        self.cell = cell
        self.batch = batch
        self.n = p.qubits
        n_threads = kernels.step_threads(batch, self.n, cell.gates.shape[0])
        chunks, self.lanes = kernels.chunking(batch, n_threads)
        # psi and lambda in the lane layout, (C, 2, 2^n, L)
        self.state = kernels.initial_state(
            batch, self.n, p.init == "plus", cell.complex_dtype, self.lanes
        )
        self.adjoint = np.zeros_like(self.state)
        # A parallel launch costs ~90 us even with nothing to share out.
        serial = n_threads == 1 or chunks == 1
        self._forward_step = kernels.forward_step_serial if serial else kernels.forward_step
        self._backward_step = kernels.backward_step_serial if serial else kernels.backward_step
        self._uncompute_step = kernels.uncompute_step_serial if serial else kernels.uncompute_step
        self.log: list[_Angles] = []
        self.checkpoints: dict[int, np.ndarray] = {}
        self.cursor = 0  # state holds psi_cursor
        self.done: int | None = None  # the step whose backward ran last
        self.token = torch.zeros(0)

    @property
    def psi(self) -> np.ndarray:
        """The current states as (B, 2^n) complex numbers (a copy)."""
        return kernels.unpack(self.state, self.batch)

    # ---- forward ----------------------------------------------------------------
    def step(self, theta: torch.Tensor, phi: torch.Tensor, x: torch.Tensor | None) -> torch.Tensor:
        if self.done is not None:
            raise RuntimeError("this run is being backpropagated; start a new forward pass")
        c = self.cell
        p = c.program
        theta_np = _as_f64(theta, (self.batch, p.n_controller), "theta")
        phi_np = _as_f64(phi, (p.n_params,), "phi")
        if c.n_x:
            if x is None:
                raise ValueError(f"model {p.model} feeds gates from its input: pass x (B, D)")
            x_np = _as_f64(x, (self.batch, c.n_x), "x")
        else:
            x_np = np.zeros((self.batch, 0))
            x = None
        angles = _Angles(theta_np, phi_np, x_np)
        if self.cursor == 0:
            # Chain every step into autograd's graph (see the module doc), but only
            # when something upstream wants gradients: inference stays graph-free.
            wanted = any(t is not None and t.requires_grad for t in (theta, phi, x))
            self.token.requires_grad_(wanted and torch.is_grad_enabled())
        z, self.token = _Step.apply(self, theta, phi, x, self.token, angles)
        return z

    def advance(self, angles: _Angles) -> torch.Tensor:
        c = self.cell
        z = np.empty((self.batch, c.n_readouts), dtype=np.float64)
        self._forward_step(
            self.state, self.n, c.gates, c.wires, c.sources, c.slots,
            angles.theta, angles.phi, c.consts, angles.x, c.qgroups, c.zzs, z,
        )  # fmt: skip
        self.log.append(angles)
        self.cursor += 1
        if c.checkpoint_every and self.cursor % c.checkpoint_every == 0:
            self.checkpoints[self.cursor] = self.state.copy()
        return torch.from_numpy(z).to(c.real_dtype)

    # ---- backward ---------------------------------------------------------------
    def retreat(self, t: int, dz: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Backpropagate step t (1-based); returns dtheta (B,P), dphi (S,), dx (B,D)."""
        if self.done is not None and t >= self.done:
            raise RuntimeError(AGAIN)
        if t > self.cursor:
            raise RuntimeError(AGAIN)
        c = self.cell
        self._restore()  # a checkpoint of the current state is the state itself: drop it
        # Steps after t that no loss depends on were never visited: undo them.
        while self.cursor > t:
            self._uncompute(self.log[self.cursor - 1])
        a = self.log[t - 1]
        dtheta = np.zeros_like(a.theta)
        dphi = np.zeros((self.batch, a.phi.shape[0]))
        dx = np.zeros_like(a.x)
        dz_np = np.ascontiguousarray(dz.detach().to(torch.float64).cpu().numpy())
        self._backward_step(
            self.state, self.adjoint, self.n, c.gates, c.wires, c.sources, c.slots,
            a.theta, a.phi, c.consts, a.x, c.qgroups, c.zzs, dz_np, dtheta, dphi, dx,
        )  # fmt: skip
        self.cursor -= 1
        self._restore()
        self.done = t
        if t == 1:
            self.log.clear()
        return dtheta, dphi.sum(axis=0), dx

    def _uncompute(self, a: _Angles) -> None:
        c = self.cell
        self._uncompute_step(
            self.state, self.n, c.gates, c.wires, c.sources, c.slots, a.theta, a.phi, c.consts, a.x
        )
        self.cursor -= 1
        self._restore()

    def _restore(self) -> None:
        """Replace the uncomputed state by the stored one where there is one (bounds drift)."""
        saved = self.checkpoints.pop(self.cursor, None)
        if saved is not None:
            self.state[:] = saved


class _Step(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        run: Run,
        theta: torch.Tensor,
        phi: torch.Tensor,
        x: torch.Tensor | None,
        token: torch.Tensor,
        angles: _Angles,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z = run.advance(angles)
        ctx.run = run
        ctx.t = run.cursor
        ctx.dtypes = (theta.dtype, phi.dtype, None if x is None else x.dtype)
        return z, token.new_zeros(0)

    @staticmethod
    def backward(ctx: Any, dz: torch.Tensor, _dtoken: torch.Tensor) -> tuple[Any, ...]:
        dtheta, dphi, dx = ctx.run.retreat(ctx.t, dz)
        t_dtype, p_dtype, x_dtype = ctx.dtypes
        return (
            None,
            torch.from_numpy(dtheta).to(t_dtype),
            torch.from_numpy(dphi).to(p_dtype),
            None if x_dtype is None else torch.from_numpy(dx).to(x_dtype),
            torch.zeros(0),
            None,
        )


def _as_f64(t: torch.Tensor, shape: tuple[int, ...], name: str) -> np.ndarray:
    if tuple(t.shape) != shape:
        raise ValueError(f"{name} has shape {tuple(t.shape)}; expected {shape}")
    if t.device.type != "cpu":
        raise ValueError(f"{name} is on {t.device}; the numba backend needs CPU tensors")
    return np.ascontiguousarray(t.detach().to(torch.float64).numpy())
