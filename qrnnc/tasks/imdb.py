"""IMDB sentiment (Maas et al. 2011) from the aclImdb folder.

The folder (aclImdb itself, or a folder holding it) has train/pos, train/neg,
test/pos and test/neg, one review per *.txt file; the unlabelled train/unsup is
not read. Labels: neg 0, pos 1.

Reviews are tokenized (qrnnc.tasks.text), the vocabulary is the `vocab` - 2 most
frequent tokens of the training reviews after <pad> = 0 and <unk> = 1, and a
review longer than `max_len` keeps its END: reviews tend to close on their
verdict. Reviews are padded on the LEFT, so the last step, which a `last` head
reads, is always the review's last token; `mask` marks the real tokens. A split
is as wide as its longest review, at most `max_len`.

aclImdb has no validation split: 1/10 of train (2,500 of 25,000 reviews) is
carved off by a fixed permutation, the same for every run, and the vocabulary is
built from the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qrnnc import ir
from qrnnc.tasks.base import DataError, TensorSplit, data_folder
from qrnnc.tasks.metrics import LastClassification
from qrnnc.tasks.splits import carve, check_sizes, pick
from qrnnc.tasks.text import build_vocab, encode, pad_rows, tokenize

SPECIALS = ("<pad>", "<unk>")
PAD, UNK = 0, 1
LABELS = ("neg", "pos")
VALID_FRACTION = 1 / 10
EXPECTED = "the aclImdb layout: train/pos, train/neg, test/pos, test/neg of *.txt reviews"
HINT = (
    "unpack the Large Movie Review Dataset (Maas et al. 2011, aclImdb_v1.tar.gz) and"
    " give its aclImdb folder; nothing is downloaded"
)


@dataclass
class ImdbData(LastClassification):
    pass


def find_reviews(folder: Path) -> dict[str, tuple[list[Path], np.ndarray]]:
    """train and test: the review files (sorted, neg then pos) and their labels."""
    if not (folder / "train").is_dir() and (folder / "aclImdb").is_dir():
        folder = folder / "aclImdb"
    out: dict[str, tuple[list[Path], np.ndarray]] = {}
    missing = []
    for split in ("train", "test"):
        paths: list[Path] = []
        labels: list[int] = []
        for label, name in enumerate(LABELS):
            found = sorted((folder / split / name).glob("*.txt"))
            if not found:
                missing.append(f"{split}/{name}")
            paths += found
            labels += [label] * len(found)
        out[split] = (paths, np.array(labels, dtype=np.int64))
    if missing:
        raise DataError(
            f"{folder}: no reviews in {', '.join(missing)}; the folder should hold {EXPECTED};"
            f" {HINT}"
        )
    return out


def read_tokens(paths: list[Path]) -> list[list[str]]:
    return [tokenize(p.read_text(encoding="utf-8", errors="replace")) for p in paths]


def load(
    task: ir.ImdbTask, data: Path | None, *, seed: int, sizes: dict[str, int] | None
) -> ImdbData:
    """Reviews from an aclImdb folder; `seed` picks the subsets that `sizes` asks for."""
    if task.vocab <= len(SPECIALS):
        raise DataError(
            f"task imdb(vocab={task.vocab}): the vocabulary must hold more than"
            f" {', '.join(SPECIALS)}; use vocab >= {len(SPECIALS) + 1}"
        )
    caps = check_sizes(sizes)
    folder = data_folder(data, "imdb", EXPECTED, HINT)
    reviews = find_reviews(folder)
    train_paths, train_labels = reviews["train"]
    fit, valid = carve(len(train_paths), VALID_FRACTION, f"{folder} (imdb)")
    # The vocabulary needs every training review; valid and test only the ones kept.
    fit_tokens = read_tokens([train_paths[i] for i in fit])
    vocab = build_vocab(fit_tokens, task.vocab, SPECIALS)
    index = {w: i for i, w in enumerate(vocab)}

    def split_of(tokens: list[list[str]], labels: np.ndarray) -> TensorSplit:
        rows = [encode(t[-task.max_len :], index, UNK) for t in tokens]
        width = max(1, max((len(r) for r in rows), default=1))
        ids, mask = pad_rows(rows, width, PAD, left=True)
        return TensorSplit(
            {
                "x": torch.from_numpy(ids),
                "mask": torch.from_numpy(mask),
                "y": torch.from_numpy(labels),
            }
        )

    test_paths, test_labels = reviews["test"]
    among = {"train": fit, "valid": valid, "test": np.arange(len(test_paths))}
    keep = {s: pick(len(ids), caps.get(s), seed, s) for s, ids in among.items()}
    chosen = {s: among[s][keep[s]] for s in among}
    train_tokens = [fit_tokens[k] for k in keep["train"]]
    valid_tokens = read_tokens([train_paths[i] for i in chosen["valid"]])
    splits = {
        "train": split_of(train_tokens, train_labels[chosen["train"]]),
        "valid": split_of(valid_tokens, train_labels[chosen["valid"]]),
        "test": split_of(
            read_tokens([test_paths[i] for i in chosen["test"]]), test_labels[chosen["test"]]
        ),
    }
    return ImdbData(
        name="imdb",
        splits=splits,
        inputs="tokens",
        n_in=len(vocab),
        n_out=2,
        target="last",
        source=(
            f"{folder}: aclImdb train/test reviews; valid = {len(valid)} reviews carved from"
            " train (fixed permutation)"
        ),
        vocab=vocab,
        metric="accuracy",
        higher_is_better=True,
        info={
            "max_len": task.max_len,
            "truncation": "keeps the end of a review",
            "padding": "left",
            **{f"{s}_size": len(splits[s]) for s in splits},
            **{f"{s}_steps": int(splits[s].tensors["x"].shape[1]) for s in splits},
        },
    )
