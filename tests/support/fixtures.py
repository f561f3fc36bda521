"""Tiny data sets in the real formats, written into a folder: for the task and CLI tests.

    folder = write_mnist(tmp_path / "mnist")        # then task smnist(data="...")

Every writer is deterministic (the same files for the same arguments), fast, and
returns the folder to pass as the task's data. The data is learnable, so a few
training steps can show progress: digits are drawn as bars whose place encodes
the label, reviews use sentiment words, sentences follow a small grammar, and
the parallel corpus is a word-for-word mapping.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import numpy as np

# The idx type codes of the format, by numpy dtype (big-endian in the file).
_IDX_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C}
_IDX_CODES |= {"float32": 0x0D, "float64": 0x0E}


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False) -> Path:
    """`array` as an idx file (gzipped when gz, and then named with .gz)."""
    header = bytes([0, 0, _IDX_CODES[array.dtype.name], array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    body = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        body = gzip.compress(body, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def digit_images(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """28x28 uint8 images: a bright bar across rows 2*label+4 .. 2*label+6, plus noise."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 40, size=(len(labels), 28, 28), dtype=np.uint8)
    for image, label in zip(images, labels, strict=True):
        image[2 * label + 4 : 2 * label + 7, 4:24] = 255
    return images


def write_mnist(
    folder: Path, n_train: int = 24, n_test: int = 12, *, gz: bool = False, dotted: bool = False
) -> Path:
    """The four MNIST idx files (dotted: `train-images.idx3-ubyte` spellings)."""
    folder = Path(folder)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        sep = "." if dotted else "-"
        write_idx(folder / f"{prefix}-images{sep}idx3-ubyte", digit_images(labels, seed), gz=gz)
        write_idx(folder / f"{prefix}-labels{sep}idx1-ubyte", labels, gz=gz)
    return folder


_GOOD = ["great", "wonderful", "loved", "brilliant", "moving", "fun"]
_BAD = ["awful", "boring", "hated", "terrible", "dull", "waste"]
_FILLER = ["the", "movie", "film", "plot", "actors", "was", "and", "story", "it", "this"]


def review(positive: bool, rng: random.Random) -> str:
    """A few words of filler around sentiment words, with the format's `<br />` tags."""
    mood = _GOOD if positive else _BAD
    words = [rng.choice(_FILLER) for _ in range(rng.randint(3, 8))]
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randint(0, len(words)), rng.choice(mood))
    first = " ".join(words[:3]).capitalize()
    return f"{first}.<br /><br />{' '.join(words[3:])}{'!' if positive else '.'}"


def write_imdb(folder: Path, n_train: int = 20, n_test: int = 10, *, seed: int = 0) -> Path:
    """An aclImdb folder: train/{pos,neg} and test/{pos,neg}, half the reviews each."""
    folder = Path(folder)
    rng = random.Random(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for i in range(n):
            positive = i % 2 == 0
            rating = rng.randint(7, 10) if positive else rng.randint(1, 4)
            where = folder / split / ("pos" if positive else "neg")
            where.mkdir(parents=True, exist_ok=True)
            (where / f"{i}_{rating}.txt").write_text(review(positive, rng), encoding="utf-8")
    return folder


_SUBJECTS = ["the company", "mr. <unk>", "the market", "investors", "the bank", "analysts"]
_VERBS = ["said", "expects", "reported", "sold", "bought", "rose"]
_OBJECTS = ["N shares", "the stock", "$ N million", "its <unk> unit", "a new plan", "profits"]


def ptb_line(rng: random.Random) -> str:
    parts = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)]
    # Mikolov's files start every line with a space.
    return " " + " ".join(parts) + " "


def write_ptb(
    folder: Path, n_train: int = 60, n_valid: int = 20, n_test: int = 20, *, seed: int = 0
) -> Path:
    """ptb.train.txt, ptb.valid.txt, ptb.test.txt: short sentences from a small grammar."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for split, n in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        lines = [ptb_line(rng) for _ in range(n)]
        (folder / f"ptb.{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


# A word-for-word German -> English mapping: the target is the source, word by word.
LEXICON = {
    "der": "the", "hund": "dog", "katze": "cat", "sieht": "sees", "mag": "likes",
    "ein": "a", "vogel": "bird", "frisst": "eats", "fisch": "fish", "rot": "red",
    "klein": "small", "groß": "big", "und": "and", "haus": "house",
}  # fmt: skip


def sentence_pair(rng: random.Random) -> tuple[str, str]:
    words = [rng.choice(list(LEXICON)) for _ in range(rng.randint(2, 5))]
    src = " ".join(words).capitalize() + "."
    tgt = " ".join(LEXICON[w] for w in words).capitalize() + "."
    return src, tgt


def write_parallel(
    folder: Path,
    src: str = "de",
    tgt: str = "en",
    n_train: int = 40,
    n_valid: int = 10,
    n_test: int = 10,
    *,
    seed: int = 0,
    valid: bool = True,
) -> Path:
    """train/valid/test.{src,tgt}: sentence pairs of the word-for-word LEXICON
    (valid=False leaves out the valid files, for the carving path)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    for split, n in sizes.items():
        pairs = [sentence_pair(rng) for _ in range(n)]
        if split == "valid" and not valid:
            continue
        for lang, side in ((src, 0), (tgt, 1)):
            text = "\n".join(p[side] for p in pairs) + "\n"
            (folder / f"{split}.{lang}").write_text(text, encoding="utf-8")
    return folder
