"""Does a Program fit a Braket device? Checked from the device's properties.

    problems = check_fit(program, "garnet.json")     # [] when it fits
    problems = check_fit(program, device_properties(ARN))   # asks AWS

The properties are what `AwsDevice(ARN).properties.json()` returns: saved once
where credentials are at hand and checked offline, or read online by
`device_properties`. `fixtures/iqm_like_6q.json` is a small hand-written
example in the same schema. The checks:

- qubits: the program's count against `paradigm.qubitCount`;
- gates: the Braket gates each DSL gate is sent as (`lower.gate_instructions`
  with the runner's `controlled` setting: crx, cry, crz decomposed into
  rotations and cz/cnot by default, or `ctrl @` gates, which also need the
  `ctrl` modifier) among the OpenQASM action's `supportedOperations`; with
  `verbatim`, among `paradigm.nativeGateSet`, since nothing compiles them;
- readouts: with shots, the basis changes before measurement (h for x, si and
  h for y) among the supported operations; exact (shots 0, simulators only),
  x, y, z among the observables of the `Expectation` result type;
- connectivity: each two-qubit pair coupled in `paradigm.connectivity`, with
  program qubit i placed on the device's i-th qubit (labels in numeric order).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qrnnc.backends.braket import lower
from qrnnc.backends.braket.cost import aws_device
from qrnnc.backends.braket.runner import DEFAULT_CONTROLLED
from qrnnc.errors import QrnnError
from qrnnc.gates import GATES
from qrnnc.program import Program

OPENQASM = "braket.ir.openqasm.program"
FIXTURE = Path(__file__).parent / "fixtures" / "iqm_like_6q.json"
_READOUT_OBSERVABLE = {"x": "x", "y": "y", "z": "z", "zz": "z"}


class FitError(QrnnError):
    """Device properties that cannot be read."""


def load_properties(properties: Mapping[str, Any] | str | os.PathLike[str] | Any) -> dict[str, Any]:
    """Device properties as plain JSON data, from a dict, a file, or a braket schema object."""
    if isinstance(properties, Mapping):
        return dict(properties)
    if hasattr(properties, "json") and callable(properties.json):  # braket.device_schema object
        return json.loads(properties.json())
    path = Path(properties)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise FitError(
            f"cannot read device properties: {e.strerror or e}", file=str(path)
        ) from None
    except json.JSONDecodeError as e:
        raise FitError(f"not JSON: {e.msg} at line {e.lineno}", file=str(path)) from None
    if not isinstance(data, dict) or "paradigm" not in data or "action" not in data:
        raise FitError(
            "not Braket device properties (no `paradigm` and `action`); save them with"
            " `AwsDevice(ARN).properties.json()`",
            file=str(path),
        )
    return data


def device_properties(arn: str) -> dict[str, Any]:
    """The properties of an AWS Braket device, read online (boto3 finds the credentials)."""
    try:
        device = aws_device(arn)
        return load_properties(device.properties)
    except FitError:
        raise
    except Exception as e:  # no credentials, no network, no such device: say which
        raise FitError(
            f"cannot read the properties of {arn}: {type(e).__name__}: {e}; check the ARN and"
            " your AWS credentials, or pass --properties FILE saved where they work",
            file="--device",
        ) from None


def check_fit(
    program: Program,
    properties: Mapping[str, Any] | str | os.PathLike[str] | Any,
    *,
    verbatim: bool = False,
    controlled: lower.Controlled = DEFAULT_CONTROLLED,
    exact: bool = False,
) -> list[str]:
    """What keeps `program` from running on the device as it is; empty when nothing does.

    controlled: how crx, cry and crz are sent, as `BraketRunner` does.
    exact: check the shots-0 path (Expectation result types) instead of the
      measured one (basis changes and measurement), which a QPU runs.
    """
    props = load_properties(properties)
    paradigm = props.get("paradigm") or {}
    problems: list[str] = []
    count = paradigm.get("qubitCount")
    if isinstance(count, int) and program.qubits > count:
        problems.append(
            f"the program has {program.qubits} qubits; the device has {count}: use at most {count}"
        )
    action = (props.get("action") or {}).get(OPENQASM)
    if action is None:
        actions = ", ".join(props.get("action") or {}) or "none"
        problems.append(f"the device takes no OpenQASM programs (its actions: {actions})")
    else:
        problems += _gate_problems(program, action, controlled)
        problems += _readout_problems(program, action, exact)
    if verbatim:
        problems += _native_problems(program, paradigm.get("nativeGateSet") or [], controlled)
    problems += _connectivity_problems(program, paradigm.get("connectivity") or {}, verbatim)
    return problems


def sent_as(gate: str, controlled: lower.Controlled) -> list[str]:
    """The Braket gates DSL `gate` is sent as, OpenQASM names (`ctrl @ rx` for a modifier)."""
    spec = GATES[gate]
    instructions = lower.gate_instructions(
        gate, tuple(range(spec.wires)), 0.5 if spec.parametric else None, controlled=controlled
    )
    return list(dict.fromkeys(_qasm_name(i) for i in instructions))


def _operations(action: Mapping[str, Any]) -> set[str]:
    """The OpenQASM action's supported operations, in lower case."""
    return {op.lower() for op in action.get("supportedOperations") or []}


def _qasm_name(instruction: Any) -> str:
    name = instruction.operator.name.lower()
    return f"{lower.CONTROL}{name}" if len(instruction.control) else name


def _gate_problems(
    program: Program, action: Mapping[str, Any], controlled: lower.Controlled
) -> list[str]:
    ops = _operations(action)
    modifiers = {m.get("name") for m in action.get("supportedModifiers") or []}
    problems = []
    for gate, n in Counter(program.gates).items():
        names = sent_as(gate, controlled)
        whys = []
        for name in names:
            base = name.removeprefix(lower.CONTROL)
            if base not in ops:
                whys.append(f"`{base}` is not among its supported operations")
            elif base != name and "ctrl" not in modifiers:
                whys.append("it takes no `ctrl @` modifier")
        if not whys:
            continue
        sent = f"Braket `{names[0]}`" if len(names) == 1 else f"sent as {', '.join(names)}"
        remedy = f"rewrite the cell with gates it supports ({', '.join(sorted(ops))})"
        if controlled == "modifier" and GATES[gate].braket.startswith(lower.CONTROL):
            remedy += ", or send it decomposed (controlled='decompose')"
        problems.append(
            f"gate {gate} ({n} per step) is {sent}, which the device does not take:"
            f" {'; '.join(whys)}; {remedy}"
        )
    return problems


def _readout_problems(program: Program, action: Mapping[str, Any], exact: bool) -> list[str]:
    if not exact:
        ops = _operations(action)
        need = {_qasm_name(i) for basis in lower.bases(program) for i in basis.rotation()}
        missing = sorted(need - ops)
        if not missing:
            return []
        return [
            f"x and y readouts are measured after the basis changes {', '.join(sorted(need))};"
            f" the device does not take {', '.join(missing)}: read out z only"
        ]
    expectation = next(
        (rt for rt in action.get("supportedResultTypes") or [] if rt.get("name") == "Expectation"),
        None,
    )
    if expectation is None:
        return ["the device returns no Expectation results; exact readouts need them"]
    have = {o.lower() for o in expectation.get("observables") or []}
    missing = sorted({_READOUT_OBSERVABLE[o] for o in program.readout_obs} - have)
    if not missing:
        return []
    return [f"readouts need the observables {', '.join(missing)}, which the device cannot measure"]


def _native_problems(
    program: Program, native: list[str], controlled: lower.Controlled
) -> list[str]:
    natives = {g.lower() for g in native}
    foreign = [
        g for g in dict.fromkeys(program.gates) if not set(sent_as(g, controlled)) <= natives
    ]
    if not foreign:
        return []
    return [
        f"verbatim circuits run native gates only ({', '.join(sorted(natives))}); the cell uses"
        f" {', '.join(foreign)}: run without verbatim so the device compiles them"
    ]


def _connectivity_problems(program: Program, conn: Mapping[str, Any], verbatim: bool) -> list[str]:
    graph: Mapping[str, list[str]] = conn.get("connectivityGraph") or {}
    if conn.get("fullyConnected") or not graph:
        return []
    edges = {frozenset((a, b)) for a, bs in graph.items() for b in bs}
    labels = sorted({q for e in edges for q in e}, key=_label_key)
    pairs = list(dict.fromkeys(tuple(w) for w in program.wires if w[1] >= 0))
    missing = [
        (a, b, labels[a], labels[b])
        for a, b in pairs
        if max(a, b) < len(labels) and frozenset((labels[a], labels[b])) not in edges
    ]
    if not missing:
        return []
    shown = ", ".join(f"({a},{b}) -> {x}-{y}" for a, b, x, y in missing)
    coupled = ", ".join(sorted(("-".join(sorted(e, key=_label_key)) for e in edges), key=_pair_key))
    remedy = (
        "verbatim circuits are not routed: use pairs that follow the coupling"
        if verbatim
        else "the device's compiler may route them through SWAPs (more depth and error),"
        " or use pairs that follow the coupling (e.g. `chain` rather than `ring`)"
    )
    return [
        f"{len(missing)} of the cell's {len(pairs)} two-qubit pairs are not coupled on the"
        f" device, with program qubit i on its i-th qubit: {shown}; {remedy};"
        f" coupled pairs: {coupled}"
    ]


def _label_key(label: str) -> tuple[int, int | str]:
    return (0, int(label)) if label.isdigit() else (1, label)


def _pair_key(pair: str) -> list[tuple[int, int | str]]:
    return [_label_key(q) for q in pair.split("-")]
