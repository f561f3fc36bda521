"""Classical baselines: what `build_baseline` gives a user in the place of a QRNN."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import qrnnc
from qrnnc import ir
from qrnnc.baselines import (
    KINDS,
    Baseline,
    OrthogonalRNN,
    build_baseline,
    count_at,
    matched_table,
    parameter_count,
    parameter_counts,
)
from qrnnc.qrnn import parameter_counts as qrnn_parameter_counts

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "zoo"
DOC = ROOT / "docs" / "baselines.md"
TABLE_FILES = ["copying", "smnist", "psmnist", "imdb", "ptb"]

INPUTS = {"tokens": "tokens(vocab=7, embed=5)", "features": "features(dim=3)"}
HEADS = {
    "linear per_step": "head linear(out=4) per_step",
    "mlp last": "head mlp(hidden=6, out=4) last",
    "none": "",
}


def model(input: str = "features", head: str = "linear per_step") -> ir.Model:
    """A 2-qubit QRNN model; a baseline reads only its input and head."""
    text = f"""
    model m {{
        qubits 2
        input {INPUTS[input]}
        cell {{ ry all }}
        readout z on all
        {HEADS[head]}
    }}
    """
    return qrnnc.loads(text).model


def sample(m: ir.Model, batch: int = 3, steps: int = 5) -> torch.Tensor:
    if isinstance(m.input, ir.TokenInput):
        return torch.randint(0, m.input.vocab, (batch, steps))
    return torch.randn(batch, steps, m.input.dim)


def zoo_cases() -> list[tuple[str, str]]:
    return [
        (p.parent.name, name)
        for p in sorted(ZOO.glob("*/model.qrnn"))
        for name in qrnnc.load(p).programs
    ]


def recurrent_weight(net: Baseline) -> torch.Tensor:
    assert isinstance(net.rnn, OrthogonalRNN)
    return net.rnn.recurrent.weight


# ---- shapes and structure ------------------------------------------------------------


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("input", INPUTS)
@pytest.mark.parametrize("kind", KINDS)
def test_forward_gives_the_shapes_a_qrnn_gives(kind: str, input: str, head: str) -> None:
    m = model(input, head)
    net = build_baseline(kind, m, out=None, hidden=8)
    x = sample(m)
    y = net(x)
    expected = {"linear per_step": (3, 5, 4), "mlp last": (3, 4), "none": (3, 5, 8)}[head]
    assert y.shape == expected
    assert net.states is not None and net.states.shape == (3, 5, 8)
    assert len(net.step_states) == 5 and all(h.shape == (3, 8) for h in net.step_states)
    assert net.recur(net.encode(x)).shape == (3, 5, 8)
    assert (net.head is None) == (head == "none")


@pytest.mark.parametrize("kind", KINDS)
def test_states_are_what_the_head_reads(kind: str) -> None:
    m = model(head="linear per_step")
    net = build_baseline(kind, m, out=None, hidden=6)
    y = net(sample(m))
    assert net.head is not None and net.states is not None
    torch.testing.assert_close(y, net.head(net.states))
    torch.testing.assert_close(net.states, torch.stack(net.step_states, dim=1))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_fused_evaluation_matches_the_stepped_recurrence(kind: str) -> None:
    m = model("tokens")
    net = build_baseline(kind, m, out=None, hidden=7)
    x = sample(m, steps=9)
    stepped = net(x)
    with torch.no_grad():
        fused = net(x)
    torch.testing.assert_close(fused, stepped.detach(), rtol=1e-5, atol=1e-6)


def test_same_input_layer_and_head_as_the_qrnn() -> None:
    qrnn = qrnnc.load(ZOO / "psmnist" / "model.qrnn").build(backend="torch")
    net = build_baseline("gru", qrnn.model_ir, out=qrnn.out, hidden=9)
    assert type(net.embed) is type(qrnn.embed)
    assert net.head is not None and qrnn.head is not None
    assert net.head.mode == qrnn.head.mode == "last"
    assert [type(layer) for layer in net.head.net] == [type(layer) for layer in qrnn.head.net]
    assert net.head.net[0].in_features == 9 and net.head.out == qrnn.out == 10


# ---- the orthogonal RNN ----------------------------------------------------------------


def test_orthogonal_recurrent_matrix_stays_orthogonal_under_training() -> None:
    torch.manual_seed(0)
    m = model(head="linear per_step")
    net = build_baseline("orthogonal", m, out=None, hidden=12)
    eye = torch.eye(12)
    w = recurrent_weight(net).detach()
    torch.testing.assert_close(w @ w.T, eye, atol=1e-5, rtol=0)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        net(sample(m)).square().mean().backward()
        opt.step()
    moved = recurrent_weight(net).detach()
    assert not torch.allclose(moved, w)
    torch.testing.assert_close(moved @ moved.T, eye, atol=1e-5, rtol=0)


def test_orthogonal_recurrent_matrix_is_the_exponential_of_a_skew_matrix() -> None:
    net = build_baseline("orthogonal", model(), out=None, hidden=5)
    a = net.rnn.recurrent.parametrizations.weight.original.detach().tril(-1)
    torch.testing.assert_close(recurrent_weight(net), torch.matrix_exp(a - a.T))


def test_modrelu_keeps_the_sign_and_shifts_the_magnitude() -> None:
    from qrnnc.baselines import modrelu

    z = torch.tensor([-2.0, -0.5, 0.5, 2.0])
    b = torch.tensor([-1.0, -1.0, 1.0, 1.0])
    torch.testing.assert_close(modrelu(z, b), torch.tensor([-1.0, 0.0, 1.5, 3.0]))


# ---- parameter counts and matching ------------------------------------------------------


def documented_count(kind: str, m: ir.Model, hidden: int, out: int | None) -> int:
    """The per-kind formulas of docs/baselines.md."""
    d, h = m.input.dim, hidden
    embedding = m.input.vocab * m.input.embed if isinstance(m.input, ir.TokenInput) else 0
    recurrent = {
        "rnn": h * (d + h + 2),
        "lstm": 4 * h * (d + h + 2),
        "gru": 3 * h * (d + h + 2),
        "orthogonal": h * d + h * (h - 1) // 2 + h,
    }[kind]
    head = m.head
    if head is None:
        readout = 0
    elif isinstance(head, ir.LinearHead):
        readout = h * out + out
    else:
        readout = h * head.hidden + head.hidden + head.hidden * out + out
    return embedding + recurrent + readout


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("input", INPUTS)
@pytest.mark.parametrize("kind", KINDS)
def test_counts_follow_the_documented_formulas(kind: str, input: str, head: str) -> None:
    m = model(input, head)
    out = None if m.head is None else 4
    for hidden in (1, 2, 7):
        net = build_baseline(kind, m, out=out, hidden=hidden)
        expected = documented_count(kind, m, hidden, out)
        assert parameter_count(net) == count_at(kind, m, hidden=hidden, out=out) == expected
        parts = parameter_counts(net)
        assert parts["total"] == expected
        assert parts["embedding"] + parts["recurrent"] + parts["head"] == expected


def test_parameter_count_of_a_qrnn_is_its_total() -> None:
    qrnn = qrnnc.load(ZOO / "smnist" / "model.qrnn").build(backend="torch")
    assert parameter_count(qrnn) == qrnn_parameter_counts(qrnn)["total"]


@pytest.mark.parametrize(("file", "name"), zoo_cases())
def test_matching_lands_within_5_percent_for_every_zoo_model(file: str, name: str) -> None:
    qrnn = qrnnc.load(ZOO / file / "model.qrnn").build(name, backend="torch")
    target = qrnn_parameter_counts(qrnn)["total"]
    for kind in KINDS:
        hidden = build_baseline(kind, qrnn.model_ir, out=qrnn.out, match=target).hidden
        count = count_at(kind, qrnn.model_ir, hidden=hidden, out=qrnn.out)
        assert abs(count - target) <= 0.05 * target, (kind, hidden, count, target)
        for neighbour in (hidden - 1, hidden + 1):
            if neighbour >= 1:
                other = count_at(kind, qrnn.model_ir, hidden=neighbour, out=qrnn.out)
                assert abs(count - target) <= abs(other - target), (kind, neighbour)


def test_matching_picks_the_closest_size() -> None:
    m = model(head="none")
    for target in (100, 333, 1100, 12345):
        hidden = build_baseline("lstm", m, out=None, match=target).hidden
        best = min(
            range(1, 200), key=lambda h: abs(count_at("lstm", m, hidden=h, out=None) - target)
        )
        assert hidden == best


def test_a_target_below_hidden_1_raises() -> None:
    m = model("tokens")  # the embedding and head alone outnumber the target
    with pytest.raises(
        ValueError, match=r"has \d+ parameters already at hidden=1, more than the target 40"
    ):
        build_baseline("gru", m, out=None, match=40)


def test_a_target_just_below_hidden_1_but_within_5_percent_gives_hidden_1() -> None:
    m = model("tokens")  # an embedding that is nearly the whole target, as in zoo/imdb
    smallest = count_at("gru", m, hidden=1, out=None)
    target = int(smallest / 1.04)
    assert build_baseline("gru", m, out=None, match=target).hidden == 1
    with pytest.raises(ValueError, match="already at hidden=1"):
        build_baseline("gru", m, out=None, match=int(smallest / 1.06))


def test_a_target_no_size_comes_within_5_percent_of_raises() -> None:
    # A 1000-way per-step head adds ~1000 parameters per hidden unit: 2004 at H=1, 3010 at H=2.
    text = """
    model m { qubits 1  input features(dim=1)  cell { ry all }  readout z on all
              head linear(out=1000) per_step }
    """
    m = qrnnc.loads(text).model
    with pytest.raises(ValueError, match=r"within 5% of 2500 .* hidden=1, has 2004 \(-19\.8%\)"):
        build_baseline("rnn", m, out=None, match=2500)


def test_bad_arguments_raise_clear_errors() -> None:
    m = model()
    with pytest.raises(ValueError, match="unknown baseline 'transformer'"):
        build_baseline("transformer", m, out=None, hidden=4)
    with pytest.raises(ValueError, match="exactly one of hidden="):
        build_baseline("rnn", m, out=None, hidden=4, match=100)
    with pytest.raises(ValueError, match="exactly one of hidden="):
        build_baseline("rnn", m, out=None)
    with pytest.raises(ValueError, match="has no head, so out=3"):
        build_baseline("rnn", model(head="none"), out=3, hidden=4)
    with pytest.raises(ValueError, match="hidden=0"):
        build_baseline("rnn", m, out=None, hidden=0)


# ---- checkpoints, gradients, determinism ------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_config_round_trip_gives_identical_outputs(kind: str, tmp_path: Path) -> None:
    m = model("tokens", "mlp last")
    net = build_baseline(kind, m, out=None, hidden=6, dtype=torch.float64)
    config = json.loads(json.dumps(net.config()))
    assert config["kind"] == kind and config["hidden"] == 6 and config["dtype"] == "float64"
    save_file(net.state_dict(), tmp_path / "w.safetensors")
    again = Baseline.from_config(config)
    again.load_state_dict(load_file(tmp_path / "w.safetensors"))
    x = sample(m)
    assert again.dtype == torch.float64
    torch.testing.assert_close(again(x), net(x), rtol=0, atol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_reach_every_parameter(kind: str) -> None:
    torch.manual_seed(1)
    m = model("tokens", "mlp last")
    net = build_baseline(kind, m, out=None, hidden=6)
    x = torch.arange(7).repeat(2, 1)  # every token, so every embedding row is used
    net(x).square().sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("kind", KINDS)
def test_states_gradient_is_nonzero_at_every_step_for_a_per_step_loss(kind: str) -> None:
    torch.manual_seed(2)
    m = model(head="linear per_step")
    net = build_baseline(kind, m, out=None, hidden=6)
    loss = net(sample(m, steps=8)).square().sum()
    (grad,) = torch.autograd.grad(loss, net.states)
    assert grad.shape == (3, 8, 6)
    assert (grad.flatten(2).norm(dim=2) > 0).all()


@pytest.mark.parametrize("kind", KINDS)
def test_step_states_carry_the_gradient_through_the_future(kind: str) -> None:
    # A last head reads only h_T; dL/dh_t for t < T is nonzero only if it flows
    # through the recurrence, which is what the gradient analysis measures.
    torch.manual_seed(3)
    m = model(head="mlp last")
    net = build_baseline(kind, m, out=None, hidden=6)
    loss = net(sample(m, steps=8)).square().sum()
    *through_future, at_head = torch.autograd.grad(loss, [*net.step_states, net.states])
    assert all(g.shape == (3, 6) and g.norm() > 0 for g in through_future)
    assert (at_head[:, :-1] == 0).all()  # the stacked states see only the head's path


@pytest.mark.parametrize("kind", KINDS)
def test_a_seed_fixes_the_weights_and_the_outputs(kind: str) -> None:
    m = model("tokens")

    def seeded(**size: int) -> tuple[Baseline, torch.Tensor]:
        torch.manual_seed(4)
        net = build_baseline(kind, m, out=None, **size)
        return net, net(sample(m))

    net, y = seeded(hidden=9)
    again, y_again = seeded(hidden=9)
    target = count_at(kind, m, hidden=9, out=4)
    matched, y_matched = seeded(match=target)
    assert matched.hidden == 9
    for other, y_other in ((again, y_again), (matched, y_matched)):
        torch.testing.assert_close(y_other, y, rtol=0, atol=0)
        for (k, a), b in zip(net.state_dict().items(), other.state_dict().values(), strict=True):
            assert torch.equal(a, b), k


# ---- docs ---------------------------------------------------------------------------------


def test_the_docs_table_is_the_one_the_script_prints() -> None:
    table = matched_table(ZOO / name / "model.qrnn" for name in TABLE_FILES)
    doc = DOC.read_text(encoding="utf-8")
    assert table in doc, "regenerate it: python -m qrnnc.baselines zoo/{...}/model.qrnn"
    assert re.search(r"python -m qrnnc\.baselines", doc)


def test_the_docs_python_block_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(block, str(DOC), "exec"), namespace)
    assert namespace["logits"].shape == (8, 10) and len(namespace["grads"]) == 784
