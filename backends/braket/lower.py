"""A Program on Amazon Braket: one step as a Circuit, prefixes, measurement bases, OpenQASM 3.

Conventions (checked against qrnnc.gates in tests/braket/test_lowering.py):
- Braket numbers qubits as the Program does, and `Circuit.to_unitary()` puts
  qubit 0 in the most significant bit, as the numba backend does.
- Rotation angles mean the same on both sides: Braket's rx/ry/rz and xx/yy/zz
  are exp(-i theta P / 2), so DSL `rxx` lowers to `xx` with the same angle.
- Two-qubit gates keep their wire order: cnot's and crx/cry/crz's first wire
  is the control (`ctrl @ rx(theta) q[c], q[t]` in OpenQASM).
- Each gate's Braket name comes from the gate table (`GateSpec.braket`).

A QPU cannot keep the state between the classical controller's calls, so
step t is run as a prefix, U(theta_t)...U(theta_1)|init>, then measured in one
of the program's commuting measurement bases (`bases`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from braket.circuits import (
    Circuit,
    FreeParameter,
    FreeParameterExpression,
    Instruction,
    Observable,
    ResultType,
)
from braket.circuits import gates as bg
from braket.parametric import Parameterizable

from qrnnc.gates import GATES
from qrnnc.program import Program

# Braket's gate class for each `braket` name of the gate table (without `ctrl @`).
BRAKET_GATES: dict[str, type[bg.Gate]] = {
    "rx": bg.Rx,
    "ry": bg.Ry,
    "rz": bg.Rz,
    "h": bg.H,
    "x": bg.X,
    "y": bg.Y,
    "z": bg.Z,
    "s": bg.S,
    "t": bg.T,
    "cnot": bg.CNot,
    "cz": bg.CZ,
    "swap": bg.Swap,
    "xx": bg.XX,
    "yy": bg.YY,
    "zz": bg.ZZ,
}
CONTROL = "ctrl @ "
# A two-qubit gate that is X or Z on the target when the control is 1 and
# anticommutes there with the rotation's generator: F R(a) F = R(-a).
_FLIPS: dict[str, type[bg.Gate]] = {"rx": bg.CZ, "ry": bg.CNot, "rz": bg.CNot}
# How crx, cry and crz reach Braket: as `ctrl @` gates (one-to-one, what the
# OpenQASM export writes), or decomposed into rotations and cnot/cz, which
# every device runs (the local density-matrix simulator ignores `ctrl @`
# (amazon-braket-default-simulator-python issue #319) and the on-demand
# simulators have refused it (amazon-braket-sdk-python issue #683)).
Controlled = Literal["modifier", "decompose"]
_PAULI_OBSERVABLES = {"x": Observable.X, "y": Observable.Y, "z": Observable.Z}

Angle = float | FreeParameter


# ---- one step ---------------------------------------------------------------------


def gate_instructions(
    name: str,
    wires: Sequence[int],
    angle: Angle | None = None,
    *,
    controlled: Controlled = "modifier",
) -> list[Instruction]:
    """Braket's instructions for DSL gate `name` on `wires` (the first wire is the control).

    One instruction per gate, except crx, cry and crz with controlled="decompose":
    R(theta/2) on the target, a flip F on (control, target), R(-theta/2), F
    again, where F anticommutes with R's generator (cz for rx, cnot for ry and
    rz); with the control at 0 the rotations cancel, at 1 F R(-theta/2) F =
    R(theta/2) completes R(theta), so the product is exactly the controlled
    rotation.
    """
    spec = GATES[name]
    if not spec.braket.startswith(CONTROL):
        cls = BRAKET_GATES[spec.braket]
        return [Instruction(cls(angle) if spec.parametric else cls(), target=list(wires))]
    base = spec.braket.removeprefix(CONTROL)
    rotation, (c, t) = BRAKET_GATES[base], wires
    if controlled == "modifier":
        return [Instruction(rotation(angle), target=t, control=c)]
    if controlled != "decompose":
        raise ValueError(f"controlled={controlled!r}: expected 'modifier' or 'decompose'")
    assert angle is not None
    flip = _FLIPS[base]
    return [
        Instruction(rotation(angle / 2), target=t),
        Instruction(flip(), target=[c, t]),
        Instruction(rotation(-angle / 2), target=t),
        Instruction(flip(), target=[c, t]),
    ]


def step_instructions(
    program: Program,
    theta: Any = None,
    phi: Any = None,
    x: Any = None,
    *,
    free: bool = False,
    controlled: Controlled = "modifier",
) -> list[Instruction]:
    """The gates of one step, in program order; see `step_circuit`."""
    if free:
        theta_v: Sequence[Angle] = _free("theta", program.n_controller)
        phi_v: Sequence[Angle] = _free("phi", program.n_params)
        x_v: Sequence[Angle] = _free("x", program.input_dim)
    else:
        theta_v, phi_v, x_v = _checked_angles(program, theta, phi, x)
    pools: dict[str, Sequence[Angle]] = {
        "controller": theta_v,
        "param": phi_v,
        "const": program.constants,
        "input": x_v,
    }
    out = []
    for name, (a, b), source, slot in zip(
        program.gates, program.wires, program.sources, program.slots, strict=True
    ):
        wires = (a,) if b < 0 else (a, b)
        angle = pools[source][slot] if source != "none" else None
        out += gate_instructions(name, wires, angle, controlled=controlled)
    return out


def _free(prefix: str, count: int) -> list[FreeParameter]:
    return [FreeParameter(f"{prefix}_{i}") for i in range(count)]


def step_circuit(
    program: Program,
    theta: Any = None,
    phi: Any = None,
    x: Any = None,
    *,
    free: bool = False,
    controlled: Controlled = "modifier",
) -> Circuit:
    """One step's gates U(theta, phi, x) as a Braket Circuit (no preparation, no measurement).

    theta: (P,) controller-fed angles, column = slot; phi: (S,) static angles
    (default: the values the file wrote); x: (D,) input features, needed only
    when gates are `input`-fed. With free=True the angles are FreeParameters
    named theta_k, phi_j and x_j instead, to bind with a device's `inputs=` or
    with `bind` (not `Circuit.make_bound_circuit`, which in amazon-braket-sdk
    1.127.5 drops the control qubit of crx, cry and crz). `controlled` picks how
    those three reach Braket: "modifier" (`ctrl @`) or "decompose".
    """
    return Circuit().add(
        step_instructions(program, theta, phi, x, free=free, controlled=controlled)
    )


def bind(circuit: Circuit, values: dict[str, float]) -> Circuit:
    """The circuit with its FreeParameters set to `values`, controls kept."""
    names = {p.name for p in circuit.parameters}
    if missing := sorted(names - set(values)):
        raise ValueError(f"no value for free parameters {missing}")
    bound = Circuit()
    for ins in circuit.instructions:
        op = ins.operator
        if isinstance(op, Parameterizable) and any(
            isinstance(p, FreeParameterExpression) for p in op.parameters
        ):
            op = op.bind_values(**{k: v for k, v in values.items() if k in names})
        bound.add_instruction(
            Instruction(
                op,
                target=ins.target,
                control=ins.control,
                control_state=ins.control_state,
                power=ins.power,
            )
        )
    for rt in circuit.result_types:
        bound.add_result_type(rt)
    return bound


def preparation(program: Program) -> Circuit:
    """|init> from |0...0>, spanning all n qubits.

    Braket leaves a qubit that carries no instruction out of the circuit (and
    out of its measurements and unitary), so a qubit the cell never touches
    gets an identity.
    """
    circuit = Circuit()
    if program.init == "plus":
        for q in range(program.qubits):
            circuit.h(q)
        return circuit
    touched = {w for pair in program.wires for w in pair if w >= 0}
    for q in range(program.qubits):
        if q not in touched:
            circuit.i(q)
    return circuit


def prefix_circuit(
    program: Program,
    thetas: Any,
    phi: Any = None,
    xs: Any = None,
    *,
    controlled: Controlled = "modifier",
) -> Circuit:
    """|init> then steps 1..t: U(theta_t)...U(theta_1)|init>, thetas (t, P), xs (t, D) or None."""
    thetas = np.asarray(thetas, dtype=np.float64)
    if thetas.ndim != 2 or thetas.shape[1] != program.n_controller:
        raise ValueError(
            f"thetas has shape {thetas.shape}; expected (t, {program.n_controller}): one row of"
            f" controller-fed angles per step"
        )
    circuit = preparation(program)
    for s in range(thetas.shape[0]):
        x_s = None if xs is None else np.asarray(xs)[s]
        circuit.add(step_instructions(program, thetas[s], phi, x_s, controlled=controlled))
    return circuit


def _checked_angles(
    program: Program, theta: Any, phi: Any, x: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    name = program.model
    if theta is None:
        theta = np.zeros(0)
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (program.n_controller,):
        raise ValueError(
            f"theta has shape {theta.shape}; model {name} has {program.n_controller}"
            f" controller-fed angles, so pass shape ({program.n_controller},)"
        )
    phi = static_angles(program, phi)
    if program.resources.input_angles == 0:
        return theta, phi, np.zeros(program.input_dim)
    if x is None:
        raise ValueError(
            f"model {name} feeds gates from its input; pass x of shape ({program.input_dim},)"
        )
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (program.input_dim,):
        raise ValueError(f"x has shape {x.shape}; expected ({program.input_dim},)")
    return theta, phi, x


def static_angles(program: Program, phi: Any = None) -> np.ndarray:
    """phi as float64 (S,): as given, else the values the file wrote."""
    if phi is None:
        missing = [i for i, v in enumerate(program.param_init) if v is None]
        if missing:
            raise ValueError(
                f"model {program.model}: static params {missing} have no value in the file"
                " (written `param` without a number); pass phi (a trained run's values),"
                " or export with free parameters (--free-params)"
            )
        return np.array(program.param_init, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    if phi.shape != (program.n_params,):
        raise ValueError(
            f"phi has shape {phi.shape}; model {program.model} has {program.n_params}"
            f" static params, so pass shape ({program.n_params},)"
        )
    return phi


# ---- readouts -----------------------------------------------------------------------


def readout_qubits(program: Program, k: int) -> tuple[int, ...]:
    a, b = program.readout_wires[k]
    return (a,) if b < 0 else (a, b)


def readout_observable(program: Program, k: int) -> tuple[Observable, tuple[int, ...]]:
    """Readout k as a Braket observable and its target qubits."""
    obs = program.readout_obs[k]
    if obs == "zz":
        return Observable.Z() @ Observable.Z(), readout_qubits(program, k)
    return _PAULI_OBSERVABLES[obs](), readout_qubits(program, k)


def expectations(program: Program) -> tuple[list[ResultType], list[int]]:
    """Exact readouts as result types: the distinct ones, and each readout's index among them.

    A Circuit keeps a result type once however often it is added, and a model
    may read the same observable twice; so readout k is `values[index[k]]`.
    """
    distinct: dict[tuple[str, tuple[int, ...]], int] = {}
    index = []
    for k in range(program.n_readouts):
        key = (program.readout_obs[k], readout_qubits(program, k))
        index.append(distinct.setdefault(key, len(distinct)))
    types = []
    for obs, qubits in distinct:
        observable = Observable.Z() @ Observable.Z() if obs == "zz" else _PAULI_OBSERVABLES[obs]()
        types.append(ResultType.Expectation(observable, target=list(qubits)))
    return types, index


@dataclass(frozen=True)
class Basis:
    """One measurement setting: a Pauli per qubit, and the readouts it estimates.

    paulis[q] is "x", "y" or "z" (qubits no readout of this basis needs are
    measured in Z and ignored). Readout `readouts[i]` is the mean of
    (-1)^(sum of the bits of `parities[i]`) after the basis change.
    """

    paulis: tuple[str, ...]
    readouts: tuple[int, ...]
    parities: tuple[tuple[int, ...], ...]

    @property
    def label(self) -> str:
        return "".join(p.upper() for p in self.paulis)

    def rotation(self) -> list[Instruction]:
        """Gates that turn this basis into the computational one: H for X, S^dagger H for Y.

        (H Z H = X and S H Z H S^dagger = Y, so measuring Z afterwards measures X or Y.)
        """
        out = []
        for q, p in enumerate(self.paulis):
            if p == "x":
                out.append(Instruction(bg.H(), q))
            elif p == "y":
                out += [Instruction(bg.Si(), q), Instruction(bg.H(), q)]
        return out

    def estimate_probabilities(self, probabilities: Any) -> np.ndarray:
        """The readouts from the exact outcome probabilities (2^n, qubit 0 most significant)."""
        p = np.asarray(probabilities, dtype=np.float64)
        n = len(self.paulis)
        if p.shape != (2**n,):
            raise ValueError(f"probabilities of shape {p.shape}: expected ({2**n},) for {n} qubits")
        index = np.arange(2**n)
        bits = (index[:, None] >> (n - 1 - np.arange(n))) & 1
        return np.array([p @ _signs(bits, qubits) for qubits in self.parities])

    def estimate_bits(self, bits: Any) -> np.ndarray:
        """The readouts from measured bitstrings, (shots, n) with column q = qubit q."""
        bits = np.asarray(bits)
        return np.array([_signs(bits, qubits).mean() for qubits in self.parities])


def _signs(bits: np.ndarray, qubits: tuple[int, ...]) -> np.ndarray:
    return 1.0 - 2.0 * (bits[:, list(qubits)].sum(axis=1) % 2)


def bases(program: Program) -> list[Basis]:
    """The readouts grouped into qubit-wise commuting bases, in order of first need.

    Each readout goes to the first basis that agrees with it on every qubit it
    touches (ZZ needs Z on both), else opens a new one: `x, y, z on all` gives
    the all-X, all-Y and all-Z bases; `z on all` with `zz` pairs gives one.
    """
    settings: list[dict[int, str]] = []
    members: list[list[int]] = []
    for k in range(program.n_readouts):
        qubits = readout_qubits(program, k)
        pauli = "z" if program.readout_obs[k] == "zz" else program.readout_obs[k]
        need = dict.fromkeys(qubits, pauli)
        for setting, group in zip(settings, members, strict=True):
            if all(setting.get(q, p) == p for q, p in need.items()):
                setting.update(need)
                group.append(k)
                break
        else:
            settings.append(need)
            members.append([k])
    return [
        Basis(
            paulis=tuple(setting.get(q, "z") for q in range(program.qubits)),
            readouts=tuple(group),
            parities=tuple(readout_qubits(program, k) for k in group),
        )
        for setting, group in zip(settings, members, strict=True)
    ]


# ---- OpenQASM 3 -------------------------------------------------------------------


def to_qasm(program: Program, phi: Any = None, *, free_params: bool = False) -> str:
    """One step of the cell from the initial state, as OpenQASM 3 that Braket runs as written.

    `input float theta_k;` per controller-fed angle (k = slot), `input float x_j;`
    per input feature when gates are `input`-fed, static params bound to `phi`
    (default: the file's values) or, with free_params, `input float phi_j;`;
    constants inlined; the readouts as `#pragma braket result expectation`
    lines in readout order, so a result's values are the step's readouts.
    Bind the inputs with `qasm_inputs`.
    """
    phi_v = None if free_params else static_angles(program, phi)
    lines = [
        "OPENQASM 3.0;",
        f"// qrnnc: model {program.model}, one step of the cell from |{program.init}>",
    ]
    lines += [f"input float theta_{k};" for k in range(program.n_controller)]
    if program.resources.input_angles:
        lines += [f"input float x_{j};" for j in range(program.input_dim)]
    if free_params:
        lines += [f"input float phi_{j};" for j in range(program.n_params)]
    lines.append(f"qubit[{program.qubits}] q;")
    if program.init == "plus":
        lines += [f"h q[{q}];" for q in range(program.qubits)]
    for name, (a, b), source, slot in zip(
        program.gates, program.wires, program.sources, program.slots, strict=True
    ):
        wires = f"q[{a}]" if b < 0 else f"q[{a}], q[{b}]"
        angle = ""
        if source == "controller":
            angle = f"(theta_{slot})"
        elif source == "input":
            angle = f"(x_{slot})"
        elif source == "param":
            angle = f"(phi_{slot})" if phi_v is None else f"({_literal(phi_v[slot])})"
        elif source == "const":
            angle = f"({_literal(program.constants[slot])})"
        lines.append(f"{GATES[name].braket}{angle} {wires};")
    for obs, (a, b) in zip(program.readout_obs, program.readout_wires, strict=True):
        if obs == "zz":
            lines.append(f"#pragma braket result expectation z(q[{a}]) @ z(q[{b}])")
        else:
            lines.append(f"#pragma braket result expectation {obs}(q[{a}])")
    return "\n".join(lines) + "\n"


def qasm_inputs(
    program: Program,
    theta: Any,
    x: Any = None,
    phi: Any = None,
    *,
    free_params: bool = False,
) -> dict[str, float]:
    """The `inputs=` that bind `to_qasm(program, free_params=...)`'s input angles."""
    theta_v, phi_v, x_v = _checked_angles(
        program, theta, phi if free_params else np.zeros(program.n_params), x
    )
    inputs = {f"theta_{k}": float(v) for k, v in enumerate(theta_v)}
    if program.resources.input_angles:
        inputs |= {f"x_{j}": float(v) for j, v in enumerate(x_v)}
    if free_params:
        inputs |= {f"phi_{j}": float(v) for j, v in enumerate(phi_v)}
    return inputs


def _literal(value: float) -> str:
    """A float as OpenQASM reads it back exactly (Python's shortest round-trip repr)."""
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"angle {value} is not finite: OpenQASM has no literal for it")
    return repr(value)
