"""Copying memory: layout (as examples/train_copying.py), determinism, loss and metrics."""

import math

import pytest
import torch
from torch.utils.data import default_collate

from qrnnc import ir
from qrnnc.tasks import load_task
from qrnnc.tasks.copying import memoryless_ce

TASK = ir.CopyingTask(delay=7, length=4, symbols=5)
SIZES = {"train": 40, "valid": 8, "test": 8}


def batch(data, split="train", n=8):
    return default_collate([data.splits[split][i] for i in range(n)])


def one_hot_logits(y: torch.Tensor, classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(y, classes).float() * 50.0


def test_layout_symbols_blanks_delimiter_recall():
    data = load_task(TASK, seed=3, sizes=SIZES)
    ex = data.splits["train"][0]
    x, y = ex["x"], ex["y"]
    steps = TASK.delay + 2 * TASK.length + 1
    assert x.shape == y.shape == (steps,)
    assert x.dtype == y.dtype == torch.int64
    symbols = x[: TASK.length]
    assert ((symbols >= 1) & (symbols <= TASK.symbols)).all()
    assert (x[TASK.length : TASK.length + TASK.delay] == 0).all()
    assert x[TASK.length + TASK.delay] == TASK.symbols + 1  # the delimiter
    assert (x[-TASK.length :] == 0).all()
    assert (y[: -TASK.length] == 0).all()
    assert torch.equal(y[-TASK.length :], symbols)
    assert data.n_in == data.n_out == TASK.symbols + 2
    assert data.inputs == "tokens" and data.target == "per_step"
    assert data.vocab is not None and len(data.vocab) == TASK.symbols + 2


def test_sizes_default_and_set():
    data = load_task(TASK, seed=0)
    assert {s: len(d) for s, d in data.splits.items()} == {
        "train": 10_000,
        "valid": 1_000,
        "test": 1_000,
    }
    data = load_task(TASK, seed=0, sizes={"train": 5})
    assert len(data.splits["train"]) == 5 and len(data.splits["valid"]) == 1_000
    with pytest.raises(IndexError):
        data.splits["train"][5]


def test_deterministic_by_seed_and_splits_differ():
    a, b = load_task(TASK, seed=1, sizes=SIZES), load_task(TASK, seed=1, sizes=SIZES)
    c = load_task(TASK, seed=2, sizes=SIZES)
    assert torch.equal(batch(a)["x"], batch(b)["x"])
    assert not torch.equal(batch(a)["x"], batch(c)["x"])
    assert not torch.equal(batch(a)["x"], batch(a, "valid")["x"])
    # An example does not depend on the order it is asked in.
    assert torch.equal(a.splits["train"][3]["x"], b.splits["train"][3]["x"])


def test_perfect_logits_score_accuracy_one_and_low_loss():
    data = load_task(TASK, seed=0, sizes=SIZES)
    b = batch(data)
    out = one_hot_logits(b["y"], data.n_out)
    scores = data.score(out, b)
    assert scores["accuracy"] == (8 * TASK.length, 8 * TASK.length)
    summary = data.summarize(scores)
    assert summary["accuracy"] == 1.0
    assert summary["loss"] < 1e-6
    assert data.loss(out, b).item() < 1e-6


def test_accuracy_reads_only_the_recalled_symbols():
    data = load_task(TASK, seed=0, sizes=SIZES)
    b = batch(data)
    out = one_hot_logits(b["y"], data.n_out)
    out[:, : -TASK.length] = 0  # blanks wrong-ish everywhere else: accuracy unchanged
    assert data.summarize(data.score(out, b))["accuracy"] == 1.0
    out = one_hot_logits(torch.zeros_like(b["y"]), data.n_out)  # always blank
    assert data.summarize(data.score(out, b))["accuracy"] == 0.0


def test_memoryless_predictor_scores_the_formula():
    data = load_task(TASK, seed=0, sizes=SIZES)
    b = batch(data)
    steps = TASK.delay + 2 * TASK.length + 1
    expected = TASK.length * math.log(TASK.symbols) / steps
    assert data.info["memoryless"] == pytest.approx(expected)
    assert memoryless_ce(TASK.delay, TASK.length, TASK.symbols) == pytest.approx(expected)
    # Certain blank before recall; uniform over the symbols during it.
    out = torch.full((8, steps, data.n_out), -1e4)
    out[:, : -TASK.length, 0] = 0.0
    out[:, -TASK.length :, 1 : TASK.symbols + 1] = 0.0
    summary = data.summarize(data.score(out, b))
    assert summary["loss"] == pytest.approx(expected, rel=1e-5)
    assert data.loss(out, b).item() == pytest.approx(expected, rel=1e-5)
    assert summary["memoryless"] == pytest.approx(expected)


def test_loss_has_a_gradient_and_rejects_wrong_shapes():
    data = load_task(TASK, seed=0, sizes=SIZES)
    b = batch(data)
    out = torch.zeros(8, b["y"].shape[1], data.n_out, requires_grad=True)
    data.loss(out, b).backward()
    assert out.grad is not None
    with pytest.raises(ValueError, match="expected"):
        data.loss(torch.zeros(8, data.n_out), b)
