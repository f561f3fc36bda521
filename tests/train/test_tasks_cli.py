"""Every task trains one short epoch from the CLI on a fixture in its real format."""

import pytest
from fixtures import write_imdb, write_mnist, write_parallel, write_ptb
from typer.testing import CliRunner

from qrnnc import runs
from qrnnc.cli import app

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]

ADDING = """
model adding {
    qubits 3
    input features(dim=2)
    controller mlp(hidden=8)
    cell {
        ry q[0, 1] <- input
        ry all
        cnot chain
    }
    readout z on all
    head linear(out=1) last
}
task adding(length=12)
train(lr=0.01, epochs=1, batch=8)
"""


def _train(args, tmp_path):
    run = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["train", *map(str, args), "--out", str(run), "--epochs", "1", "--batch", "8"]
    )
    assert result.exit_code == 0, result.output
    summary = runs.read_metrics(run)[-1]
    assert summary["kind"] == "epoch" and summary["step"] >= 1
    return run, summary["valid"]


@pytest.mark.parametrize(
    ("zoo", "writer", "metric"),
    [
        ("smnist", write_mnist, "accuracy"),
        ("psmnist", write_mnist, "accuracy"),
        ("imdb", write_imdb, "accuracy"),
        ("ptb", write_ptb, "perplexity"),
    ],
)
def test_a_zoo_model_trains_an_epoch_on_its_fixture(zoo, writer, metric, tmp_path):
    data = writer(tmp_path / "data")
    run, valid = _train([ROOT / "zoo" / zoo / "model.qrnn", "--data", data], tmp_path)
    assert metric in valid
    result = CliRunner().invoke(app, ["eval", str(run), "--split", "test"])
    assert result.exit_code == 0, result.output
    assert metric in result.output


def test_translation_trains_an_epoch_and_eval_reports_bleu(tmp_path):
    data = write_parallel(tmp_path / "data")
    run, valid = _train([ROOT / "zoo" / "deen" / "model.qrnn", "--data", data], tmp_path)
    assert "nll" in valid
    result = CliRunner().invoke(app, ["eval", str(run), "--split", "test"])
    assert result.exit_code == 0, result.output
    assert "bleu" in result.output


def test_adding_trains_an_epoch(tmp_path):
    path = tmp_path / "adding.qrnn"
    path.write_text(ADDING)
    _, valid = _train(
        [path, "--train-size", "32", "--valid-size", "8", "--test-size", "8"], tmp_path
    )
    assert "mse" in valid


def test_a_baseline_trains_on_the_same_task_with_a_matched_size(tmp_path):
    data = write_mnist(tmp_path / "data")
    run, _ = _train(
        [ROOT / "zoo" / "smnist" / "model.qrnn", "--data", data, "--baseline", "gru"], tmp_path
    )
    assert runs.read_config(run).baseline == "gru"


def test_a_missing_data_folder_is_named(tmp_path):
    result = CliRunner().invoke(
        app, ["train", str(ROOT / "zoo" / "smnist" / "model.qrnn"),
              "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "nope" in result.output


def test_translation_baseline_trains_and_its_checkpoint_rebuilds(tmp_path):
    data = write_parallel(tmp_path / "data")
    run, _ = _train(
        [ROOT / "zoo" / "deen" / "model.qrnn", "--data", data, "--baseline", "lstm"], tmp_path
    )
    result = CliRunner().invoke(app, ["eval", str(run), "--split", "test"])
    assert result.exit_code == 0, result.output
    assert "bleu" in result.output
