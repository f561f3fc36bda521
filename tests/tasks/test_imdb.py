"""IMDB from an aclImdb folder: vocabulary, truncation, left padding, splits, errors."""

from collections import Counter

import pytest
import torch
from fixtures import write_imdb
from torch.utils.data import default_collate

from qrnnc import ir
from qrnnc.tasks import DataError, load_task
from qrnnc.tasks.imdb import PAD, UNK


@pytest.fixture(scope="module")
def imdb(tmp_path_factory):
    return write_imdb(tmp_path_factory.mktemp("aclImdb"), n_train=20, n_test=10)


def write_review(folder, split, label, name, text):
    where = folder / split / label
    where.mkdir(parents=True, exist_ok=True)
    (where / name).write_text(text, encoding="utf-8")


@pytest.fixture
def handmade(tmp_path):
    """Reviews whose tokens are known: train has `good` x3, `bad` x2, `ok` x1."""
    folder = tmp_path / "aclImdb"
    write_review(folder, "train", "pos", "0_9.txt", "Good good GOOD!<br /><br />ok")
    write_review(folder, "train", "neg", "0_1.txt", "bad, bad.")
    write_review(folder, "train", "neg", "1_2.txt", "bad")
    write_review(folder, "test", "pos", "0_8.txt", "one two three four five good")
    write_review(folder, "test", "neg", "0_3.txt", "unseen")
    return folder


def test_shapes_and_task_description(imdb):
    data = load_task(ir.ImdbTask(vocab=50, max_len=30), imdb, seed=0)
    assert (data.inputs, data.n_out, data.target, data.metric) == ("tokens", 2, "last", "accuracy")
    assert data.vocab[:2] == ["<pad>", "<unk>"] and data.n_in == len(data.vocab) <= 50
    assert {s: len(d) for s, d in data.splits.items()} == {"train": 18, "valid": 2, "test": 10}
    b = default_collate(list(data.splits["train"]))
    assert b["x"].dtype == torch.int64 and b["mask"].dtype == torch.bool
    assert b["y"].shape == (18,) and set(b["y"].tolist()) == {0, 1}
    assert b["x"].shape == b["mask"].shape and b["x"].shape[1] <= 30
    assert torch.equal(b["mask"], b["x"] != PAD)
    assert b["mask"][:, -1].all()  # the last step is a real token: the head reads it
    assert "carved from train" in data.source


def test_vocab_from_train_by_frequency_with_specials(handmade):
    data = load_task(ir.ImdbTask(vocab=100, max_len=10), handmade, seed=0)
    assert data.vocab[:2] == ["<pad>", "<unk>"]
    assert "unseen" not in data.vocab and "five" not in data.vocab  # test words never count
    # Exactly the training reviews' tokens (the carved valid review's do not count),
    # most frequent first, ties alphabetical.
    b = default_collate(list(data.splits["train"]))
    counts = Counter(data.vocab[i] for i in b["x"][b["mask"]].tolist())
    assert data.vocab[2:] == sorted(counts, key=lambda w: (-counts[w], w))
    capped = load_task(ir.ImdbTask(vocab=3, max_len=10), handmade, seed=0)
    assert capped.vocab == data.vocab[:3]


def test_truncation_keeps_the_end_and_pads_left(handmade):
    data = load_task(ir.ImdbTask(vocab=100, max_len=3), handmade, seed=0)
    test = {int(e["y"]): e for e in data.splits["test"]}
    pos, neg = test[1], test[0]
    # "one two three four five good": the last three tokens, unknown words as <unk>.
    assert [data.vocab[i] for i in pos["x"].tolist()] == ["<unk>", "<unk>", "good"]
    assert pos["mask"].all()
    assert neg["x"].tolist() == [PAD, PAD, UNK]  # "unseen": left-padded to the split's width
    assert neg["mask"].tolist() == [False, False, True]


def test_split_width_is_the_longest_review_at_most_max_len(handmade):
    data = load_task(ir.ImdbTask(vocab=100, max_len=50), handmade, seed=0)
    assert data.splits["test"][0]["x"].shape == (6,)
    assert data.info["test_steps"] == 6 and data.info["padding"] == "left"


def test_tokens_lowercased_and_br_tags_gone(handmade):
    data = load_task(ir.ImdbTask(vocab=100, max_len=50), handmade, seed=0)
    assert not any("<br" in w or w in {"br", "/", ">"} for w in data.vocab)
    assert "GOOD" not in data.vocab


def test_deterministic_and_sizes(imdb):
    task = ir.ImdbTask(vocab=40, max_len=20)
    a = load_task(task, imdb, seed=3, sizes={"train": 6, "test": 5})
    b = load_task(task, imdb, seed=3, sizes={"train": 6, "test": 5})
    c = load_task(task, imdb, seed=4, sizes={"train": 6, "test": 5})
    assert len(a.splits["train"]) == 6 and len(a.splits["test"]) == 5
    xa, xb, xc = (default_collate(list(d.splits["train"]))["x"] for d in (a, b, c))
    assert torch.equal(xa, xb) and not torch.equal(xa, xc)
    # The vocabulary comes from every training review, whatever subset is kept.
    assert a.vocab == c.vocab == load_task(task, imdb, seed=0).vocab


def test_folder_holding_aclimdb_is_accepted(tmp_path):
    write_imdb(tmp_path / "aclImdb", n_train=4, n_test=2)
    assert len(load_task(ir.ImdbTask(), tmp_path, seed=0).splits["test"]) == 2


def test_perfect_logits(imdb):
    data = load_task(ir.ImdbTask(vocab=50, max_len=30), imdb, seed=0)
    b = default_collate(list(data.splits["test"]))
    out = torch.nn.functional.one_hot(b["y"], 2).float() * 50
    assert data.summarize(data.score(out, b))["accuracy"] == 1.0
    assert data.loss(out, b).item() < 1e-6


def test_missing_parts_name_the_expected_layout(tmp_path):
    write_review(tmp_path / "a", "train", "pos", "0_9.txt", "fine")
    with pytest.raises(DataError, match=r"no reviews in train/neg, test/neg, test/pos.*aclImdb"):
        load_task(ir.ImdbTask(), tmp_path / "a", seed=0)
    with pytest.raises(DataError, match="task imdb needs a data folder"):
        load_task(ir.ImdbTask(), seed=0)
    with pytest.raises(DataError, match="vocab >= 3"):
        load_task(ir.ImdbTask(vocab=2), tmp_path / "a", seed=0)
