"""The QRNN as a torch.nn.Module: input, controller, quantum cell, head.

    net = qrnnc.qrnn.build_qrnn(qrnnc.load("zoo/copying/model.qrnn"), backend="numba")
    logits = net(x)        # x: (B, T) tokens or (B, T, dim) features
    z = net.readouts       # (B, T, K) readouts of the last forward, in the graph

Per step t (DESIGN.md, "The model"): c_t = concat(e_t, z_{t-1}) with z_0 = 0,
theta_t = controller(c_t), z_t = cell(theta_t, phi, e_t), where e_t is the
embedding of token x_t or the features x_t themselves, and the cell's
`input`-fed gates take e_t as their angles. The head maps z_t to predictions.

The quantum cell is a backend object (`qrnnc.cell.make_cell`), not a
module: its only trainable numbers, the static angles `phi`, belong to the
QRNN, so `state_dict` holds exactly the embedding, controller, phi and head.
What builds the module again (the IR model, the Program, the resolved sizes)
is `net.config()`, plain JSON, for checkpoints to store beside the weights.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from qrnnc import ir
from qrnnc.cell import make_cell, real_dtype
from qrnnc.compiled import Compiled
from qrnnc.controllers import build_controller
from qrnnc.heads import Head, build_head
from qrnnc.program import Program
from qrnnc.readout import check_shots, sample_readouts


def default_out(task: ir.Task | None) -> int:
    """A head's output size when the file does not write `out=`: the task's classes or vocab.

    copying: the data symbols plus blank and delimiter; adding: 1 (regression);
    smnist, psmnist: 10 digits; imdb: 2 (negative, positive); ptb and
    translation: the (target) vocabulary.
    """
    if task is None:
        raise ValueError(
            "the head has no output size and the file names no task to take it from:"
            " write `out=` in the head (e.g. `head linear(out=10) last`) or pass out= to build"
        )
    if isinstance(task, ir.CopyingTask):
        return task.symbols + 2
    if isinstance(task, ir.AddingTask):
        return 1
    if isinstance(task, ir.SmnistTask | ir.PsmnistTask):
        return 10
    if isinstance(task, ir.ImdbTask):
        return 2
    if isinstance(task, ir.PtbTask | ir.TranslationTask):
        return task.vocab
    raise TypeError(f"no default output size for task {task.name!r}")  # pragma: no cover


class QRNN(nn.Module):
    """A hybrid quantum-classical RNN for one model of a .qrnn file.

    forward(x) -> logits (B, T, out) for a per_step head, (B, out) for a last
    head, or the readouts (B, T, K) when the model has no head. The readouts
    are also kept, attached to the graph, in `net.readouts` (B, T, K).

    `net.shots`: None for exact expectations, or N for the binomial noise of N
    shots per observable on every readout, including those fed back to the
    controller (see `qrnnc.readout.sample_readouts` for the gradient).
    """

    def __init__(
        self,
        model: ir.Model,
        program: Program,
        *,
        out: int | None = None,
        backend: str = "numba",
        checkpoint_every: int = 0,
        shots: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if model.name != program.model:
            raise ValueError(f"model {model.name!r} does not match program {program.model!r}")
        if model.head is None and out is not None:
            raise ValueError(f"model {model.name} has no head, so out={out} has nothing to size")
        if model.head is not None and out is None:
            out = model.head.out
            if out is None:
                raise ValueError(f"model {model.name}: the head has no out= and none was passed")
        self.model_ir = model
        self.program = program
        self.backend = backend
        self.checkpoint_every = checkpoint_every
        self.out = out
        self.shots = shots
        self.cell = make_cell(program, backend, checkpoint_every=checkpoint_every)
        self.readouts: torch.Tensor | None = None
        self.step_readouts: list[torch.Tensor] = []

        # Tracks the module's dtype and device through .to(), also when it has no parameters.
        self.register_buffer("_probe", torch.empty(0, dtype=dtype), persistent=False)
        dim, k = program.input_dim, program.n_readouts
        self.embed = build_embedding(model.input, dtype)
        self.controller = build_controller(
            model.controller, dim + k, program.n_controller, dtype=dtype
        )
        phi = _initial_phi(program, dtype)
        if phi.numel():
            self.phi = nn.Parameter(phi)
        else:  # no static angles: an empty tensor for the cell, and nothing in the state_dict
            self.register_buffer("phi", phi, persistent=False)
        self.head: Head | None = (
            None if model.head is None else build_head(model.head, k, out, dtype=dtype)
        )

    # ---- configuration --------------------------------------------------------------

    @property
    def shots(self) -> int | None:
        return self._shots

    @shots.setter
    def shots(self, value: int | None) -> None:
        self._shots = check_shots(value)

    @property
    def dtype(self) -> torch.dtype:
        return self._probe.dtype

    @property
    def device(self) -> torch.device:
        return self._probe.device

    def config(self) -> dict[str, Any]:
        """Plain JSON that rebuilds this module (without its weights): see `from_config`."""
        return {
            "model": self.model_ir.model_dump(mode="json"),
            "program": self.program.model_dump(mode="json"),
            "out": self.out,
            "backend": self.backend,
            "checkpoint_every": self.checkpoint_every,
            "shots": self.shots,
            "dtype": str(self.dtype).removeprefix("torch."),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], **overrides: Any) -> QRNN:
        """The module `config()` describes, freshly initialized; load weights with
        `load_state_dict`. `overrides` replace build options (backend, shots, ...)."""
        options = {
            "out": config["out"],
            "backend": config["backend"],
            "checkpoint_every": config["checkpoint_every"],
            "shots": config["shots"],
            "dtype": _dtype_named(config["dtype"]),
        }
        options.update(overrides)
        return cls(
            ir.Model.model_validate(config["model"]),
            Program.model_validate(config["program"]),
            **options,
        )

    def extra_repr(self) -> str:
        p = self.program
        return (
            f"model={p.model}, backend={self.backend}, qubits={p.qubits},"
            f" angles={p.n_controller}, static={p.n_params}, readouts={p.n_readouts},"
            f" shots={self.shots}"
        )

    # ---- forward -------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        readouts = self.recur(self.encode(x))
        self.readouts = readouts
        return readouts if self.head is None else self.head(readouts)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Check x against the model's input and return e (B, T, D) in the module's dtype."""
        inp = self.model_ir.input
        if isinstance(inp, ir.TokenInput):
            return self.embed(_checked_tokens(x, inp, self.program.model))
        return _checked_features(x, inp, self.program.model).to(self.dtype)

    def controller_angles(self, e_t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """theta_t (B, P) in the cell's precision from the input e_t and the last readouts z."""
        cell_dtype = real_dtype(self.program)
        if self.controller is None:
            return e_t.new_zeros(e_t.shape[0], 0, dtype=cell_dtype)
        return self.controller(torch.cat((e_t, z), dim=-1)).to(cell_dtype)

    def recur(self, e: torch.Tensor) -> torch.Tensor:
        """The recurrence over e (B, T, D): readouts z (B, T, K) in the module's dtype."""
        batch, steps, _ = e.shape
        program = self.program
        cell_dtype = real_dtype(program)
        phi = self.phi.to(cell_dtype)
        feeds_input = program.resources.input_angles > 0
        run = self.cell.begin(batch, device=e.device)
        z = e.new_zeros(batch, program.n_readouts)
        out = []
        for t in range(steps):
            e_t = e[:, t]
            theta = self.controller_angles(e_t, z)
            z_t = run.step(theta, phi, e_t.to(cell_dtype) if feeds_input else None)
            if self.shots is not None:
                z_t = sample_readouts(z_t, self.shots)
            z = z_t.to(e.dtype)
            out.append(z)
        # The per-step tensors the recurrence actually fed forward: dL/dz_t through the
        # whole future (not just the head) is the gradient with respect to these.
        self.step_readouts = out
        return torch.stack(out, dim=1)


def build_qrnn(
    compiled: Compiled,
    model: str | None = None,
    *,
    backend: str = "numba",
    out: int | None = None,
    checkpoint_every: int = 0,
    shots: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> QRNN:
    """The QRNN for one model of a compiled file.

    model: which model, by name; needed only when the file defines several
      (an encoder and a decoder).
    backend: "numba" (CPU, adjoint gradients) or "torch" (autograd, any device).
    out: the head's output size; default the head's `out=`, else the task's
      (`default_out`).
    checkpoint_every: store the statevector every this many steps during
      forward, which bounds the drift of the numba backend's uncomputation.
    shots: None keeps the file's `shots` setting, 0 forces exact readouts,
      N samples N shots per observable.
    dtype: of the classical parameters (the cell computes in its precision).
    """
    program = _pick_program(compiled, model)
    node = compiled.ir.model(program.model)
    if out is not None and (isinstance(out, bool) or not isinstance(out, int) or out < 1):
        raise ValueError(f"out={out!r}: expected a positive int")
    if node.head is not None and out is None:
        out = node.head.out if node.head.out is not None else default_out(compiled.ir.task)
    return QRNN(
        node,
        program,
        out=out,
        backend=backend,
        checkpoint_every=checkpoint_every,
        shots=program.shots if shots is None else shots,
        dtype=dtype,
    )


def parameter_counts(net: QRNN) -> dict[str, int]:
    """Trainable numbers by part: embedding, controller, static_params, head, and total."""

    def count(module: nn.Module | None) -> int:
        return 0 if module is None else sum(p.numel() for p in module.parameters())

    counts = {
        "embedding": count(net.embed),
        "controller": count(net.controller),
        "static_params": net.phi.numel() if isinstance(net.phi, nn.Parameter) else 0,
        "head": count(net.head),
    }
    counts["total"] = sum(counts.values())
    return counts


# ---- helpers -----------------------------------------------------------------------


def _pick_program(compiled: Compiled, model: str | None) -> Program:
    names = list(compiled.programs)
    if model is None:
        if len(names) != 1:
            raise ValueError(
                f"{compiled.ir.file or 'this file'} defines models {', '.join(names)};"
                " pick one with model=NAME"
            )
        return compiled.programs[names[0]]
    if model not in compiled.programs:
        raise ValueError(f"no model {model!r}; this file defines {', '.join(names)}")
    return compiled.programs[model]


def _initial_phi(program: Program, dtype: torch.dtype) -> torch.Tensor:
    """The static angles as written; `param` without a value draws from [0, 2 pi).

    The draw uses torch's global RNG, so a seeded build is reproducible.
    """
    phi = torch.tensor([0.0 if v is None else v for v in program.param_init], dtype=torch.float64)
    missing = torch.tensor([v is None for v in program.param_init], dtype=torch.bool)
    n_missing = int(missing.sum())
    if n_missing:
        phi[missing] = torch.rand(n_missing, dtype=torch.float64) * (2 * math.pi)
    return phi.to(dtype)


def _dtype_named(name: str) -> torch.dtype:
    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype {name!r} in the config: expected a float dtype such as float32")
    return dtype


def build_embedding(inp: ir.Input, dtype: torch.dtype = torch.float32) -> nn.Module:
    """embed(x_t): a learned table for `tokens` (entries N(0, scale^2)), the identity for
    `features`."""
    if not isinstance(inp, ir.TokenInput):
        return nn.Identity()
    table = nn.Embedding(inp.vocab, inp.embed, dtype=dtype)
    if inp.scale != 1.0:
        # Scaling torch's N(0, 1) draw rather than drawing again keeps the RNG stream,
        # so the other weights of a seeded run start the same whatever the scale.
        with torch.no_grad():
            table.weight.mul_(inp.scale)
    return table


def _checked_tokens(x: torch.Tensor, inp: ir.TokenInput, name: str) -> torch.Tensor:
    expected = f"model {name} reads tokens: expected a LongTensor of shape (B, T)"
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{expected}, got {type(x).__name__}")
    if x.dtype == torch.bool or x.is_floating_point() or x.is_complex():
        raise ValueError(f"{expected} with values in [0, {inp.vocab}), got dtype {x.dtype}")
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{expected} with B, T >= 1, got shape {tuple(x.shape)}")
    low, high = int(x.min()), int(x.max())
    if low < 0 or high >= inp.vocab:
        bad = low if low < 0 else high
        raise ValueError(
            f"token {bad} is out of range: model {name} has vocab={inp.vocab},"
            f" so tokens must lie in [0, {inp.vocab})"
        )
    return x.long()


def _checked_features(x: torch.Tensor, inp: ir.FeatureInput, name: str) -> torch.Tensor:
    expected = f"model {name} reads features: expected a float tensor of shape (B, T, {inp.dim})"
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{expected}, got {type(x).__name__}")
    if not x.is_floating_point():
        hint = " (token ids? this model's input is `features`)" if x.dim() == 2 else ""
        raise ValueError(f"{expected}, got dtype {x.dtype}{hint}")
    if x.dim() == 2 and inp.dim == 1:
        raise ValueError(
            f"{expected}, got shape {tuple(x.shape)}; add the feature axis with x.unsqueeze(-1)"
        )
    if x.dim() != 3 or x.shape[2] != inp.dim or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{expected} with B, T >= 1, got shape {tuple(x.shape)}")
    return x
