"""Mutated zoo files either compile or fail with a located `QrnnError`.

Each example takes a zoo file and applies one to four mutations: delete,
insert, replace, swap or duplicate tokens; insert characters of any kind
(control characters, NUL, non-ASCII, lone surrogates); truncate. Whatever
comes out, `qrnnc.loads` must return a Compiled whose IR round-trips through
JSON, or raise `QrnnError` at a line and column. `read_source` gets random
bytes and must return the decoded text or raise `QrnnError`.

`HYPOTHESIS_PROFILE=fuzz` (`just fuzz`) runs the long search (tests/conftest.py).
"""

import re
import tempfile
import typing
from collections.abc import Callable, Iterator
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import qrnnc
from qrnnc import ir
from qrnnc.compiled import read_source
from qrnnc.parser import MAX_DEPTH, MAX_TREE_DEPTH, parser

ROOT = Path(__file__).resolve().parents[2]
# Globbed when the tests are collected: every zoo file, the new ones included.
ZOO_TEXTS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "zoo").glob("*/model.qrnn"))]
assert ZOO_TEXTS, f"no zoo files under {ROOT / 'zoo'}"
FILE = "fuzz.qrnn"

# Words, numbers, runs of whitespace, and any other single character.
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?|\s+|.", re.DOTALL)


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text)


# ---- what mutations insert ------------------------------------------------------


def _literals(tp: object) -> Iterator[str]:
    """String values of the `Literal[...]`s anywhere inside a type annotation."""
    if typing.get_origin(tp) is typing.Literal:
        yield from (a for a in typing.get_args(tp) if isinstance(a, str))
        return
    for arg in typing.get_args(tp):
        yield from _literals(arg)


def _ir_words() -> set[str]:
    """Argument names and the words they take, from the IR models."""
    words: set[str] = set()
    for cls in vars(ir).values():
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            for name, field in cls.model_fields.items():
                words.add(name)
                words.update(_literals(field.annotation))
    return words


# Keywords, gate and observable names, punctuation: the grammar's literals.
GRAMMAR_WORDS = {t.pattern.value for t in parser().terminals if t.pattern.type == "str"}
ZOO_WORDS = {t for text in ZOO_TEXTS for t in tokenize(text) if not t.isspace()}
# Numbers and other values, some out of range or malformed.
VALUES = [
    "0", "1", "2", "-1", "24", "25", "0.0", "0.5", ".5", "1.", "1e308", "1e309", "-1e309",
    "1e-400", "9223372036854775807", "9223372036854775808", "9" * 40, "0x10", "1_000",
    "pi", "2*pi/3", "pi/0", "1..3", "3..1", '"x"', '""', "#",
]  # fmt: skip
WORDS = sorted(GRAMMAR_WORDS | ZOO_WORDS | _ir_words() | set(VALUES))
KEYWORDS = sorted(w for w in GRAMMAR_WORDS if w.isidentifier())
NAME_WORDS = sorted(w for w in WORDS if w.isidentifier() and w not in GRAMMAR_WORDS)
NUMBER_WORDS = sorted({w for w in ZOO_WORDS if w[:1].isdigit()} | set(VALUES))

ODD_CHARS = [
    "\x00", "\t", "\n", "\r", "\x0b", "\x0c", "\x1b", "\x1c", "\x7f", "\x85", "\xa0",
    "\u200b", "\u2028", "\u2029", "\ufeff", "\ufffd", "\ud800", "\udfff", "é", "π", "—",
    "\U0001f600", "０", "ｑ",
]  # fmt: skip
# Any code point, surrogates included: `loads` takes any str.
CHARS = st.characters(exclude_categories=()) | st.sampled_from(ODD_CHARS)
TOKENS = st.sampled_from(WORDS) | st.text(CHARS, min_size=1, max_size=6)
# Mostly a few copies; sometimes just past the nesting limits.
COPIES = st.integers(1, 3) | st.sampled_from([MAX_DEPTH + 1, MAX_TREE_DEPTH + 1])


# ---- mutations ---------------------------------------------------------------------

Mutation = Callable[[st.DrawFn, str], str]


def _index(draw: st.DrawFn, items: typing.Sized, *, end: bool = False) -> int:
    """A position in `items`: an item's, or (`end`) a gap's, which includes the end."""
    return draw(st.integers(0, max(0, len(items) - (0 if end else 1))))


def delete_tokens(draw: st.DrawFn, text: str) -> str:
    tokens = tokenize(text)
    i = _index(draw, tokens)
    del tokens[i : i + draw(st.integers(1, 3))]
    return "".join(tokens)


def insert_token(draw: st.DrawFn, text: str) -> str:
    tokens = tokenize(text)
    pad = draw(st.sampled_from(["", " "]))
    tokens.insert(_index(draw, tokens, end=True), pad + draw(TOKENS) + pad)
    return "".join(tokens)


def replace_token(draw: st.DrawFn, text: str) -> str:
    tokens = tokenize(text)
    if tokens:
        tokens[_index(draw, tokens)] = draw(TOKENS)
    return "".join(tokens)


def replace_word(draw: st.DrawFn, text: str) -> str:
    """A keyword, name or number for another of its kind: often still parses."""
    tokens = tokenize(text)
    places = [i for i, t in enumerate(tokens) if t[:1].isalnum() or t[:1] == "_"]
    if places:
        i = draw(st.sampled_from(places))
        if tokens[i][:1].isdigit():
            kind = NUMBER_WORDS
        elif tokens[i] in GRAMMAR_WORDS:
            kind = KEYWORDS
        else:
            kind = NAME_WORDS
        tokens[i] = draw(st.sampled_from(kind))
    return "".join(tokens)


def swap_tokens(draw: st.DrawFn, text: str) -> str:
    tokens = tokenize(text)
    if tokens:
        i, j = _index(draw, tokens), _index(draw, tokens)
        tokens[i], tokens[j] = tokens[j], tokens[i]
    return "".join(tokens)


def duplicate_tokens(draw: st.DrawFn, text: str) -> str:
    """Copy a run of tokens (a word, a statement, a block) somewhere, maybe many times."""
    tokens = tokenize(text)
    i = _index(draw, tokens)
    run = tokens[i : i + draw(st.integers(1, 20))]
    j = _index(draw, tokens, end=True)
    tokens[j:j] = run * draw(COPIES)
    return "".join(tokens)


def duplicate_lines(draw: st.DrawFn, text: str) -> str:
    """Copy whole lines (statements, a block, a model) to another line."""
    lines = text.splitlines(keepends=True)
    i = _index(draw, lines)
    run = lines[i : i + draw(st.integers(1, 3) | st.integers(4, 20))]
    j = _index(draw, lines, end=True)
    lines[j:j] = run * draw(st.integers(1, 2))
    return "".join(lines)


def insert_characters(draw: st.DrawFn, text: str) -> str:
    """Characters anywhere, also inside words, numbers and strings."""
    i = _index(draw, text, end=True)
    return text[:i] + draw(st.text(CHARS, min_size=1, max_size=4)) + text[i:]


def truncate(draw: st.DrawFn, text: str) -> str:
    return text[: _index(draw, text, end=True)]


MUTATIONS: list[Mutation] = [
    delete_tokens,
    insert_token,
    replace_token,
    replace_word,
    swap_tokens,
    duplicate_tokens,
    duplicate_lines,
    insert_characters,
    truncate,
]


@st.composite
def mutated_zoo_texts(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(ZOO_TEXTS))
    # One to four mutations: a single one often leaves a file that parses and
    # reaches the later checks, several in a row nearly always break the syntax.
    for _ in range(draw(st.integers(1, 4))):
        text = draw(st.sampled_from(MUTATIONS))(draw, text)
    return text


# ---- properties ----------------------------------------------------------------------


def assert_compiles_or_reports(text: str) -> None:
    try:
        m = qrnnc.loads(text, file=FILE)
    except qrnnc.QrnnError as e:
        assert e.span is not None, f"error without a location: {e.what!r}"
        assert e.line >= 1 and e.column >= 1, e.span
        assert str(e).startswith(f"{FILE}:{e.line}:{e.column}: error: "), str(e)
        return
    assert qrnnc.IR.model_validate_json(m.ir.model_dump_json()) == m.ir


# At least 2,000 examples, more where the profile asks for more (`fuzz`).
@settings(max_examples=max(2_000, settings.default.max_examples))
@given(mutated_zoo_texts())
def test_mutated_zoo_file_compiles_or_fails_at_a_location(text: str) -> None:
    assert_compiles_or_reports(text)


# ---- reading files ---------------------------------------------------------------------

BAD_BYTES = [
    b"\x00", b"\x80", b"\xff", b"\xc3", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
    b"\xef\xbb\xbf", b"\r\n", b"\xe2\x80\xa8",
]  # fmt: skip
CHUNKS = (
    st.sampled_from(BAD_BYTES)
    | st.binary(min_size=1, max_size=4)
    | st.text(CHARS, min_size=1, max_size=4).map(lambda s: s.encode("utf-8", "surrogatepass"))
)


@st.composite
def file_bytes(draw: st.DrawFn) -> bytes:
    """Random bytes, or a zoo file with some bytes inserted: mostly not UTF-8."""
    data = draw(st.sampled_from(ZOO_TEXTS).map(str.encode) | st.binary(max_size=256))
    for _ in range(draw(st.integers(0, 3))):
        i = _index(draw, data, end=True)
        data = data[:i] + draw(CHUNKS) + data[i:]
    return data


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data


@settings(max_examples=max(200, settings.default.max_examples // 10))
@given(file_bytes())
def test_read_source_returns_the_text_or_says_why_not(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / FILE
        path.write_bytes(data)
        try:
            text = read_source(path)
        except qrnnc.QrnnError as e:
            assert str(e).startswith(f"{path}: error: "), str(e)
            assert not _is_text(data)
            return
    assert _is_text(data)
    assert text == data.decode("utf-8")
    assert_compiles_or_reports(text)
