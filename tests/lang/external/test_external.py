"""Externally written DSL v1 files: resource counts and error locations.

Expectations were computed by hand from DESIGN.md ("DSL v1 (normative)" and
"Conventions every backend shares"), not from the compiler.
"""

import json
from pathlib import Path

import pytest

import qrnnc

HERE = Path(__file__).parent
VALID = json.loads((HERE / "expected.json").read_text())
BROKEN = json.loads((HERE / "broken" / "expected.json").read_text())

FIELDS = (
    "qubits",
    "gates",
    "two_qubit_gates",
    "controller_angles",
    "static_params",
    "readouts",
)


def test_every_file_has_an_expectation():
    assert sorted(p.name for p in HERE.glob("*.qrnn")) == sorted(VALID)
    assert sorted(p.name for p in (HERE / "broken").glob("*.qrnn")) == sorted(BROKEN)


@pytest.mark.parametrize("name", sorted(VALID))
def test_resources(name):
    exp = VALID[name]
    m = qrnnc.load(HERE / name)
    res = m.program.resources
    got = {f: getattr(res, f) for f in FIELDS}
    assert got == {f: exp[f] for f in FIELDS}
    assert dict(res.gate_counts) == exp["gate_counts"]


@pytest.mark.parametrize("name", sorted(VALID))
def test_readout_order(name):
    exp = [(o, (a, b)) for o, a, b in VALID[name]["readout_order"]]
    m = qrnnc.load(HERE / name)
    got = [
        (str(getattr(o, "value", o)).lower(), tuple(w))
        for o, w in zip(m.program.readout_obs, m.program.readout_wires, strict=True)
    ]
    assert got == exp


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken(name):
    exp = BROKEN[name]
    with pytest.raises(qrnnc.QrnnError) as info:
        qrnnc.load(HERE / "broken" / name)
    err = info.value
    assert (err.line, err.column) == (exp["line"], exp["column"]), str(err)
    msg = str(err)
    for word in exp["words"]:
        assert word.lower() in msg.lower(), msg
