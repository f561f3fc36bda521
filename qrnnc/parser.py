"""Text -> parse tree -> IR.

`parse_tree` runs the LALR parser on `grammar/qrnn.lark` and turns lark's
errors into `QrnnError`s; `parse` adds the Transformer that builds IR nodes.
Checks that need only one statement (argument names and types, kinds, value
ranges) happen here; checks across statements live in `qrnnc.validate`.
"""

from __future__ import annotations

import difflib
import math
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
from pydantic import BaseModel, ValidationError

from qrnnc import ir
from qrnnc.errors import QrnnError, Span
from qrnnc.gates import GATE_NAMES, GATES

MAX_DEPTH = 64  # brackets of any kind; deeper input is refused before parsing
# The tree walk after parsing recurses; chains such as `- - - pi` or `1+1+...`
# nest without brackets, so the tree's own depth is bounded too.
MAX_TREE_DEPTH = 300
MAX_INT = 2**63 - 1

INPUTS: dict[str, type[BaseModel]] = {"tokens": ir.TokenInput, "features": ir.FeatureInput}
CONTROLLERS: dict[str, type[BaseModel]] = {
    "linear": ir.LinearController,
    "mlp": ir.MlpController,
    "glu": ir.GluController,
}
HEADS: dict[str, type[BaseModel]] = {"linear": ir.LinearHead, "mlp": ir.MlpHead}
TASKS: dict[str, type[BaseModel]] = {
    cls.model_fields["name"].default: cls
    for cls in (
        ir.CopyingTask,
        ir.AddingTask,
        ir.SmnistTask,
        ir.PsmnistTask,
        ir.ImdbTask,
        ir.PtbTask,
        ir.TranslationTask,
    )
}
# Fields set by the syntax itself, never by `key=value`.
_NOT_ARGS = {"span", "kind", "name", "mode", "name_span", "cell_span"}


def grammar_text() -> str:
    return (resources.files("qrnnc.grammar") / "qrnn.lark").read_text(encoding="utf-8")


@cache
def parser() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse_tree(text: str) -> Tree:
    """The lark parse tree of `text`; syntax errors raise `QrnnError`."""
    _check_depth(text)
    try:
        tree = parser().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(e, text) from None
    _check_tree_depth(tree)
    return tree


def parse(text: str, file: str | None = None) -> ir.IR:
    """Parse `text` into the IR (not yet validated across statements)."""
    tree = parse_tree(text)
    try:
        return ToIR(file).transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, QrnnError):
            raise e.orig_exc from None
        raise


# ---- pre-checks ------------------------------------------------------------------


def _check_depth(text: str) -> None:
    """Refuse absurd nesting up front: the tree walk after parsing is recursive."""
    depth = 0
    line, col = 1, 0
    in_comment = in_string = False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
            in_comment = in_string = False
            continue
        if in_comment:
            continue
        if in_string:
            in_string = ch != '"'
            continue
        if ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch in "{([":
            depth += 1
            if depth > MAX_DEPTH:
                raise QrnnError(
                    f"nesting is more than {MAX_DEPTH} levels deep here",
                    _point(line, col),
                    expected=f"at most {MAX_DEPTH} nested brackets or blocks",
                )
        elif ch in "})]":
            depth = max(0, depth - 1)


def _check_tree_depth(tree: Tree) -> None:
    stack: list[tuple[Tree, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise QrnnError(
                "this expression or block nests too deeply",
                _meta_span(node.meta),
                expected="a simpler angle expression, or fewer nested blocks",
            )
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


# ---- syntax errors -----------------------------------------------------------------

_DESCRIBE = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": 'a string ("...")',
    "$END": "end of file",
}


def _terminal_text(name: str) -> str:
    if name in _DESCRIBE:
        return _DESCRIBE[name]
    for t in parser().terminals:
        if t.name == name and t.pattern.type == "str":
            return f"'{t.pattern.value}'"
    return name


def _expected(names: set[str]) -> tuple[set[str], str]:
    words = {_terminal_text(n) for n in names}
    gates = {f"'{g}'" for g in GATE_NAMES}
    if gates <= words:
        words = (words - gates) | {"a gate (" + " ".join(GATE_NAMES) + ")"}
    return words, ", ".join(sorted(words))


def _syntax_error(e: UnexpectedInput, text: str) -> QrnnError:
    if isinstance(e, UnexpectedCharacters):
        # The basic lexer would list every terminal as "allowed": not worth showing.
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        return QrnnError(f"unexpected character {ch!r}", _point(e.line, e.column))
    if not isinstance(e, UnexpectedToken):  # UnexpectedEOF: lark's other parsers only
        return QrnnError("unexpected end of file", _end_of(text))
    tok = e.token
    words, expected = _expected(_acceptable(e))
    if tok.type == "$END":
        return QrnnError("unexpected end of file", _end_of(text), expected=expected)
    span = _token_span(tok)
    value = str(tok.value)
    is_word = value[:1].isalpha() or value[:1] == "_"
    if tok.type != "NAME" and is_word and "'}'" in words:
        return QrnnError(
            f"unexpected keyword '{value}' here; is a closing '}}' missing before it?",
            span,
            expected=expected,
        )
    if is_word and any(w.startswith("a gate") for w in words):
        return QrnnError(
            f"unknown gate '{value}'{_did_you_mean(value, GATE_NAMES)}", span, expected=expected
        )
    statements = {"'qubits'", "'cell'", "'readout'"}
    if is_word and statements <= words:
        options = [w.strip("'") for w in words if w.startswith("'") and w != "'}'"]
        return QrnnError(
            f"unknown statement '{value}' in a model{_did_you_mean(value, options)}",
            span,
            expected=expected,
        )
    if is_word and {"'model'", "'task'", "'train'"} <= words:
        options = ["model", "task", "train", "seq2seq"]
        return QrnnError(
            f"unknown keyword '{value}' at the top level{_did_you_mean(value, options)}",
            span,
            expected=expected,
        )
    if tok.type == "NAME" or not is_word:
        return QrnnError(f"unexpected '{value}'", span, expected=expected)
    return QrnnError(f"unexpected keyword '{value}'", span, expected=expected)


def _acceptable(e: UnexpectedToken) -> set[str]:
    """The terminals that truly fit here.

    LALR's `expected` also holds tokens of states reached by default
    reductions, so it can name statements of another block; the interactive
    parser tries each terminal on a copy and keeps only the ones that fit.
    """
    if e.interactive_parser is not None:
        try:
            return set(e.interactive_parser.accepts())
        except UnexpectedInput:
            pass
    return set(e.expected)


def _did_you_mean(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word.lower(), list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _point(line: int, column: int) -> Span:
    return Span(line=line, column=column, end_line=line, end_column=column + 1)


def _end_of(text: str) -> Span:
    lines = text.split("\n")
    return _point(len(lines), len(lines[-1]) + 1)


def _token_span(tok: Token) -> Span:
    return Span(line=tok.line, column=tok.column, end_line=tok.end_line, end_column=tok.end_column)


def _meta_span(meta: Any) -> Span | None:
    if getattr(meta, "empty", True):
        return None
    return Span(
        line=meta.line, column=meta.column, end_line=meta.end_line, end_column=meta.end_column
    )


# ---- tree -> IR -----------------------------------------------------------------------


class Arg(NamedTuple):
    key: str
    value: Any
    key_span: Span
    value_span: Span | None


class Call(NamedTuple):
    name: str
    name_span: Span
    args: dict[str, Arg]
    span: Span | None


class Stmt(NamedTuple):
    """A model statement before the model node is assembled."""

    kind: str
    value: Any
    span: Span | None


def build(cls: type[BaseModel], args: dict[str, Arg], what: str, at: Span | None, **fixed: Any):
    """Construct `cls` from `key=value` args, with located errors for bad ones."""
    allowed = [f for f in cls.model_fields if f not in _NOT_ARGS]
    for arg in args.values():
        if arg.key not in allowed:
            hint = ", ".join(allowed) if allowed else "no arguments"
            raise QrnnError(
                f"unknown argument '{arg.key}' for {what}{_did_you_mean(arg.key, allowed)}",
                arg.key_span,
                expected=hint,
            )
    missing = [f for f in allowed if cls.model_fields[f].is_required() and f not in args]
    if missing:
        raise QrnnError(
            f"{what} needs argument{'s' if len(missing) > 1 else ''} "
            + ", ".join(f"{m}=..." for m in missing),
            at,
        )
    values = {k: a.value for k, a in args.items()}
    try:
        # strict: a string or a float is never quietly turned into an int.
        return cls.model_validate({"span": at, **fixed, **values}, strict=True)
    except ValidationError as e:
        err = e.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else ""
        arg = args.get(key)
        msg = err["msg"][:1].lower() + err["msg"][1:]
        if arg is None:
            raise QrnnError(f"{what}: {msg}", at) from None
        raise QrnnError(
            f"bad value for {key} in {what}: {msg}", arg.value_span or arg.key_span
        ) from None


def _integer(tok: Token) -> int:
    digits = str(tok).lstrip("0") or "0"
    if len(digits) > 19 or int(digits) > MAX_INT:
        raise QrnnError(
            "integer is too large", _token_span(tok), expected=f"an integer up to {MAX_INT}"
        )
    return int(digits)


def _number(tok: Token) -> float:
    if tok.type == "INT":
        value = float(_integer(tok))
    else:
        value = float(tok)
    if not math.isfinite(value):
        raise QrnnError("number is too large", _token_span(tok))
    return value


def _angle_value(value: float, span: Span | None) -> float:
    if not math.isfinite(value):
        raise QrnnError("angle is not a finite number", span)
    return value


class ToIR(Transformer):
    """One method per grammar rule; each returns an IR node or a plain value."""

    def __init__(self, file: str | None) -> None:
        super().__init__()
        self.file = file

    # -- top level
    def start(self, items: list[Any]) -> ir.IR:
        models = tuple(x for x in items if isinstance(x, ir.Model))
        singles: dict[str, Any] = {}
        for item in items:
            if isinstance(item, ir.Model):
                continue
            label = {ir.Train: "train", ir.Seq2Seq: "seq2seq"}.get(type(item), "task")
            if label in singles:
                first = singles[label].span
                raise QrnnError(
                    f"a file has at most one `{label}` statement"
                    + (f"; the first is at line {first.line}" if first else ""),
                    item.span,
                )
            singles[label] = item
        if not models:
            raise QrnnError(
                "no model in this file",
                _point(1, 1),
                expected="a block `model NAME { qubits N ... }`",
            )
        return ir.IR(
            file=self.file,
            models=models,
            task=singles.get("task"),
            train=singles.get("train"),
            seq2seq=singles.get("seq2seq"),
        )

    @v_args(meta=True)
    def task(self, meta: Any, children: list[Any]) -> Any:
        (call,) = children
        cls = TASKS.get(call.name)
        if cls is None:
            raise QrnnError(
                f"unknown task '{call.name}'{_did_you_mean(call.name, TASKS)}",
                call.name_span,
                expected=", ".join(TASKS),
            )
        return build(cls, call.args, f"task {call.name}", _meta_span(meta))

    @v_args(meta=True)
    def train(self, meta: Any, children: list[Any]) -> ir.Train:
        args = children[0] if children else {}
        return build(ir.Train, args, "train", _meta_span(meta))

    @v_args(meta=True)
    def seq2seq(self, meta: Any, children: list[Any]) -> ir.Seq2Seq:
        args = children[0] if children else {}
        return build(ir.Seq2Seq, args, "seq2seq", _meta_span(meta))

    # -- models
    @v_args(meta=True)
    def model(self, meta: Any, children: list[Any]) -> ir.Model:
        name_tok, *stmts = children
        name_span = _token_span(name_tok)
        fields: dict[str, Any] = {}
        seen: dict[str, Stmt] = {}
        readouts: list[ir.Readout] = []
        for stmt in stmts:
            if stmt.kind == "readout":
                readouts.append(stmt.value)
                continue
            if stmt.kind in seen:
                first = seen[stmt.kind].span
                raise QrnnError(
                    f"`{stmt.kind}` is given twice in model {name_tok}"
                    + (f"; the first is at line {first.line}" if first else ""),
                    stmt.span,
                )
            seen[stmt.kind] = stmt
            fields[stmt.kind] = stmt.value
        required = {"qubits": "qubits N", "input": "input tokens(...) or input features(...)",
                    "cell": "cell { ... }"}  # fmt: skip
        for key, example in required.items():
            if key not in fields:
                raise QrnnError(
                    f"model {name_tok} has no `{key}` statement", name_span, expected=example
                )
        if not readouts:
            raise QrnnError(
                f"model {name_tok} has no `readout` statement",
                name_span,
                expected="readout x, y, z on all",
            )
        return ir.Model(
            name=str(name_tok),
            name_span=name_span,
            cell_span=seen["cell"].span,
            span=_meta_span(meta),
            readouts=tuple(readouts),
            **fields,
        )

    @v_args(meta=True)
    def qubits(self, meta: Any, children: list[Any]) -> Stmt:
        (tok,) = children
        n = _integer(tok)
        if not 1 <= n <= ir.MAX_QUBITS:
            raise QrnnError(
                f"qubits {n} is out of range",
                _token_span(tok),
                expected=f"1 to {ir.MAX_QUBITS} qubits (the statevector has 2^n entries)",
            )
        return Stmt("qubits", n, _meta_span(meta))

    @v_args(meta=True)
    def init(self, meta: Any, children: list[Any]) -> Stmt:
        return Stmt("init", self._choice(children[0], ("zero", "plus"), "init"), _meta_span(meta))

    @v_args(meta=True)
    def precision(self, meta: Any, children: list[Any]) -> Stmt:
        choices = ("complex64", "complex128")
        return Stmt("precision", self._choice(children[0], choices, "precision"), _meta_span(meta))

    @v_args(meta=True)
    def shots(self, meta: Any, children: list[Any]) -> Stmt:
        (tok,) = children
        n = _integer(tok)
        if n < 1:
            raise QrnnError(
                "shots must be at least 1", _token_span(tok), expected="shots N, N >= 1"
            )
        return Stmt("shots", n, _meta_span(meta))

    @staticmethod
    def _choice(tok: Token, choices: tuple[str, ...], what: str) -> str:
        if str(tok) not in choices:
            raise QrnnError(
                f"unknown {what} '{tok}'{_did_you_mean(str(tok), choices)}",
                _token_span(tok),
                expected=" or ".join(choices),
            )
        return str(tok)

    @v_args(meta=True)
    def input(self, meta: Any, children: list[Any]) -> Stmt:
        node = self._kind(children[0], INPUTS, "input")
        return Stmt("input", node, _meta_span(meta))

    @v_args(meta=True)
    def controller(self, meta: Any, children: list[Any]) -> Stmt:
        node = self._kind(children[0], CONTROLLERS, "controller")
        return Stmt("controller", node, _meta_span(meta))

    @v_args(meta=True)
    def head(self, meta: Any, children: list[Any]) -> Stmt:
        call, mode = children
        node = self._kind(call, HEADS, "head", mode=mode)
        return Stmt("head", node, _meta_span(meta))

    @staticmethod
    def _kind(call: Call, table: dict[str, type[BaseModel]], what: str, **fixed: Any) -> Any:
        cls = table.get(call.name)
        if cls is None:
            raise QrnnError(
                f"unknown {what} kind '{call.name}'{_did_you_mean(call.name, table)}",
                call.name_span,
                expected=" or ".join(table),
            )
        return build(cls, call.args, f"{what} {call.name}", call.span, **fixed)

    def head_mode(self, children: list[Token]) -> str:
        return str(children[0])

    # -- cell
    @v_args(meta=True)
    def cell(self, meta: Any, children: list[Any]) -> Stmt:
        return Stmt("cell", children[0], _meta_span(meta))

    def block(self, children: list[Any]) -> tuple[Any, ...]:
        return tuple(children)

    @v_args(meta=True)
    def repeat(self, meta: Any, children: list[Any]) -> ir.RepeatOp:
        tok, body = children
        count = _integer(tok)
        if count < 1:
            raise QrnnError("repeat count must be at least 1", _token_span(tok))
        return ir.RepeatOp(count=count, body=body, span=_meta_span(meta))

    @v_args(meta=True)
    def gate(self, meta: Any, children: list[Any]) -> ir.GateOp:
        name, target, *rest = children
        source = rest[0] if rest else None
        if source is None and GATES[name].parametric:
            source = ir.ControllerSource()  # the default source (DESIGN.md, DSL v1)
        return ir.GateOp(gate=name, target=target, source=source, span=_meta_span(meta))

    def gate_name(self, children: list[Token]) -> str:
        return str(children[0])

    def observable(self, children: list[Token]) -> str:
        return str(children[0])

    @v_args(meta=True)
    def readout(self, meta: Any, children: list[Any]) -> Stmt:
        *observables, target = children
        node = ir.Readout(observables=tuple(observables), target=target, span=_meta_span(meta))
        return Stmt("readout", node, _meta_span(meta))

    # -- targets
    @v_args(meta=True)
    def all(self, meta: Any, children: list[Any]) -> ir.AllQubits:
        return ir.AllQubits(span=_meta_span(meta))

    @v_args(meta=True)
    def ring(self, meta: Any, children: list[Any]) -> ir.Ring:
        return ir.Ring(span=_meta_span(meta))

    @v_args(meta=True)
    def chain(self, meta: Any, children: list[Any]) -> ir.Chain:
        return ir.Chain(span=_meta_span(meta))

    @v_args(meta=True)
    def qubit_list(self, meta: Any, children: list[Any]) -> ir.QubitList:
        return ir.QubitList(items=tuple(children), span=_meta_span(meta))

    @v_args(meta=True)
    def one(self, meta: Any, children: list[Any]) -> ir.QubitIndex:
        return ir.QubitIndex(index=_integer(children[0]), span=_meta_span(meta))

    @v_args(meta=True)
    def range(self, meta: Any, children: list[Any]) -> ir.QubitRange:
        a, b = (_integer(t) for t in children)
        return ir.QubitRange(start=a, stop=b, span=_meta_span(meta))

    @v_args(meta=True)
    def pair_list(self, meta: Any, children: list[Any]) -> ir.PairList:
        return ir.PairList(pairs=tuple(children), span=_meta_span(meta))

    @v_args(meta=True)
    def pair(self, meta: Any, children: list[Any]) -> ir.Pair:
        a, b = (_integer(t) for t in children)
        return ir.Pair(a=a, b=b, span=_meta_span(meta))

    # -- sources
    @v_args(meta=True)
    def controller_source(self, meta: Any, children: list[Any]) -> ir.ControllerSource:
        return ir.ControllerSource(span=_meta_span(meta))

    @v_args(meta=True)
    def param_source(self, meta: Any, children: list[Any]) -> ir.ParamSource:
        init = _angle_value(children[0], _meta_span(meta)) if children else None
        return ir.ParamSource(init=init, span=_meta_span(meta))

    @v_args(meta=True)
    def input_source(self, meta: Any, children: list[Any]) -> ir.InputSource:
        return ir.InputSource(span=_meta_span(meta))

    @v_args(meta=True)
    def const_source(self, meta: Any, children: list[Any]) -> ir.ConstSource:
        return ir.ConstSource(
            value=_angle_value(children[0], _meta_span(meta)), span=_meta_span(meta)
        )

    # -- angles (evaluated here: the IR holds plain floats)
    def number(self, children: list[Token]) -> float:
        return _number(children[0])

    def pi(self, children: list[Any]) -> float:
        return math.pi

    def neg(self, children: list[float]) -> float:
        return -children[0]

    def add(self, children: list[float]) -> float:
        return children[0] + children[1]

    def sub(self, children: list[float]) -> float:
        return children[0] - children[1]

    def mul(self, children: list[float]) -> float:
        return children[0] * children[1]

    @v_args(meta=True)
    def div(self, meta: Any, children: list[float]) -> float:
        if children[1] == 0:
            raise QrnnError("division by zero in an angle", _meta_span(meta))
        return children[0] / children[1]

    # -- arguments
    @v_args(meta=True)
    def call(self, meta: Any, children: list[Any]) -> Call:
        name_tok, *rest = children
        args = rest[0] if rest else {}
        return Call(str(name_tok), _token_span(name_tok), args, _meta_span(meta))

    def args(self, children: list[Arg]) -> dict[str, Arg]:
        out: dict[str, Arg] = {}
        for arg in children:
            if arg.key in out:
                raise QrnnError(
                    f"argument '{arg.key}' is given twice"
                    f" (first at line {out[arg.key].key_span.line},"
                    f" column {out[arg.key].key_span.column})",
                    arg.key_span,
                )
            out[arg.key] = arg
        return out

    @v_args(meta=True)
    def arg(self, meta: Any, children: list[Any]) -> Arg:
        key, (value, span) = children
        return Arg(str(key), value, _token_span(key), span)

    @v_args(meta=True)
    def int_value(self, meta: Any, children: list[Token]) -> tuple[int, Span | None]:
        return _integer(children[0]), _meta_span(meta)

    @v_args(meta=True)
    def neg_int_value(self, meta: Any, children: list[Token]) -> tuple[int, Span | None]:
        return -_integer(children[0]), _meta_span(meta)

    @v_args(meta=True)
    def float_value(self, meta: Any, children: list[Token]) -> tuple[float, Span | None]:
        return _number(children[0]), _meta_span(meta)

    @v_args(meta=True)
    def neg_float_value(self, meta: Any, children: list[Token]) -> tuple[float, Span | None]:
        return -_number(children[0]), _meta_span(meta)

    @v_args(meta=True)
    def name_value(self, meta: Any, children: list[Token]) -> tuple[str, Span | None]:
        return str(children[0]), _meta_span(meta)

    @v_args(meta=True)
    def string_value(self, meta: Any, children: list[Token]) -> tuple[str, Span | None]:
        return str(children[0])[1:-1], _meta_span(meta)

    @v_args(meta=True)
    def list_value(self, meta: Any, children: list[Any]) -> tuple[tuple[Any, ...], Span | None]:
        return tuple(v for v, _ in children), _meta_span(meta)
