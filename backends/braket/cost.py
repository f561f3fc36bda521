"""What a QRNN costs on Braket before anything is sent, and the guards that spend it.

A QPU cannot keep the state between two calls of the classical controller, so
step t of a sequence re-prepares the whole prefix U(theta_t)...U(theta_1)|init>
and measures the step's readouts, one circuit per measurement setting (readouts
that share a setting are measured together: X on every qubit, Y on every
qubit, Z and ZZ together). Per sequence of T steps that is T x settings tasks
and, with G gates per step, settings x G x T(T+1)/2 gates: quadratic in T.

    est = estimate(program, steps=111, sequences=10, shots=1000,
                   device="arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet")
    check_budget(est, max_cost=7000)    # refuses AWS devices without a ceiling

The preparation and the measurement bases are the lowering's own
(`lower.preparation`, `lower.bases`, `Basis.rotation`), so the counts are those
the runner sends. Prices come from `prices.json` next to this file (dated, with
its source); `load_prices(FILE)` lays a user's table over it.

Guards: `check_budget` refuses an AWS run without a ceiling or over it;
`GuardedDevice` counts every task against the ceiling before sending it (and
sends nothing in a dry run); `dry_run` prints the task specifications;
`track_spend` reports what braket's Tracker saw, after the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.console import Console
from rich.table import Table

from qrnnc.errors import QrnnError
from qrnnc.program import Program

PRICES = Path(__file__).with_name("prices.json")
# LocalSimulator backends run on this machine and cost nothing.
LOCAL_DEVICES = ("local", "default", "braket_sv", "braket_dm")


class CostError(QrnnError):
    """A cost question that cannot be answered as asked (unknown device, bad numbers)."""


class BudgetError(CostError):
    """A run refused because it has no cost ceiling or would exceed it."""


# ---- the price table ----------------------------------------------------------------


class DevicePrice(BaseModel):
    """One device's on-demand prices in USD, with where and when they were read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    name: str
    kind: Literal["qpu", "simulator"]
    per_task: float = Field(0.0, ge=0.0)
    per_shot: float = Field(0.0, ge=0.0)
    per_minute: float = Field(0.0, ge=0.0)  # managed simulators bill run time
    min_billed_seconds: float = Field(0.0, ge=0.0)
    note: str | None = None
    as_of: date | None = None  # filled from the table when the entry has none
    source: str | None = None  # the page the price was copied from
    file: str | None = None  # the price file it was read from (filled on load)


class PriceTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: date
    currency: Literal["USD"] = "USD"
    source: str
    note: str = ""
    devices: dict[str, DevicePrice]


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The shipped price table, with the entries of the table at `path` laid over it.

    Each entry keeps the date and source of the table it came from, so an
    estimate can say which prices it used.
    """
    table = _read_table(PRICES)
    if path is None:
        return table
    user = _read_table(Path(path))
    return table.model_copy(update={"devices": {**table.devices, **user.devices}})


def _read_table(path: Path) -> PriceTable:
    try:
        table = PriceTable.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise CostError(f"cannot read the price table: {e.strerror or e}", file=str(path)) from None
    except ValidationError as e:
        raise CostError(
            f"not a price table ({e.error_count()} problems, first: {_first(e)});"
            f" copy the format of {PRICES}",
            file=str(path),
        ) from None
    dated = {
        arn: p.model_copy(
            update={
                "as_of": p.as_of or table.as_of,
                "source": p.source or table.source,
                "file": str(path),
            }
        )
        for arn, p in table.devices.items()
    }
    return table.model_copy(update={"devices": dated})


def _first(e: ValidationError) -> str:
    err = e.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"


def device_price(device: str, table: PriceTable) -> DevicePrice | None:
    """The price of `device` (None for a local simulator), or a CostError naming the known ones."""
    if device in LOCAL_DEVICES:
        return None
    price = table.devices.get(device)
    if price is None:
        known = "\n  ".join(f"{arn}  ({p.provider} {p.name})" for arn, p in table.devices.items())
        raise CostError(
            f"no price for device {device!r}. Known devices:\n  {known}\n"
            f"  {', '.join(LOCAL_DEVICES)}  (LocalSimulator, free)\n"
            f"Pass --prices FILE with an entry for it, in the format of {PRICES}",
            file="--device",
        )
    return price


# ---- measurement settings -----------------------------------------------------------


def measurement_settings(program: Program, *, exact: bool = False) -> tuple[str, ...]:
    """The circuits one step needs, as one Pauli letter per qubit (the runner's bases).

    `x, y, z on all` needs XXX..., YYY..., ZZZ...; ZZ pairs ride with Z.
    `exact` (shots=0 on a simulator) reads every expectation from one state, so
    one circuit with no basis change ("*") is enough.
    """
    return _layout(program, exact=exact).settings


@dataclass(frozen=True)
class _Layout:
    """What every circuit of a step adds to the prefix: per qubit, gates before and after."""

    settings: tuple[str, ...]
    prep: list[int]  # the preparation (`init plus`: h), per qubit
    changes: list[list[int]]  # per setting, the basis change per qubit


def _layout(program: Program, *, exact: bool) -> _Layout:
    """The lowering's own preparation and bases, so counts match what the runner sends."""
    from qrnnc.backends.braket import lower

    if not program.readout_obs:
        raise CostError(f"model {program.model} has no readouts: there is nothing to measure")
    n = program.qubits
    prep = _per_qubit(lower.preparation(program).instructions, n)
    if exact:
        return _Layout(("*",), prep, [[0] * n])
    bases = lower.bases(program)
    return _Layout(
        tuple(b.label for b in bases), prep, [_per_qubit(b.rotation(), n) for b in bases]
    )


def _per_qubit(instructions: Sequence[Any], n: int) -> list[int]:
    counts = [0] * n
    for instruction in instructions:
        for q in instruction.target:
            counts[int(q)] += 1
    return counts


# ---- the estimate -------------------------------------------------------------------


class StepCost(BaseModel):
    """The largest circuit of step t (over its settings), prefix and basis change included."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    t: int
    gates: int
    two_qubit_gates: int
    depth: int
    two_qubit_depth: int


class Estimate(BaseModel):
    """Tasks, shots, circuit sizes and price of evaluating a QRNN on one device."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    qubits: int
    device: str
    device_name: str
    device_kind: Literal["local", "qpu", "simulator"]
    steps: int
    sequences: int
    shots: int
    settings: tuple[str, ...]
    gates_per_step: int
    two_qubit_gates_per_step: int
    prep_gates: int  # the preparation every circuit starts with (`init plus`: one h per qubit)
    circuits_per_sequence: int
    tasks: int
    shots_total: int
    gates_total: int
    two_qubit_gates_total: int
    max_gates: int
    max_two_qubit_gates: int
    max_depth: int
    max_two_qubit_depth: int
    per_step: tuple[StepCost, ...]
    cost_usd: float | None
    cost_basis: str
    price: DevicePrice | None = None

    @property
    def is_aws(self) -> bool:
        return self.device_kind != "local"

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)

    def table(self) -> Table:
        """The estimate as a rich table: counts, largest circuit, price and its provenance."""
        table = Table(title=f"model {self.model} on {self.device_name}", show_header=True)
        table.add_column("quantity")
        table.add_column("value", justify="right", overflow="fold")
        row = table.add_row
        row("device", self.device)
        row("steps T x sequences", f"{self.steps} x {self.sequences}")
        row("measurement settings", f"{len(self.settings)}: {', '.join(self.settings)}")
        row("tasks", f"{self.tasks:,}")
        row("shots per task / total", f"{self.shots:,} / {self.shots_total:,}")
        row(
            "gates per step (two-qubit)", f"{self.gates_per_step} ({self.two_qubit_gates_per_step})"
        )
        row(
            "largest circuit: gates (two-qubit)",
            f"{self.max_gates:,} ({self.max_two_qubit_gates:,})",
        )
        row(
            "largest circuit: depth (two-qubit)",
            f"{self.max_depth:,} ({self.max_two_qubit_depth:,})",
        )
        row(
            "gates sent in total (two-qubit)",
            f"{self.gates_total:,} ({self.two_qubit_gates_total:,})",
        )
        row("estimated cost", _money(self.cost_usd))
        row("cost basis", self.cost_basis)
        if self.price is not None:
            row("prices as of", f"{self.price.as_of} — check before spending")
            given = self.price.file != str(PRICES)
            row("prices from", self.price.source + (f" (via {self.price.file})" if given else ""))
            if self.price.note:
                row("price note", self.price.note)
        return table

    def step_table(self, rows: int = 6) -> Table:
        """A few steps' largest circuits, first and last: how the prefix grows."""
        table = Table(title="largest circuit per step (prefix + basis change)", show_header=True)
        for name in ("t", "gates", "two-qubit gates", "depth", "two-qubit depth"):
            table.add_column(name, justify="right")
        for s in _spread(self.per_step, rows):
            table.add_row(
                *(str(v) for v in (s.t, s.gates, s.two_qubit_gates, s.depth, s.two_qubit_depth))
            )
        return table


def _spread(items: Sequence[StepCost], rows: int) -> list[StepCost]:
    if len(items) <= rows:
        return list(items)
    picks = sorted({round(i * (len(items) - 1) / (rows - 1)) for i in range(rows)})
    return [items[i] for i in picks]


def _money(value: float | None) -> str:
    return "not estimated" if value is None else f"${value:,.2f}"


def estimate(
    program: Program,
    *,
    steps: int,
    sequences: int,
    shots: int,
    device: str,
    prices: PriceTable | str | Path | None = None,
) -> Estimate:
    """Tasks, gates, depths and price of `sequences` sequences of `steps` steps on `device`.

    device: a Braket device ARN from the price table, or a LocalSimulator name
      ("local", "braket_sv", "braket_dm"), which costs nothing.
    shots: per task; 0 asks a simulator for exact expectations (one circuit
      per step), which a QPU cannot give.
    prices: a PriceTable, or a price file laid over the shipped table.
    """
    for name, value, low in (("steps", steps, 1), ("sequences", sequences, 1), ("shots", shots, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise CostError(f"{name}={value!r}: expected an integer >= {low}", file=f"--{name}")
    table = prices if isinstance(prices, PriceTable) else load_prices(prices)
    price = device_price(device, table)
    kind = "local" if price is None else price.kind
    if kind == "qpu" and shots == 0:
        raise CostError(
            f"{device} is a QPU: it measures, so give --shots N (N >= 1); exact readouts"
            " (shots 0) exist only on simulators",
            file="--shots",
        )
    layout = _layout(program, exact=shots == 0)
    settings = layout.settings
    steps_costs, circuit_gates = _grow(program, layout, steps)
    wires = step_wires(program)
    g1, g2 = len(wires), sum(len(w) == 2 for w in wires)
    tasks = sequences * steps * len(settings)
    shots_total = tasks * shots
    cost, basis = _price(price, tasks, shots_total)
    last = steps_costs[-1]
    return Estimate(
        model=program.model,
        qubits=program.qubits,
        device=device,
        device_name="LocalSimulator" if price is None else f"{price.provider} {price.name}",
        device_kind=kind,
        steps=steps,
        sequences=sequences,
        shots=shots,
        settings=settings,
        gates_per_step=g1,
        two_qubit_gates_per_step=g2,
        prep_gates=sum(layout.prep),
        circuits_per_sequence=steps * len(settings),
        tasks=tasks,
        shots_total=shots_total,
        gates_total=sequences * circuit_gates,
        two_qubit_gates_total=sequences * len(settings) * g2 * steps * (steps + 1) // 2,
        max_gates=last.gates,
        max_two_qubit_gates=last.two_qubit_gates,
        max_depth=max(s.depth for s in steps_costs),
        max_two_qubit_depth=last.two_qubit_depth,
        per_step=tuple(steps_costs),
        cost_usd=cost,
        cost_basis=basis,
        price=price,
    )


def step_wires(program: Program) -> list[tuple[int, ...]]:
    """The qubits of each gate one step sends, as the runner lowers it.

    Counted from the runner's own lowering (controlled rotations decomposed by
    default), so the estimate and what is sent cannot drift apart.
    """
    from qrnnc.backends.braket import lower
    from qrnnc.backends.braket.runner import DEFAULT_CONTROLLED

    wires = []
    for ins in lower.step_instructions(program, free=True, controlled=DEFAULT_CONTROLLED):
        qubits = [int(q) for q in ins.control] + [int(q) for q in ins.target]
        wires.append(tuple(qubits))
    return wires


def _grow(program: Program, layout: _Layout, steps: int) -> tuple[list[StepCost], int]:
    """Per-step largest circuits and the gates of all circuits of one sequence.

    Gates are scheduled as early as they can go (as `qrnnc info` counts depth);
    the prefix of step t is step t-1's plus one more cell, so the schedule
    grows one cell at a time instead of being redone for every t.
    """
    n = program.qubits
    level = list(layout.prep)
    level2 = [0] * n
    prep = sum(layout.prep)
    wires = step_wires(program)
    g1 = len(wires)
    g2 = sum(len(w) == 2 for w in wires)
    out: list[StepCost] = []
    total = 0
    for t in range(1, steps + 1):
        for w in wires:
            if len(w) == 1:
                level[w[0]] += 1
                continue
            a, b = w
            level[a] = level[b] = max(level[a], level[b]) + 1
            level2[a] = level2[b] = max(level2[a], level2[b]) + 1
        gates = [prep + t * g1 + sum(change) for change in layout.changes]
        depths = [max(map(sum, zip(level, change, strict=True))) for change in layout.changes]
        total += sum(gates)
        out.append(
            StepCost(
                t=t,
                gates=max(gates),
                two_qubit_gates=t * g2,
                depth=max(depths),
                two_qubit_depth=max(level2, default=0),
            )
        )
    return out, total


def _price(price: DevicePrice | None, tasks: int, shots: int) -> tuple[float | None, str]:
    if price is None:
        return 0.0, "LocalSimulator: runs here, free"
    if price.kind == "qpu":
        cost = tasks * price.per_task + shots * price.per_shot
        return round(cost, 6), (
            f"{tasks:,} tasks x ${price.per_task} + {shots:,} shots x ${price.per_shot}"
        )
    if price.per_minute and price.min_billed_seconds:
        # Run time depends on qubits, depth and shots and is not known before;
        # every task bills at least the minimum, so that much is certain.
        cost = tasks * price.min_billed_seconds / 60 * price.per_minute
        return round(cost, 6), (
            f"lower bound: {tasks:,} tasks x the {price.min_billed_seconds:g} s minimum"
            f" x ${price.per_minute}/min; longer tasks cost more"
        )
    return None, "not estimated: billed by run time, which is not known before the run"


# ---- guards ---------------------------------------------------------------------------


def check_budget(estimate: Estimate, max_cost: float | None) -> None:
    """Refuse an AWS run with no ceiling, or one whose estimate exceeds it.

    Local simulators pass with or without a ceiling. For managed simulators the
    estimate is a floor (run time is unknown before the run), so the ceiling
    guards the floor only: set it with room to spare.
    """
    if not estimate.is_aws:
        return
    cost = estimate.cost_usd
    if max_cost is None:
        raise BudgetError(
            f"{estimate.device_name} is an AWS device and running on it costs money"
            f" (estimated {_money(cost)} for {estimate.tasks:,} tasks);"
            f" pass --max-cost USD (at least {_money(cost)}) to allow it,"
            " or --dry-run to see the tasks without sending any",
            file="--max-cost",
        )
    if math.isnan(max_cost) or max_cost < 0:
        raise BudgetError(f"{max_cost!r}: expected a ceiling in USD >= 0", file="--max-cost")
    if cost is None:
        raise BudgetError(
            f"the cost on {estimate.device_name} cannot be estimated before the run"
            f" ({estimate.cost_basis}); add a price entry with --prices FILE, or run on a QPU"
            " with a per-shot price",
            file="--max-cost",
        )
    if cost > max_cost:
        raise BudgetError(
            f"estimated {_money(cost)} exceeds --max-cost {_money(max_cost)}"
            f" ({estimate.cost_basis}); lower --samples, --steps or --shots, or raise --max-cost",
            file="--max-cost",
        )


@dataclass(frozen=True)
class TaskSpec:
    """One task as a run would send it: which step and setting, its size and shots."""

    sequence: int
    step: int
    setting: str
    qubits: int
    gates: int
    two_qubit_gates: int
    shots: int
    device: str


def task_specs(estimate: Estimate, program: Program) -> Iterator[TaskSpec]:
    """Every task of the run, in the order a prefix-replay runner sends them."""
    layout = _layout(program, exact=estimate.settings == ("*",))
    lengths = [sum(change) for change in layout.changes]
    g1, g2 = estimate.gates_per_step, estimate.two_qubit_gates_per_step
    prep = sum(layout.prep)
    for b in range(estimate.sequences):
        for t in range(1, estimate.steps + 1):
            for setting, extra in zip(estimate.settings, lengths, strict=True):
                yield TaskSpec(
                    b,
                    t,
                    setting,
                    program.qubits,
                    prep + t * g1 + extra,
                    t * g2,
                    estimate.shots,
                    estimate.device,
                )


def dry_run(
    estimate: Estimate,
    program: Program,
    *,
    circuits: Sequence[Any] = (),
    console: Console | None = None,
    rows: int = 6,
) -> list[TaskSpec]:
    """Print what a run would send (tasks, shots, device, price) and send nothing.

    circuits: the first step's circuits, if the caller has them (they are
    printed as given; later steps' angles depend on measured readouts, so only
    their sizes can be known before the run). Returns the task specifications.
    """
    console = console or Console(highlight=False)
    specs = list(task_specs(estimate, program))
    console.print(f"dry run: nothing is sent to {estimate.device}")
    console.print(estimate.table())
    console.print(
        f"{len(specs):,} tasks = {estimate.sequences} sequences x {estimate.steps} steps"
        f" x {len(estimate.settings)} settings, {estimate.shots:,} shots each"
    )
    table = Table(title="task specifications (first and last)", show_header=True)
    for name in ("sequence", "step", "setting", "qubits", "gates", "two-qubit", "shots"):
        table.add_column(name, justify="right")
    shown = specs if len(specs) <= rows else specs[: rows // 2] + specs[-(rows - rows // 2) :]
    for s in shown:
        table.add_row(
            str(s.sequence),
            str(s.step),
            s.setting,
            str(s.qubits),
            str(s.gates),
            str(s.two_qubit_gates),
            str(s.shots),
        )
    console.print(table)
    for i, circuit in enumerate(circuits):
        console.print(f"step 1, circuit {i}:")
        console.print(str(circuit), markup=False)
    return specs


def aws_device(arn: str) -> Any:
    """braket.aws.AwsDevice(arn): made only after the estimate and the budget passed,
    so a refused or dry run needs no credentials and makes no network call."""
    from braket.aws import AwsDevice

    return AwsDevice(arn)


@dataclass
class GuardedDevice:
    """A device that counts every task against the ceiling before sending it.

    The runner sends through this and nothing else: `check_budget` refuses the
    run up front, and each `run` refuses the task that would take the spend,
    priced from the table, past `max_cost` (a runner that sends more than it
    estimated stops before the bill does). With `dry_run` nothing reaches the
    device; `sent` lists what would have gone.
    """

    device: Any
    estimate: Estimate
    max_cost: float | None
    dry_run: bool = False
    sent: list[tuple[int, str]] = field(default_factory=list)  # (shots, device) per task
    spent: float = 0.0

    def __post_init__(self) -> None:
        if not self.dry_run:
            check_budget(self.estimate, self.max_cost)

    def run(self, task_specification: Any, shots: int, **kwargs: Any) -> Any:
        """Send one task (or, dry, record it and return None)."""
        self._account(1, shots)
        if self.dry_run:
            return None
        return self.device.run(task_specification, shots=shots, **kwargs)

    def run_batch(self, task_specifications: Sequence[Any], shots: int, **kwargs: Any) -> Any:
        """Send a batch as one decision: all of it fits under the ceiling, or none is sent."""
        self._account(len(task_specifications), shots)
        if self.dry_run:
            return None
        return self.device.run_batch(task_specifications, shots=shots, **kwargs)

    def _account(self, tasks: int, shots: int) -> None:
        price = self.estimate.price
        cost = 0.0
        if price is not None:
            billed = price.min_billed_seconds / 60 * price.per_minute
            cost = tasks * (price.per_task + shots * price.per_shot + billed)
        if self.estimate.is_aws and not self.dry_run and self.max_cost is not None:
            if self.spent + cost > self.max_cost + 1e-9:
                raise BudgetError(
                    f"sending {tasks} more task(s) would bring the spend to"
                    f" {_money(self.spent + cost)}, past --max-cost {_money(self.max_cost)};"
                    f" {len(self.sent)} task(s) were sent, none more",
                    file="--max-cost",
                )
        self.spent += cost
        self.sent.extend((shots, self.estimate.device) for _ in range(tasks))


# ---- what was really spent -------------------------------------------------------------


@dataclass
class Spend:
    """What braket's Tracker saw during a run: tasks and shots per device, and cost in USD."""

    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    qpu_usd: float | None = None
    simulator_usd: float | None = None
    error: str | None = None  # why a cost could not be read (it needs AWS's price list)

    @property
    def total_usd(self) -> float | None:
        if self.qpu_usd is None or self.simulator_usd is None:
            return None
        return self.qpu_usd + self.simulator_usd

    def render(self) -> str:
        lines = []
        for device, stats in self.devices.items():
            states = ", ".join(f"{k.lower()} {v}" for k, v in stats.get("tasks", {}).items())
            lines.append(f"{device}: {stats.get('shots', 0):,} shots; tasks {states or 'none'}")
        if self.error is not None:
            lines.append(f"spend not known: {self.error}; the AWS Billing console has the figure")
        else:
            lines.append(
                f"spend (Braket Tracker's estimate): QPU {_money(self.qpu_usd)},"
                f" simulators {_money(self.simulator_usd)}"
            )
        return "\n".join(lines)


@contextmanager
def track_spend(on_close: Callable[[Spend], None] | None = None) -> Iterator[Spend]:
    """Track every Braket task created inside the block; the Spend is filled on exit.

    Costs are braket.tracking.Tracker's own (qpu_tasks_cost, simulator_tasks_cost),
    priced from AWS's public price list: without network access they stay
    unknown and `error` says why, while task and shot counts are still filled.
    """
    tracker_cls = _tracker()
    spend = Spend()
    with tracker_cls() as tracker:
        try:
            yield spend
        finally:
            spend.devices = tracker.quantum_tasks_statistics()
            try:
                spend.qpu_usd = float(tracker.qpu_tasks_cost())
                spend.simulator_usd = float(tracker.simulator_tasks_cost())
            except Exception as e:  # network or price-list errors must not hide the counts
                spend.qpu_usd = spend.simulator_usd = None
                spend.error = f"{type(e).__name__}: {e}"
            if on_close is not None:
                on_close(spend)


def _tracker() -> Any:
    try:
        from braket.tracking import Tracker
    except ImportError:
        raise CostError(
            "tracking spend needs the Amazon Braket SDK: pip install -e '.[braket]'"
        ) from None
    return Tracker
