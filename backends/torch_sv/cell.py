"""The torch cell: the Program's gates as per-gate torch ops, differentiated by autograd.

This is the reference the other backends and Braket are compared with, built
the way TorchQuantum is: every gate is a small matrix (one per sequence when
its angle varies over the batch) applied to the state's axes, and every
intermediate state stays in autograd's graph. Memory grows with T; that is
the price of being plain, and what the numba backend's adjoint avoids.
"""

from __future__ import annotations

import numpy as np
import torch

from qrnnc.backends.torch_sv import statevector as sv
from qrnnc.cell import real_dtype
from qrnnc.gates import GATE_NAMES, GATES, PAULI, Z
from qrnnc.program import Program

SUPPORTED_GATES: tuple[str, ...] = GATE_NAMES  # every row of the gate table, no decomposition


class Cell:
    """The cell of one Program on torch (see qrnnc.cell for the contract)."""

    def __init__(self, program: Program, checkpoint_every: int = 0) -> None:
        # checkpoint_every is the numba backend's drift bound; autograd keeps every
        # state here, so it is accepted (for a backend-neutral call) and unused.
        if checkpoint_every < 0:
            raise ValueError(f"checkpoint_every={checkpoint_every}: expected 0 (off) or more")
        unsupported = sorted(set(program.gates) - set(SUPPORTED_GATES))
        if unsupported:
            raise ValueError(f"the torch backend has no gate {', '.join(unsupported)}")
        self.program = program
        self.checkpoint_every = checkpoint_every
        self.real_dtype = real_dtype(program)
        self.complex_dtype = (
            torch.complex64 if program.precision == "complex64" else torch.complex128
        )
        self.n_x = program.input_dim if program.resources.input_angles else 0

    def begin(self, batch: int, device: torch.device | str | None = None) -> Run:
        return Run(self, batch, torch.device("cpu" if device is None else device))


class Run:
    """One forward pass over a batch: the current state, replaced (never mutated) each step."""

    def __init__(self, cell: Cell, batch: int, device: torch.device) -> None:
        p = cell.program
        self.cell = cell
        self.batch = batch
        self.device = device
        self.n = p.qubits
        cdtype = cell.complex_dtype
        self.psi = sv.initial_state(batch, self.n, p.init == "plus", cdtype, device)
        # The table's numpy matrices go to the device once, here, so the step
        # loop runs torch ops only (and stays on the GPU when there is one).
        used = dict.fromkeys(p.gates)
        self.fixed = {
            g: sv.as_tensor(GATES[g].matrix(0.0), cdtype, device)
            for g in used
            if not GATES[g].parametric
        }
        self.generators = {
            g: sv.as_tensor(GATES[g].generator, cdtype, device) for g in used if GATES[g].parametric
        }
        self.constants = torch.tensor(p.constants, dtype=cell.real_dtype, device=device)
        self.ops = [
            (g, _wires(w), src, slot)
            for g, w, src, slot in zip(p.gates, p.wires, p.sources, p.slots, strict=True)
        ]
        zz = sv.as_tensor(np.kron(Z, Z), cdtype, device)
        paulis = {o: sv.as_tensor(m, cdtype, device) for o, m in PAULI.items()}
        self.readouts = [
            (zz if o == "zz" else paulis[o], _wires(w))
            for o, w in zip(p.readout_obs, p.readout_wires, strict=True)
        ]

    def step(self, theta: torch.Tensor, phi: torch.Tensor, x: torch.Tensor | None) -> torch.Tensor:
        """Apply the cell once to every sequence; return the readouts z_t, (B, K)."""
        c = self.cell
        p = c.program
        theta = self._angles(theta, (self.batch, p.n_controller), "theta")
        phi = self._angles(phi, (p.n_params,), "phi")
        if c.n_x:
            if x is None:
                raise ValueError(f"model {p.model} feeds gates from its input: pass x (B, D)")
            x = self._angles(x, (self.batch, c.n_x), "x")
        psi = self.psi
        for gate, wires, source, slot in self.ops:
            if source == "none":
                u = self.fixed[gate]
            else:
                u = sv.rotation(self._angle(source, slot, theta, phi, x), self.generators[gate])
            psi = sv.apply_matrix(psi, u, wires, self.n)
        self.psi = psi
        if not self.readouts:
            return psi.real.new_zeros((self.batch, 0))
        return torch.stack([sv.expectation(psi, o, w, self.n) for o, w in self.readouts], dim=1)

    def _angle(
        self,
        source: str,
        slot: int,
        theta: torch.Tensor,
        phi: torch.Tensor,
        x: torch.Tensor | None,
    ) -> torch.Tensor:
        """The op's angle: (B,) when it varies over the batch, a scalar when shared."""
        if source == "controller":
            return theta[:, slot]
        if source == "param":
            return phi[slot]
        if source == "const":
            return self.constants[slot]
        if source == "input":
            assert x is not None  # step() checked: the program has input-fed gates
            return x[:, slot]
        raise ValueError(f"unknown angle source {source!r}")

    def _angles(self, t: torch.Tensor, shape: tuple[int, ...], name: str) -> torch.Tensor:
        t = torch.as_tensor(t)
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} has shape {tuple(t.shape)}; expected {shape}")
        # .to() is differentiable, so a float32 controller still gets its gradient.
        return t.to(device=self.device, dtype=self.cell.real_dtype)


def _wires(w: tuple[int, int]) -> tuple[int, ...]:
    """A Program wire pair as the wires the op acts on (-1 marks a one-qubit op)."""
    return (w[0],) if w[1] < 0 else (w[0], w[1])
