"""Noise models for noisy studies on Braket's density-matrix simulator.

    spec = parse_noise("depolarizing=0.01,readout=0.02")
    device = noisy_simulator(spec, qubits=program.qubits)   # LocalSimulator("braket_dm")
    device.run(circuit, shots=0)                             # a braket Circuit

Each key names a channel and its probability:

- depolarizing=p: Depolarizing(p) on each qubit a gate acts on, after every gate.
- two_qubit_depolarizing=p: TwoQubitDepolarizing(p) after every fixed
  two-qubit gate (cnot, cz, swap, xx, yy, zz, ...).
- amplitude_damping=g, phase_damping=g: the damping channels after every gate.
- bit_flip=p, phase_flip=p: Pauli X or Z with probability p after every gate.
- readout=p: each measured bit is flipped with probability p, in whatever
  basis it is measured: every Pauli expectation is scaled by (1 - 2p), ZZ by
  (1 - 2p)^2 (see `_readout`).

Braket's NoiseModel places gate noise on an instruction's targets, so the
control of a controlled rotation (crx, cry, crz) gets none; noise models apply
to braket Circuits (and program sets), not to OpenQASM text.
"""

from __future__ import annotations

import difflib
import math
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from qrnnc.errors import QrnnError

if TYPE_CHECKING:
    from braket.circuits.noise_model import NoiseModel
    from braket.devices import LocalSimulator

# The largest probability each channel admits (braket.circuits.noises checks the same).
LIMITS: dict[str, float] = {
    "depolarizing": 0.75,
    "two_qubit_depolarizing": 0.9375,
    "amplitude_damping": 1.0,
    "phase_damping": 1.0,
    "bit_flip": 0.5,
    "phase_flip": 0.5,
    "readout": 0.5,
}
EXAMPLE = "depolarizing=0.01,readout=0.02,amplitude_damping=0.005,bit_flip=0.01"


class NoiseError(QrnnError):
    """A noise specification that cannot be used as written."""


class NoiseSpec(BaseModel):
    """Probabilities per channel; 0 leaves a channel out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    depolarizing: float = 0.0
    two_qubit_depolarizing: float = 0.0
    amplitude_damping: float = 0.0
    phase_damping: float = 0.0
    bit_flip: float = 0.0
    phase_flip: float = 0.0
    readout: float = 0.0

    def __str__(self) -> str:
        return ",".join(f"{k}={v:g}" for k, v in self.model_dump().items() if v) or "none"


def parse_noise(text: str) -> NoiseSpec:
    """`depolarizing=0.01,readout=0.02` -> NoiseSpec; a NoiseError says what is wrong."""
    values: dict[str, float] = {}
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise NoiseError(
            f"empty noise specification; give KEY=P pairs, e.g. {EXAMPLE}", file="--noise"
        )
    for item in items:
        key, sep, raw = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise NoiseError(f"{item!r}: expected KEY=P, e.g. depolarizing=0.01", file="--noise")
        if key not in LIMITS:
            close = difflib.get_close_matches(key, LIMITS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise NoiseError(
                f"unknown noise {key!r}; {hint}the kinds are {', '.join(LIMITS)}", file="--noise"
            )
        if key in values:
            raise NoiseError(f"{key} is given twice; give each kind once", file="--noise")
        try:
            p = float(raw)
        except ValueError:
            raise NoiseError(
                f"{key}={raw!r}: expected a probability, e.g. {key}=0.01", file="--noise"
            ) from None
        if not (math.isfinite(p) and 0.0 <= p <= LIMITS[key]):
            raise NoiseError(
                f"{key}={raw}: expected a probability in [0, {LIMITS[key]:g}]", file="--noise"
            )
        values[key] = p
    return NoiseSpec(**values)


def noise_model(spec: NoiseSpec | str) -> NoiseModel:
    """The braket NoiseModel of a spec (or of its text)."""
    if isinstance(spec, str):
        spec = parse_noise(spec)
    _require_braket()
    from braket.circuits import Gate, noises
    from braket.circuits.noise_model import GateCriteria, NoiseModel

    model = NoiseModel()
    every_gate = GateCriteria()
    for key, channel in (
        ("depolarizing", noises.Depolarizing),
        ("amplitude_damping", noises.AmplitudeDamping),
        ("phase_damping", noises.PhaseDamping),
        ("bit_flip", noises.BitFlip),
        ("phase_flip", noises.PhaseFlip),
    ):
        p = getattr(spec, key)
        if p:
            model.add_noise(channel(p), every_gate)
    if spec.two_qubit_depolarizing:
        two = [getattr(Gate, name) for name in _FIXED_TWO_QUBIT]
        model.add_noise(noises.TwoQubitDepolarizing(spec.two_qubit_depolarizing), GateCriteria(two))
    if spec.readout:
        _readout(model, spec.readout)
    return model


# Braket's fixed two-qubit gates; controlled rotations are `ctrl @` single-qubit
# gates to the NoiseModel and do not match.
_FIXED_TWO_QUBIT = (
    "CNot",
    "CY",
    "CZ",
    "CV",
    "ECR",
    "ISwap",
    "Swap",
    "PSwap",
    "XY",
    "XX",
    "YY",
    "ZZ",
    "CPhaseShift",
    "CPhaseShift00",
    "CPhaseShift01",
    "CPhaseShift10",
    "MS",
)


def _readout(model: NoiseModel, p: float) -> None:
    """Flip each measured bit with probability p, whatever basis it is measured in.

    A bit flip (X) before a measurement flips Z outcomes but not X ones, so it
    is the wrong channel for an X-basis readout. Depolarizing(3p/2) applies X,
    Y and Z with p/2 each: for any Pauli measured, the two Paulis that
    anticommute with it flip the outcome, with probability p/2 + p/2 = p, on
    each qubit independently. It goes once on every qubit an observable reads;
    explicit Z measurements get the plain BitFlip(p).
    """
    from braket.circuits.noise_model import MeasureCriteria, ObservableCriteria
    from braket.circuits.noises import BitFlip, Depolarizing

    model.add_noise(Depolarizing(1.5 * p), ObservableCriteria())
    model.add_noise(BitFlip(p), MeasureCriteria())


def dm_qubit_limit() -> int:
    """The most qubits LocalSimulator("braket_dm") takes (13 in SDK 1.127): 4^n amplitudes."""
    _require_braket()
    from braket.devices import LocalSimulator

    return int(LocalSimulator("braket_dm").properties.paradigm.qubitCount)


def check_dm_qubits(qubits: int) -> None:
    """Refuse a program too large for the density-matrix simulator, saying what to do instead."""
    limit = dm_qubit_limit()
    if qubits > limit:
        raise NoiseError(
            f"the density-matrix simulator (braket_dm) holds at most {limit} qubits (its state has"
            f" 4^n entries); this program has {qubits}: use fewer qubits, or run without --noise"
            " on the statevector simulator (shots give the statistical noise only)",
            file="--noise",
        )


def noisy_simulator(spec: NoiseSpec | str, *, qubits: int) -> LocalSimulator:
    """LocalSimulator("braket_dm") with the spec's noise model, for a program of `qubits` qubits."""
    check_dm_qubits(qubits)
    from braket.devices import LocalSimulator

    return LocalSimulator("braket_dm", noise_model=noise_model(spec))


def _require_braket() -> None:
    try:
        import braket.circuits  # noqa: F401
    except ImportError:
        raise NoiseError(
            "noise models need the Amazon Braket SDK: pip install -e '.[braket]'"
        ) from None
