"""Translation from parallel files: vocabularies, teacher-forcing examples, BLEU helpers."""

import pytest
import torch
from fixtures import LEXICON, write_parallel
from torch.utils.data import default_collate

from qrnnc import ir
from qrnnc.tasks import DataError, load_task
from qrnnc.tasks.translation import BOS, EOS, PAD, SPECIALS, bleu

TASK = ir.TranslationTask(src="de", tgt="en", vocab=100, max_len=50)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_parallel(tmp_path_factory.mktemp("deen"))


def write_pairs(folder, split, src_lines, tgt_lines, src="de", tgt="en"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}.{src}").write_text("\n".join(src_lines) + "\n", encoding="utf-8")
    (folder / f"{split}.{tgt}").write_text("\n".join(tgt_lines) + "\n", encoding="utf-8")


def test_examples_are_bos_shifted_and_right_padded(tmp_path):
    folder = tmp_path / "c"
    write_pairs(folder, "train", ["ein hund", "der hund sieht"], ["a dog", "the dog sees"])
    write_pairs(folder, "valid", ["ein hund"], ["a dog"])
    write_pairs(folder, "test", ["der hund", "ein"], ["the dog", "a"])
    data = load_task(TASK, folder, seed=0)
    assert data.vocab[:4] == list(SPECIALS) and data.src_vocab[:4] == list(SPECIALS)
    assert data.vocab[4] == "dog" and data.src_vocab[4] == "hund"  # most frequent first
    assert "hund" not in data.vocab and "dog" not in data.src_vocab  # separate sides
    test = default_collate([data.splits["test"][i] for i in range(2)])
    tgt = lambda ids: [data.vocab[i] for i in ids]  # noqa: E731
    assert tgt(test["tgt_in"][0].tolist()) == ["<bos>", "the", "dog"]
    assert tgt(test["tgt_out"][0].tolist()) == ["the", "dog", "<eos>"]
    assert test["tgt_in"][1].tolist() == [BOS, data.vocab.index("a"), PAD]
    assert test["tgt_out"][1].tolist() == [data.vocab.index("a"), EOS, PAD]
    assert test["tgt_mask"].tolist() == [[True, True, True], [True, True, False]]
    assert test["src"][1].tolist() == [data.src_vocab.index("ein"), PAD]
    assert test["src_mask"].tolist() == [[True, True], [True, False]]
    for key in ("src", "tgt_in", "tgt_out"):
        assert test[key].dtype == torch.int64
    assert test["src_mask"].dtype == test["tgt_mask"].dtype == torch.bool
    assert (data.n_in, data.n_out) == (len(data.src_vocab), len(data.vocab))
    assert data.target == "per_step" and data.inputs == "tokens"
    assert data.references("test") == ["the dog", "a"] and data.sources("test")[1] == "ein"
    assert data.task == TASK


def test_max_len_cuts_both_sides(tmp_path):
    folder = tmp_path / "c"
    long_de, long_en = "der hund sieht ein haus", "the dog sees a house"
    for split in ("train", "valid", "test"):
        write_pairs(folder, split, [long_de], [long_en])
    data = load_task(ir.TranslationTask(max_len=3, vocab=100), folder, seed=0)
    ex = data.splits["test"][0]
    assert ex["src"].shape == (3,) and ex["tgt_in"].shape == ex["tgt_out"].shape == (4,)
    assert data.detokenize(ex["tgt_out"]) == "the dog sees"


def test_fixture_corpus_sizes_determinism_and_learnable_mapping(corpus):
    data = load_task(TASK, corpus, seed=0)
    assert {s: len(d) for s, d in data.splits.items()} == {"train": 40, "valid": 10, "test": 10}
    assert set(data.vocab[5:]) <= set(LEXICON.values())
    assert "valid = valid.de/valid.en" in data.source
    a = load_task(TASK, corpus, seed=1, sizes={"train": 7, "test": 3})
    b = load_task(TASK, corpus, seed=1, sizes={"train": 7, "test": 3})
    c = load_task(TASK, corpus, seed=2, sizes={"train": 7, "test": 3})
    assert len(a.splits["train"]) == 7 and len(a.references("test")) == 3
    assert a.references("train") == b.references("train") != c.references("train")
    # The references follow the examples they belong to.
    for i in range(3):
        ids = a.splits["test"][i]["tgt_out"]
        assert a.detokenize(ids) == a.references("test")[i].lower()


def test_valid_carved_from_train_when_absent(tmp_path):
    folder = write_parallel(tmp_path / "c", n_train=30, valid=False)
    data = load_task(TASK, folder, seed=0)
    assert len(data.splits["valid"]) == 3 and len(data.splits["train"]) == 27
    assert "carved from train" in data.source
    again = load_task(TASK, folder, seed=5)
    assert data.references("valid") == again.references("valid")


def test_dev_files_stand_in_for_valid(tmp_path):
    folder = write_parallel(tmp_path / "c", valid=False)
    write_pairs(folder, "dev", ["ein hund"], ["a dog"])
    data = load_task(TASK, folder, seed=0)
    assert data.references("valid") == ["a dog"] and "dev.de" in data.source


def test_other_language_pair(tmp_path):
    folder = write_parallel(tmp_path / "c", src="en", tgt="fr")
    data = load_task(ir.TranslationTask(src="en", tgt="fr"), folder, seed=0)
    # The fixture writes its source side (German words) as .en, its targets as .fr.
    assert "hund" in data.src_vocab and "dog" in data.vocab
    assert data.info["src"] == "en"


def test_loss_and_scores_count_only_target_positions(corpus):
    data = load_task(TASK, corpus, seed=0)
    b = default_collate(list(data.splits["test"]))
    v = len(data.vocab)
    perfect = torch.nn.functional.one_hot(b["tgt_out"], v).float() * 50
    perfect[~b["tgt_mask"]] = 0.0  # padding positions: anything, they do not count
    summary = data.summarize(data.score(perfect, b))
    assert summary["accuracy"] == 1.0 and summary["perplexity"] == pytest.approx(1.0)
    assert data.score(perfect, b)["accuracy"][1] == float(b["tgt_mask"].sum())
    assert data.loss(perfect, b).item() < 1e-6
    uniform = torch.zeros(*b["tgt_out"].shape, v)
    assert data.summarize(data.score(uniform, b))["perplexity"] == pytest.approx(v)


def test_detokenize_stops_at_eos_and_drops_specials(corpus):
    data = load_task(TASK, corpus, seed=0)
    ids = [data.vocab.index(w) for w in ("the", "dog", ".")]
    assert data.detokenize([BOS, ids[0], PAD, 1, ids[1], ids[2], EOS, ids[0]]) == "the dog."
    assert data.detokenize(torch.tensor([EOS, ids[0]])) == ""


def test_bleu_with_sacrebleu():
    refs = ["The dog sees a cat.", "A small bird eats fish."]
    assert bleu(["the dog sees a cat.", "a small bird eats fish."], refs) == pytest.approx(100.0)
    assert bleu(["house house", "house"], refs) < 10.0
    with pytest.raises(ValueError, match="one each"):
        bleu(["x"], refs)


def test_errors_name_the_files(tmp_path):
    folder = tmp_path / "c"
    write_pairs(folder, "train", ["a", "b", "c"], ["x", "y"])
    write_pairs(folder, "test", ["a"], ["x"])
    with pytest.raises(DataError, match=r"train.de has 3 lines but train.en has 2"):
        load_task(TASK, folder, seed=0)
    write_pairs(folder, "train", ["a", "b"], ["x", "y"])
    (folder / "test.en").unlink()
    with pytest.raises(DataError, match=r"test.de has no parallel file test.en"):
        load_task(TASK, folder, seed=0)
    (folder / "test.de").unlink()
    with pytest.raises(DataError, match=r"no test.de/test.en; the folder should hold"):
        load_task(TASK, folder, seed=0)
    with pytest.raises(DataError, match=r"needs a data folder with parallel text files train.de"):
        load_task(TASK, seed=0)
    with pytest.raises(DataError, match="name two languages"):
        load_task(ir.TranslationTask(src="en", tgt="en"), folder, seed=0)
