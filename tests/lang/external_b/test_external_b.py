"""DSL v1 files written from DESIGN.md alone, by someone who did not write the compiler.

Every expectation here (resource counts, readout order, error locations) was worked
out by hand from DESIGN.md, "DSL v1 (normative)" and "Conventions every backend
shares"; none was copied from the compiler's output.
Only the public API is used: qrnnc.load, qrnnc.QrnnError (.line, .column),
m.program.resources, m.program.readout_obs, m.program.readout_wires.
"""

import json
from pathlib import Path

import pytest

import qrnnc

HERE = Path(__file__).parent
BROKEN_DIR = HERE / "broken"
VALID = json.loads((HERE / "expected.json").read_text())
BROKEN = json.loads((BROKEN_DIR / "expected.json").read_text())

SCALARS = (
    "qubits",
    "gates",
    "two_qubit_gates",
    "controller_angles",
    "static_params",
    "readouts",
)


def _obs_name(obs) -> str:
    """An observable as its lower-case name, whether the API gives a str or an enum."""
    return str(getattr(obs, "value", obs)).lower()


def test_every_file_has_an_expectation():
    assert sorted(p.name for p in HERE.glob("*.qrnn")) == sorted(VALID)
    assert sorted(p.name for p in BROKEN_DIR.glob("*.qrnn")) == sorted(BROKEN)


@pytest.mark.parametrize("name", sorted(VALID))
def test_resource_counts(name):
    exp = VALID[name]
    res = qrnnc.load(HERE / name).program.resources
    assert {f: getattr(res, f) for f in SCALARS} == {f: exp[f] for f in SCALARS}


@pytest.mark.parametrize("name", sorted(VALID))
def test_gate_counts(name):
    res = qrnnc.load(HERE / name).program.resources
    got = {str(getattr(g, "value", g)).lower(): n for g, n in dict(res.gate_counts).items() if n}
    assert got == VALID[name]["gate_counts"]


@pytest.mark.parametrize("name", sorted(VALID))
def test_readout_order(name):
    prog = qrnnc.load(HERE / name).program
    got = [
        [_obs_name(o), *map(int, w)]
        for o, w in zip(prog.readout_obs, prog.readout_wires, strict=True)
    ]
    assert got == VALID[name]["readout_order"]


@pytest.mark.parametrize("name", sorted(VALID))
def test_load_accepts_a_str_path(name):
    res = qrnnc.load(str(HERE / name)).program.resources
    assert res.gates == VALID[name]["gates"]


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_location(name):
    exp = BROKEN[name]
    with pytest.raises(qrnnc.QrnnError) as info:
        qrnnc.load(BROKEN_DIR / name)
    err = info.value
    allowed = [(exp["line"], exp["column"])] + [tuple(a) for a in exp.get("also", [])]
    assert (err.line, err.column) in allowed, str(err)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_message(name):
    """DESIGN.md: the message names file:line:col and shows the offending line with a caret."""
    exp = BROKEN[name]
    with pytest.raises(qrnnc.QrnnError) as info:
        qrnnc.load(BROKEN_DIR / name)
    err = info.value
    msg = str(err)
    for word in exp["words"]:
        assert word.lower() in msg.lower(), msg
    assert f"{name}:{err.line}:{err.column}" in msg, msg
    source_line = (BROKEN_DIR / name).read_text().splitlines()[err.line - 1]
    assert source_line.strip() in msg, msg
    assert "^" in msg, msg
