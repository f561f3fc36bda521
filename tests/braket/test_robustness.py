"""Shot and noise studies (qrnnc.robustness) and `qrnnc analyze shots / noise`."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from tiny import invoke, tiny_copying, train_tiny

from qrnnc.backends.braket.noise import NoiseError
from qrnnc.robustness import braket_shot_check, noise_curve, shot_curve
from qrnnc.train import evaluate, load_run, task_data

TINY = tiny_copying(epochs=2)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return train_tiny(tmp_path_factory.mktemp("robustness"), TINY, sizes=(64, 16, 16))


@pytest.fixture(scope="module")
def trained(run):
    cfg, net, _ = load_run(run)
    return net, task_data(cfg)


def test_shot_curve_tends_to_the_exact_metrics_and_is_seeded(trained):
    net, data = trained
    exact, points = shot_curve(net, data, "test", [1, 10**7], repeats=2, seed=5)
    net.shots = None
    assert exact == evaluate(net, data, "test", 64)
    few, many = points
    assert few.x == 1 and len(few.runs) == 2 and few.runs[0] != few.runs[1]  # seeds differ
    assert abs(many.mean("loss") - exact["loss"]) < 1e-3
    assert abs(few.mean("loss") - exact["loss"]) > 10 * abs(many.mean("loss") - exact["loss"])
    again = shot_curve(net, data, "test", [1], repeats=2, seed=5)[1][0]
    assert again.runs == few.runs  # the same seeds give the same samples
    assert net.shots is None  # restored


def test_shot_curve_rejects_bad_counts(trained):
    net, data = trained
    with pytest.raises(ValueError, match="positive integers"):
        shot_curve(net, data, "test", [0])
    with pytest.raises(ValueError, match="repeats=0"):
        shot_curve(net, data, "test", [8], repeats=0)


def test_braket_readout_errors_have_the_size_the_shots_mode_assumes(trained):
    net, data = trained
    check = braket_shot_check(net, data, "test", 100, limit=4, repeats=2, seed=1)
    # 4 sequences x 7 steps x 2 bases (X, Z) = 56 tasks; 6 readouts per step.
    assert check.tasks == 56 and check.examples == 4
    assert check.readouts > 100
    # RMS of ~168 standard-normal errors: 1 +- 0.06; 0.75..1.25 is > 4 sigma either way.
    assert 0.75 < check.z_rms < 1.25, check.z_rms
    assert set(check.braket) == set(check.shots_mode.runs[0])


def test_noise_curve_starts_at_the_exact_metrics_and_degrades(trained):
    net, data = trained
    points = noise_curve(net, data, "test", "depolarizing", [0.0, 0.2], limit=3)
    net.shots = None
    exact = evaluate(net, data, "test", 64, limit=3)
    assert points[0].runs[0]["loss"] == pytest.approx(exact["loss"], abs=1e-8)
    assert abs(points[1].runs[0]["loss"] - exact["loss"]) > 1e-3
    with pytest.raises(NoiseError, match="unknown noise 'depolarising'"):
        noise_curve(net, data, "test", "depolarising", [0.1])
    with pytest.raises(NoiseError, match=r"in \[0, 0.5\]"):
        noise_curve(net, data, "test", "bit_flip", [0.7])


def rows(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_cli_analyze_shots_writes_the_curve_and_cross_checks(run, tmp_path):
    png = tmp_path / "shots.png"
    result = invoke(
        "analyze", "shots", run, "--shots", "16,256", "--repeats", 2, "--check-limit", 1,
        "-o", png,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert png.stat().st_size > 0
    table = rows(png.with_suffix(".csv"))
    assert [(r["shots"], r["repeat"]) for r in table] == [
        ("0", "0"), ("16", "0"), ("16", "1"), ("256", "0"), ("256", "1"),
    ]  # fmt: skip
    assert {"accuracy", "loss"} <= set(table[0])
    assert "cross-check at 16 shots" in result.output and "braket-local" in result.output


def test_cli_analyze_noise_writes_the_curve(run, tmp_path):
    png = tmp_path / "noise.png"
    result = invoke(
        "analyze", "noise", run, "--channel", "amplitude_damping", "--rates", "0,0.1",
        "--limit", 2, "-o", png,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "per rate: 14 tasks" in result.output  # 2 sequences x 7 steps, exact expectations
    table = rows(png.with_suffix(".csv"))
    assert [r["amplitude_damping rate"] for r in table] == ["0", "0.1"]
    assert png.stat().st_size > 0


def test_cli_analyze_errors(run):
    result = invoke("analyze", "shots", run, "--shots", "a,b")
    assert result.exit_code == 2 and "expected numbers" in result.output
    result = invoke("analyze", "noise", run, "--channel", "nope", "--rates", "0.1")
    assert result.exit_code == 1 and "unknown noise 'nope'" in result.output
    result = invoke("analyze", "shots", run, "--split", "nope")
    assert result.exit_code == 1 and "no split 'nope'" in result.output


def test_shots_mode_does_not_leak_into_the_saved_model(run, trained):
    net, data = trained
    shot_curve(net, data, "test", [4], repeats=1)
    assert load_run(run)[1].shots is None and net.shots is None
    torch.manual_seed(0)
