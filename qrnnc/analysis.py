"""Analyses of trained runs: training curves and gradient norms over time.

Both write a PNG for people and a CSV (or the run's own metrics.jsonl) for
tools; matplotlib runs headless (Agg), so they work on a server.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import torch

from qrnnc import runs


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(run: Path) -> str:
    cfg = runs.read_config(run)
    kind = cfg.baseline or f"qrnn/{cfg.backend}"
    return f"{run.name} ({kind})"


def plot_curves(run_dirs: list[Path], output: Path | None = None) -> Path:
    """Train loss over steps and the validation metric over epochs, one line per run."""
    if not run_dirs:
        raise ValueError("give at least one run folder")
    plt = _pyplot()
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(11, 4))
    metric_name = None
    for run in run_dirs:
        records = runs.read_metrics(run)
        if not records:
            raise ValueError(f"{run}: no metrics.jsonl records yet")
        label = _label(run)
        steps = [r for r in records if r["kind"] == "step"]
        epochs = [r for r in records if r["kind"] == "epoch"]
        ax_loss.plot([r["step"] for r in steps], [r["loss"] for r in steps], label=label)
        if epochs:
            metric_name = metric_name or _headline(run, epochs[-1]["valid"])
            ax_metric.plot(
                [r["step"] for r in epochs],
                [r["valid"].get(metric_name, float("nan")) for r in epochs],
                marker="o",
                label=label,
            )
    ax_loss.set(xlabel="step", ylabel="train loss", title="training loss")
    ax_metric.set(xlabel="step", ylabel=f"valid {metric_name or ''}", title="validation")
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    path = output or run_dirs[0] / "curves.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _headline(run: Path, valid: dict[str, float]) -> str:
    summary = run / runs.SUMMARY
    if summary.is_file():
        import json

        return json.loads(summary.read_text())["metric"]
    return next(iter(valid))


def per_step_states(net: torch.nn.Module) -> list[torch.Tensor]:
    """The per-step hidden tensors of the last forward, as the recurrence fed them on."""
    steps = getattr(net, "step_readouts", None) or getattr(net, "step_states", None)
    if not steps:
        raise ValueError(
            f"{type(net).__name__} keeps no per-step states; gradient norms over time need"
            " a sequence model (a QRNN or a baseline), not an encoder-decoder"
        )
    return list(steps)


def gradient_norms_of(run: Path, batches: int) -> list[float]:
    """Mean over validation examples of ||dL/dh_t|| for t = 1..T, from the run's checkpoint."""
    from qrnnc.train import collate, forward, load_run, task_data

    cfg, net, _ = load_run(run, "best")
    data = task_data(cfg)
    dataset = data.splits["valid"]
    net.eval()
    total: torch.Tensor | None = None
    seen = 0
    for part in torch.arange(len(dataset)).split(cfg.batch)[:batches]:
        b = collate(dataset, part, torch.device("cpu"))
        loss = data.loss(forward(net, b), b)
        steps = per_step_states(net)
        grads = torch.autograd.grad(loss * len(part), steps, allow_unused=True)
        norms = torch.stack(
            [
                torch.zeros(len(part)) if g is None else g.detach().flatten(1).norm(dim=1)
                for g in grads
            ],
            dim=1,
        ).sum(0)
        total = norms if total is None else total + norms
        seen += len(part)
    if total is None:
        raise ValueError(f"{run}: the validation split is empty")
    return (total / seen).tolist()


def gradient_norms(
    run_dirs: list[Path], *, batches: int = 4, output: Path | None = None
) -> tuple[Path, Path]:
    """`qrnnc analyze grads`: one curve per run; PNG and CSV (columns t, one per run)."""
    if not run_dirs:
        raise ValueError("give at least one run folder")
    curves = {_label(run): gradient_norms_of(run, batches) for run in run_dirs}
    png = output or run_dirs[0] / "grads.png"
    csv_path = png.with_suffix(".csv")
    longest = max(len(c) for c in curves.values())
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", *curves])
        for t in range(longest):
            w.writerow([t + 1, *(c[t] if t < len(c) else "" for c in curves.values())])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, c in curves.items():
        ax.semilogy(range(1, len(c) + 1), [max(v, 1e-30) for v in c], label=label)
    ax.set(xlabel="step t", ylabel="mean ||dL/dh_t||", title="gradient norm over time")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png, csv_path
