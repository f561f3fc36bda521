"""Checks across statements, on the IR (from text or from JSON alike).

Parsing has already checked each statement on its own; this pass checks what
needs the whole model or file: targets against the qubit count, gate arity,
angle sources, readouts, the size after `repeat`, model names and the task.
"""

from __future__ import annotations

from collections.abc import Iterator

from qrnnc import ir
from qrnnc.errors import QrnnError
from qrnnc.gates import GATES
from qrnnc.targets import pairs_of, qubits_of

MAX_GATES = 100_000  # gates per step, after `repeat` expansion and target resolution

# What each task feeds in and reads out.
TOKEN_TASKS = {"copying", "imdb", "ptb", "translation"}
PER_STEP_TASKS = {"copying", "ptb", "translation"}
FEATURE_DIMS = {"adding": {2}, "smnist": {1, 2, 4, 7, 8, 14, 16, 28}, "psmnist": {1}}


def validate(doc: ir.IR) -> None:
    """Raise `QrnnError` at the first problem; return None when the file is sound."""
    seen: dict[str, ir.Model] = {}
    for model in doc.models:
        if model.name in seen:
            first = seen[model.name].name_span
            raise QrnnError(
                f"model '{model.name}' is defined twice"
                + (f"; the first is at line {first.line}" if first else ""),
                model.name_span,
            )
        seen[model.name] = model
        validate_model(model)
    _check_seq2seq(doc, seen)
    if doc.task is not None:
        for model in _models_with_heads(doc, seen):
            _check_task_fit(model, doc.task)


def validate_model(model: ir.Model) -> None:
    n = model.qubits
    size = _expanded_size(model.cell, n)
    if size > MAX_GATES:
        raise QrnnError(
            f"the cell of model {model.name} expands to {size} gates per step",
            model.name_span,
            expected=f"at most {MAX_GATES} gates after `repeat` expansion",
        )
    parametric = 0
    for op in _written(model.cell):
        spec = GATES[op.gate]
        wires = (
            pairs_of(op.target, n, op.gate) if spec.two_qubit else qubits_of(op.target, n, op.gate)
        )
        if spec.parametric:
            parametric += 1
        if op.source is not None and not spec.parametric:
            raise QrnnError(
                f"gate {op.gate} takes no angle; remove `<- ...`",
                op.source.span or op.span,
            )
        if op.source is None and spec.parametric:
            raise QrnnError(f"gate {op.gate} has no angle source", op.span)
        if isinstance(op.source, ir.InputSource) and len(wires) != model.input.dim:
            raise QrnnError(
                f"`{op.gate} <- input` feeds {len(wires)} angle{'s' if len(wires) != 1 else ''},"
                f" but the input gives {model.input.dim} feature"
                f"{'s' if model.input.dim != 1 else ''} per step",
                op.span,
                expected=f"a target of {model.input.dim} qubits, or an input of dim={len(wires)}",
            )
    if parametric == 0:
        raise QrnnError(
            f"model {model.name} has no parametrized gate, so nothing in its cell can learn",
            model.cell_span or model.name_span,
            expected="a rotation such as `ry all`, with its angle from the controller",
        )
    for readout in model.readouts:
        _check_readout(readout, n)


def walk(ops: tuple[ir.CellOp, ...]) -> Iterator[ir.GateOp]:
    """Gate ops in program order, with `repeat` expanded."""
    for op in ops:
        if isinstance(op, ir.RepeatOp):
            for _ in range(op.count):
                yield from walk(op.body)
        else:
            yield op


def _written(ops: tuple[ir.CellOp, ...]) -> Iterator[ir.GateOp]:
    """Gate ops as written, each once: checks need not see every repetition."""
    for op in ops:
        if isinstance(op, ir.RepeatOp):
            yield from _written(op.body)
        else:
            yield op


def _expanded_size(ops: tuple[ir.CellOp, ...], n: int) -> int:
    """Gates after expansion, refusing the first `repeat` that is too big."""
    total = 0
    for op in ops:
        if isinstance(op, ir.RepeatOp):
            size = op.count * _expanded_size(op.body, n)
        else:
            size = _width(op.target, n)
        if size > MAX_GATES:
            raise QrnnError(
                f"this {'repeat' if isinstance(op, ir.RepeatOp) else 'gate'}"
                f" expands to {size} gates per step",
                op.span,
                expected=f"at most {MAX_GATES} gates after `repeat` expansion",
            )
        total += size
    return total


def _width(target: ir.Target, n: int) -> int:
    """How many gates a target makes, counted without building it (ranges may be huge)."""
    if isinstance(target, ir.AllQubits):
        return n
    if isinstance(target, ir.Ring):
        return n if n > 2 else 1
    if isinstance(target, ir.Chain):
        return max(n - 1, 0)
    if isinstance(target, ir.PairList):
        return len(target.pairs)
    return sum(
        # A range past the last qubit is reported as such when targets are resolved.
        min(max(item.stop - item.start + 1, 1), n) if isinstance(item, ir.QubitRange) else 1
        for item in target.items
    )


def _check_readout(readout: ir.Readout, n: int) -> None:
    pair_obs = [o for o in readout.observables if o == "zz"]
    qubit_obs = [o for o in readout.observables if o != "zz"]
    if pair_obs and qubit_obs:
        raise QrnnError(
            f"`zz` reads pairs and `{qubit_obs[0]}` reads single qubits;"
            " write them as two readout statements",
            readout.span,
            expected="readout x, y, z on all   and   readout zz on ring",
        )
    seen: set[str] = set()
    for obs in readout.observables:
        if obs in seen:
            raise QrnnError(f"observable {obs} is listed twice in this readout", readout.span)
        seen.add(obs)
    if pair_obs:
        pairs_of(readout.target, n, "readout zz")
    else:
        qubits_of(readout.target, n, f"readout {qubit_obs[0]}")


def _check_seq2seq(doc: ir.IR, models: dict[str, ir.Model]) -> None:
    s2s = doc.seq2seq
    is_translation = isinstance(doc.task, ir.TranslationTask)
    if s2s is None:
        if is_translation:
            raise QrnnError(
                "task translation needs an encoder and a decoder",
                doc.task.span,
                expected="seq2seq(encoder=NAME, decoder=NAME, attention=dot)",
            )
        return
    for role in ("encoder", "decoder"):
        name = getattr(s2s, role)
        if name not in models:
            raise QrnnError(
                f"seq2seq {role} '{name}' is not a model in this file",
                s2s.span,
                expected="one of " + ", ".join(models),
            )
    if s2s.encoder == s2s.decoder:
        raise QrnnError("seq2seq needs two different models as encoder and decoder", s2s.span)
    if doc.task is not None and not is_translation:
        raise QrnnError(
            f"seq2seq models serve the translation task, not task {doc.task.name}", s2s.span
        )
    for role in ("encoder", "decoder"):
        model = models[getattr(s2s, role)]
        if model.input.kind != "tokens":
            side = "source" if role == "encoder" else "target"
            raise QrnnError(
                f"{role} {model.name} reads {side} tokens; give it `input tokens(...)`",
                model.input.span or model.name_span,
            )


def _models_with_heads(doc: ir.IR, models: dict[str, ir.Model]) -> list[ir.Model]:
    """The models whose outputs the task reads (an encoder's go to attention)."""
    if doc.seq2seq is not None:
        return [models[doc.seq2seq.decoder]]
    return list(doc.models)


def _check_task_fit(model: ir.Model, task: ir.Task) -> None:
    if model.head is None:
        mode = "per_step" if task.name in PER_STEP_TASKS else "last"
        raise QrnnError(
            f"model {model.name} has no head, but task {task.name} reads its outputs",
            model.name_span,
            expected=f"head linear {mode}",
        )
    want_mode = "per_step" if task.name in PER_STEP_TASKS else "last"
    if model.head.mode != want_mode:
        per = "a prediction at every step" if want_mode == "per_step" else "one label a sequence"
        raise QrnnError(
            f"task {task.name} needs {per},"
            f" but the head of model {model.name} is {model.head.mode}",
            model.head.span,
            expected=f"head {model.head.kind} {want_mode}",
        )
    if task.name in TOKEN_TASKS and model.input.kind != "tokens":
        raise QrnnError(
            f"task {task.name} feeds tokens, but model {model.name} reads features",
            model.input.span,
            expected="input tokens(vocab=..., embed=...)",
        )
    if task.name in FEATURE_DIMS:
        dims = FEATURE_DIMS[task.name]
        if model.input.kind != "features" or model.input.dim not in dims:
            want = " or ".join(f"features(dim={d})" for d in sorted(dims))
            raise QrnnError(
                f"task {task.name} feeds {_feature_words(task.name)} per step",
                model.input.span,
                expected=f"input {want}",
            )
    if isinstance(task, ir.CopyingTask) and model.input.vocab < task.symbols + 2:
        raise QrnnError(
            f"task copying uses {task.symbols} symbols plus blank and delimiter,"
            f" but the input vocabulary has {model.input.vocab}",
            model.input.span,
            expected=f"input tokens(vocab={task.symbols + 2}, ...) or more",
        )


def _feature_words(task: str) -> str:
    return {
        "adding": "2 numbers (value, marker)",
        "smnist": "pixels (784 in all, split evenly over the steps)",
        "psmnist": "1 permuted pixel",
    }[task]
