"""Text or file -> IR -> Programs: what `qrnnc.load` returns."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qrnnc import ir
from qrnnc.errors import QrnnError
from qrnnc.lower import lower
from qrnnc.parser import parse
from qrnnc.program import Program
from qrnnc.validate import validate

if TYPE_CHECKING:
    from qrnnc.qrnn import QRNN

MAX_BYTES = 1 << 20  # a .qrnn file is a page of text; refuse anything past 1 MiB


@dataclass(frozen=True)
class Compiled:
    """One compiled .qrnn file: its IR and a Program per model."""

    ir: ir.IR
    programs: dict[str, Program] = field(repr=False)

    @property
    def program(self) -> Program:
        """The Program of the file's only model (name one with `programs[...]`)."""
        if len(self.programs) != 1:
            raise QrnnError(
                f"{self.ir.file or 'this file'} defines models {', '.join(self.programs)};"
                " pick one with .programs[NAME]"
            )
        return next(iter(self.programs.values()))

    @property
    def model(self) -> ir.Model:
        return self.ir.model(self.program.model)

    def build(self, model: str | None = None, *, backend: str = "numba", **options: Any) -> QRNN:
        """The model as a torch Module on `backend` ("numba" or "torch"); see qrnnc.qrnn."""
        from qrnnc.qrnn import build_qrnn  # torch is imported only when a model is built

        return build_qrnn(self, model, backend=backend, **options)


def compile_ir(doc: ir.IR) -> Compiled:
    """Validate an IR (from text or JSON) and lower each of its models."""
    validate(doc)
    return Compiled(ir=doc, programs={m.name: lower(m) for m in doc.models})


def loads(text: str, file: str | None = None) -> Compiled:
    """Compile .qrnn source text; `file` names it in error messages."""
    try:
        return compile_ir(parse(text, file))
    except QrnnError as e:
        raise e.located(file, text) from None


def load(path: str | os.PathLike[str]) -> Compiled:
    """Compile a .qrnn file."""
    return loads(read_source(path), str(path))


def read_source(path: str | os.PathLike[str]) -> str:
    """The text of a .qrnn file, or a `QrnnError` that says why it cannot be read."""
    p = Path(path)
    name = str(path)
    try:
        if p.is_dir():
            raise QrnnError("is a directory, not a .qrnn file", file=name)
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise QrnnError(
                f"file is {size // 1024} KiB; a .qrnn file may be at most {MAX_BYTES // 1024} KiB",
                file=name,
            )
        data = p.read_bytes()[: MAX_BYTES + 1]
    except FileNotFoundError:
        raise QrnnError("no such file", file=name) from None
    except OSError as e:
        raise QrnnError(f"cannot read: {e.strerror or e}", file=name) from None
    if len(data) > MAX_BYTES:  # grew while we looked, or a device file
        raise QrnnError(f"file is larger than {MAX_BYTES // 1024} KiB", file=name)
    if b"\x00" in data:
        raise QrnnError("binary file (it contains NUL bytes), not .qrnn text", file=name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise QrnnError(
            f"not UTF-8 text: byte 0x{data[e.start]:02x} at line {line}, column {column}",
            file=name,
        ) from None
