"""Words to ids for the text tasks: a regex tokenizer and frequency vocabularies.

The tokenizer lowercases, turns HTML line breaks (`<br />`, as in the IMDB
reviews) into spaces and splits into words (letters and digits, with inner
apostrophes: "don't" stays one token) and single punctuation marks. It is the
same for every language the \\w class covers (German umlauts and ß included).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain

import numpy as np

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_")


def tokenize(text: str) -> list[str]:
    """Lowercase words and punctuation marks of `text`."""
    return _TOKEN.findall(_BREAK.sub(" ", text).lower())


def build_vocab(
    sentences: Iterable[Sequence[str]], size: int, specials: Sequence[str]
) -> list[str]:
    """`specials`, then the most frequent tokens (ties alphabetical, so the order does
    not depend on the order of the files), `size` in all at most."""
    counts = Counter(chain.from_iterable(sentences))
    for s in specials:
        counts.pop(s, None)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [*specials, *(w for w, _ in ranked[: max(0, size - len(specials))])]


def encode(tokens: Sequence[str], index: dict[str, int], unk: int) -> list[int]:
    return [index.get(t, unk) for t in tokens]


def pad_rows(
    rows: Sequence[Sequence[int]], width: int, pad: int, *, left: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(ids, mask) of shape (n, width): rows padded with `pad` on the left or right
    (rows must be at most `width` long); mask marks the real tokens."""
    ids = np.full((len(rows), width), pad, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=bool)
    for i, row in enumerate(rows):
        if not row:
            continue
        span = slice(width - len(row), width) if left else slice(0, len(row))
        ids[i, span] = row
        mask[i, span] = True
    return ids, mask
