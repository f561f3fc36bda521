"""The `qrnnc` command line, run as `python -m qrnnc` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import qrnnc

ROOT = Path(__file__).parents[2]
COPYING = "zoo/copying/model.qrnn"
ANGLE = "model m { qubits 1 cell { ry all <- "


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qrnnc", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=120,
    )


def test_check_ok():
    r = run("check", COPYING)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "zoo/copying/model.qrnn: ok — model copying: 6 qubits, 30 controller angles, 18 readouts\n"
    )
    assert r.stderr == ""


def test_info():
    r = run("info", COPYING)
    assert r.returncode == 0, r.stderr
    assert "controller angles" in r.stdout
    assert "two-qubit depth" in r.stdout
    assert "copying" in r.stdout


def test_compile_ir_to_file(tmp_path: Path):
    out = tmp_path / "copying.ir.json"
    r = run("compile", COPYING, "--emit", "ir", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    written = qrnnc.IR.model_validate_json(out.read_text(encoding="utf-8"))
    text = (ROOT / COPYING).read_text(encoding="utf-8")
    assert written == qrnnc.loads(text, file=COPYING).ir


def test_compile_program_stdout():
    r = run("compile", COPYING, "--emit", "program")
    assert r.returncode == 0, r.stderr
    program = qrnnc.Program.model_validate_json(r.stdout)
    assert program == qrnnc.load(ROOT / COPYING).program
    assert program.resources.gates == 42


def test_compile_default_is_program():
    r = run("compile", COPYING)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["model"] == "copying"


@pytest.mark.parametrize("of", [None, "ir", "program"])
def test_schema(of):
    r = run("schema", *(["--of", of] if of else []))
    assert r.returncode == 0, r.stderr
    assert "$defs" in json.loads(r.stdout)


def assert_user_error(r: subprocess.CompletedProcess[str]) -> None:
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert ": error: " in r.stderr
    assert "Traceback" not in r.stderr
    assert "Traceback" not in r.stdout


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.qrnn", b""),
        ("nul.qrnn", b"model m {\x00}\n"),
        ("latin.qrnn", b"\xff\xfe"),
        ("huge.qrnn", b"# padding\n" * 1_000_000),
        ("deep.qrnn", ("model m { cell { " + "repeat 1 { " * 10000).encode()),
        ("bigint.qrnn", ("model m { qubits " + "9" * 5000 + " }").encode()),
        ("deep_angle.qrnn", (ANGLE + "-" * 10000 + "pi } }").encode()),
        ("long_sum.qrnn", (ANGLE + "1+" * 10000 + "1 } }").encode()),
    ],
)
@pytest.mark.parametrize("command", ["check", "info", "compile"])
def test_bad_files(tmp_path: Path, command, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    r = run(command, str(path))
    assert_user_error(r)
    assert str(path) in r.stderr


@pytest.mark.parametrize("command", ["check", "info", "compile"])
def test_missing_file_and_directory(tmp_path: Path, command):
    r = run(command, str(tmp_path / "nope.qrnn"))
    assert_user_error(r)
    assert "nope.qrnn" in r.stderr
    r = run(command, str(tmp_path))
    assert_user_error(r)


def test_check_two_files_one_bad(tmp_path: Path):
    bad = tmp_path / "bad.qrnn"
    bad.write_text("model m { qubits 0 }\n", encoding="utf-8")
    r = run("check", str(bad), COPYING)
    assert_user_error(r)
    assert "zoo/copying/model.qrnn: ok — model copying" in r.stdout
    assert f"{bad}:1:" in r.stderr


def test_syntax_error_shows_location(tmp_path: Path):
    bad = tmp_path / "typo.qrnn"
    bad.write_text("model m {\n    qubits 4\n    inptu tokens(vocab=10, embed=4)\n}\n")
    r = run("check", str(bad))
    assert_user_error(r)
    assert f"{bad}:3:5: error: unknown statement 'inptu'" in r.stderr
    assert "^^^^^" in r.stderr


def test_compile_several_models_needs_model(tmp_path: Path):
    text = (
        "model a { qubits 2 input tokens(vocab=5, embed=2) cell { ry all } readout z on all }\n"
        "model b { qubits 3 input tokens(vocab=5, embed=2) cell { rx all } readout z on all }\n"
    )
    f = tmp_path / "two.qrnn"
    f.write_text(text, encoding="utf-8")
    assert_user_error(run("compile", str(f)))
    assert_user_error(run("compile", str(f), "--model", "c"))
    r = run("compile", str(f), "--model", "b")
    assert r.returncode == 0, r.stderr
    assert qrnnc.Program.model_validate_json(r.stdout).qubits == 3


@pytest.mark.parametrize(
    "module",
    ["cli_braket", "cli_cost", "cli_data", "cli_robustness", "cli_runs", "cli_zoo", "modelzoo"],
)
def test_every_command_module_imports_first(module: str) -> None:
    """Whichever module a user or tool imports first, the command modules' imports of
    each other must not cycle (qrnnc.cli imports them all at its end)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", f"import qrnnc.{module}"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
