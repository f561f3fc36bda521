"""Golden error messages: tests/lang/errors/NAME.qrnn -> NAME.expected.

Each case must fail to compile with exactly the message in NAME.expected
(`str(QrnnError)` from `qrnnc.loads(text, file="NAME.qrnn")`).
Regenerate with QRNNC_UPDATE_GOLDEN=1 and review the diff by eye.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import qrnnc
import qrnnc.gates

ERRORS = Path(__file__).parent / "errors"
CASES = sorted(ERRORS.glob("*.qrnn"))
UPDATE = os.environ.get("QRNNC_UPDATE_GOLDEN") == "1"


def test_there_are_cases():
    assert len(CASES) >= 30


def _error_of(case: Path) -> qrnnc.QrnnError:
    with pytest.raises(qrnnc.QrnnError) as info:
        qrnnc.loads(case.read_text(encoding="utf-8"), file=case.name)
    return info.value


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden_error(case: Path):
    err = _error_of(case)
    message = str(err)
    expected_file = case.with_suffix(".expected")
    if UPDATE:
        expected_file.write_text(message + "\n", encoding="utf-8")
    assert expected_file.exists(), f"no {expected_file.name}; run with QRNNC_UPDATE_GOLDEN=1"
    assert message == expected_file.read_text(encoding="utf-8").rstrip("\n")
    assert err.line is not None and err.line >= 1
    assert err.column is not None and err.column >= 1
    assert message.startswith(f"{case.name}:{err.line}:{err.column}: error: ")
    assert err.file == case.name
    assert "Traceback" not in message


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_caret_under_source_line(case: Path):
    """When the line exists in the text, the message shows it with a caret below."""
    err = _error_of(case)
    lines = case.read_text(encoding="utf-8").splitlines()
    if not 1 <= err.line <= len(lines) or len(lines[err.line - 1]) > 120:
        return  # no source line, or a long line shown as a window (see below)
    shown = str(err).split("\n")
    assert shown[1] == f"{err.line:>4} | {lines[err.line - 1]}"
    caret = shown[2]
    assert set(caret[7:].strip()) == {"^"}
    assert caret.index("^") - 7 == err.column - 1


def test_long_line_window_keeps_caret_on_the_spot():
    text = (ERRORS / "nesting_too_deep.qrnn").read_text(encoding="utf-8")
    with pytest.raises(qrnnc.QrnnError) as info:
        qrnnc.loads(text, file="deep.qrnn")
    shown = str(info.value).split("\n")
    assert shown[1].startswith("   5 | ...") and shown[1].endswith("...")
    assert len(shown[1]) <= 7 + 120 + 6
    assert shown[1][shown[2].index("^")] == "{"


MODEL = "model m {{ qubits 4 input tokens(vocab=10, embed=4) cell {{ ry all }} readout z on all {x}"
STATEMENTS = (
    "'cell', 'controller', 'head', 'init', 'input', 'precision', 'qubits', 'readout', 'shots', '}'"
)
GATES = "a gate (" + " ".join(qrnnc.gates.GATE_NAMES) + ")"
TOP = "'model', 'seq2seq', 'task', 'train', end of file"
QBITS = "unknown statement 'qbits' in a model (did you mean 'qubits'?)"
TRIAN = "unknown keyword 'trian' at the top level (did you mean 'train'?)"


@pytest.mark.parametrize(
    ("text", "first", "expected"),
    [
        # A typo for a model statement after a readout or a cell block is not a gate.
        (MODEL.format(x="\n qbits 4 }"), QBITS, STATEMENTS),
        ("model m { qubits 4 cell { ry all }\n qbits 4 }", QBITS, STATEMENTS),
        (MODEL.format(x="controller mlp()\n qbits 4 }"), QBITS, STATEMENTS),
        (MODEL.format(x="controller linear\n qbits 4 }"), QBITS, "'(', " + STATEMENTS),
        # A typo at the top level after `task ...` is not in a model.
        (MODEL.format(x="}\ntask copying()\ntrian()"), TRIAN, TOP),
        (MODEL.format(x="}\ntask copying\ntrian()"), TRIAN, "'(', " + TOP),
        # Inside a cell only cell statements are expected.
        (
            "model m { qubits 4 cell { ry all foo } }",
            "unknown gate 'foo'",
            f"'<-', 'repeat', '}}', {GATES}",
        ),
        (
            "model m { qubits 4 cell { cz (0,1) foo } }",
            "unknown gate 'foo'",
            f"',', '<-', 'repeat', '}}', {GATES}",
        ),
        (
            "model m { qubits 4 cell { ry all\n",
            "unexpected end of file",
            f"'<-', 'repeat', '}}', {GATES}",
        ),
        # A missing comma between arguments: a list's ']' is not expected here.
        ("model m { qubits 4 input tokens(vocab=10 embed=4) }", "unexpected 'embed'", "')', ','"),
    ],
    ids=[
        "after-readout",
        "after-cell",
        "after-controller-call",
        "after-controller-name",
        "top-after-task-call",
        "top-after-task-name",
        "cell-after-all",
        "cell-after-pair",
        "eof-in-cell",
        "args-missing-comma",
    ],
)
def test_syntax_errors_expect_only_what_fits_here(text, first, expected):
    """LALR merges states; the message must still name only what can follow here."""
    with pytest.raises(qrnnc.QrnnError) as info:
        qrnnc.loads(text, file="f.qrnn")
    lines = str(info.value).split("\n")
    assert lines[0].split(": error: ", 1)[1] == first
    assert lines[-1] == f"  expected: {expected}"
