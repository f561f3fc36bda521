"""load_task's dispatch and the pieces every loader shares: sizes, carving, text, errors."""

from typing import get_args

import numpy as np
import pytest
import torch
from fixtures import write_imdb, write_mnist, write_parallel, write_ptb
from torch.utils.data import default_collate

from qrnnc import ir
from qrnnc.qrnn import default_out
from qrnnc.tasks import LOADERS, DataError, TaskData, load_task
from qrnnc.tasks.base import TensorSplit, add_scores
from qrnnc.tasks.splits import carve, check_sizes, pick
from qrnnc.tasks.text import build_vocab, pad_rows, tokenize

SMALL = {"train": 6, "valid": 3, "test": 3}


@pytest.fixture(scope="module")
def every_task(tmp_path_factory):
    """One small TaskData per task name, from the fixtures' folders."""
    root = tmp_path_factory.mktemp("data")
    cases = [
        (ir.CopyingTask(delay=3, length=2, symbols=4), None),
        (ir.AddingTask(length=6), None),
        (ir.SmnistTask(), write_mnist(root / "mnist", n_train=12, n_test=4)),
        (ir.PsmnistTask(perm_seed=1), root / "mnist"),
        (ir.ImdbTask(vocab=30, max_len=12), write_imdb(root / "imdb")),
        (ir.PtbTask(vocab=30, seq_len=5), write_ptb(root / "ptb")),
        (ir.TranslationTask(vocab=30, max_len=8), write_parallel(root / "deen")),
    ]
    return {
        task.name: (task, load_task(task, folder, seed=0, sizes=SMALL)) for task, folder in cases
    }


def test_every_task_name_has_a_loader():
    union = get_args(ir.Task)[0]
    names = {m.model_fields["name"].default for m in get_args(union)}
    assert set(LOADERS) == names


@pytest.mark.parametrize(
    "name", ["copying", "adding", "smnist", "psmnist", "imdb", "ptb", "translation"]
)
def test_common_contract(every_task, name):
    task, data = every_task[name]
    assert isinstance(data, TaskData) and data.name == name
    assert set(data.splits) == {"train", "valid", "test"}
    assert all(0 < len(d) <= SMALL[s] for s, d in data.splits.items())
    if name in ("ptb", "translation"):  # the vocabulary may hold fewer words than its cap
        assert data.n_out == len(data.vocab) <= default_out(task)
    else:
        assert data.n_out == default_out(task)
    assert data.source
    # A batch from the default collate, outputs of the right shape: loss and metrics work.
    b = default_collate([data.splits["valid"][i] for i in range(len(data.splits["valid"]))])
    out = fake_output(data, b).requires_grad_()
    loss = data.loss(out, b)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    total = add_scores({}, data.score(out.detach(), b))
    total = add_scores(total, data.score(out.detach(), b))
    summary = data.summarize(total)
    assert data.metric in summary and all(np.isfinite(v) for v in summary.values())


def fake_output(data: TaskData, b) -> torch.Tensor:
    y = b["tgt_out"] if "tgt_out" in b else b["y"]
    if data.n_out == 1:
        return torch.zeros(len(y), 1)
    return torch.randn(*y.shape, data.n_out, generator=torch.Generator().manual_seed(0))


def test_data_argument_overrides_the_task_field(tmp_path):
    folder = write_ptb(tmp_path / "ptb", n_train=10, n_valid=5, n_test=5)
    task = ir.PtbTask(seq_len=3, data=str(tmp_path / "missing"))
    with pytest.raises(DataError, match="missing: the data folder for task ptb does not exist"):
        load_task(task, seed=0)
    assert load_task(task, folder, seed=0).source.startswith(str(folder))
    assert load_task(task, str(folder), seed=0).name == "ptb"


def test_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_task(ir.SmnistTask(), tmp_path / "f", seed=0)


@pytest.mark.parametrize(
    "sizes, message",
    [
        ({"training": 3}, "unknown split 'training'"),
        ({"train": 0}, "train=0"),
        ({"test": 2.5}, "test=2.5"),
    ],
)
def test_bad_sizes(sizes, message):
    with pytest.raises(DataError, match=message):
        check_sizes(sizes)
    with pytest.raises(DataError):
        load_task(ir.CopyingTask(), seed=0, sizes=sizes)


def test_pick_is_a_seeded_sorted_subset():
    assert pick(5, None, 0, "train").tolist() == [0, 1, 2, 3, 4]
    assert pick(5, 9, 0, "train").tolist() == [0, 1, 2, 3, 4]
    a = pick(100, 10, 3, "train")
    assert len(set(a)) == 10 and (np.diff(a) > 0).all()
    assert np.array_equal(a, pick(100, 10, 3, "train"))
    assert not np.array_equal(a, pick(100, 10, 4, "train"))
    assert not np.array_equal(a, pick(100, 10, 3, "test"))
    assert len(pick(100, 10, -7, "valid")) == 10  # negative seeds work


def test_carve_is_fixed_disjoint_and_complete():
    fit, valid = carve(60, 1 / 12, "x")
    assert len(valid) == 5 and len(fit) == 55
    assert sorted([*fit, *valid]) == list(range(60))
    assert np.array_equal(valid, carve(60, 1 / 12, "x")[1])
    assert len(carve(2, 0.1, "x")[1]) == 1
    with pytest.raises(DataError, match="too few to carve"):
        carve(1, 0.1, "folder x")


def test_tokenize():
    text = "Don't<br />stop:  it's GREAT, 10/10!<br/>Über-cool_stuff"
    assert tokenize(text) == [
        "don't", "stop", ":", "it's", "great", ",", "10", "/", "10", "!",
        "über", "-", "cool", "_", "stuff",
    ]  # fmt: skip


def test_build_vocab_orders_by_count_then_alphabet_and_caps():
    sentences = [["b", "a", "c"], ["a", "b", "<unk>"], ["d"]]
    assert build_vocab(sentences, 10, ["<pad>", "<unk>"]) == ["<pad>", "<unk>", "a", "b", "c", "d"]
    assert build_vocab(sentences, 3, ["<pad>", "<unk>"]) == ["<pad>", "<unk>", "a"]


def test_pad_rows_left_and_right():
    ids, mask = pad_rows([[5, 6], [], [7]], 3, 0, left=True)
    assert ids.tolist() == [[0, 5, 6], [0, 0, 0], [0, 0, 7]]
    assert mask.tolist() == [[False, True, True], [False, False, False], [False, False, True]]
    ids, _ = pad_rows([[5, 6], [7]], 2, 0, left=False)
    assert ids.tolist() == [[5, 6], [7, 0]]


def test_tensor_split():
    split = TensorSplit({"x": torch.arange(6).reshape(3, 2), "y": torch.arange(3)})
    assert len(split) == 3 and split[1]["x"].tolist() == [2, 3] and split[1]["y"] == 1
    with pytest.raises(ValueError, match="different lengths"):
        TensorSplit({"x": torch.zeros(3), "y": torch.zeros(2)})
