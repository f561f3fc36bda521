"""The QRNN module: what `build_qrnn` gives a user, on every statevector backend."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

import qrnnc
from qrnnc import ir
from qrnnc.baselines import build_baseline
from qrnnc.qrnn import QRNN, build_qrnn, default_out, parameter_counts
from qrnnc.readout import sample_readouts

ZOO = Path(__file__).resolve().parents[2] / "zoo"
BACKENDS = ("torch", "numba")


def zoo_cases() -> list[tuple[str, str]]:
    """(file, model) for every model of every zoo file."""
    cases = []
    for path in sorted(ZOO.glob("*/model.qrnn")):
        for model in qrnnc.load(path).programs:
            cases.append((str(path.relative_to(ZOO)), model))
    return cases


def tiny(body: str, *, input: str = "features(dim=2)", head: str = "", extra: str = "") -> str:
    """A one-model file: 3 qubits, the given cell ops and input, z readouts on all."""
    return f"""
    model m {{
        qubits 3
        input {input}
        {extra}
        cell {{ {body} }}
        readout z on all
        {head}
    }}
    """


def sample_input(net: QRNN, batch: int = 3, steps: int = 4) -> torch.Tensor:
    inp = net.model_ir.input
    if isinstance(inp, ir.TokenInput):
        return torch.randint(0, inp.vocab, (batch, steps))
    return torch.rand(batch, steps, inp.dim) * math.pi


def build(text: str, backend: str, **options) -> QRNN:
    return build_qrnn(qrnnc.loads(text), backend=backend, **options)


# ---- the zoo -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("file", "model"), zoo_cases())
def test_zoo_model_forward_shapes_and_finite_grads(file: str, model: str, backend: str) -> None:
    torch.manual_seed(0)
    compiled = qrnnc.load(ZOO / file)
    net = build_qrnn(compiled, model, backend=backend)
    x = sample_input(net, batch=2, steps=3)
    y = net(x)
    k = compiled.programs[model].n_readouts
    head = compiled.ir.model(model).head
    assert net.readouts is not None and net.readouts.shape == (2, 3, k)
    assert net.readouts.requires_grad  # attached to the graph, for attention over readouts
    if head is None:
        assert y.shape == (2, 3, k)
    elif head.mode == "per_step":
        assert y.shape == (2, 3, net.out)
    else:
        assert y.shape == (2, net.out)
    y.square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    # The embedding reaches only the tokens it saw; everything else must move.
    trainable = [(n, p) for n, p in net.named_parameters() if not n.startswith("embed")]
    assert all(p.grad.abs().sum() > 0 for _, p in trainable), [
        n for n, p in trainable if p.grad.abs().sum() == 0
    ]


@pytest.mark.parametrize(("file", "model"), zoo_cases())
def test_backends_agree_on_outputs_and_gradients(file: str, model: str) -> None:
    """The same weights on numba and torch: the same logits and the same gradients."""
    compiled = qrnnc.load(ZOO / file)
    torch.manual_seed(0)
    ref = build_qrnn(compiled, model, backend="torch", dtype=torch.float64).eval()
    fast = build_qrnn(compiled, model, backend="numba", dtype=torch.float64, checkpoint_every=2)
    fast.load_state_dict(ref.state_dict())
    fast.eval()
    x = sample_input(ref, batch=2, steps=5)
    outputs, grads = [], []
    for net in (ref, fast):
        y = net(x)
        y.square().mean().backward()
        outputs.append(y.detach())
        grads.append({n: p.grad for n, p in net.named_parameters()})
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-9, atol=1e-10)
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, rtol=1e-8, atol=1e-10, msg=name)


def test_every_zoo_file_has_a_case() -> None:
    files = {f for f, _ in zoo_cases()}
    assert files == {str(p.relative_to(ZOO)) for p in ZOO.glob("*/model.qrnn")}
    assert ("deen/model.qrnn", "encoder") in zoo_cases() and (
        "deen/model.qrnn",
        "decoder",
    ) in zoo_cases()


def test_multi_model_file_needs_a_name() -> None:
    compiled = qrnnc.load(ZOO / "deen" / "model.qrnn")
    with pytest.raises(ValueError, match=r"encoder, decoder.*model=NAME"):
        build_qrnn(compiled, backend="numba")
    with pytest.raises(ValueError, match="no model 'middle'"):
        build_qrnn(compiled, "middle", backend="numba")


# ---- the recurrence --------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_recurrence_feeds_embedding_and_previous_readouts(backend: str) -> None:
    """c_t = concat(e_t, z_{t-1}), z_0 = 0, and `<- input` gates take e_t.

    One qubit: ry(x_t) from the input, then ry(theta_t) with theta_t = z_{t-1}
    (the linear controller's weights pick the readout column). Rotations about
    one axis add up, so z_t = cos(sum_{s <= t} (x_s + z_{s-1})).
    """
    text = """
    model m {
        qubits 1
        input features(dim=1)
        controller linear()
        cell { ry q[0] <- input  ry q[0] }
        readout z on all
    }
    """
    net = build(text, backend, dtype=torch.float64)
    linear = net.controller[1]
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[0.0, 1.0]]))  # columns: (e_t, z_{t-1})
        linear.bias.zero_()
    x = torch.tensor([[0.3, -1.1, 0.7, 2.0], [1.5, 0.2, -0.4, 0.9]], dtype=torch.float64)
    z = net(x.unsqueeze(-1))
    expected = torch.empty_like(x)
    for b in range(x.shape[0]):
        angle, prev = 0.0, 0.0
        for t in range(x.shape[1]):
            angle += float(x[b, t]) + prev
            prev = math.cos(angle)
            expected[b, t] = prev
    torch.testing.assert_close(z[..., 0], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tokens_feed_their_embedding_to_input_gates(backend: str) -> None:
    text = tiny("ry q[0] <- input", input="tokens(vocab=5, embed=1)")
    net = build(text, backend, dtype=torch.float64)
    assert net.controller is None  # no controller-fed angle
    x = torch.tensor([[4, 1, 1]])
    z = net(x)
    angles = net.embed.weight[x, 0].detach().cumsum(dim=1)
    torch.testing.assert_close(z[..., 0], torch.cos(angles), rtol=0, atol=1e-12)
    torch.testing.assert_close(z[..., 1:], torch.ones(1, 3, 2, dtype=torch.float64))


def test_embedding_scale_scales_the_draw_and_keeps_the_rng_stream() -> None:
    def seeded(scale: str) -> QRNN:
        torch.manual_seed(3)
        text = tiny("rz all <- input  ry all", input=f"tokens(vocab=4000, embed=3{scale})")
        return build(text, "numba")

    plain, small = seeded(""), seeded(", scale=0.01")
    assert small.model_ir.input.scale == 0.01 and plain.model_ir.input.scale == 1.0
    torch.testing.assert_close(small.embed.weight, 0.01 * plain.embed.weight)
    assert small.embed.weight.std().item() == pytest.approx(0.01, rel=0.05)
    # The draws after the table's are untouched: the controller starts the same.
    for a, b in zip(plain.controller.parameters(), small.controller.parameters(), strict=True):
        assert torch.equal(a, b)
    torch.manual_seed(3)
    baseline = build_baseline("lstm", small.model_ir, out=None, hidden=4)
    assert baseline.embed.weight.std().item() == pytest.approx(0.01, rel=0.05)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("head", "shape"),
    [
        ("head linear(out=5) per_step", (4, 3, 5)),
        ("head linear(out=5) last", (4, 5)),
        ("head mlp(hidden=7, out=2) per_step", (4, 3, 2)),
        ("head mlp(hidden=7, out=2) last", (4, 2)),
        ("", (4, 3, 3)),
    ],
)
def test_head_modes(backend: str, head: str, shape: tuple[int, ...]) -> None:
    net = build(tiny("ry all  cnot ring", head=head), backend)
    x = torch.rand(4, 3, 2)
    y = net(x)
    assert y.shape == shape and y.dtype == torch.float32
    if "last" in head:  # the last head reads z_T alone
        torch.testing.assert_close(y, net.head.net(net.readouts[:, -1]))
    if not head:
        assert net.head is None and torch.equal(y, net.readouts)


def test_mlp_head_is_linear_gelu_linear() -> None:
    net = build(tiny("ry all", head="head mlp(hidden=7, out=2) last"), "numba")
    layers = list(net.head.net)
    assert [type(m) for m in layers] == [nn.Linear, nn.GELU, nn.Linear]
    assert (layers[0].in_features, layers[0].out_features, layers[2].out_features) == (3, 7, 2)


# ---- controllers -----------------------------------------------------------------------

TANH_LAYER = [nn.Linear, nn.Tanh, nn.Dropout]
CONTROLLERS = {
    "linear(dropout=0.2)": [nn.Dropout, nn.Linear],
    "mlp(hidden=8, layers=2, act=tanh, dropout=0.1)": [*TANH_LAYER, *TANH_LAYER, nn.Linear],
    "mlp(hidden=8, act=relu)": [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear],
    "mlp(hidden=8, act=gelu)": [nn.Linear, nn.GELU, nn.Dropout, nn.Linear],
    "glu(hidden=6, dropout=0.1)": [nn.Linear, nn.GLU, nn.Dropout, nn.Linear],
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("controller", list(CONTROLLERS))
def test_controller_variants(backend: str, controller: str) -> None:
    text = tiny(
        "ry all  rzz ring  rx q[1]",
        extra=f"controller {controller}",
        head="head linear(out=2) last",
    )
    torch.manual_seed(0)
    net = build(text, backend)
    assert [type(m) for m in net.controller] == CONTROLLERS[controller]
    first = next(m for m in net.controller if isinstance(m, nn.Linear))
    last = net.controller[-1]
    assert first.in_features == 2 + 3  # D + K
    assert last.out_features == net.program.n_controller == 7
    if controller.startswith("glu"):
        assert first.out_features == 2 * 6 and last.in_features == 6
    net(torch.rand(4, 3, 2)).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_controller_when_no_angle_comes_from_it(backend: str) -> None:
    text = tiny("ry q[0..1] <- input  rz all <- param(0.5)  rx q[2] <- 0.3  cnot chain")
    net = build(text, backend)
    assert net.controller is None
    assert parameter_counts(net) == {
        "embedding": 0, "controller": 0, "static_params": 3, "head": 0, "total": 3,
    }  # fmt: skip
    net(torch.rand(2, 3, 2)).sum().backward()
    assert net.phi.grad is not None and torch.isfinite(net.phi.grad).all()


# ---- static params -----------------------------------------------------------------


def test_static_params_start_as_written_or_uniform_and_seeded() -> None:
    text = tiny("rx all <- param  rz q[0] <- param(0.25)  ry all")
    torch.manual_seed(5)
    a = build(text, "numba")
    torch.manual_seed(5)
    b = build(text, "numba")
    torch.manual_seed(6)
    c = build(text, "numba")
    assert isinstance(a.phi, nn.Parameter) and a.phi.shape == (4,)
    assert a.phi[3].item() == pytest.approx(0.25)
    drawn = a.phi[:3]
    assert ((drawn >= 0) & (drawn < 2 * math.pi)).all()
    assert torch.equal(a.phi, b.phi) and not torch.equal(a.phi, c.phi)
    assert parameter_counts(a)["static_params"] == 4


# ---- state, determinism, dtype -----------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_dict_round_trip_gives_identical_outputs(backend: str) -> None:
    compiled = qrnnc.load(
        ZOO / "psmnist" / "model.qrnn"
    )  # controller, static params and an mlp head
    torch.manual_seed(0)
    a = build_qrnn(compiled, backend=backend).eval()
    torch.manual_seed(1)
    b = build_qrnn(compiled, backend=backend).eval()
    x = torch.rand(3, 4, 1)
    assert not torch.equal(a(x), b(x))
    state = a.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert {key.split(".")[0] for key in state} == {"controller", "phi", "head"}
    b.load_state_dict(state)
    assert torch.equal(a(x), b(x))
    c = QRNN.from_config(a.config()).eval()
    c.load_state_dict(state)
    assert torch.equal(a(x), c(x))


def test_state_dict_has_embedding_and_no_empty_phi() -> None:
    net = build_qrnn(qrnnc.load(ZOO / "copying" / "model.qrnn"), backend="numba")
    keys = {key.split(".")[0] for key in net.state_dict()}
    assert keys == {"embed", "controller", "head"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_seeded_runs_are_deterministic(backend: str) -> None:
    text = (ZOO / "copying" / "model.qrnn").read_text()
    # With controller dropout, train mode draws masks: the seed must decide them too.
    compiled = qrnnc.loads(text.replace("act=gelu)", "act=gelu, dropout=0.1)"))
    assert '"dropout":0.1' in compiled.ir.model_dump_json()

    def run() -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(7)
        net = build_qrnn(compiled, backend=backend)
        x = torch.randint(0, 10, (2, 4))
        y = net(x)
        y.sum().backward()
        return y.detach(), net.controller[0].weight.grad

    (y1, g1), (y2, g2) = run(), run()
    assert torch.equal(y1, y2) and torch.equal(g1, g2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_module(backend: str) -> None:
    net = build(tiny("ry all", head="head linear(out=2) per_step"), backend, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in net.parameters())
    y = net(torch.rand(2, 3, 2, dtype=torch.float32))  # features follow the module's dtype
    assert y.dtype == torch.float64 and net.readouts.dtype == torch.float64


@pytest.mark.parametrize("backend", BACKENDS)
def test_complex64_cell_in_float32_module(backend: str) -> None:
    net = build(tiny("ry all  cnot ring", extra="precision complex64"), backend)
    y = net(torch.rand(2, 3, 2))
    assert y.dtype == torch.float32
    y.sum().backward()


# ---- output size ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "out"),
    [
        (ir.CopyingTask(symbols=5), 7),
        (ir.AddingTask(), 1),
        (ir.SmnistTask(), 10),
        (ir.PsmnistTask(), 10),
        (ir.ImdbTask(vocab=300), 2),
        (ir.PtbTask(vocab=123), 123),
        (ir.TranslationTask(vocab=77), 77),
    ],
)
def test_default_out(task: ir.Task, out: int) -> None:
    assert default_out(task) == out


def test_default_out_without_task_asks_for_out() -> None:
    with pytest.raises(ValueError, match="out="):
        default_out(None)
    with pytest.raises(ValueError, match="out="):
        build(tiny("ry all", head="head linear last"), "numba")


def test_head_out_from_task_file_and_override() -> None:
    text = tiny("ry all", input="tokens(vocab=9, embed=4)", head="head linear per_step")
    text += "task copying(symbols=6, delay=3, length=2)"
    assert build(text, "numba").out == 8
    net = build(text, "numba", out=4)
    assert net.out == 4 and net(torch.zeros(2, 3, dtype=torch.long)).shape == (2, 3, 4)
    with pytest.raises(ValueError, match="no head"):
        build(tiny("ry all"), "numba", out=3)
    with pytest.raises(ValueError, match="positive int"):
        build(text, "numba", out=0)


def test_parameter_counts_add_up() -> None:
    for file, model in zoo_cases():
        net = build_qrnn(qrnnc.load(ZOO / file), model, backend="numba")
        counts = parameter_counts(net)
        assert set(counts) == {"embedding", "controller", "static_params", "head", "total"}
        assert counts["total"] == sum(p.numel() for p in net.parameters())
        assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    net = build_qrnn(qrnnc.load(ZOO / "copying" / "model.qrnn"), backend="numba")
    assert parameter_counts(net)["embedding"] == 10 * 16
    assert parameter_counts(net)["head"] == 18 * 10 + 10


# ---- shots ---------------------------------------------------------------------------


def test_shot_noise_is_binomial() -> None:
    torch.manual_seed(0)
    shots, draws = 50, 20_000
    z = torch.tensor([-1.0, -0.6, 0.0, 0.3, 0.9, 1.0], dtype=torch.float64)
    samples = sample_readouts(z.expand(draws, -1), shots)
    # Estimates lie on the grid 2k/N - 1.
    k = (samples + 1) * shots / 2
    torch.testing.assert_close(k, k.round(), rtol=0, atol=1e-9)
    variance = (1 - z**2) / shots
    standard_error = (variance / draws).sqrt()
    assert ((samples.mean(0) - z).abs() <= 5 * standard_error + 1e-12).all()
    # Var of a sample variance ~ 2 var^2 / draws for a near-normal binomial.
    assert ((samples.var(0) - variance).abs() <= 5 * variance * math.sqrt(2 / draws) + 1e-12).all()
    assert samples[:, 0].eq(-1).all() and samples[:, -1].eq(1).all()


def test_shot_noise_clamps_rounding_past_one() -> None:
    z = torch.tensor([1.0 + 1e-7, -1.0 - 1e-7], dtype=torch.float32)
    assert torch.equal(sample_readouts(z, 10), torch.tensor([1.0, -1.0]))


def test_shot_noise_gradient_is_straight_through() -> None:
    z = torch.rand(4, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, dtype=torch.float64)
    (sample_readouts(z, 20) * w).sum().backward()
    assert torch.equal(z.grad, w)


@pytest.mark.parametrize("backend", BACKENDS)
def test_shots_mode_in_the_network(backend: str) -> None:
    text = tiny("ry all  cnot ring  rx all", extra="shots 40", head="head linear(out=2) per_step")
    torch.manual_seed(0)
    net = build(text, backend)
    assert net.shots == 40
    x = torch.rand(2, 4, 2)
    torch.manual_seed(1)
    noisy = net(x)
    k = (net.readouts.double() + 1) * 40 / 2  # every readout is a shot estimate, fed back too
    torch.testing.assert_close(k, k.round(), rtol=0, atol=1e-5)
    torch.manual_seed(1)
    assert torch.equal(net(x), noisy)
    net.shots = None
    exact = net(x)
    assert not torch.equal(exact, noisy)
    assert build(text, backend, shots=0).shots is None
    assert build(tiny("ry all"), backend, shots=8).shots == 8
    with pytest.raises(ValueError, match="shots"):
        net.shots = -3


@pytest.mark.parametrize("backend", BACKENDS)
def test_shots_gradient_equals_exact_gradient_for_one_step(backend: str) -> None:
    """One step, a loss linear in the readouts: the controller input (e_1, z_0 = 0) is
    the same in both modes, so the straight-through gradient is the exact one."""
    text = tiny("ry all  cnot ring  rx all <- param", extra="controller mlp(hidden=5)")
    torch.manual_seed(0)
    net = build(text, backend, dtype=torch.float64)
    x = torch.rand(3, 1, 2, dtype=torch.float64)
    w = torch.randn(3, 1, 3, dtype=torch.float64)

    def grads(shots: int | None) -> list[torch.Tensor]:
        net.zero_grad()
        net.shots = shots
        (net(x) * w).sum().backward()
        return [p.grad.clone() for p in net.parameters()]

    for exact, noisy in zip(grads(None), grads(25), strict=True):
        torch.testing.assert_close(noisy, exact, rtol=0, atol=0)


# ---- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.rand(2, 3), r"LongTensor of shape \(B, T\).*dtype torch.float32"),
        (torch.zeros(2, 3, 1, dtype=torch.long), r"shape \(B, T\).*got shape \(2, 3, 1\)"),
        (torch.zeros(2, 0, dtype=torch.long), r"T >= 1"),
        (torch.tensor([[0, 9]]), r"token 9 is out of range.*\[0, 9\)"),
        (torch.tensor([[-1, 0]]), r"token -1 is out of range"),
        (torch.zeros(2, 3, dtype=torch.bool), r"dtype torch.bool"),
        ([[0, 1]], r"got list"),
    ],
)
def test_bad_tokens(x: object, match: str) -> None:
    net = build(tiny("ry all", input="tokens(vocab=9, embed=2)"), "numba")
    with pytest.raises(ValueError, match=match):
        net(x)


@pytest.mark.parametrize(
    ("dim", "x", "match"),
    [
        (2, torch.zeros(2, 3, dtype=torch.long), r"float tensor of shape \(B, T, 2\).*token ids"),
        (2, torch.rand(2, 3, 3), r"\(B, T, 2\).*got shape \(2, 3, 3\)"),
        (2, torch.rand(2, 0, 2), r"T >= 1"),
        (1, torch.rand(2, 3), r"unsqueeze\(-1\)"),
    ],
)
def test_bad_features(dim: int, x: torch.Tensor, match: str) -> None:
    net = build(tiny("ry all", input=f"features(dim={dim})"), "numba")
    with pytest.raises(ValueError, match=match):
        net(x)


# ---- devices -------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_torch_backend_runs_on_the_gpu() -> None:
    torch.manual_seed(0)
    cpu = build_qrnn(
        qrnnc.load(ZOO / "psmnist" / "model.qrnn"), backend="torch", dtype=torch.float64
    ).eval()
    gpu = QRNN.from_config(cpu.config()).to("cuda").eval()
    gpu.load_state_dict(cpu.state_dict())
    x = torch.rand(2, 4, 1, dtype=torch.float64)
    y = gpu(x.cuda())
    assert y.device.type == "cuda" and gpu.readouts.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), cpu(x), rtol=1e-9, atol=1e-10)
    y.sum().backward()
    assert all(p.grad.device.type == "cuda" for p in gpu.parameters())
