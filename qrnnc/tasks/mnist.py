"""Sequential MNIST (`smnist`) and permuted sequential MNIST (`psmnist`).

Reads the four idx files of MNIST, or of any set of square images in the same
format (Fashion-MNIST at 28x28, scikit-learn's digits at 8x8 via `qrnnc data
digits`), from a folder: train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or gzipped (`.gz`),
with `-` or `.` before `idx` (both spellings are in circulation). The folder
itself or its `raw/` subfolder (torchvision's layout) may hold them.

An image of side x side pixels (read from the idx header; train and test must
agree) is a sequence of side*side steps, one pixel/255 a step (x: (side*side, 1)
float32; 784 for MNIST), in row-major order; psmnist reorders the pixels by one
permutation of side*side drawn from `perm_seed`. The label is read at the last
step. The idx files have no validation split: 1/12 of train (5,000 of 60,000
for MNIST) is carved off by a fixed permutation, the same for every run.
"""

from __future__ import annotations

import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from qrnnc import ir
from qrnnc.tasks.base import DataError, data_folder
from qrnnc.tasks.metrics import LastClassification
from qrnnc.tasks.splits import SPLITS, carve, check_sizes, pick

SIDE = 28  # MNIST's and Fashion-MNIST's; other square sizes are read from the header
VALID_FRACTION = 1 / 12
# The idx type codes (the third byte of the magic number) and their big-endian dtypes.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FILES = {  # what each file holds -> its name with `-` before idx
    "train images": "train-images-idx3-ubyte",
    "train labels": "train-labels-idx1-ubyte",
    "test images": "t10k-images-idx3-ubyte",
    "test labels": "t10k-labels-idx1-ubyte",
}
EXPECTED = "the MNIST idx files " + ", ".join(FILES.values()) + " (raw or .gz)"
HINT = (
    "they are the files of the MNIST database (LeCun, Cortes and Burges) or of"
    " Fashion-MNIST (Zalando Research), unpacked into one folder; nothing is downloaded"
)


GZIP_MAGIC = b"\x1f\x8b"  # idx files start with two zero bytes instead


class IdxError(DataError):
    """An idx file that is not one, or is cut short."""


def read_idx(path: Path) -> np.ndarray:
    """An idx file (raw or gzipped) as an array in native byte order."""
    raw = path.read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise IdxError(
                f"{path}: a damaged or truncated gzip file ({e}); download it again"
            ) from None
    dtype, dims, header = _header(raw, path)
    need = math.prod(dims) * dtype.itemsize
    have = len(raw) - header
    if have != need:
        what = "truncated idx file" if have < need else "idx file with extra bytes at the end"
        raise IdxError(
            f"{path}: {what}: the header says {' x '.join(map(str, dims))} {dtype.name}"
            f" ({need} bytes of data), the file holds {have}; download it again"
        )
    data = np.frombuffer(raw, dtype, count=math.prod(dims), offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="), copy=False)


def _header(raw: bytes, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """The element type, the dimensions and the header's length of idx bytes `raw`."""
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_DTYPES:
        raise IdxError(
            f"{path}: not an idx file (its first bytes are {raw[:4].hex(' ') or 'missing'},"
            " expected 00 00, a type code and the number of dimensions)"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxError(
            f"{path}: truncated idx file: {len(raw)} bytes, shorter than its"
            f" {header}-byte header; download it again"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    return np.dtype(IDX_DTYPES[raw[2]]), dims, header


def find_files(folder: Path) -> dict[str, Path]:
    """The four idx files in `folder` (or its raw/), by what they hold."""
    found: dict[str, Path] = {}
    for where in (folder, folder / "raw"):
        for what, name in FILES.items():
            dotted = name.replace("-idx", ".idx")
            for candidate in (name, dotted, name + ".gz", dotted + ".gz"):
                if what not in found and (where / candidate).is_file():
                    found[what] = where / candidate
    missing = [FILES[w] for w in FILES if w not in found]
    if missing:
        raise DataError(
            f"{folder}: no {', '.join(missing)} (nor with `.idx`, nor .gz); the folder"
            f" should hold {EXPECTED}; {HINT}"
        )
    return found


def image_side(folder: str | Path) -> int:
    """The side of the square images in an idx folder, from the train images' header only
    (how many steps a pixel sequence has, without reading the images)."""
    path = find_files(Path(folder))["train images"]
    with path.open("rb") as f:
        gzipped = f.read(2) == GZIP_MAGIC
    with (gzip.open if gzipped else open)(path, "rb") as f:
        head = f.read(16)
    _, dims, _ = _header(head, path)
    if len(dims) != 3 or dims[1] != dims[2]:
        raise DataError(
            f"{path}: images are {' x '.join(map(str, dims))}; sequences need n x side x side"
        )
    return dims[1]


def read_pairs(
    images_path: Path, labels_path: Path, like: tuple[Path, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, side*side) uint8 and labels (n,) from one pair of idx files, checked;
    `like` (a file and its side) is the set these images must match in size."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    square = images.ndim == 3 and images.shape[1] == images.shape[2] and images.shape[1] > 0
    if like is not None:
        other, side = like
        want = f"{side}x{side} uint8 images (n x {side} x {side}, as in {other.name})"
    else:
        side = images.shape[1] if square else SIDE
        want = f"square uint8 images (n x side x side, {SIDE}x{SIDE} for MNIST)"
    if not square or images.shape[1] != side or images.dtype != np.uint8:
        raise DataError(
            f"{images_path}: expected {want}, found"
            f" {' x '.join(map(str, images.shape))} {images.dtype}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(
            f"{labels_path}: expected {len(images)} labels, one per image of"
            f" {images_path.name}, found shape {' x '.join(map(str, labels.shape))}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{labels_path}: labels must be 0..9, found {labels.min()}..{labels.max()}")
    return images.reshape(len(images), side * side), labels.astype(np.int64)


class PixelSplit(Dataset):
    """Images as pixel sequences: x (side*side, 1) float32 in [0, 1], y the label."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, perm: torch.Tensor | None) -> None:
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(labels)
        self.perm = perm

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        pixels = self.images[i]
        if self.perm is not None:
            pixels = pixels[self.perm]
        return {"x": pixels.to(torch.float32).div_(255.0).unsqueeze(-1), "y": self.labels[i]}


@dataclass
class MnistData(LastClassification):
    perm: torch.Tensor | None = None  # psmnist's pixel order: step t shows pixel perm[t]


def permutation(perm_seed: int, side: int = SIDE) -> torch.Tensor:
    """psmnist's fixed pixel order for side x side images."""
    gen = torch.Generator().manual_seed(perm_seed)
    return torch.randperm(side * side, generator=gen)


def load(
    task: ir.SmnistTask | ir.PsmnistTask,
    data: Path | None,
    *,
    seed: int,
    sizes: dict[str, int] | None,
) -> MnistData:
    """Both tasks from an idx folder; `seed` picks the subsets that `sizes` asks for."""
    caps = check_sizes(sizes)
    folder = data_folder(data, task.name, EXPECTED, HINT)
    files = find_files(folder)
    train_x, train_y = read_pairs(files["train images"], files["train labels"])
    side = math.isqrt(train_x.shape[1])
    like = (files["train images"], side)
    test_x, test_y = read_pairs(files["test images"], files["test labels"], like)
    steps = side * side
    fit, valid = carve(len(train_y), VALID_FRACTION, f"{folder} ({task.name})")
    parts = {
        "train": (train_x[fit], train_y[fit]),
        "valid": (train_x[valid], train_y[valid]),
        "test": (test_x, test_y),
    }
    perm = permutation(task.perm_seed, side) if isinstance(task, ir.PsmnistTask) else None
    splits = {}
    for split in SPLITS:
        x, y = parts[split]
        keep = pick(len(y), caps.get(split), seed, split)
        splits[split] = PixelSplit(x[keep], y[keep], perm)
    order = f", pixels permuted by perm_seed {task.perm_seed}" if perm is not None else ""
    names = ", ".join(p.name for p in files.values())
    return MnistData(
        name=task.name,
        splits=splits,
        inputs="features",
        n_in=1,
        n_out=10,
        target="last",
        source=(
            f"{folder}: {names}; {side}x{side} images, {steps} steps;"
            f" valid = {len(valid)} images carved from train"
            f" (fixed permutation){order}"
        ),
        metric="accuracy",
        higher_is_better=True,
        info={"steps": steps, "side": side} | {f"{s}_size": len(splits[s]) for s in SPLITS},
        perm=perm,
    )
