"""`qrnnc export` and `qrnnc run`: what they write and print, and their errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from braket.devices import LocalSimulator
from braket.ir.openqasm import Program as OpenQASMProgram
from tiny import invoke, tiny_copying, train_tiny

import qrnnc
from qrnnc.backends.braket import lower
from qrnnc.backends.braket.runner import exact_trajectory
from qrnnc.train import load_run

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
TINY = tiny_copying(
    cell="ry all\n        crz ring\n        rx q[0] <- param(0.3)",
    readouts="readout x, z on all\n    readout z on q[1]",
    lr=0.01,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A trained (one short epoch) copying run of a 3-qubit model."""
    return train_tiny(tmp_path_factory.mktemp("braket_cli"), TINY)


def row(output: str, name: str) -> list[str]:
    """The cells of a table row of `qrnnc run`'s output."""
    line = next(ln for ln in output.splitlines() if re.match(rf"\W*{re.escape(name)}\s", ln))
    return [c.strip() for c in re.split(r"[│|]", line) if c.strip()][1:]


def test_export_qasm_of_a_file_is_the_lowering():
    result = invoke("export", ROOT / "zoo" / "psmnist" / "model.qrnn")
    assert result.exit_code == 0, result.output
    program = qrnnc.load(ROOT / "zoo" / "psmnist" / "model.qrnn").program
    assert result.output == lower.to_qasm(program)


def test_export_qasm_needs_free_params_for_params_without_values(tmp_path):
    smnist = ROOT / "zoo" / "smnist" / "model.qrnn"
    result = invoke("export", smnist)
    assert result.exit_code == 1
    assert "--free-params" in result.output
    result = invoke("export", smnist, "--free-params", "-o", tmp_path / "s.qasm")
    assert result.exit_code == 0, result.output
    assert "input float phi_5;" in (tmp_path / "s.qasm").read_text()


def test_export_qasm_of_a_run_binds_its_trained_params_and_runs(run):
    result = invoke("export", run, "-o", run.parent / "tiny.qasm")
    assert result.exit_code == 0, result.output
    _, net, _ = load_run(run)
    source = (run.parent / "tiny.qasm").read_text()
    assert f"rx({float(net.phi[0].detach().double())!r}) q[0];" in source
    theta = np.linspace(-1, 1, net.program.n_controller)
    got = LocalSimulator().run(
        OpenQASMProgram(source=source, inputs=lower.qasm_inputs(net.program, theta)), shots=0
    )
    z = qrnnc.simulate(net.program, theta[None, None], params=net.phi.detach().double())
    np.testing.assert_allclose(got.result().values, z[0, 0].numpy(), atol=1e-10)


def test_export_braket_programs_give_the_forward_pass_readouts(tmp_path):
    path = tmp_path / "tiny.qrnn"
    path.write_text(TINY)
    result = invoke("export", path, "--format", "braket", "--input", "1,4 0", "-o", tmp_path / "s")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "s").read_text())
    assert doc["format"] == "qrnnc-braket-steps/1" and len(doc["steps"]) == 3
    assert doc["readouts"][-1] == "z(q[1])" and doc["result_index"][-1] == 4  # written twice
    torch.manual_seed(0)  # the command's default --seed
    net = qrnnc.loads(TINY).build(dtype=torch.float64)
    expected = exact_trajectory(net, torch.tensor([[1, 4, 0]]))
    device = LocalSimulator()
    for t, step in enumerate(doc["steps"]):
        np.testing.assert_allclose(step["readouts"], expected.readouts[0, t], atol=1e-12)
        program = OpenQASMProgram.parse_obj(step["program"])
        values = np.array(device.run(program, shots=0).result().values)
        np.testing.assert_allclose(values[doc["result_index"]], step["readouts"], atol=1e-10)
    assert "ctrl @" not in doc["steps"][0]["program"]["source"]  # decomposed, runs anywhere


def test_export_braket_reads_features_from_a_text_file(tmp_path):
    (tmp_path / "pixels.txt").write_text("0.1\n0.5\n-0.2\n")
    smnist = ROOT / "zoo" / "smnist" / "model.qrnn"
    result = invoke("export", smnist, "--format", "braket", "--features", tmp_path / "pixels.txt")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.output)["steps"]
    assert [s["x"] for s in steps] == [[0.1], [0.5], [-0.2]]
    result = invoke("export", smnist, "--format", "braket", "--input", "1,2")
    assert result.exit_code == 1 and "--features FILE" in result.output


def test_run_prints_equal_metrics_at_zero_shots(run):
    result = invoke("run", run, "--limit", 3)
    assert result.exit_code == 0, result.output
    assert "21 tasks (7 steps x 3 sequences x 1 circuit)" in result.output
    numba, braket = row(result.output, "accuracy")
    assert numba == braket
    numba, braket = row(result.output, "loss")
    assert numba == braket
    assert float(row(result.output, "max readout deviation")[0]) < 1e-8


def test_run_with_shots_and_noise_on_the_density_matrix_simulator(run):
    result = invoke(
        "run", run, "--limit", 2, "--shots", 50, "--backend", "braket-dm",
        "--noise", "depolarizing=0.01,readout=0.02",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert row(result.output, "shots") == [f"{7 * 2 * 2 * 50:,}"]


def test_run_refuses_what_it_cannot_do(run):
    result = invoke("run", run, "--noise", "readout=0.1")
    assert result.exit_code == 1 and "--noise needs --backend braket-dm" in result.output
    result = invoke("run", run, "--split", "nope")
    assert result.exit_code == 1 and "no split 'nope'" in result.output


GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"


@pytest.fixture
def no_aws(monkeypatch):
    """AwsDevice that fails the test if anything tries to reach AWS."""
    import braket.aws

    def refuse(*a, **k):
        raise AssertionError("an AwsDevice was created: this run must not reach AWS")

    monkeypatch.setattr(braket.aws, "AwsDevice", refuse)


def test_run_on_an_aws_device_dry_run_prints_the_estimate_and_sends_nothing(run, no_aws):
    result = invoke("run", run, "--limit", 2, "--shots", 100, "--device", GARNET, "--dry-run")
    assert result.exit_code == 0, result.output
    # 2 sequences x 7 steps x 2 bases = 28 tasks at $0.30 + 2,800 shots at $0.00145
    assert "28" in result.output and "$12.46" in result.output


def test_run_on_an_aws_device_needs_a_ceiling_that_covers_the_estimate(run, no_aws):
    result = invoke("run", run, "--limit", 2, "--shots", 100, "--device", GARNET)
    assert result.exit_code == 1 and "--max-cost" in result.output
    result = invoke("run", run, "--limit", 2, "--shots", 100, "--device", GARNET, "--max-cost", 1)
    assert result.exit_code == 1 and "estimated $12.46 exceeds --max-cost $1.00" in result.output


def test_without_braket_the_commands_say_how_to_install_it():
    probe = """
import sys
sys.modules["braket"] = None  # as if amazon-braket-sdk were not installed
from typer.testing import CliRunner
from qrnnc.cli import app
check = CliRunner().invoke(app, ["check", "zoo/copying/model.qrnn"])
export = CliRunner().invoke(app, ["export", "zoo/copying/model.qrnn"])
print(check.exit_code, export.exit_code)
print(export.output)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QRNNC_", "NUMBA_"))}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    codes, message = done.stdout.split("\n", 1)
    assert codes == "0 1"
    assert "pip install -e '.[braket]'" in message


def test_run_on_an_aws_device_sends_through_the_guard_and_reports_the_spend(run, monkeypatch):
    """AwsDevice replaced by a local simulator that records what it is sent and, as
    AwsQuantumTask does, tells braket's trackers about each task."""
    import braket.aws
    from braket.tracking.tracking_context import broadcast_event
    from braket.tracking.tracking_events import _TaskCompletionEvent, _TaskCreationEvent

    sent = []

    class RecordingDevice:
        def __init__(self, arn):
            self.arn = arn
            self.local = LocalSimulator()

        def run(self, spec, shots, **kwargs):
            return self.run_batch([spec], shots).tasks[0]

        def run_batch(self, specs, shots, **kwargs):
            for _ in specs:
                task = f"arn:aws:braket:eu-north-1:000000000000:quantum-task/{len(sent)}"
                sent.append((self.arn, shots))
                broadcast_event(_TaskCreationEvent(task, shots, False, self.arn))
                broadcast_event(_TaskCompletionEvent(task, 1000.0, "COMPLETED"))
            return self.local.run_batch(specs, shots=shots)

    monkeypatch.setattr(braket.aws, "AwsDevice", RecordingDevice)
    # The Tracker prices tasks from AWS's price list; offline it must fail fast, not hang.
    monkeypatch.setenv("BRAKET_PRICE_OFFERS_URL", "http://127.0.0.1:9/index.csv")
    args = ("run", run, "--limit", 2, "--shots", 100, "--device", GARNET)
    result = invoke(*args, "--max-cost", 20)
    assert result.exit_code == 0, result.output
    assert sent == [(GARNET, 100)] * 28  # the estimate's 28 tasks, to the named device
    assert f"{GARNET}: 2,800 shots; tasks completed 28" in result.output
    assert "spend not known" in result.output and "Billing console" in result.output
