"""The adding problem: two markers, one per half; the target is their values' sum."""

import pytest
import torch
from torch.utils.data import default_collate

from qrnnc import ir
from qrnnc.tasks import DataError, load_task

SIZES = {"train": 200, "valid": 10, "test": 10}


@pytest.mark.parametrize("length", [2, 3, 10, 51])
def test_markers_one_in_each_half_and_target_is_their_sum(length):
    data = load_task(ir.AddingTask(length=length), seed=0, sizes=SIZES)
    for i in range(20):
        ex = data.splits["train"][i]
        x, y = ex["x"], ex["y"]
        assert x.shape == (length, 2) and x.dtype == torch.float32
        assert y.shape == () and y.dtype == torch.float32
        assert ((x[:, 0] >= 0) & (x[:, 0] < 1)).all()
        marked = torch.nonzero(x[:, 1]).flatten()
        assert len(marked) == 2 and set(x[:, 1].tolist()) <= {0.0, 1.0}
        assert marked[0] < length // 2 <= marked[1]
        assert y == pytest.approx(x[marked, 0].sum().item())


def test_shape_of_the_task_and_its_baseline():
    data = load_task(ir.AddingTask(length=20), seed=0, sizes=SIZES)
    assert (data.inputs, data.n_in, data.n_out, data.target) == ("features", 2, 1, "last")
    assert data.metric == "mse" and not data.higher_is_better
    assert data.info["baseline_mse"] == pytest.approx(1 / 6)


def test_predicting_one_scores_about_the_baseline_and_the_truth_scores_zero():
    data = load_task(ir.AddingTask(length=20), seed=0, sizes={"train": 2000})
    b = default_collate([data.splits["train"][i] for i in range(2000)])
    ones = torch.ones(2000, 1)
    summary = data.summarize(data.score(ones, b))
    assert summary["mse"] == pytest.approx(1 / 6, abs=0.02)
    assert summary["baseline_mse"] == pytest.approx(1 / 6)
    exact = b["y"].unsqueeze(-1)
    assert data.summarize(data.score(exact, b))["mse"] == pytest.approx(0.0, abs=1e-12)
    assert data.loss(exact, b).item() == pytest.approx(0.0, abs=1e-12)
    assert data.loss(b["y"], b).item() == pytest.approx(0.0, abs=1e-12)  # (B,) works too
    with pytest.raises(ValueError, match="out=1"):
        data.loss(torch.zeros(2000, 3), b)


def test_deterministic_by_seed():
    task = ir.AddingTask(length=8)
    a, b = load_task(task, seed=5, sizes=SIZES), load_task(task, seed=5, sizes=SIZES)
    c = load_task(task, seed=6, sizes=SIZES)
    assert torch.equal(a.splits["test"][4]["x"], b.splits["test"][4]["x"])
    assert not torch.equal(a.splits["test"][4]["x"], c.splits["test"][4]["x"])


def test_length_one_cannot_hold_two_halves():
    with pytest.raises(DataError, match="length >= 2"):
        load_task(ir.AddingTask(length=1), seed=0)
