"""Cost estimates, the price table and the guards that refuse or hold back a run.

The tiny program: 2 qubits, cell `ry all; cnot (0,1)` (G = 3 gates, one of them
two-qubit; depth 2 per step), readouts `x, z on all` (two settings: XX, ZZ;
the X setting adds one h per qubit). Over T steps and B sequences:

    tasks          = B x T x 2
    gates          = B x sum_t [(3t + 2) + (3t + 0)] = B x (3 T(T+1) + 2T)
    two-qubit      = B x 2 x T(T+1)/2
    depth at t     = 2t + 1 (the X setting's h)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from rich.console import Console

from qrnnc.backends.braket.cost import (
    PRICES,
    BudgetError,
    CostError,
    GuardedDevice,
    check_budget,
    dry_run,
    estimate,
    load_prices,
    measurement_settings,
    track_spend,
)
from qrnnc.compiled import load, loads

GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
HEAD = "model m { qubits %d %s input features(dim=1) controller linear() cell { %s } %s"
TAIL = " head linear(out=1) per_step }"


def program(cell="ry all  cnot (0,1)", readout="readout x, z on all", init=""):
    return loads(HEAD % (2, init, cell, readout) + TAIL).program


@pytest.fixture
def tiny():
    return program()


def test_settings_group_readouts_by_basis():
    assert measurement_settings(program()) == ("XX", "ZZ")
    assert measurement_settings(program(readout="readout x, y, z on all")) == ("XX", "YY", "ZZ")
    # ZZ is read in the Z basis, so it rides with the z readouts
    both = "readout z on all  readout zz on (0,1)"
    assert measurement_settings(program(readout=both)) == ("ZZ",)
    # qubit-wise compatible readouts share one circuit
    assert measurement_settings(program(readout="readout x on q[0]  readout z on q[1]")) == ("XZ",)
    assert measurement_settings(program(), exact=True) == ("*",)


def test_counts_by_hand(tiny):
    T, B = 3, 2
    e = estimate(tiny, steps=T, sequences=B, shots=100, device=GARNET)
    assert e.settings == ("XX", "ZZ")
    assert (e.gates_per_step, e.two_qubit_gates_per_step) == (3, 1)
    assert e.tasks == B * T * 2 == 12
    assert e.circuits_per_sequence == 6
    assert e.shots_total == 1200
    assert e.gates_total == B * (3 * T * (T + 1) + 2 * T) == 84
    assert e.two_qubit_gates_total == B * 2 * T * (T + 1) // 2 == 24
    assert [s.gates for s in e.per_step] == [3 * t + 2 for t in (1, 2, 3)]
    assert [s.depth for s in e.per_step] == [2 * t + 1 for t in (1, 2, 3)]
    assert [s.two_qubit_gates for s in e.per_step] == [1, 2, 3]
    assert [s.two_qubit_depth for s in e.per_step] == [1, 2, 3]
    assert (e.max_gates, e.max_depth, e.max_two_qubit_gates) == (11, 7, 3)
    assert e.cost_usd == pytest.approx(12 * 0.30 + 1200 * 0.00145)  # $5.34
    assert e.device_kind == "qpu" and e.is_aws


def test_init_plus_adds_one_h_per_qubit_to_every_circuit():
    e = estimate(program(init="init plus"), steps=3, sequences=2, shots=100, device="local")
    assert e.prep_gates == 2
    assert e.gates_total == 84 + 2 * 12
    assert e.max_depth == 1 + 2 * 3 + 1


def test_basis_change_is_the_lowerings():
    from qrnnc.backends.braket.lower import bases

    p = program(readout="readout y on all")
    (basis,) = bases(p)
    per_qubit = len(basis.rotation()) // 2  # si, h
    e = estimate(p, steps=1, sequences=1, shots=10, device="local")
    assert e.max_gates == 3 + 2 * per_qubit
    assert e.max_depth == 2 + per_qubit


@pytest.mark.parametrize(("shots", "init"), [(100, ""), (0, ""), (10, "init plus")])
def test_gates_match_what_the_runner_plans(shots, init):
    from braket.devices import LocalSimulator

    from qrnnc.backends.braket import BraketRunner

    # crx is sent decomposed (rotations and cnots): the estimate must count what is sent.
    cell = "ry q[0..2]  cnot (0,1)  rzz (1,2)  crx (2,0)"
    text = HEAD % (4, init, cell, "readout x, y, z on q[0..2]")
    compiled = loads(text + TAIL)
    runner = BraketRunner(compiled.build(), LocalSimulator(), shots=shots)
    plan = runner.plan(batch=3, steps=5)
    e = estimate(compiled.program, steps=5, sequences=3, shots=shots, device="local")
    assert (e.tasks, e.shots_total, e.gates_total) == (plan.tasks, plan.shots, plan.gates)


def test_depth_at_one_step_is_the_programs_depth():
    p = load("zoo/copying/model.qrnn").program
    e = estimate(p, steps=1, sequences=1, shots=0, device="local")
    assert e.settings == ("*",)
    assert e.max_depth == p.resources.depth
    assert e.max_two_qubit_depth == p.resources.two_qubit_depth
    assert e.max_gates == p.resources.gates


def test_prefix_replay_is_quadratic_in_steps(tiny):
    small = estimate(tiny, steps=10, sequences=1, shots=1, device="local")
    big = estimate(tiny, steps=100, sequences=1, shots=1, device="local")
    assert big.tasks == 10 * small.tasks
    assert big.two_qubit_gates_total / small.two_qubit_gates_total == pytest.approx(
        (100 * 101) / (10 * 11)
    )


def test_local_is_free_and_exact_needs_one_circuit_per_step(tiny):
    e = estimate(tiny, steps=5, sequences=3, shots=0, device="braket_dm")
    assert (e.tasks, e.cost_usd, e.device_kind, e.is_aws) == (15, 0.0, "local", False)


def test_managed_simulator_is_a_stated_lower_bound(tiny):
    e = estimate(tiny, steps=3, sequences=2, shots=100, device=SV1)
    assert e.device_kind == "simulator"
    assert e.cost_usd == pytest.approx(12 * 3 / 60 * 0.075)
    assert "lower bound" in e.cost_basis


def test_qpu_needs_shots(tiny):
    with pytest.raises(CostError, match="--shots N"):
        estimate(tiny, steps=3, sequences=1, shots=0, device=GARNET)


@pytest.mark.parametrize(("name", "value"), [("steps", 0), ("sequences", -1), ("shots", 1.5)])
def test_bad_numbers(tiny, name, value):
    args = {"steps": 3, "sequences": 1, "shots": 10, name: value}
    with pytest.raises(CostError, match=name):
        estimate(tiny, device="local", **args)


def test_unknown_device_lists_known_ones_and_the_way_out(tiny):
    with pytest.raises(CostError) as info:
        estimate(tiny, steps=1, sequences=1, shots=10, device="arn:aws:braket:::device/qpu/x/Y")
    message = str(info.value)
    assert GARNET in message and FORTE in message and "braket_dm" in message
    assert "--prices FILE" in message


# ---- the price table -------------------------------------------------------------------


def test_price_table_is_dated_and_sourced():
    raw = json.loads(PRICES.read_text())
    assert raw["as_of"] and raw["source"].startswith("https://aws.amazon.com/braket/pricing")
    table = load_prices()
    assert str(table.as_of) == raw["as_of"]
    for arn, price in table.devices.items():
        assert arn.startswith("arn:aws:braket:")
        assert price.as_of == table.as_of and price.source == raw["source"]
        if price.kind == "qpu":
            assert price.per_task == 0.30 and price.per_shot > 0


def test_estimate_names_the_date_of_its_prices(tiny):
    e = estimate(tiny, steps=1, sequences=1, shots=10, device=GARNET)
    assert e.price is not None and str(e.price.as_of) == json.loads(PRICES.read_text())["as_of"]
    text = _render(e.table())
    assert "prices as of" in text and "check before spending" in text


def test_price_file_overrides_and_adds(tiny, tmp_path: Path):
    new = "arn:aws:braket:us-east-1::device/qpu/acme/Q-1"
    user = {
        "as_of": "2030-01-02",
        "source": "https://example.org/quote.pdf",
        "devices": {
            GARNET: {
                "provider": "IQM",
                "name": "Garnet",
                "kind": "qpu",
                "per_task": 1,
                "per_shot": 0.01,
            },
            new: {"provider": "Acme", "name": "Q-1", "kind": "qpu", "per_task": 0, "per_shot": 0.5},
        },
    }
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(user))
    e = estimate(tiny, steps=3, sequences=2, shots=100, device=GARNET, prices=path)
    assert e.cost_usd == pytest.approx(12 * 1 + 1200 * 0.01)
    assert str(e.price.as_of) == "2030-01-02" and e.price.file == str(path)
    assert "via" in _render(e.table())
    assert estimate(tiny, steps=1, sequences=1, shots=2, device=new, prices=path).cost_usd == 2.0
    # entries the file does not name keep the shipped prices
    forte = estimate(tiny, steps=1, sequences=1, shots=1, device=FORTE, prices=path)
    assert forte.price.as_of == load_prices().as_of


def test_bad_price_file_says_which_and_what(tmp_path: Path):
    path = tmp_path / "p.json"
    path.write_text('{"as_of": "2030-01-01", "devices": {}}')
    with pytest.raises(CostError, match=r"not a price table .*source"):
        load_prices(path)
    with pytest.raises(CostError, match="cannot read"):
        load_prices(tmp_path / "missing.json")


def test_estimate_renders_as_json(tiny):
    e = estimate(tiny, steps=3, sequences=2, shots=100, device=GARNET)
    data = json.loads(e.to_json())
    assert data["tasks"] == 12 and data["cost_usd"] == pytest.approx(5.34)
    assert len(data["per_step"]) == 3 and data["price"]["as_of"]


# ---- the guards ---------------------------------------------------------------------------


def test_aws_device_needs_a_ceiling(tiny):
    e = estimate(tiny, steps=3, sequences=2, shots=100, device=GARNET)
    with pytest.raises(BudgetError, match=r"--max-cost USD \(at least \$5.34\)"):
        check_budget(e, None)
    with pytest.raises(BudgetError, match=r"exceeds --max-cost \$5.00"):
        check_budget(e, 5.0)
    for bad in (-1.0, math.nan):
        with pytest.raises(BudgetError, match="expected a ceiling"):
            check_budget(e, bad)
    check_budget(e, 5.34)
    check_budget(estimate(tiny, steps=3, sequences=2, shots=100, device="local"), None)


class RecordingDevice:
    """Stands in for an AwsDevice: records every call, sends nothing anywhere."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def run(self, spec, shots, **kwargs):
        self.calls.append(("run", shots))
        return f"result-{len(self.calls)}"

    def run_batch(self, specs, shots, **kwargs):
        self.calls.append(("run_batch", shots))
        return ["batch"]


def replay(device, e):
    """A prefix-replay runner's sends: one task per step and setting, per sequence."""
    for _ in range(e.sequences):
        for t in range(e.steps):
            for setting in e.settings:
                device.run(f"circuit t={t} {setting}", shots=e.shots)


def test_dry_run_sends_nothing(tiny):
    e = estimate(tiny, steps=3, sequences=2, shots=100, device=GARNET)
    fake = RecordingDevice()
    guarded = GuardedDevice(fake, e, max_cost=None, dry_run=True)  # no ceiling needed to look
    replay(guarded, e)
    guarded.run_batch(["a", "b"], shots=100)
    assert fake.calls == []
    assert len(guarded.sent) == e.tasks + 2

    console = Console(record=True, width=120)
    specs = dry_run(e, tiny, circuits=["<step 1 circuit>"], console=console)
    text = console.export_text()
    assert fake.calls == []
    assert len(specs) == e.tasks == 12
    assert {(s.step, s.setting) for s in specs} == {(t, b) for t in (1, 2, 3) for b in ("XX", "ZZ")}
    assert [s.gates for s in specs if s.sequence == 0] == [5, 3, 8, 6, 11, 9]
    assert "nothing is sent to " + GARNET in text and "12 tasks = 2 sequences x 3 steps" in text
    assert "$5.34" in text and "<step 1 circuit>" in text


def test_guard_refuses_at_construction_without_ceiling(tiny):
    e = estimate(tiny, steps=3, sequences=2, shots=100, device=GARNET)
    fake = RecordingDevice()
    with pytest.raises(BudgetError, match="--max-cost"):
        GuardedDevice(fake, e, max_cost=None)
    assert fake.calls == []


def test_guard_stops_before_the_task_that_would_pass_the_ceiling(tiny):
    e = estimate(tiny, steps=3, sequences=2, shots=100, device=GARNET)
    per_task = 0.30 + 100 * 0.00145
    fake = RecordingDevice()
    guarded = GuardedDevice(fake, e, max_cost=e.cost_usd)
    replay(guarded, e)  # exactly the estimate: every task goes
    assert len(fake.calls) == e.tasks
    with pytest.raises(BudgetError, match=f"{e.tasks} task\\(s\\) were sent, none more"):
        guarded.run("one too many", shots=100)  # a runner sending more than it estimated
    assert len(fake.calls) == e.tasks
    assert guarded.spent == pytest.approx(e.tasks * per_task)


def test_track_spend_reports_the_trackers_counts_and_cost():
    from braket.tracking.tracking_context import broadcast_event
    from braket.tracking.tracking_events import _TaskCreationEvent, _TaskStatusEvent

    arn = "arn:aws:braket:eu-north-1:000000000000:quantum-task/abc"
    seen = []
    with track_spend(on_close=seen.append) as spend:
        broadcast_event(_TaskCreationEvent(arn=arn, shots=100, is_job_task=False, device=GARNET))
        broadcast_event(_TaskStatusEvent(arn=arn, status="FAILED"))  # failed tasks cost nothing
    assert seen == [spend]
    assert spend.devices[GARNET]["shots"] == 100
    assert spend.devices[GARNET]["tasks"] == {"FAILED": 1}
    assert spend.total_usd == 0.0 and spend.error is None
    assert "QPU $0.00" in spend.render()


def test_track_spend_keeps_counts_when_prices_cannot_be_read(monkeypatch):
    import braket.tracking.tracker as tracker_module
    from braket.tracking.tracking_context import broadcast_event
    from braket.tracking.tracking_events import _TaskCreationEvent, _TaskStatusEvent

    def offline(**kwargs):
        raise OSError("no network")

    monkeypatch.setattr(tracker_module, "price_search", offline)
    arn = "arn:aws:braket:eu-north-1:000000000000:quantum-task/def"
    with track_spend() as spend:
        broadcast_event(_TaskCreationEvent(arn=arn, shots=10, is_job_task=False, device=GARNET))
        broadcast_event(_TaskStatusEvent(arn=arn, status="COMPLETED"))
    assert spend.devices[GARNET]["shots"] == 10
    assert spend.total_usd is None and "no network" in spend.error
    assert "Billing console" in spend.render()


def _render(table) -> str:
    console = Console(record=True, width=200)
    console.print(table)
    return console.export_text()


# ---- the command line ------------------------------------------------------------------


def cli(*args: str):
    from typer.testing import CliRunner

    from qrnnc.cli import app

    return CliRunner().invoke(app, list(args))


def test_cli_estimate_copying_as_json():
    r = cli("estimate", "zoo/copying/model.qrnn", "--device", GARNET, "--shots", "1000",
            "--samples", "10", "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["steps"] == 100 + 2 * 5 + 1  # the task's delay + 2 x length + 1
    assert data["tasks"] == 10 * 111 * 3
    assert data["cost_usd"] == pytest.approx(3330 * 0.30 + 3_330_000 * 0.00145)


def test_cli_estimate_table_and_errors(tmp_path: Path):
    r = cli("estimate", "zoo/copying/model.qrnn", "--device", "local", "--steps", "4")
    assert r.exit_code == 0, r.output
    assert "estimated cost" in r.output and "$0.00" in r.output
    bare = tmp_path / "bare.qrnn"
    bare.write_text(HEAD % (2, "", "ry all", "readout z on all") + TAIL)
    r = cli("estimate", str(bare), "--device", "local")
    assert r.exit_code == 1 and "give --steps T" in r.output
    r = cli("estimate", "zoo/copying/model.qrnn", "--device", "arn:aws:braket:::device/qpu/no/Such")
    assert r.exit_code == 1 and "Known devices" in r.output and GARNET in r.output


def test_cli_estimate_reads_a_run_folder(tmp_path: Path):
    from qrnnc import runs

    doc = load("zoo/copying/model.qrnn").ir.model_dump(mode="json")
    doc["task"]["delay"] = 10  # as `train --set delay=10` records it
    cfg = runs.RunConfig(source="zoo/copying/model.qrnn", ir=doc)
    (tmp_path / runs.CONFIG).write_text(cfg.model_dump_json())
    r = cli("estimate", str(tmp_path), "--device", "local", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["steps"] == 10 + 2 * 5 + 1
    r = cli("estimate", str(tmp_path / "nothing"), "--device", "local")
    assert r.exit_code == 1


def test_guard_stops_a_real_runner_that_sends_more_than_estimated():
    import torch
    from braket.devices import LocalSimulator

    from qrnnc.backends.braket import BraketRunner

    compiled = loads(HEAD % (2, "", "ry all  cnot (0,1)", "readout x, z on all") + TAIL)
    e = estimate(compiled.program, steps=2, sequences=2, shots=10, device=GARNET)
    guarded = GuardedDevice(LocalSimulator(), e, max_cost=e.cost_usd)
    runner = BraketRunner(compiled.build(), guarded, shots=10)
    with pytest.raises(BudgetError, match="past --max-cost"):
        runner.readouts(torch.zeros(2, 3, 1))  # three steps: one more than estimated
    assert len(guarded.sent) == e.tasks == 8


# ---- docs/braket_cost.md stays true ------------------------------------------------------

DOC = Path(__file__).parents[2] / "docs" / "braket_cost.md"


def test_doc_example_numbers_are_the_estimates():
    text = DOC.read_text(encoding="utf-8")
    e = estimate(load("zoo/copying/model.qrnn").program, steps=111, sequences=10, shots=1000,
                 device=GARNET)  # fmt: skip
    for number in (f"{e.tasks:,}", f"{e.gates_total:,}", f"${e.cost_usd:,.2f}",
                   f"{e.max_gates:,} ({e.max_two_qubit_gates:,})", f"{e.max_depth:,}"):  # fmt: skip
        assert number in text
    assert f"as of {load_prices().as_of}" in text.replace("**", "")


def test_doc_python_block_runs(monkeypatch, capsys):
    import re

    monkeypatch.chdir(DOC.parents[1])
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S):
        exec(compile(block, str(DOC), "exec"), {})
    assert "nothing is sent" in capsys.readouterr().out


def test_cli_estimate_takes_pixel_steps_from_the_runs_images(tmp_path: Path):
    import numpy as np
    from fixtures import write_idx

    from qrnnc import runs

    data = tmp_path / "digits"
    images = np.zeros((4, 8, 8), dtype=np.uint8)
    labels = np.arange(4, dtype=np.uint8)
    for prefix in ("train", "t10k"):
        write_idx(data / f"{prefix}-images-idx3-ubyte", images, gz=prefix == "t10k")
        write_idx(data / f"{prefix}-labels-idx1-ubyte", labels)
    doc = load("zoo/smnist/model.qrnn").ir.model_dump(mode="json")
    cfg = runs.RunConfig(source="zoo/smnist/model.qrnn", ir=doc, data=str(data))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / runs.CONFIG).write_text(cfg.model_dump_json())
    r = cli("estimate", str(tmp_path / "run"), "--device", "local", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["steps"] == 64  # 8x8 images, one pixel per step
    r = cli("estimate", "zoo/smnist/model.qrnn", "--device", "local", "--json")
    assert json.loads(r.output)["steps"] == 784  # no data folder: MNIST's 28x28
    (data / "train-images-idx3-ubyte").write_bytes(b"nope")
    r = cli("estimate", str(tmp_path / "run"), "--device", "local")
    assert r.exit_code == 1 and "give --steps T" in r.output
