"""docs/dsl.md stays true to the compiler, and the zoo compiles.

- every ```qrnn block compiles; every ```qrnn-error block fails with a located
  `QrnnError`, and a ```text block right after one shows exactly its message;
  a ```json block shows the Program of the ```qrnn block before it;
- every row of the error tables (`| message | example |`) is the message its
  one-line example really produces;
- the reference names every gate, task, controller, head and input kind, every
  argument of each, the defaults as the IR has them, every choice of a
  `Literal` field, the reserved keywords and the limits.
"""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

import qrnnc
from qrnnc import compiled, ir, parser, validate
from qrnnc.gates import GATE_NAMES

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "dsl.md"
DOC = DOC_PATH.read_text(encoding="utf-8")
ZOO = sorted((ROOT / "zoo").glob("*/model.qrnn"))
EXAMPLE_FILE = "example.qrnn"

# Fields set by the syntax itself, never written as `key=value`.
NOT_ARGS = {"span", "kind", "name", "mode", "name_span"}


class Block(typing.NamedTuple):
    tag: str
    text: str
    line: int  # of the opening fence, 1-based


def fenced_blocks(doc: str) -> list[Block]:
    blocks = []
    fence = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
    for m in fence.finditer(doc):
        blocks.append(Block(m.group(1), m.group(2), doc.count("\n", 0, m.start()) + 1))
    return blocks


BLOCKS = fenced_blocks(DOC)


def blocks_tagged(tag: str) -> list[tuple[int, Block]]:
    return [(i, b) for i, b in enumerate(BLOCKS) if b.tag == tag]


def block_id(item: tuple[int, Block]) -> str:
    return f"dsl.md:{item[1].line}"


def compile_error(text: str) -> qrnnc.QrnnError:
    with pytest.raises(qrnnc.QrnnError) as info:
        qrnnc.loads(text, file=EXAMPLE_FILE)
    return info.value


# ---- code blocks -------------------------------------------------------------------


def test_doc_has_examples():
    assert len(blocks_tagged("qrnn")) >= 20
    assert len(blocks_tagged("qrnn-error")) >= 1


@pytest.mark.parametrize("item", blocks_tagged("qrnn"), ids=block_id)
def test_qrnn_block_compiles(item: tuple[int, Block]):
    qrnnc.loads(item[1].text, file=f"dsl.md:{item[1].line}")


@pytest.mark.parametrize("item", blocks_tagged("qrnn-error"), ids=block_id)
def test_qrnn_error_block_fails_at_a_line(item: tuple[int, Block]):
    i, block = item
    err = compile_error(block.text)
    assert err.line is not None and err.column is not None
    following = BLOCKS[i + 1] if i + 1 < len(BLOCKS) else None
    if following is not None and following.tag == "text":
        if following.text.startswith(f"{EXAMPLE_FILE}:"):
            assert following.text.rstrip("\n") == str(err)


@pytest.mark.parametrize("item", blocks_tagged("json"), ids=block_id)
def test_json_block_is_the_program_of_the_example_before_it(item: tuple[int, Block]):
    i, block = item
    source = next(b for b in reversed(BLOCKS[:i]) if b.tag == "qrnn")
    program = qrnnc.loads(source.text).program
    assert json.loads(block.text) == json.loads(program.model_dump_json())


# ---- the error tables --------------------------------------------------------------

# Examples too long for a table row, built here instead.
_ONE = "model m {{ qubits 1 input features(dim=1) cell {{ ry all <- {} }} readout z on all }}"
GENERATED = {
    "nesting is more than 64 levels deep here": _ONE.format("(" * 65 + "pi" + ")" * 65),
    "this expression or block nests too deeply": _ONE.format("- " * 300 + "pi"),
}


def table_rows(doc: str, header: tuple[str, ...]) -> list[list[str]]:
    """Body rows of every table with this header (cells stripped; `\\|` kept)."""
    rows: list[list[str]] = []
    lines = doc.splitlines()
    for k, line in enumerate(lines):
        if split_row(line) != list(header):
            continue
        for body in lines[k + 2 :]:
            if not body.startswith("|"):
                break
            rows.append(split_row(body))
    return rows


def split_row(line: str) -> list[str]:
    if not line.startswith("|"):
        return []
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [c.strip() for c in cells]


ERROR_ROWS = table_rows(DOC, ("message", "example"))


def test_error_tables_cover_the_catalogue():
    assert len(ERROR_ROWS) >= 55
    messages = [message for message, _ in ERROR_ROWS]
    assert len(messages) == len(set(messages))


@pytest.mark.parametrize("row", ERROR_ROWS, ids=[r[0][:60] for r in ERROR_ROWS])
def test_error_row_is_what_its_example_reports(row: list[str]):
    message, example = row
    code = re.fullmatch(r"`([^`]+)`", example)
    text = code.group(1) if code else GENERATED.get(message)
    assert text is not None, f"no example for {message!r}"
    err = compile_error(text)
    assert err.what == message
    assert err.line is not None


def test_file_errors_are_listed():
    rows = {message for message, _ in table_rows(DOC, ("message", "when"))}
    assert {"no such file", "is a directory, not a .qrnn file"} <= rows
    assert "binary file (it contains NUL bytes), not .qrnn text" in rows


# ---- the reference covers the grammar and the IR -------------------------------------


def test_every_gate_has_a_row_and_no_other():
    rows = table_rows(DOC, ("gate", "wires", "angle", "matrix", "Braket"))
    assert [r[0] for r in rows] == [f"`{g}`" for g in GATE_NAMES]


def test_every_task_has_a_row_and_no_other():
    rows = table_rows(DOC, ("task (defaults shown)", "the task", "input", "head"))
    names = [re.match(r"`(\w+)\(", r[0]).group(1) for r in rows]
    assert names == list(parser.TASKS)


@pytest.mark.parametrize(
    ("statement", "table"),
    [("controller", parser.CONTROLLERS), ("head", parser.HEADS), ("input", parser.INPUTS)],
)
def test_every_kind_is_documented(statement: str, table: dict[str, type[BaseModel]]):
    for kind in table:
        assert f"`{statement} {kind}(" in DOC, f"{statement} {kind} is not in docs/dsl.md"


def ir_classes() -> list[tuple[str, type[BaseModel]]]:
    """(the name a file writes, the IR class) for everything that takes arguments."""
    out = [(name, cls) for name, cls in parser.TASKS.items()]
    for table in (parser.CONTROLLERS, parser.HEADS, parser.INPUTS):
        out += list(table.items())
    return [*out, ("train", ir.Train), ("seq2seq", ir.Seq2Seq)]


IR_CLASSES = ir_classes()


def arguments(cls: type[BaseModel]) -> list[str]:
    return [f for f in cls.model_fields if f not in NOT_ARGS]


def written_default(cls: type[BaseModel], field: str) -> str | None:
    """The default as a file would write it, or None for required / no default."""
    info = cls.model_fields[field]
    if info.is_required() or info.default is None:
        return None
    return str(info.default)


@pytest.mark.parametrize(("kind", "cls"), IR_CLASSES, ids=[c.__name__ for _, c in IR_CLASSES])
def test_every_argument_is_named(kind: str, cls: type[BaseModel]):
    for arg in arguments(cls):
        assert re.search(rf"`{arg}`|\b{arg}=", DOC), f"{kind}: argument {arg} is not documented"


@pytest.mark.parametrize(("kind", "cls"), IR_CLASSES, ids=[c.__name__ for _, c in IR_CLASSES])
def test_defaults_are_shown_together(kind: str, cls: type[BaseModel]):
    """Some `kind(...)` in the doc writes every default exactly as the IR has it."""
    want = {a: d for a in arguments(cls) if (d := written_default(cls, a)) is not None}
    if not want:
        return
    shown = []
    for m in re.finditer(rf"\b{kind}\(([^()`]*)\)", DOC):
        pairs = (p.split("=", 1) for p in m.group(1).split(",") if "=" in p)
        shown.append({k.strip(): v.strip() for k, v in pairs})
    assert any(want.items() <= s.items() for s in shown), f"no `{kind}({want})` in docs/dsl.md"


def literal_values(annotation: typing.Any) -> list[str]:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(v) for v in typing.get_args(annotation)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        return [v for a in typing.get_args(annotation) for v in literal_values(a)]
    return []


@pytest.mark.parametrize(
    "cls", [c for _, c in IR_CLASSES] + [ir.Model, ir.Readout], ids=lambda c: c.__name__
)
def test_every_choice_is_documented(cls: type[BaseModel]):
    for field, info in cls.model_fields.items():
        if field in NOT_ARGS - {"mode"}:
            continue
        for value in literal_values(info.annotation):
            assert re.search(rf"`[^`]*\b{value}\b[^`]*`", DOC), f"{cls.__name__}.{field}={value}"


def test_reserved_keywords_are_the_grammars():
    terminals = parser.parser().terminals
    keywords = {
        t.pattern.value
        for t in terminals
        if t.pattern.type == "str" and re.fullmatch(r"[A-Za-z_]\w*", t.pattern.value)
    }
    listed = next(b for b in BLOCKS if b.tag == "text" and "seq2seq shots" in b.text)
    assert set(listed.text.split()) == keywords


def test_limits_match_the_compiler():
    limits = {r[0]: r[1] for r in table_rows(DOC, ("limit", "value"))}
    text = " ".join(limits.values())
    assert f"{compiled.MAX_BYTES:,} bytes" in text
    assert f"{parser.MAX_DEPTH} levels" in text
    assert f"{parser.MAX_TREE_DEPTH} levels" in text
    assert f"{validate.MAX_GATES:,}" in text
    assert str(parser.MAX_INT) in text
    assert f"1 to {ir.MAX_QUBITS}" in text


def test_task_input_rules_are_listed():
    for task, dims in validate.FEATURE_DIMS.items():
        assert ", ".join(map(str, sorted(dims))) in DOC, task
    for task in validate.TOKEN_TASKS:
        assert re.search(rf"^\| `{task}\(.*\| tokens", DOC, re.MULTILINE), task
    for task in parser.TASKS:
        mode = "per_step" if task in validate.PER_STEP_TASKS else "last"
        assert re.search(rf"^\| `{task}\(.*\| `{mode}`[^|]*\|$", DOC, re.MULTILINE), task


# ---- the zoo -----------------------------------------------------------------------


def test_zoo_is_there():
    names = {p.parent.name for p in ZOO}
    assert {"copying", "smnist", "psmnist", "imdb", "ptb", "deen"} <= names


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.parent.name)
def test_zoo_file_compiles(path: Path):
    m = qrnnc.load(path)
    assert m.ir.task is not None and m.ir.train is not None
    assert path.read_text(encoding="utf-8").startswith("#"), "a zoo file opens with a comment"
