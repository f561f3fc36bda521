"""The quantum cell on a backend, and `simulate`: the cell alone over T steps.

Every statevector backend (`qrnnc.backends.<name>`) exposes one class, `Cell`,
built from a Program, with this contract:

    cell = Cell(program, checkpoint_every=0)
    run = cell.begin(batch=B, device=torch.device("cpu"))   # psi_0 for B sequences
    z_t = run.step(theta_t, phi, x_t)                        # once per step, t = 1..T

- theta_t: (B, P) angles for the controller-fed slots, column = slot;
- phi:     (S,) static `param` angles (shared across time);
- x_t:     (B, D) input features for `input`-fed gates (column = slot), or None
           when the Program has no `input` gates;
- z_t:     (B, K) readouts, real, float64 for complex128 programs and float32
           for complex64, differentiable with respect to theta_t, phi and x_t
           by ordinary torch autograd.

Readouts are exact expectations; `shots` noise is added by `qrnnc.readout`,
the same for every backend.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import torch

from qrnnc.program import Program

BACKENDS: tuple[str, ...] = ("numba", "torch")
_MODULES = {"numba": "qrnnc.backends.numba_sv", "torch": "qrnnc.backends.torch_sv"}


class CellRun(Protocol):
    def step(
        self, theta: torch.Tensor, phi: torch.Tensor, x: torch.Tensor | None
    ) -> torch.Tensor: ...


class Cell(Protocol):
    program: Program

    def begin(self, batch: int, device: torch.device | None = None) -> CellRun: ...


def make_cell(program: Program, backend: str = "numba", **options: Any) -> Cell:
    """The cell of `program` on `backend` ("numba" or "torch")."""
    if backend not in _MODULES:
        raise ValueError(f"backend={backend!r}: expected one of {', '.join(BACKENDS)}")
    module = importlib.import_module(_MODULES[backend])
    return module.Cell(program, **options)


def real_dtype(program: Program) -> torch.dtype:
    return torch.float32 if program.precision == "complex64" else torch.float64


def initial_params(program: Program, params: Any = None) -> torch.Tensor:
    """The static angles: `params` if given, else the values the file wrote."""
    dtype = real_dtype(program)
    if params is not None:
        phi = torch.as_tensor(params, dtype=dtype)
        if phi.shape != (program.n_params,):
            raise ValueError(
                f"params has shape {tuple(phi.shape)}; model {program.model} has"
                f" {program.n_params} static params, so pass shape ({program.n_params},)"
            )
        return phi
    missing = [i for i, v in enumerate(program.param_init) if v is None]
    if missing:
        raise ValueError(
            f"model {program.model}: static params {missing} have no initial value in the file"
            " (written `param` without a number); pass params= explicitly"
        )
    return torch.tensor([float(v) for v in program.param_init], dtype=dtype)


def simulate(
    program: Program,
    angles: Any,
    backend: str = "numba",
    *,
    params: Any = None,
    inputs: Any = None,
) -> torch.Tensor:
    """Run the cell alone for T steps: angles (T, B, P) -> readouts (T, B, K).

    No controller: step t uses `angles[t]` for its controller-fed slots, static
    params at their initial values (or `params`, shape (S,)), and `inputs[t]`
    (T, B, D) for `input`-fed gates. The result is differentiable with respect
    to angles, params and inputs when they are tensors that require grad.
    """
    dtype = real_dtype(program)
    theta = torch.as_tensor(angles, dtype=dtype)
    if theta.dim() != 3 or theta.shape[2] != program.n_controller:
        raise ValueError(
            f"angles has shape {tuple(theta.shape)}; expected (T, B, {program.n_controller}):"
            f" model {program.model} has {program.n_controller} controller-fed angles"
        )
    steps, batch = theta.shape[0], theta.shape[1]
    phi = initial_params(program, params).to(theta.device)
    x = None
    if program.resources.input_angles:
        if inputs is None:
            raise ValueError(
                f"model {program.model} feeds gates from its input; pass inputs= of shape"
                f" (T, B, {program.input_dim})"
            )
        x = torch.as_tensor(inputs, dtype=dtype, device=theta.device)
        if x.shape != (steps, batch, program.input_dim):
            raise ValueError(
                f"inputs has shape {tuple(x.shape)}; expected"
                f" ({steps}, {batch}, {program.input_dim})"
            )
    run = make_cell(program, backend).begin(batch, device=theta.device)
    out = [run.step(theta[t], phi, None if x is None else x[t]) for t in range(steps)]
    if not out:
        return theta.new_zeros((0, batch, program.n_readouts))
    return torch.stack(out)
