"""The one error type users see, and source spans.

Every user error raises `QrnnError`. Errors found after parsing carry a span
but no text; `loads` attaches the file name and text at the boundary so that
the message shows `FILE:LINE:COL: error: WHAT`, the line and a caret.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

_WINDOW = 120  # characters of a long source line shown around the error


class Span(BaseModel):
    """A 1-based source range (end column exclusive, as lark reports it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line: int
    column: int
    end_line: int
    end_column: int


class QrnnError(Exception):
    """A user error: bad input, located where possible."""

    def __init__(
        self,
        what: str,
        span: Span | None = None,
        *,
        file: str | None = None,
        text: str | None = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(what)
        self.what = what
        self.span = span
        self.file = file
        self.text = text
        self.expected = expected

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    def located(self, file: str | None, text: str | None) -> QrnnError:
        """Fill in the file and text where they are not known yet."""
        if self.file is None:
            self.file = file
        if self.text is None:
            self.text = text
        return self

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.span is not None:
            where = f"{where}:{self.span.line}:{self.span.column}"
        out = [f"{where}: error: {self.what}"]
        source_line = self._source_line()
        if source_line is not None:
            start = self.span.column - 1
            same_line = self.span.end_line == self.span.line
            width = max(1, self.span.end_column - self.span.column) if same_line else 1
            # A very long line is shown as a window around the column.
            if len(source_line) > _WINDOW:
                left = max(0, start - _WINDOW // 2)
                shown = source_line[left : left + _WINDOW]
                prefix = "..." if left else ""
                source_line = prefix + shown + ("..." if left + _WINDOW < len(source_line) else "")
                start = start - left + len(prefix)
            width = min(width, max(1, len(source_line) - start))
            gutter = f"{self.span.line:>4} | "
            out.append(gutter + source_line)
            out.append(" " * len(gutter) + _indent_like(source_line, start) + "^" * width)
        if self.expected:
            out.append(f"  expected: {self.expected}")
        return "\n".join(out)

    def _source_line(self) -> str | None:
        if self.span is None or self.text is None:
            return None
        lines = self.text.splitlines()
        if not 1 <= self.span.line <= len(lines):
            return None
        return lines[self.span.line - 1]


def _indent_like(line: str, width: int) -> str:
    # Keep tabs so the caret lands under the right character.
    return "".join("\t" if c == "\t" else " " for c in line[:width])
