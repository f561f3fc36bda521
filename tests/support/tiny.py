"""A tiny copying model for CLI tests (3 qubits, trains in a second), and the CLI runner.

(folder / "tiny.qrnn").write_text(tiny_copying())
result = invoke("train", folder / "tiny.qrnn", "--out", folder / "run")
"""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

CELL = "ry all\n        cnot chain\n        rx q[0] <- param(0.3)"


def tiny_copying(
    *,
    cell: str = CELL,
    readouts: str = "readout x, z on all",
    lr: float = 0.03,
    epochs: int = 1,
    comment: str = "",
) -> str:
    """The text of a 3-qubit copying model (delay 2, 2 symbols of 3) with a `train` line."""
    return f"""{comment}
model tiny {{
    qubits 3
    input tokens(vocab=5, embed=4)
    controller mlp(hidden=8)
    cell {{
        {cell}
    }}
    {readouts}
    head linear per_step
}}
task copying(delay=2, length=2, symbols=3)
train(lr={lr}, epochs={epochs}, batch=8)
"""


def invoke(*args: Any) -> Any:
    """`qrnnc ARGS...` in this process; the typer Result (exit_code, output)."""
    from qrnnc.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def train_tiny(folder: Any, text: str, *, sizes: tuple[int, int, int] = (16, 8, 8)) -> Any:
    """Write `text` as folder/tiny.qrnn, train it from the CLI into folder/run; the run."""
    (folder / "tiny.qrnn").write_text(text)
    train, valid, test = sizes
    result = invoke(
        "train", folder / "tiny.qrnn", "--out", folder / "run",
        "--train-size", train, "--valid-size", valid, "--test-size", test,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return folder / "run"
