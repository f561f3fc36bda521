"""A QRNN on a Braket device: each step replays the prefix, measures, and feeds the controller.

    runner = BraketRunner(net, LocalSimulator(), shots=1000)
    print(runner.plan(batch=4, steps=10).describe())   # before anything is sent
    logits = runner.forward(x)                          # like net(x)
    runner.tasks_sent, runner.shots_sent

A QPU cannot hold the state between two calls of the classical controller,
so at step t, for every sequence of the batch, the runner prepares
U(theta_t)...U(theta_1)|init> from scratch and measures it once per
measurement basis (`lower.bases`); the readouts estimated from those
measurements feed the controller, which gives theta_{t+1}. A run of T steps
on B sequences therefore sends T x B x bases tasks with O(T^2) gates in all.

With shots=0 (exact simulators only) a step is one task per sequence whose
result types are the readouts' exact expectations (`exact="expectation"`), or
one task per basis returning exact outcome probabilities
(`exact="probability"`, the shot path's estimator without the sampling).

Any object with Braket's `run(spec, shots=..., **options)` (returning a task
with `.result()`) works as the device, and `run_batch(specs, shots=...,
**options)` (returning a batch with `.results()`) is used when it exists:
LocalSimulator, AwsDevice, or a test double that records what it is sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from braket.circuits import Circuit, Gate, ResultType

from qrnnc.backends.braket import lower
from qrnnc.cell import real_dtype, simulate
from qrnnc.qrnn import QRNN


class _Once(logging.Filter):
    """Let each message through once per process.

    Braket's local simulator logs "uses OpenQASM language features that may
    not be supported on QPUs" for every task with a `ctrl @` gate (crx, cry,
    crz); a run sends thousands of them.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


logging.getLogger("braket.default_simulator.openqasm.interpreter").addFilter(_Once())


class TaskLimitError(ValueError):
    """A run would send more tasks than the runner's `max_tasks` allows."""


@dataclass(frozen=True)
class TaskPlan:
    """What a run of `steps` steps on `batch` sequences sends, known before it sends anything."""

    steps: int
    batch: int
    circuits_per_step: int  # per sequence: the bases, or 1 for exact expectations
    shots_per_task: int
    tasks: int
    shots: int
    gates: int  # gate instructions in all tasks together

    def describe(self) -> str:
        circuits = f"{self.circuits_per_step} circuit{'s' * (self.circuits_per_step != 1)}"
        return (
            f"{self.tasks:,} tasks ({self.steps} steps x {self.batch} sequences x {circuits}),"
            f" {self.shots:,} shots, {self.gates:,} gates in all"
        )


@dataclass
class Trajectory:
    """The angles a forward pass applied and the readouts it produced (float64 numpy)."""

    angles: np.ndarray  # (B, T, P) controller-fed angles
    inputs: np.ndarray | None  # (B, T, D) input-fed angles, None when no gate is input-fed
    readouts: np.ndarray  # (B, T, K), float64 whatever the net's dtype


# braket_dm ignores `ctrl @` (an open simulator bug), so crx/cry/crz are sent as
# rotations and cnot/cz by default; the cost estimate counts the same gates.
DEFAULT_CONTROLLED: lower.Controlled = "decompose"


class BraketRunner:
    """Evaluate a QRNN with its quantum cell on a Braket device.

    net: a QRNN (its controller, static angles and head are used as they are;
      the runner evaluates, with dropout off and no gradients; the net's own
      `shots` setting is not used, the device's shots are `shots`).
    device: a Braket device (LocalSimulator("braket_sv"), LocalSimulator("braket_dm"),
      an AwsDevice) or anything with the same `run` / `run_batch`.
    shots: per task; 0 for exact results (simulators only).
    exact: with shots=0, "expectation" (one task per sequence and step) or
      "probability" (one per basis, estimated as the shot path does).
    controlled: crx, cry and crz as rotations and cnot/cz ("decompose", which
      every device runs correctly) or as `ctrl @` gates ("modifier"; see
      `lower.gate_instructions`).
    max_tasks: a ceiling on the tasks this runner may send in all; a run that
      would pass it raises TaskLimitError before sending anything.
    batch: send a step's tasks with `device.run_batch` when the device has it.
    max_parallel: passed to `run_batch`.
    run_options: further keyword arguments for `run` / `run_batch`, e.g.
      poll_timeout_seconds and poll_interval_seconds for an AwsDevice.
    """

    def __init__(
        self,
        net: QRNN,
        device: Any,
        *,
        shots: int,
        exact: Literal["expectation", "probability"] = "expectation",
        controlled: lower.Controlled = DEFAULT_CONTROLLED,
        max_tasks: int | None = None,
        batch: bool = True,
        max_parallel: int | None = None,
        run_options: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(net, QRNN):
            raise TypeError(
                f"BraketRunner runs a QRNN, got {type(net).__name__}; for a seq2seq model run"
                " its encoder and decoder QRNNs, a classical baseline has no quantum cell"
            )
        if isinstance(shots, bool) or not isinstance(shots, int) or shots < 0:
            raise ValueError(f"shots={shots!r}: expected 0 (exact) or a positive int")
        if exact not in ("expectation", "probability"):
            raise ValueError(f"exact={exact!r}: expected 'expectation' or 'probability'")
        if controlled not in ("modifier", "decompose"):
            raise ValueError(f"controlled={controlled!r}: expected 'modifier' or 'decompose'")
        if max_tasks is not None and max_tasks < 0:
            raise ValueError(f"max_tasks={max_tasks}: expected a count >= 0, or None (no limit)")
        self.net = net
        self.program = net.program
        self.device = device
        self.shots = shots
        self.exact = exact
        self.controlled = controlled
        self.max_tasks = max_tasks
        self.batch = batch
        self.max_parallel = max_parallel
        self.run_options = dict(run_options or {})
        self.bases = lower.bases(self.program)
        self._types, self._type_index = lower.expectations(self.program)
        self.tasks_sent = 0
        self.shots_sent = 0
        self.gates_sent = 0
        self.last: Trajectory | None = None

    @property
    def uses_expectations(self) -> bool:
        """Whether a step is one exact-expectation task per sequence (else one per basis)."""
        return self.shots == 0 and self.exact == "expectation"

    # ---- cost ------------------------------------------------------------------------

    def plan(self, batch: int, steps: int) -> TaskPlan:
        """The tasks, shots and gates that `readouts` of a (batch, steps) input sends."""
        prep = len(lower.preparation(self.program).instructions)
        per_step = len(lower.step_instructions(self.program, free=True, controlled=self.controlled))
        extras = [0] if self.uses_expectations else [len(b.rotation()) for b in self.bases]
        circuits = len(extras)
        gates = batch * sum(
            prep + t * per_step + extra for t in range(1, steps + 1) for extra in extras
        )
        tasks = steps * batch * circuits
        return TaskPlan(
            steps=steps,
            batch=batch,
            circuits_per_step=circuits,
            shots_per_task=self.shots,
            tasks=tasks,
            shots=tasks * self.shots,
            gates=gates,
        )

    # ---- running ---------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Like `net(x)`: logits from the head, or the readouts when the model has none."""
        z = self.readouts(x)
        if self.net.head is None:
            return z
        was_training = self.net.training
        self.net.eval()
        try:
            with torch.no_grad():
                return self.net.head(z)
        finally:
            self.net.train(was_training)

    __call__ = forward

    def readouts(self, x: torch.Tensor) -> torch.Tensor:
        """The readouts z (B, T, K) estimated on the device, in the net's dtype."""
        net = self.net
        was_training = net.training
        net.eval()
        try:
            with torch.no_grad():
                return self._recur(net.encode(x))
        finally:
            net.train(was_training)

    def _recur(self, e: torch.Tensor) -> torch.Tensor:
        net, program = self.net, self.program
        batch, steps, _ = e.shape
        plan = self.plan(batch, steps)
        if self.max_tasks is not None and self.tasks_sent + plan.tasks > self.max_tasks:
            raise TaskLimitError(
                f"this run needs {plan.describe()}; with {self.tasks_sent} sent already that"
                f" passes max_tasks={self.max_tasks}: raise max_tasks, or shorten or"
                " split the input"
            )
        cell_dtype = real_dtype(program)
        phi = lower.static_angles(program, net.phi.detach().to(torch.float64).cpu().numpy())
        feeds_input = program.resources.input_angles > 0
        angles = np.zeros((batch, steps, program.n_controller))
        inputs = np.zeros((batch, steps, program.input_dim)) if feeds_input else None
        estimates = np.zeros((batch, steps, program.n_readouts))
        prefixes = [lower.preparation(program) for _ in range(batch)]
        z = e.new_zeros(batch, program.n_readouts)
        out = []
        for t in range(steps):
            e_t = e[:, t]
            theta = net.controller_angles(e_t, z)
            angles[:, t] = theta.to(torch.float64).cpu().numpy()
            if inputs is not None:
                inputs[:, t] = e_t.to(cell_dtype).to(torch.float64).cpu().numpy()
            for b in range(batch):
                x_bt = None if inputs is None else inputs[b, t]
                prefixes[b].add(
                    lower.step_instructions(
                        program, angles[b, t], phi, x_bt, controlled=self.controlled
                    )
                )
            estimates[:, t] = self._measure(prefixes)
            z = torch.as_tensor(estimates[:, t], dtype=cell_dtype, device=e.device).to(e.dtype)
            out.append(z)
        self.last = Trajectory(angles, inputs, estimates)
        return torch.stack(out, dim=1) if out else e.new_zeros(batch, 0, program.n_readouts)

    def _measure(self, prefixes: list[Circuit]) -> np.ndarray:
        """One step's readouts (B, K) for the sequences' prefix circuits."""
        n, k = self.program.qubits, self.program.n_readouts
        z = np.zeros((len(prefixes), k))
        if self.uses_expectations:
            specs = [_with(p, [], self._types) for p in prefixes]
            for b, result in enumerate(self._send(specs)):
                values = np.asarray(result.values, dtype=np.float64)
                z[b] = values[self._type_index]
            return z
        probabilities = self.shots == 0
        specs = []
        for p in prefixes:
            for basis in self.bases:
                if probabilities:
                    specs.append(_with(p, basis.rotation(), [ResultType.Probability(range(n))]))
                else:
                    # Explicit measurements serialize as the implicit ones do, and a
                    # noise model's readout error (MeasureCriteria) applies only to them.
                    specs.append(_with(p, basis.rotation(), []).measure(range(n)))
        results = iter(self._send(specs))
        for b in range(len(prefixes)):
            for basis in self.bases:
                result = next(results)
                if probabilities:
                    values = basis.estimate_probabilities(result.values[0])
                else:
                    values = basis.estimate_bits(_bits(result, n))
                z[b, list(basis.readouts)] = values
        return z

    def _send(self, specs: list[Circuit]) -> list[Any]:
        """Run the circuits on the device (one batch where it can), results in order."""
        # Counted on submission: a task that fails later has still been sent (and billed).
        self.tasks_sent += len(specs)
        self.shots_sent += len(specs) * self.shots
        self.gates_sent += sum(gate_count(s) for s in specs)
        if self.batch and len(specs) > 1 and hasattr(self.device, "run_batch"):
            options = dict(self.run_options)
            if self.max_parallel is not None:
                options["max_parallel"] = self.max_parallel
            results = list(self.device.run_batch(specs, shots=self.shots, **options).results())
        else:
            tasks = [self.device.run(s, shots=self.shots, **self.run_options) for s in specs]
            results = [task.result() for task in tasks]
        failed = [i for i, r in enumerate(results) if r is None]
        if failed or len(results) != len(specs):
            raise RuntimeError(
                f"{len(failed) or len(specs) - len(results)} of {len(specs)} tasks returned no"
                f" result (first: task {failed[0] if failed else len(results)}); check the"
                " device's task log, then run again"
            )
        return results


def gate_count(circuit: Circuit) -> int:
    """The gates of a circuit (its instructions less measurements and noise)."""
    return sum(isinstance(i.operator, Gate) for i in circuit.instructions)


def _with(prefix: Circuit, gates: list[Any], result_types: list[Any]) -> Circuit:
    circuit = prefix.copy()
    circuit.add(gates)
    for rt in result_types:
        circuit.add_result_type(rt)
    return circuit


def _bits(result: Any, n: int) -> np.ndarray:
    """Measured bits (shots, n), column q = qubit q, whatever order the device measured in."""
    measured = [int(q) for q in result.measured_qubits]
    missing = sorted(set(range(n)) - set(measured))
    if missing:
        raise RuntimeError(
            f"the device measured qubits {measured}, not {missing}; a readout needs all"
            f" {n} qubits measured"
        )
    m = np.asarray(result.measurements)
    return m[:, [measured.index(q) for q in range(n)]]


def exact_trajectory(net: QRNN, x: torch.Tensor) -> Trajectory:
    """The angles and readouts of the net's own (exact, statevector) forward pass on x.

    What an exact Braket run must reproduce; read with a hook on the controller,
    so the numbers are the ones `net(x)` computes.
    """
    program = net.program
    seen: list[torch.Tensor] = []
    hook = None
    if net.controller is not None:
        hook = net.controller.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            e = net.encode(x)
            net(x)
    finally:
        net.train(was_training)
        if hook is not None:
            hook.remove()
    cell_dtype = real_dtype(program)
    batch, steps, _ = e.shape
    if seen:
        angles = torch.stack([s.to(cell_dtype) for s in seen], dim=1)
    else:
        angles = e.new_zeros(batch, steps, 0, dtype=cell_dtype)
    inputs = None
    if program.resources.input_angles:
        inputs = e.to(cell_dtype).to(torch.float64).cpu().numpy()
    assert net.readouts is not None
    return Trajectory(
        angles.to(torch.float64).cpu().numpy(),
        inputs,
        net.readouts.to(torch.float64).cpu().numpy(),
    )


def exact_readouts(net: QRNN, trajectory: Trajectory) -> np.ndarray:
    """The exact expectations (B, T, K) of the angles a device ran, by the numba/torch cell.

    A device's readouts minus these is its estimation error alone (shot noise,
    or noise channels), free of how that error fed back into later angles.
    """
    inputs = None if trajectory.inputs is None else trajectory.inputs.transpose(1, 0, 2)
    exact = simulate(
        net.program,
        trajectory.angles.transpose(1, 0, 2),
        params=net.phi.detach().double(),
        inputs=inputs,
    )
    return exact.numpy().transpose(1, 0, 2)
