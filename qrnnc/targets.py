"""Resolving target shorthands to wires, with located errors.

Shared by validation and lowering so that both read targets the same way.
"""

from __future__ import annotations

from qrnnc import ir
from qrnnc.errors import QrnnError

ONE_QUBIT_FORMS = "all, q[i], q[i, j], q[i..j]"
TWO_QUBIT_FORMS = "ring, chain or pairs (a, b), (c, d)"


def qubits_of(target: ir.Target, n: int, what: str) -> list[int]:
    """The qubits a one-qubit target names, in order."""
    if isinstance(target, ir.AllQubits):
        return list(range(n))
    if not isinstance(target, ir.QubitList):
        raise QrnnError(
            f"{what} acts on single qubits, but `{_form(target)}` names pairs",
            target.span,
            expected=ONE_QUBIT_FORMS,
        )
    out: list[int] = []
    for item in target.items:
        if isinstance(item, ir.QubitIndex):
            picked = [item.index]
        else:
            if item.stop < item.start:
                raise QrnnError(
                    f"range {item.start}..{item.stop} is empty",
                    item.span,
                    expected=f"a range low..high, such as {item.stop}..{item.start}",
                )
            # An out-of-range end is reported before a huge range is built.
            picked = list(range(item.start, item.stop + 1)) if item.stop < n else [item.stop]
        for q in picked:
            _check_index(q, n, item.span)
            if q in out:
                raise QrnnError(f"qubit {q} is named twice in this target", item.span)
            out.append(q)
    return out


def pairs_of(target: ir.Target, n: int, what: str) -> list[tuple[int, int]]:
    """The wire pairs a two-qubit target names, in order."""
    if isinstance(target, ir.Ring | ir.Chain):
        if n < 2:
            raise QrnnError(
                f"`{_form(target)}` needs at least 2 qubits; this model has {n}",
                target.span,
            )
        pairs = [(i, i + 1) for i in range(n - 1)]
        if isinstance(target, ir.Ring) and n > 2:
            pairs.append((n - 1, 0))
        return pairs
    if not isinstance(target, ir.PairList):
        raise QrnnError(
            f"{what} acts on pairs of qubits, but `{_form(target)}` names single qubits",
            target.span,
            expected=TWO_QUBIT_FORMS,
        )
    out: list[tuple[int, int]] = []
    for pair in target.pairs:
        _check_index(pair.a, n, pair.span)
        _check_index(pair.b, n, pair.span)
        if pair.a == pair.b:
            raise QrnnError(
                f"{what} needs two different qubits, but this pair is ({pair.a}, {pair.b})",
                pair.span,
            )
        out.append((pair.a, pair.b))
    return out


def _check_index(q: int, n: int, span: ir.Span | None) -> None:
    if not 0 <= q < n:
        raise QrnnError(
            f"qubit {q} is out of range for a model with {n} qubit{'s' if n != 1 else ''}",
            span,
            expected=f"a qubit index from 0 to {n - 1}",
        )


def _form(target: ir.Target) -> str:
    return {"all": "all", "qubits": "q[...]", "ring": "ring", "chain": "chain"}.get(
        target.kind, "(a, b)"
    )
