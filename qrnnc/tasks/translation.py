"""Translation from parallel text files (De->En or any pair), scored by BLEU.

A folder holds train.SRC / train.TGT, valid.SRC / valid.TGT and test.SRC /
test.TGT (e.g. train.de and train.en): one sentence per line, line i of one file
the translation of line i of the other. `dev.*` stands in for `valid.*`; without
either, 1/10 of train is carved off by a fixed permutation. Pairs where either
side is blank are dropped.

Both sides are tokenized as for IMDB (qrnnc.tasks.text: lowercased words and
punctuation) and get their own vocabulary from the training pairs: <pad> = 0,
<unk> = 1, <bos> = 2, <eos> = 3, then the most frequent tokens, `vocab` in all.
A sentence keeps its first `max_len` tokens. Examples, right-padded with <pad>
to the longest in the split:

    src     (S,)  source ids                       src_mask (S,)
    tgt_in  (U,)  <bos> + target ids               tgt_mask (U,)
    tgt_out (U,)  target ids + <eos>               (U = target tokens + 1)

The loss is the cross-entropy of the decoder's logits (B, U, V) against
tgt_out where tgt_mask is set. BLEU needs decoding, which the seq2seq module
does: it turns ids back into text with `detokenize` and scores them with
`bleu` against `references(split)`, the raw target sentences of the split.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from qrnnc import ir
from qrnnc.tasks.base import Batch, DataError, Scores, TaskData, TensorSplit, data_folder
from qrnnc.tasks.metrics import check_logits, correct, cross_entropy
from qrnnc.tasks.splits import SPLITS, carve, check_sizes, pick
from qrnnc.tasks.text import build_vocab, encode, pad_rows, tokenize

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = 0, 1, 2, 3
VALID_FRACTION = 1 / 10
_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}])")
_NO_SPACE_AFTER = re.compile(r"([(\[{]) ")
T = TypeVar("T")


@dataclass
class TranslationData(TaskData):
    task: ir.TranslationTask | None = None  # beam and max_len, for decoding
    src_vocab: list[str] = field(default_factory=list)  # `vocab` is the target side's
    raw: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)  # split -> (src, tgt)

    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        check_logits(out, batch["tgt_out"], self.name)
        return cross_entropy(out, batch["tgt_out"], batch["tgt_mask"])

    @torch.no_grad()
    def score(self, out: torch.Tensor, batch: Batch) -> Scores:
        y, mask = batch["tgt_out"], batch["tgt_mask"]
        check_logits(out, y, self.name)
        return {
            "accuracy": correct(out, y, mask),
            "nll": (float(cross_entropy(out, y, mask, total=True)), float(mask.sum())),
        }

    def references(self, split: str) -> list[str]:
        """The raw target sentences of `split`, in the order of its examples."""
        return self.raw[split][1]

    def sources(self, split: str) -> list[str]:
        """The raw source sentences of `split`, in the order of its examples."""
        return self.raw[split][0]

    def detokenize(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Target ids as text: up to the first <eos>, without the special tokens."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        words = []
        for i in ids:
            if i == EOS:
                break
            if len(SPECIALS) <= i < len(self.vocab or ()):
                words.append(self.vocab[i])
        text = _NO_SPACE_BEFORE.sub(r"\1", " ".join(words))
        return _NO_SPACE_AFTER.sub(r"\1", text)

    def bleu(self, hypotheses: list[str], references: list[str]) -> float:
        return bleu(hypotheses, references)


def bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU (sacrebleu, 13a tokenization), case-insensitive because the
    vocabularies are lowercased: 0..100."""
    if len(hypotheses) != len(references):
        raise ValueError(
            f"bleu: {len(hypotheses)} hypotheses but {len(references)} references; one each"
        )
    import sacrebleu  # only BLEU needs it: keep the import off the training path

    return float(sacrebleu.corpus_bleu(hypotheses, [references], lowercase=True).score)


def read_pair(folder: Path, split: str, src: str, tgt: str) -> tuple[list[str], list[str]] | None:
    """The two sides of a split as lines, or None when neither file is there."""
    paths = [folder / f"{split}.{src}", folder / f"{split}.{tgt}"]
    present = [p.is_file() for p in paths]
    if not any(present):
        return None
    if not all(present):
        have, lack = (paths[0], paths[1]) if present[0] else (paths[1], paths[0])
        raise DataError(f"{folder}: {have.name} has no parallel file {lack.name}; add it")
    sides = [p.read_text(encoding="utf-8").splitlines() for p in paths]
    if len(sides[0]) != len(sides[1]):
        raise DataError(
            f"{folder}: {paths[0].name} has {len(sides[0])} lines but {paths[1].name} has"
            f" {len(sides[1])}; parallel files need one sentence per line, line for line"
        )
    pairs = [(s, t) for s, t in zip(*sides, strict=True) if s.strip() and t.strip()]
    return [s for s, _ in pairs], [t for _, t in pairs]


def take(items: list[T], idx: np.ndarray) -> list[T]:
    return [items[i] for i in idx]


def examples(
    src_tokens: list[list[str]],
    tgt_tokens: list[list[str]],
    src_index: dict[str, int],
    tgt_index: dict[str, int],
    max_len: int,
) -> TensorSplit:
    src_rows = [encode(t[:max_len], src_index, UNK) for t in src_tokens]
    tgt_rows = [encode(t[:max_len], tgt_index, UNK) for t in tgt_tokens]
    s_width = max(1, max((len(r) for r in src_rows), default=1))
    u_width = 1 + max((len(r) for r in tgt_rows), default=0)
    src, src_mask = pad_rows(src_rows, s_width, PAD, left=False)
    tgt_in, tgt_mask = pad_rows([[BOS, *r] for r in tgt_rows], u_width, PAD, left=False)
    tgt_out, _ = pad_rows([[*r, EOS] for r in tgt_rows], u_width, PAD, left=False)
    arrays = {"src": src, "tgt_in": tgt_in, "tgt_out": tgt_out}
    arrays |= {"src_mask": src_mask, "tgt_mask": tgt_mask}
    return TensorSplit({k: torch.from_numpy(v) for k, v in arrays.items()})


def load(
    task: ir.TranslationTask, data: Path | None, *, seed: int, sizes: dict[str, int] | None
) -> TranslationData:
    """Parallel files from a folder; `seed` picks the pairs that `sizes` asks for."""
    if task.vocab <= len(SPECIALS):
        raise DataError(
            f"task translation(vocab={task.vocab}): the vocabulary must hold more than"
            f" {', '.join(SPECIALS)}; use vocab >= {len(SPECIALS) + 1}"
        )
    if task.src == task.tgt:
        raise DataError(f"task translation: src and tgt are both {task.src!r}; name two languages")
    caps = check_sizes(sizes)
    src, tgt = task.src, task.tgt
    expected = (
        f"parallel text files train.{src}/train.{tgt}, valid.{src}/valid.{tgt} and"
        f" test.{src}/test.{tgt}, one sentence per line"
    )
    hint = "any sentence-aligned corpus (e.g. IWSLT or WMT De-En) split into those files"
    folder = data_folder(data, "translation", expected, hint)
    found = {s: read_pair(folder, s, src, tgt) for s in ("train", "valid", "dev", "test")}
    missing = [f"{s}.{src}/{s}.{tgt}" for s in ("train", "test") if found[s] is None]
    if missing:
        raise DataError(f"{folder}: no {', '.join(missing)}; the folder should hold {expected}")
    raw: dict[str, tuple[list[str], list[str]]] = {"train": found["train"], "test": found["test"]}
    valid_from = "valid" if found["valid"] is not None else "dev"
    if found[valid_from] is not None:
        raw["valid"] = found[valid_from]
        valid_note = f"valid = {valid_from}.{src}/{valid_from}.{tgt}"
    else:
        fit, held = carve(len(raw["train"][0]), VALID_FRACTION, f"{folder} (translation)")
        lines_src, lines_tgt = raw["train"]
        raw["valid"] = (take(lines_src, held), take(lines_tgt, held))
        raw["train"] = (take(lines_src, fit), take(lines_tgt, fit))
        valid_note = f"valid = {len(held)} pairs carved from train (fixed permutation)"
    for split in SPLITS:
        if not raw[split][0]:
            raise DataError(f"{folder}: the {split} files hold no sentence pairs")

    train_src = [tokenize(s) for s in raw["train"][0]]
    train_tgt = [tokenize(t) for t in raw["train"][1]]
    src_vocab = build_vocab(train_src, task.vocab, SPECIALS)
    tgt_vocab = build_vocab(train_tgt, task.vocab, SPECIALS)
    src_index = {w: i for i, w in enumerate(src_vocab)}
    tgt_index = {w: i for i, w in enumerate(tgt_vocab)}

    splits = {}
    kept: dict[str, tuple[list[str], list[str]]] = {}
    for split in SPLITS:
        srcs, tgts = raw[split]
        keep = pick(len(srcs), caps.get(split), seed, split)
        kept[split] = (take(srcs, keep), take(tgts, keep))
        if split == "train":
            s_tok, t_tok = take(train_src, keep), take(train_tgt, keep)
        else:
            s_tok = [tokenize(s) for s in kept[split][0]]
            t_tok = [tokenize(t) for t in kept[split][1]]
        splits[split] = examples(s_tok, t_tok, src_index, tgt_index, task.max_len)
    return TranslationData(
        name="translation",
        splits=splits,
        inputs="tokens",
        n_in=len(src_vocab),
        n_out=len(tgt_vocab),
        target="per_step",
        source=f"{folder}: {src}->{tgt} parallel files; {valid_note}",
        vocab=tgt_vocab,
        metric="perplexity",
        higher_is_better=False,
        info={
            "src": src,
            "tgt": tgt,
            "max_len": task.max_len,
            "src_vocab": len(src_vocab),
            "tgt_vocab": len(tgt_vocab),
            **{f"{s}_size": len(splits[s]) for s in SPLITS},
        },
        task=task,
        src_vocab=src_vocab,
        raw=kept,
    )
