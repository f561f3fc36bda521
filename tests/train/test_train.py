"""The training loop end to end: CLI runs, resume after kill -9, the NaN guard, DDP."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from qrnnc import checkpoint, runs
from qrnnc.cli import app

ROOT = Path(__file__).resolve().parents[2]

# Copying memory, small enough for CI: no dropout, so runs are comparable step by step.
SMALL_COPYING = """
model copying {
    qubits 3
    input tokens(vocab=6, embed=4)
    controller linear
    cell {
        ry all
        cnot ring
    }
    readout z on all
    head linear per_step
}
task copying(delay=2, length=2, symbols=4)
train(optimizer=adam, lr=0.05, epochs=2, batch=4, seed=3)
"""


@pytest.fixture
def small_file(tmp_path):
    path = tmp_path / "small.qrnn"
    path.write_text(SMALL_COPYING)
    return path


def _qrnnc(*args, cwd=None, env_extra=None, **kw):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "qrnnc", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300, **kw,
    )  # fmt: skip


def _weights(run, which="last"):
    return checkpoint.load(Path(run) / f"{which}.safetensors").model


def test_train_writes_a_complete_run_folder_and_eval_reads_it(small_file, tmp_path):
    run = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        ["train", str(small_file), "--out", str(run), "--train-size", "32",
         "--valid-size", "8", "--test-size", "8", "--log-every", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "best valid accuracy" in result.output
    for name in (runs.CONFIG, runs.METRICS, runs.LAST, runs.BEST, runs.SUMMARY, "last.json"):
        assert (run / name).is_file(), name
    cfg = runs.read_config(run)
    assert cfg.epochs == 2 and cfg.batch == 4 and cfg.seed == 3 and cfg.sizes["train"] == 32
    records = runs.read_metrics(run)
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2] and epochs[-1]["step"] == 16
    assert 0.0 <= epochs[-1]["valid"]["accuracy"] <= 1.0
    result = CliRunner().invoke(app, ["eval", str(run), "--split", "test"])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "memoryless" in result.output
    result = CliRunner().invoke(app, ["plot", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "curves.png").stat().st_size > 1000


def test_flags_override_the_file_and_task_settings(small_file, tmp_path):
    run = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        ["train", str(small_file), "--out", str(run), "--epochs", "1", "--lr", "0.01",
         "--set", "delay=5", "--train-size", "8", "--valid-size", "4", "--test-size", "4"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cfg = runs.read_config(run)
    assert cfg.epochs == 1 and cfg.lr == 0.01 and cfg.doc.task.delay == 5


def test_a_bad_override_names_the_setting(small_file, tmp_path):
    result = CliRunner().invoke(
        app, ["train", str(small_file), "--out", str(tmp_path / "r"), "--set", "delay=-3"]
    )
    assert result.exit_code != 0
    assert "delay" in result.output


def test_an_existing_run_folder_is_not_overwritten(small_file, tmp_path):
    run = tmp_path / "run"
    args = ["train", str(small_file), "--out", str(run), "--epochs", "1", "--train-size", "4",
            "--valid-size", "4", "--test-size", "4"]  # fmt: skip
    assert CliRunner().invoke(app, args).exit_code == 0
    again = CliRunner().invoke(app, args)
    assert again.exit_code != 0 and "--resume" in again.output


def test_resume_after_kill_9_ends_with_the_same_weights(small_file, tmp_path):
    common = ["--train-size", "96", "--valid-size", "4", "--test-size", "4", "--epochs", "3",
              "--checkpoint-every", "1"]  # fmt: skip
    straight = tmp_path / "straight"
    done = _qrnnc("train", small_file, "--out", straight, *common)
    assert done.returncode == 0, done.stderr

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "qrnnc", "train", str(small_file), "--out", str(killed), *common],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 120
    # Kill mid-epoch 2, at whatever instruction it is at: checkpoints go out every step.
    while time.time() < deadline and proc.poll() is None:
        steps = [r for r in runs.read_metrics(killed) if r["kind"] == "step"]
        if steps and steps[-1]["step"] >= 30:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stopped_at = checkpoint.load(killed / runs.LAST).meta["position"]
    assert 0 < stopped_at["step"] < 72

    resumed = _qrnnc("train", "--resume", killed)
    assert resumed.returncode == 0, resumed.stderr
    a, b = _weights(straight), _weights(killed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    steps = [r["step"] for r in runs.read_metrics(killed) if r["kind"] == "step"]
    assert steps == sorted(set(steps)), "the metrics log repeats or skips steps"


def test_a_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(
    small_file, tmp_path, monkeypatch
):
    from qrnnc import train as training
    from qrnnc.cli_runs import resolve

    cfg = resolve(small_file, flags={"checkpoint_every": 1, "sizes": {"train": 16, "valid": 4,
                  "test": 4}}, task_sets=[])  # fmt: skip
    real_load = training.load_task
    calls = {"n": 0}

    def poisoned(*a, **k):
        data = real_load(*a, **k)
        loss = data.loss

        def nan_at_step_3(out, batch):
            calls["n"] += 1
            value = loss(out, batch)
            return value * float("nan") if calls["n"] == 3 else value

        data.loss = nan_at_step_3
        return data

    monkeypatch.setattr(training, "load_task", poisoned)
    with pytest.raises(training.TrainingStopped, match=r"loss is nan at step 3.*last good"):
        training.train(cfg, tmp_path / "run")
    ck = checkpoint.load(tmp_path / "run" / runs.LAST)
    assert ck.meta["position"]["step"] == 2
    assert all(torch.isfinite(v).all() for v in ck.model.values())


def test_two_ddp_processes_take_the_same_step_as_one_process_on_the_union_batch(
    small_file, tmp_path
):
    args = ["--train-size", "8", "--valid-size", "4", "--test-size", "4", "--epochs", "1",
            "--batch", "8", "--optimizer", "sgd", "--lr", "0.5"]  # fmt: skip
    single = _qrnnc("train", small_file, "--out", tmp_path / "one", *args)
    assert single.returncode == 0, single.stderr
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_port", "29533", "-m", "qrnnc", "train", str(small_file),
         "--out", str(tmp_path / "two"), *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    start = json.loads((tmp_path / "two" / runs.CONFIG).read_text())
    assert start["batch"] == 8
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=1e-5, atol=1e-6)
    # ... and that step did move the weights away from the seeded initial ones.
    from qrnnc import train as training

    cfg = runs.read_config(tmp_path / "one")
    torch.manual_seed(cfg.seed)
    data = training.load_task(cfg.doc.task, None, seed=cfg.seed, sizes=cfg.sizes)
    init = training.build_model(cfg, data).state_dict()
    assert any(not torch.allclose(init[k], one[k]) for k in one)


def test_analyze_grads_compares_a_qrnn_and_a_baseline_over_time(small_file, tmp_path):
    sizes = ["--train-size", "16", "--valid-size", "8", "--test-size", "4", "--epochs", "1"]
    for name, extra in (("q", []), ("gru", ["--baseline", "gru", "--hidden", "4"])):
        result = CliRunner().invoke(
            app, ["train", str(small_file), "--out", str(tmp_path / name), *sizes, *extra]
        )
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        app, ["analyze", "grads", str(tmp_path / "q"), str(tmp_path / "gru"), "--batches", "2"]
    )
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "q" / "grads.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert header[0] == "t" and "qrnn" in header[1] and "gru" in header[2]
    steps = 2 + 2 * 2 + 1  # delay + 2 * length + 1
    assert len(rows) == 1 + steps
    values = [[float(v) for v in row.split(",")[1:]] for row in rows[1:]]
    # A per-step loss reaches every step, through the recurrence as well as the head.
    assert all(v > 0 for row in values for v in row)
    assert (tmp_path / "q" / "grads.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--device", "cuda"], "needs --backend torch"),
        (["--device", "tpu"], "expected cpu, cuda"),
        (["--backend", "qiskit"], "backend"),
        (["--optimizer", "lion"], "optimizer"),
    ],
)
def test_a_bad_device_backend_or_optimizer_is_refused_clearly(small_file, tmp_path, flags, message):
    result = CliRunner().invoke(
        app, ["train", str(small_file), "--out", str(tmp_path / "r"), *flags]
    )
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_torch_backend_trains_on_cuda(small_file, tmp_path):
    args = ["train", str(small_file), "--out", str(tmp_path / "r"), "--backend", "torch",
            "--device", "cuda", "--train-size", "8", "--valid-size", "4"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
