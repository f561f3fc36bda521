"""Train the zoo's copying-memory QRNN for a few hundred steps and show the loss.

    python examples/train_copying.py [--steps 600] [--delay 20] [--backend numba]

A stand-in for `qrnnc train` (which comes with the training issue): it shows
the Python API end to end, with the numba backend's adjoint gradients.
Copying memory: `length` random symbols (1..8), `delay` blanks (0), a
delimiter (9), then `length` blanks during which the net must recall the
symbols. A memoryless predictor reaches cross-entropy
length * ln(8) / (delay + 2 * length + 1) (always guess blank, except a uniform
guess once recall starts); below it, the net remembers.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import Progress

import qrnnc

BLANK, DELIMITER = 0, 9


def copying_batch(batch: int, length: int, delay: int, gen: torch.Generator):
    symbols = torch.randint(1, 9, (batch, length), generator=gen)
    blanks = torch.zeros(batch, delay, dtype=torch.long)
    recall = torch.zeros(batch, length, dtype=torch.long)
    delim = torch.full((batch, 1), DELIMITER)
    x = torch.cat([symbols, blanks, delim, recall], dim=1)
    y = torch.cat([torch.zeros(batch, length + delay + 1, dtype=torch.long), symbols], dim=1)
    return x, y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--delay", type=int, default=20)
    ap.add_argument("--length", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--backend", default="numba", choices=["numba", "torch"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    console = Console()

    torch.manual_seed(args.seed)
    compiled = qrnnc.load(Path(__file__).parent.parent / "zoo" / "copying" / "model.qrnn")
    net = compiled.build(backend=args.backend)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_seq = args.delay + 2 * args.length + 1
    baseline = args.length * math.log(8) / steps_per_seq
    console.print(
        f"copying memory: length {args.length}, delay {args.delay} ({steps_per_seq} steps),"
        f" {compiled.program.qubits} qubits, backend {args.backend};"
        f" memoryless cross-entropy {baseline:.4f}"
    )
    losses = []
    start = time.perf_counter()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("training", total=args.steps)
        for _ in range(args.steps):
            x, y = copying_batch(args.batch, args.length, args.delay, gen)
            logits = net(x)
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.update(task, advance=1, description=f"loss {loss.item():.4f}")
    seconds = time.perf_counter() - start
    tail = sum(losses[-10:]) / min(10, len(losses))
    console.print(
        f"first loss {losses[0]:.4f}, mean of the last 10 {tail:.4f}"
        f" (memoryless {baseline:.4f}); {args.steps} steps in {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
