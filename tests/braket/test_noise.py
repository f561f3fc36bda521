"""Noise specifications: parsing, and what each channel does to a 2-qubit circuit on braket_dm.

The circuit is ry(theta) on q0, then cnot(0, 1). Without noise <Z0> = <Z1> =
cos(theta), <X0 X1> = sin(theta), <Z0 Z1> = 1. Depolarizing(p) shrinks a
qubit's Bloch vector by f = 1 - 4p/3 each time it follows a gate on that qubit:
q0 is hit after ry and after cnot, q1 after cnot, so (pulling each observable
back through the cnot) <Z0> = <Z1> = f^2 cos, <X0 X1> = f^3 sin, <Z0 Z1> = f^2.
A readout error p flips each measured bit: every Pauli expectation times
(1 - 2p), a two-qubit one times (1 - 2p)^2.
"""

from __future__ import annotations

import math

import pytest

from qrnnc.backends.braket.noise import (
    NoiseError,
    NoiseSpec,
    check_dm_qubits,
    dm_qubit_limit,
    noise_model,
    noisy_simulator,
    parse_noise,
)

THETA = 0.7


def test_parse_the_documented_example():
    spec = parse_noise("depolarizing=0.01,readout=0.02,amplitude_damping=0.005,bit_flip=0.01")
    assert spec == NoiseSpec(
        depolarizing=0.01, readout=0.02, amplitude_damping=0.005, bit_flip=0.01
    )
    assert parse_noise(" phase_flip = 0.1 , two_qubit_depolarizing=0.2 ").phase_flip == 0.1
    assert str(parse_noise("readout=0.02,depolarizing=0.01")) == "depolarizing=0.01,readout=0.02"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty noise specification"),
        ("depolarizing", "expected KEY=P"),
        ("=0.1", "expected KEY=P"),
        ("depolarising=0.01", "did you mean 'depolarizing'"),
        ("thermal=0.1", "the kinds are depolarizing, two_qubit_depolarizing"),
        ("readout=abc", "expected a probability, e.g. readout=0.01"),
        ("bit_flip=0.6", r"in \[0, 0.5\]"),
        ("depolarizing=0.8", r"in \[0, 0.75\]"),
        ("amplitude_damping=-0.1", r"in \[0, 1\]"),
        ("readout=nan", "expected a probability in"),
        ("readout=0.1,readout=0.2", "given twice"),
    ],
)
def test_bad_specs_say_what_is_wrong(text, message):
    with pytest.raises(NoiseError, match=message) as info:
        parse_noise(text)
    assert str(info.value).startswith("--noise: error: ")


def test_model_holds_one_instruction_per_channel():
    model = noise_model("depolarizing=0.01,two_qubit_depolarizing=0.02,readout=0.02")
    kinds = model.get_instructions_by_type()
    assert len(kinds.gate_noise) == 2 and len(kinds.readout_noise) == 2
    assert noise_model(NoiseSpec()).instructions == []


def circuit():
    from braket.circuits import Circuit, Observable

    c = Circuit().ry(0, THETA).cnot(0, 1)
    c.expectation(Observable.Z(), 0)
    c.expectation(Observable.Z(), 1)
    c.expectation(Observable.X() @ Observable.X(), [0, 1])
    c.expectation(Observable.Z() @ Observable.Z(), [0, 1])
    return c


def values(noise: str, c=None, shots: int = 0) -> list[float]:
    device = noisy_simulator(noise, qubits=2)
    return list(device.run(c or circuit(), shots=shots).result().values)


def test_depolarizing_matches_the_analytic_value():
    p = 0.03
    f = 1 - 4 * p / 3
    cos, sin = math.cos(THETA), math.sin(THETA)
    assert values(f"depolarizing={p}") == pytest.approx(
        [f**2 * cos, f**2 * cos, f**3 * sin, f**2], abs=1e-12
    )


def test_readout_error_scales_each_measured_pauli():
    q = 0.05
    g = 1 - 2 * q
    cos, sin = math.cos(THETA), math.sin(THETA)
    assert values(f"readout={q}") == pytest.approx([g * cos, g * cos, g**2 * sin, g**2], abs=1e-12)


def test_readout_error_flips_x_and_y_readouts_too():
    """A bit flip before measuring X would leave <X> alone; a readout error must not."""
    from braket.circuits import Circuit, Observable

    c = Circuit().ry(0, THETA).rx(1, THETA)
    c.expectation(Observable.X(), 0)
    c.expectation(Observable.Y(), 1)
    g = 1 - 2 * 0.05
    assert values("readout=0.05", c) == pytest.approx(
        [g * math.sin(THETA), -g * math.sin(THETA)], abs=1e-12
    )


def test_amplitude_damping_relaxes_towards_zero():
    from braket.circuits import Circuit, Observable

    c = Circuit().x(0).i(1)
    c.expectation(Observable.Z(), 0)
    assert values("amplitude_damping=0.2", c) == pytest.approx([-1 + 2 * 0.2], abs=1e-12)


@pytest.mark.filterwarnings("ignore:You are running a noise-free circuit")
def test_noiseless_spec_changes_nothing():
    cos, sin = math.cos(THETA), math.sin(THETA)
    assert values("depolarizing=0") == pytest.approx([cos, cos, sin, 1.0], abs=1e-12)


def test_density_matrix_qubit_limit_is_the_simulators():
    from braket.devices import LocalSimulator

    limit = dm_qubit_limit()
    assert limit == LocalSimulator("braket_dm").properties.paradigm.qubitCount
    check_dm_qubits(limit)
    with pytest.raises(NoiseError, match=f"at most {limit} qubits.*has {limit + 1}"):
        check_dm_qubits(limit + 1)
    with pytest.raises(NoiseError, match="run without --noise"):
        noisy_simulator("depolarizing=0.01", qubits=limit + 1)
