"""Device fit, offline, against the hand-written IQM-style fixture.

The fixture: 6 qubits labelled 1..6 on a 2x3 grid (1-2-3 over 4-5-6), native
gates cz and prx, OpenQASM operations without xx/yy/zz and without the `ctrl`
modifier. Program qubit i sits on device qubit i + 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qrnnc.backends.braket.fit import FIXTURE, FitError, check_fit, load_properties, sent_as
from qrnnc.compiled import load, loads

HEAD = "model m { qubits %d input features(dim=1) controller linear() cell { %s } %s"
TAIL = " head linear(out=1) per_step }"


def program(qubits=3, cell="ry all  cnot chain", readout="readout z on all"):
    return loads(HEAD % (qubits, cell, readout) + TAIL).program


def test_fixture_is_valid_braket_device_properties():
    from braket.device_schema.iqm import IqmDeviceCapabilities

    caps = IqmDeviceCapabilities.parse_obj(json.loads(FIXTURE.read_text()))
    assert caps.paradigm.qubitCount == 6 and caps.paradigm.nativeGateSet == ["cz", "prx"]


def test_a_fitting_program_has_no_problems():
    assert check_fit(program(), FIXTURE) == []
    assert check_fit(program(), json.loads(FIXTURE.read_text())) == []


def test_unsupported_gates_are_named():
    p = program(cell="ry all  rzz (0,1)  crx (1,2)")
    # Sent as the runner sends them: crx decomposed into rx and cz, which the device takes.
    (problem,) = check_fit(p, FIXTURE)
    assert "gate rzz (1 per step) is Braket `zz`" in problem
    assert "`zz` is not among its supported operations" in problem
    problems = check_fit(p, FIXTURE, controlled="modifier")
    assert len(problems) == 2
    assert "gate crx" in problems[1] and "no `ctrl @` modifier" in problems[1]
    assert "controlled='decompose'" in problems[1]


def test_decomposed_controlled_rotation_needs_its_parts():
    props = json.loads(FIXTURE.read_text())
    ops = props["action"]["braket.ir.openqasm.program"]["supportedOperations"]
    ops.remove("cz")
    (problem,) = check_fit(program(cell="ry all  crx (1,2)"), props)
    assert "gate crx (1 per step) is sent as rx, cz" in problem
    assert "`cz` is not among its supported operations" in problem
    assert sent_as("cry", "decompose") == ["ry", "cnot"]
    assert sent_as("cry", "modifier") == ["ctrl @ ry"]


def test_unconnected_pairs_are_named_with_device_qubits():
    copying = load("zoo/copying/model.qrnn").program  # cnot ring on 6 qubits
    (problem,) = check_fit(copying, FIXTURE)
    assert "2 of the cell's 6 two-qubit pairs are not coupled" in problem
    assert "(2,3) -> 3-4, (5,0) -> 6-1" in problem
    assert "route them through SWAPs" in problem and "`chain` rather than `ring`" in problem
    assert check_fit(program(qubits=6, cell="ry all  cnot chain"), FIXTURE)[0].startswith("1 of")


def test_too_many_qubits():
    problems = check_fit(program(qubits=7, cell="ry all"), FIXTURE)
    assert problems == ["the program has 7 qubits; the device has 6: use at most 6"]


def test_verbatim_needs_native_gates_and_cannot_route():
    problems = check_fit(load("zoo/copying/model.qrnn").program, FIXTURE, verbatim=True)
    assert any("native gates only (cz, prx)" in p and "ry, rx, rz, cnot" in p for p in problems)
    assert any("verbatim circuits are not routed" in p for p in problems)


def test_fully_connected_device_has_no_coupling_problems():
    props = json.loads(FIXTURE.read_text())
    props["paradigm"]["connectivity"] = {"fullyConnected": True, "connectivityGraph": {}}
    assert check_fit(load("zoo/copying/model.qrnn").program, props) == []


def test_readout_observables_must_be_measurable():
    props = json.loads(FIXTURE.read_text())
    action = props["action"]["braket.ir.openqasm.program"]
    action["supportedResultTypes"][0]["observables"] = ["z"]
    p = program(readout="readout x, y, z on all")
    assert check_fit(p, props) == []  # measured: only the basis changes matter
    problems = check_fit(p, props, exact=True)
    assert problems == ["readouts need the observables x, y, which the device cannot measure"]


def test_measured_readouts_need_the_basis_changes():
    props = json.loads(FIXTURE.read_text())
    action = props["action"]["braket.ir.openqasm.program"]
    action["supportedOperations"].remove("si")
    assert check_fit(program(readout="readout x, z on all"), props) == []
    (problem,) = check_fit(program(readout="readout x, y, z on all"), props)
    assert "basis changes h, si" in problem and "does not take si" in problem


def test_unreadable_properties(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(FitError, match="not JSON"):
        load_properties(bad)
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(FitError, match=r"properties.json\(\)"):
        load_properties(other)
    with pytest.raises(FitError, match="cannot read"):
        load_properties(tmp_path / "missing.json")


def test_cli_fit(tmp_path: Path):
    from typer.testing import CliRunner

    from qrnnc.cli import app

    r = CliRunner().invoke(app, ["fit", "zoo/copying/model.qrnn", "--properties", str(FIXTURE)])
    assert r.exit_code == 1 and "(2,3) -> 3-4" in r.output
    r = CliRunner().invoke(
        app, ["fit", "zoo/copying/model.qrnn", "--properties", str(FIXTURE), "--json"]
    )
    data = json.loads(r.output)
    assert data["fits"] is False and len(data["problems"]) == 1
    fitting = tmp_path / "chain.qrnn"
    fitting.write_text(HEAD % (3, "ry all  cnot chain", "readout z on all") + TAIL)
    r = CliRunner().invoke(app, ["fit", str(fitting), "--properties", str(FIXTURE)])
    assert r.exit_code == 0 and "model m fits" in r.output


def test_cli_fit_reads_an_online_device_properties(monkeypatch: pytest.MonkeyPatch):
    from typer.testing import CliRunner

    from qrnnc.backends.braket import fit
    from qrnnc.cli import app

    class Properties:  # what AwsDevice(ARN).properties is: a schema object with .json()
        def json(self) -> str:
            return FIXTURE.read_text()

    class FakeAwsDevice:
        properties = Properties()

    arns = []
    monkeypatch.setattr(fit, "aws_device", lambda arn: arns.append(arn) or FakeAwsDevice())
    arn = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
    r = CliRunner().invoke(app, ["fit", "zoo/copying/model.qrnn", "--device", arn])
    assert arns == [arn]
    assert r.exit_code == 1 and "(2,3) -> 3-4" in r.output

    def offline(arn: str):
        raise RuntimeError("Unable to locate credentials")

    monkeypatch.setattr(fit, "aws_device", offline)
    r = CliRunner().invoke(app, ["fit", "zoo/copying/model.qrnn", "--device", arn])
    assert r.exit_code == 1
    assert "cannot read the properties" in r.output and "Unable to locate credentials" in r.output
    r = CliRunner().invoke(app, ["fit", "zoo/copying/model.qrnn"])
    assert r.exit_code == 2 and "--properties FILE" in r.output
