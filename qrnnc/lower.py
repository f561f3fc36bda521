"""IR model -> Program: expand `repeat`, resolve targets, number slots, count.

Assumes a validated model (`qrnnc.validate`); `qrnnc.compile_ir` runs both.
"""

from __future__ import annotations

from collections import Counter

from qrnnc import ir
from qrnnc.gates import GATES
from qrnnc.program import Program, Resources
from qrnnc.targets import pairs_of, qubits_of
from qrnnc.validate import walk


def lower(model: ir.Model) -> Program:
    n = model.qubits
    gates: list[str] = []
    wires: list[tuple[int, int]] = []
    sources: list[str] = []
    slots: list[int] = []
    param_init: list[float | None] = []
    constants: list[float] = []
    n_controller = n_input = 0
    resolved: dict[int, list[tuple[int, int]]] = {}  # per written op, reused by repeats
    for op in walk(model.cell):
        spec = GATES[op.gate]
        if id(op) not in resolved:
            resolved[id(op)] = (
                pairs_of(op.target, n, op.gate)
                if spec.two_qubit
                else [(q, -1) for q in qubits_of(op.target, n, op.gate)]
            )
        for k, w in enumerate(resolved[id(op)]):
            gates.append(op.gate)
            wires.append(w)
            src = op.source
            if src is None:
                sources.append("none")
                slots.append(-1)
            elif isinstance(src, ir.ControllerSource):
                sources.append("controller")
                slots.append(n_controller)
                n_controller += 1
            elif isinstance(src, ir.ParamSource):
                sources.append("param")
                slots.append(len(param_init))
                param_init.append(src.init)
            elif isinstance(src, ir.ConstSource):
                sources.append("const")
                slots.append(len(constants))
                constants.append(src.value)
            else:  # input: feature k feeds the k-th target
                sources.append("input")
                slots.append(k)
                n_input += 1
    readout_obs: list[str] = []
    readout_wires: list[tuple[int, int]] = []
    for readout in model.readouts:
        for obs in readout.observables:
            if obs == "zz":
                targets = pairs_of(readout.target, n, "readout zz")
            else:
                targets = [(q, -1) for q in qubits_of(readout.target, n, f"readout {obs}")]
            readout_obs.extend([obs] * len(targets))
            readout_wires.extend(targets)
    depth, depth2 = _depths(wires, n)
    counts = Counter(gates)
    resources = Resources(
        qubits=n,
        gates=len(gates),
        gate_counts={g: counts[g] for g in GATES if counts[g]},
        two_qubit_gates=sum(1 for w in wires if w[1] >= 0),
        controller_angles=n_controller,
        static_params=len(param_init),
        constants=len(constants),
        input_angles=n_input,
        readouts=len(readout_obs),
        depth=depth,
        two_qubit_depth=depth2,
    )
    return Program(
        model=model.name,
        qubits=n,
        init=model.init,
        precision=model.precision,
        shots=model.shots,
        input_kind=model.input.kind,
        input_dim=model.input.dim,
        gates=tuple(gates),
        wires=tuple(wires),
        sources=tuple(sources),
        slots=tuple(slots),
        param_init=tuple(param_init),
        constants=tuple(constants),
        readout_obs=tuple(readout_obs),
        readout_wires=tuple(readout_wires),
        resources=resources,
    )


def _depths(wires: list[tuple[int, int]], n: int) -> tuple[int, int]:
    """Circuit depth and two-qubit depth, scheduling each gate as early as it can go."""
    level = [0] * n
    level2 = [0] * n
    for a, b in wires:
        if b < 0:
            level[a] += 1
            continue
        top = max(level[a], level[b]) + 1
        level[a] = level[b] = top
        top2 = max(level2[a], level2[b]) + 1
        level2[a] = level2[b] = top2
    return max(level, default=0), max(level2, default=0)
