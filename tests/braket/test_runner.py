"""The Braket runner against the numba forward: exact on LocalSimulator, statistical with shots.

At shots=0 the runner's readouts and predictions equal the numba forward's to
1e-8 for every zoo model and for random models; with shots, each estimated
readout lies within 5 standard errors of the exact expectation along the
trajectory the estimates drove. A recording device shows what is sent: T x B
x bases tasks, the planned gate count, one batch per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from braket.devices import LocalSimulator
from hypothesis import given, settings
from hypothesis import strategies as st
from programs import model_texts

import qrnnc
from qrnnc.backends.braket import BraketRunner, lower
from qrnnc.backends.braket.runner import TaskLimitError, exact_trajectory, gate_count
from qrnnc.cell import simulate
from qrnnc.qrnn import build_qrnn

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
EXACT = 1e-8
ZOO_MODELS = [
    (path.parent.name, name)
    for path in sorted((ROOT / "zoo").glob("*/model.qrnn"))
    for name in qrnnc.load(path).programs
]

SMALL = """
model small {
    qubits 3
    init plus
    input tokens(vocab=5, embed=4)
    controller mlp(hidden=8)
    cell {
        ry all
        crz ring
        rxx (0, 2) <- param(0.3)
    }
    readout x, y, z on all
    readout zz on (0, 1)
    head linear(out=3) per_step
}
"""


def build(text: str, seed: int = 0):
    torch.manual_seed(seed)
    return qrnnc.loads(text).build(dtype=torch.float64).eval()


def inputs_for(net, batch: int, steps: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    inp = net.model_ir.input
    if net.program.input_kind == "tokens":
        return torch.randint(0, inp.vocab, (batch, steps), generator=g)
    return torch.rand(batch, steps, inp.dim, generator=g, dtype=torch.float64) * 2 - 1


@pytest.fixture(scope="module")
def sv():
    return LocalSimulator()


# ---- exact --------------------------------------------------------------------------


@pytest.mark.parametrize("exact", ["expectation", "probability"])
@pytest.mark.parametrize(("file", "model"), ZOO_MODELS, ids=[f"{f}:{m}" for f, m in ZOO_MODELS])
def test_zoo_models_equal_numba_at_zero_shots(file, model, exact, sv):
    torch.manual_seed(0)
    net = build_qrnn(qrnnc.load(ROOT / "zoo" / file / "model.qrnn"), model, dtype=torch.float64)
    net.eval()
    x = inputs_for(net, batch=2, steps=3)
    with torch.no_grad():
        expected = net(x)
        z_expected = net.readouts.clone()
    runner = BraketRunner(net, sv, shots=0, exact=exact)
    got = runner.forward(x)
    assert runner.last is not None
    np.testing.assert_allclose(runner.last.readouts, z_expected.numpy(), atol=EXACT, rtol=0)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=EXACT, rtol=0)
    assert runner.tasks_sent == runner.plan(2, 3).tasks
    assert runner.shots_sent == 0


@settings(max_examples=12)
@given(text=model_texts(max_qubits=4, max_ops=5), seed=st.integers(0, 2**16))
def test_random_models_equal_numba_at_zero_shots(text, seed):
    torch.manual_seed(seed)
    net = build_qrnn(qrnnc.loads(text), dtype=torch.float64).eval()
    x = inputs_for(net, batch=2, steps=2, seed=seed)
    with torch.no_grad():
        expected = net(x)
    runner = BraketRunner(net, LocalSimulator(), shots=0, batch=False)
    np.testing.assert_allclose(runner.readouts(x).numpy(), expected.numpy(), atol=EXACT, rtol=0)


def test_ctrl_modifiers_equal_numba_on_the_statevector_simulator(sv):
    net = build(SMALL)
    x = inputs_for(net, batch=2, steps=3)
    with torch.no_grad():
        expected = net(x)
    runner = BraketRunner(net, sv, shots=0, controlled="modifier")
    np.testing.assert_allclose(runner.forward(x).numpy(), expected.numpy(), atol=EXACT, rtol=0)
    assert runner.gates_sent == runner.plan(2, 3).gates


@pytest.mark.filterwarnings("ignore:You are running a noise-free circuit")
def test_density_matrix_simulator_equals_numba_without_noise():
    # SMALL's crz ring has the pair (2, 0), which braket_dm gets wrong as `ctrl @ rz`
    # (it ignores gate modifiers); the runner sends it decomposed by default.
    net = build(SMALL)
    x = inputs_for(net, batch=2, steps=3)
    with torch.no_grad():
        expected = net(x)
    got = BraketRunner(net, LocalSimulator("braket_dm"), shots=0, batch=False).forward(x)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=EXACT, rtol=0)


def test_exact_trajectory_is_the_numba_forward():
    net = build(SMALL)
    x = inputs_for(net, batch=2, steps=4)
    trajectory = exact_trajectory(net, x)
    z = simulate(net.program, trajectory.angles.transpose(1, 0, 2), params=net.phi.detach())
    np.testing.assert_allclose(trajectory.readouts, z.numpy().transpose(1, 0, 2), atol=1e-12)


# ---- shots --------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [True, False], ids=["run_batch", "run"])
def test_shot_estimates_lie_within_five_standard_errors(batch, sv):
    net = build(SMALL)
    x = inputs_for(net, batch=2, steps=3)
    shots = 2000
    runner = BraketRunner(net, sv, shots=shots, batch=batch)
    runner.readouts(x)
    got = runner.last
    assert got is not None
    # The exact expectations along the trajectory the estimates drove (they fed the controller).
    exact = simulate(net.program, got.angles.transpose(1, 0, 2), params=net.phi.detach())
    exact = exact.numpy().transpose(1, 0, 2)
    se = np.sqrt(np.clip(1 - exact**2, 0, None) / shots)
    assert np.all(np.abs(got.readouts - exact) <= 5 * se + 1e-12)
    assert not np.allclose(got.readouts, exact, atol=1e-6)  # they are estimates
    assert np.all(np.abs(got.readouts * shots - np.round(got.readouts * shots)) < 1e-6)
    assert runner.shots_sent == runner.tasks_sent * shots == 3 * 2 * 3 * shots


def test_readout_noise_reaches_the_shot_path():
    """Basis circuits measure explicitly, so a noise model's readout error applies to them."""
    from qrnnc.backends.braket.noise import noisy_simulator

    net = build(SMALL)
    p, shots = 0.2, 4000
    runner = BraketRunner(net, noisy_simulator(f"readout={p}", qubits=3), shots=shots)
    runner.readouts(inputs_for(net, batch=1, steps=1))
    got = runner.last
    assert got is not None
    exact = simulate(net.program, got.angles.transpose(1, 0, 2), params=net.phi.detach())
    scale = np.array([(1 - 2 * p) ** (2 if o == "zz" else 1) for o in net.program.readout_obs])
    expected = exact.numpy().transpose(1, 0, 2) * scale
    se = np.sqrt((1 - expected**2) / shots)
    assert np.all(np.abs(got.readouts - expected) <= 5 * se)


# ---- what is sent -------------------------------------------------------------------


@dataclass
class Recorder:
    """A Braket device double: runs on a LocalSimulator and records every task and batch."""

    inner: Any = field(default_factory=LocalSimulator)
    tasks: list[tuple[Any, int]] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)

    def run(self, spec: Any, shots: int, **options: Any) -> Any:
        self.tasks.append((spec, shots))
        return self.inner.run(spec, shots=shots, **options)


@dataclass
class BatchRecorder(Recorder):
    def run_batch(self, specs: list[Any], shots: int, **options: Any) -> Any:
        self.batches.append(len(specs))
        self.tasks += [(s, shots) for s in specs]
        return self.inner.run_batch(specs, shots=shots, **options)


@pytest.mark.parametrize("shots", [0, 100])
def test_a_recording_device_sees_the_planned_tasks(shots):
    net = build(SMALL)
    batch, steps = 2, 3
    x = inputs_for(net, batch, steps)
    device = Recorder()
    runner = BraketRunner(net, device, shots=shots, exact="probability")
    plan = runner.plan(batch, steps)
    runner.readouts(x)
    n_bases = len(lower.bases(net.program))
    assert n_bases == 3
    assert plan.tasks == len(device.tasks) == runner.tasks_sent == steps * batch * n_bases
    assert plan.gates == runner.gates_sent == sum(gate_count(s) for s, _ in device.tasks)
    assert {s for _, s in device.tasks} == {shots}
    assert plan.shots == runner.shots_sent == plan.tasks * shots
    # Step t replays t steps: the prefix grows by one cell per step (O(T^2) gates in all);
    # the ring of crz gates goes out decomposed, 4 gates each.
    gates = len(net.program.gates) + 3 * net.program.resources.gate_counts["crz"]
    first = [gate_count(s) for s, _ in device.tasks[: batch * n_bases]]
    last = [gate_count(s) for s, _ in device.tasks[-batch * n_bases :]]
    assert [b - a for a, b in zip(first, last, strict=True)] == [(steps - 1) * gates] * len(first)


def test_a_step_is_one_batch_where_the_device_has_run_batch():
    net = build(SMALL)
    device = BatchRecorder()
    runner = BraketRunner(net, device, shots=0)
    runner.readouts(inputs_for(net, batch=3, steps=2))
    assert device.batches == [3, 3]  # exact expectations: one task per sequence and step
    assert runner.plan(3, 2).circuits_per_step == 1


def test_max_tasks_refuses_before_sending_anything():
    net = build(SMALL)
    device = Recorder()
    runner = BraketRunner(net, device, shots=10, max_tasks=17)
    with pytest.raises(TaskLimitError, match=r"18 tasks \(3 steps x 2 sequences x 3 circuits\)"):
        runner.readouts(inputs_for(net, batch=2, steps=3))
    assert device.tasks == [] and runner.tasks_sent == 0
    runner.max_tasks = 18
    runner.readouts(inputs_for(net, batch=2, steps=3))
    assert runner.tasks_sent == 18


def test_a_task_without_result_is_an_error():
    class Lost:
        def run(self, spec, shots, **options):
            return type("Task", (), {"result": lambda self: None})()

    net = build(SMALL)
    with pytest.raises(RuntimeError, match="tasks returned no result"):
        BraketRunner(net, Lost(), shots=10).readouts(inputs_for(net, batch=1, steps=1))


def test_measured_qubits_in_any_order_are_put_back_in_qubit_order():
    from qrnnc.backends.braket.runner import _bits

    result = type("R", (), {"measured_qubits": [2, 0, 1], "measurements": np.array([[1, 0, 0]])})
    np.testing.assert_array_equal(_bits(result, 3), [[0, 0, 1]])
    partial = type("R", (), {"measured_qubits": [0, 1], "measurements": np.array([[1, 0]])})
    with pytest.raises(RuntimeError, match=r"not \[2\]"):
        _bits(partial, 3)


def test_bad_arguments_say_what_to_pass(sv):
    net = build(SMALL)
    with pytest.raises(ValueError, match="shots=-1"):
        BraketRunner(net, sv, shots=-1)
    with pytest.raises(ValueError, match="exact='sample'"):
        BraketRunner(net, sv, shots=0, exact="sample")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="runs a QRNN, got Linear"):
        BraketRunner(torch.nn.Linear(2, 2), sv, shots=0)  # type: ignore[arg-type]


def test_the_net_keeps_its_mode_and_the_run_keeps_no_graph(sv):
    net = build(SMALL).train()
    logits = BraketRunner(net, sv, shots=0).forward(inputs_for(net, batch=1, steps=2))
    assert net.training and not logits.requires_grad
    assert math.isfinite(float(logits.sum()))
