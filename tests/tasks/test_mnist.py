"""Sequential and permuted MNIST from idx files: parsing, layouts, splits, errors."""

import gzip

import numpy as np
import pytest
import torch
from fixtures import digit_images, write_idx, write_mnist
from torch.utils.data import default_collate

from qrnnc import ir
from qrnnc.tasks import DataError, load_task
from qrnnc.tasks.mnist import read_idx


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("mnist"), n_train=24, n_test=12)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_read_idx_round_trips_every_type(tmp_path, gz, dtype):
    array = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    if dtype == "uint8":
        array = array + 5
    path = write_idx(tmp_path / "a-idx3", array, gz=gz)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.dtype.isnative
    assert np.array_equal(back, array)


def test_read_idx_truncated_names_the_file(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", digit_images(np.arange(3)))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: truncated idx file"):
        read_idx(path)
    path.write_bytes(path.read_bytes()[:6])  # inside the header
    with pytest.raises(DataError, match=r"truncated idx file.*header"):
        read_idx(path)


def test_read_idx_truncated_gzip_and_extra_bytes_and_not_idx(tmp_path):
    path = write_idx(tmp_path / "x-idx1-ubyte", np.arange(100, dtype=np.uint8), gz=True)
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(DataError, match=r"x-idx1-ubyte.gz: a damaged or truncated gzip"):
        read_idx(path)
    path = write_idx(tmp_path / "y-idx1-ubyte", np.arange(5, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(DataError, match="extra bytes"):
        read_idx(path)
    path.write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(DataError, match="y-idx1-ubyte: not an idx file"):
        read_idx(path)
    path.write_bytes(gzip.compress(b""))
    with pytest.raises(DataError, match="not an idx file"):
        read_idx(path)


def test_smnist_examples_and_splits(mnist):
    data = load_task(ir.SmnistTask(data=str(mnist)), seed=0)
    assert (data.inputs, data.n_in, data.n_out, data.target) == ("features", 1, 10, "last")
    sizes = {s: len(d) for s, d in data.splits.items()}
    assert sizes["valid"] == 2 and sizes["train"] == 22 and sizes["test"] == 12
    assert "carved from train" in data.source
    ex = data.splits["test"][3]
    assert ex["x"].shape == (784, 1) and ex["x"].dtype == torch.float32
    assert ex["y"].dtype == torch.int64 and ex["y"].shape == ()
    assert 0.0 <= ex["x"].min() and ex["x"].max() <= 1.0
    # Row-major pixels: the label's bar lies in rows 2y+4 .. 2y+6.
    image = ex["x"].reshape(28, 28)
    label = int(ex["y"])
    assert (image[2 * label + 4, 4:24] == 1.0).all()
    assert int(ex["y"]) == 3  # test labels are 0, 1, 2, ... in file order


def test_valid_carving_is_the_same_for_every_seed_and_disjoint(mnist):
    a = load_task(ir.SmnistTask(), mnist, seed=0)
    b = load_task(ir.SmnistTask(), mnist, seed=9)
    va, vb = (default_collate(list(d.splits["valid"])) for d in (a, b))
    assert torch.equal(va["x"], vb["x"])
    train = default_collate(list(a.splits["train"]))["x"]
    for image in va["x"]:
        assert not (train == image).all(dim=(1, 2)).any()


def test_sizes_take_a_seeded_subset(mnist):
    caps = {"train": 5, "test": 4}
    a = load_task(ir.SmnistTask(), mnist, seed=1, sizes=caps)
    b = load_task(ir.SmnistTask(), mnist, seed=1, sizes=caps)
    c = load_task(ir.SmnistTask(), mnist, seed=2, sizes=caps)
    assert len(a.splits["train"]) == 5 and len(a.splits["test"]) == 4
    assert len(a.splits["valid"]) == 2  # not capped
    ya, yb, yc = ([int(e["y"]) for e in d.splits["train"]] for d in (a, b, c))
    assert ya == yb and ya != yc
    big = load_task(ir.SmnistTask(), mnist, seed=1, sizes={"train": 10_000})
    assert len(big.splits["train"]) == 22


@pytest.mark.parametrize("gz, dotted", [(True, False), (False, True), (True, True)])
def test_gzip_and_dotted_names_read_alike(tmp_path, mnist, gz, dotted):
    other = write_mnist(tmp_path / "m", n_train=24, n_test=12, gz=gz, dotted=dotted)
    a = load_task(ir.SmnistTask(), mnist, seed=0).splits["train"]
    b = load_task(ir.SmnistTask(), other, seed=0).splits["train"]
    assert torch.equal(a[7]["x"], b[7]["x"]) and a[7]["y"] == b[7]["y"]


def test_torchvision_raw_subfolder(tmp_path):
    write_mnist(tmp_path / "raw", n_train=4, n_test=2)
    data = load_task(ir.SmnistTask(), tmp_path, seed=0)
    assert len(data.splits["test"]) == 2


def test_psmnist_permutes_pixels_by_perm_seed(mnist):
    plain = load_task(ir.SmnistTask(), mnist, seed=0)
    perm = load_task(ir.PsmnistTask(perm_seed=4), mnist, seed=0)
    again = load_task(ir.PsmnistTask(perm_seed=4), mnist, seed=0)
    other = load_task(ir.PsmnistTask(perm_seed=5), mnist, seed=0)
    expected = torch.randperm(784, generator=torch.Generator().manual_seed(4))
    assert torch.equal(perm.perm, expected) and torch.equal(again.perm, expected)
    assert not torch.equal(other.perm, expected)
    x, xp = plain.splits["train"][0]["x"], perm.splits["train"][0]["x"]
    assert torch.equal(xp, x[expected])
    assert "perm_seed 4" in perm.source and perm.name == "psmnist"


def test_perfect_logits_and_loss(mnist):
    data = load_task(ir.SmnistTask(), mnist, seed=0)
    b = default_collate(list(data.splits["test"]))
    out = torch.nn.functional.one_hot(b["y"], 10).float() * 50
    summary = data.summarize(data.score(out, b))
    assert summary["accuracy"] == 1.0 and summary["loss"] < 1e-6
    wrong = torch.nn.functional.one_hot((b["y"] + 1) % 10, 10).float() * 50
    assert data.summarize(data.score(wrong, b))["accuracy"] == 0.0
    assert data.loss(torch.zeros(12, 10), b).item() == pytest.approx(np.log(10))


def test_missing_folder_and_files_say_what_to_do(tmp_path, mnist):
    with pytest.raises(DataError, match=r"needs a data folder.*train-images-idx3-ubyte"):
        load_task(ir.SmnistTask(), seed=0)
    with pytest.raises(DataError, match=r"nowhere: the data folder .* does not exist"):
        load_task(ir.SmnistTask(), tmp_path / "nowhere", seed=0)
    partial = write_mnist(tmp_path / "partial", n_train=4, n_test=2)
    (partial / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"partial: no t10k-labels-idx1-ubyte.*MNIST"):
        load_task(ir.SmnistTask(), partial, seed=0)


def test_mismatched_or_wrong_shaped_files(tmp_path):
    folder = write_mnist(tmp_path / "m", n_train=4, n_test=2)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: expected 2 labels"):
        load_task(ir.SmnistTask(), folder, seed=0)
    write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((2, 32, 32), dtype=np.uint8))
    with pytest.raises(DataError, match=r"expected 28x28 uint8 images.*32 x 32"):
        load_task(ir.SmnistTask(), folder, seed=0)
    write_mnist(folder, n_train=4, n_test=2)
    write_idx(folder / "train-labels-idx1-ubyte", np.full(4, 11, dtype=np.uint8))
    with pytest.raises(DataError, match=r"labels must be 0..9"):
        load_task(ir.SmnistTask(), folder, seed=0)


def test_task_data_field_is_the_default_folder_and_the_argument_overrides(tmp_path, mnist):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert len(load_task(ir.SmnistTask(data=str(mnist)), seed=0).splits["test"]) == 12
    with pytest.raises(DataError, match="empty: no train-images"):
        load_task(ir.SmnistTask(data=str(mnist)), empty, seed=0)


def write_square(folder, side, n_train=24, n_test=12):
    """Idx files of side x side images whose label is the bright row's index."""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % min(side, 10)).astype(np.uint8)
        images = np.zeros((n, side, side), dtype=np.uint8)
        images[np.arange(n), labels] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return folder


def test_8x8_images_are_64_step_sequences(tmp_path):
    folder = write_square(tmp_path, 8)
    data = load_task(ir.SmnistTask(), folder, seed=0)
    assert data.info["steps"] == 64 and data.info["side"] == 8
    assert "8x8 images, 64 steps" in data.source
    ex = data.splits["test"][5]
    assert ex["x"].shape == (64, 1)
    assert (ex["x"].reshape(8, 8)[int(ex["y"])] == 1.0).all()  # row-major: the label's row


def test_psmnist_permutes_side_squared_pixels(tmp_path):
    folder = write_square(tmp_path, 8)
    plain = load_task(ir.SmnistTask(), folder, seed=0)
    perm = load_task(ir.PsmnistTask(perm_seed=3), folder, seed=0)
    expected = torch.randperm(64, generator=torch.Generator().manual_seed(3))
    assert torch.equal(perm.perm, expected)
    assert torch.equal(perm.splits["test"][2]["x"], plain.splits["test"][2]["x"][expected])


def test_train_and_test_of_different_sizes_are_refused(tmp_path):
    folder = write_square(tmp_path, 8)
    write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((12, 10, 10), dtype=np.uint8))
    with pytest.raises(DataError, match=r"t10k-images.*expected 8x8 .*train-images.*10 x 10"):
        load_task(ir.SmnistTask(), folder, seed=0)
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((24, 8, 6), dtype=np.uint8))
    with pytest.raises(DataError, match=r"train-images.*expected square uint8 images.*8 x 6"):
        load_task(ir.SmnistTask(), folder, seed=0)
