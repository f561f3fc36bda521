"""Each DSL v1 construct parses and lowers to the IR and Program it should."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from lark import Tree

import qrnnc
from qrnnc import ir
from qrnnc.gates import GATE_NAMES, GATES
from qrnnc.parser import parse_tree

ROOT = Path(__file__).parents[2]


def model_text(cell: str, *, qubits: int = 4, extra: str = "", inp: str = "") -> str:
    inp = inp or "input tokens(vocab=10, embed=4)"
    body = f" qubits {qubits}\n {inp}\n cell {{ {cell} }}\n {extra}\n readout z on all\n"
    return f"model m {{\n{body}}}\n"


def prog(cell: str, **kw):
    return qrnnc.loads(model_text(cell, **kw)).program


def test_parse_tree_root():
    tree = parse_tree(model_text("ry all"))
    assert isinstance(tree, Tree)
    assert tree.data == "start"


def test_minimal_model_defaults():
    m = qrnnc.loads(model_text("ry all"))
    model = m.ir.models[0]
    assert model.name == "m"
    assert model.init == "zero"
    assert model.precision == "complex128"
    assert model.shots is None
    assert model.head is None
    assert isinstance(model.controller, ir.LinearController)
    assert model.controller.dropout == 0.0
    assert m.ir.task is None and m.ir.train is None and m.ir.seq2seq is None
    p = m.program
    assert p.init == "zero" and p.precision == "complex128" and p.shots is None
    assert p.gates == ("ry",) * 4
    assert p.wires == ((0, -1), (1, -1), (2, -1), (3, -1))
    assert p.sources == ("controller",) * 4
    assert p.slots == (0, 1, 2, 3)


def test_init_plus_precision_shots():
    m = qrnnc.loads(model_text("ry all", extra="init plus\n precision complex64\n shots 1000"))
    assert m.ir.models[0].init == "plus"
    assert m.program.init == "plus"
    assert m.program.precision == "complex64"
    assert m.program.shots == 1000


def test_input_tokens_and_features():
    m = qrnnc.loads(model_text("ry all", inp="input tokens(vocab=12, embed=7)"))
    inp = m.ir.models[0].input
    assert isinstance(inp, ir.TokenInput) and (inp.vocab, inp.embed) == (12, 7)
    assert (m.program.input_kind, m.program.input_dim) == ("tokens", 7)
    m = qrnnc.loads(model_text("ry all", inp="input features(dim=3)"))
    inp = m.ir.models[0].input
    assert isinstance(inp, ir.FeatureInput) and inp.dim == 3
    assert (m.program.input_kind, m.program.input_dim) == ("features", 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linear()", ir.LinearController(dropout=0.0)),
        ("linear", ir.LinearController(dropout=0.0)),
        ("mlp()", ir.MlpController(hidden=64, layers=1, act="relu", dropout=0.0)),
        (
            "mlp(hidden=8, layers=2, act=tanh, dropout=0.5)",
            ir.MlpController(hidden=8, layers=2, act="tanh", dropout=0.5),
        ),
        ("glu()", ir.GluController(hidden=64, dropout=0.0)),
        ("glu(hidden=16)", ir.GluController(hidden=16, dropout=0.0)),
    ],
)
def test_controllers(text, expected):
    c = qrnnc.loads(model_text("ry all", extra=f"controller {text}")).ir.models[0].controller
    assert c.model_dump(exclude={"span"}) == expected.model_dump(exclude={"span"})


@pytest.mark.parametrize("gate", GATE_NAMES)
def test_every_gate(gate):
    two = GATES[gate].two_qubit
    cell = f"{gate} {'chain' if two else 'all'}"
    if not GATES[gate].parametric:
        cell += " ry all"  # a model needs a parametrized gate
    p = prog(cell)
    n_ops = 3 if two else 4
    assert p.gates[:n_ops] == (gate,) * n_ops
    if two:
        assert p.wires[:3] == ((0, 1), (1, 2), (2, 3))
    else:
        assert p.wires[:4] == tuple((q, -1) for q in range(4))
    if GATES[gate].parametric:
        assert p.sources == ("controller",) * n_ops
        assert p.slots == tuple(range(n_ops))
    else:
        assert p.sources[:n_ops] == ("none",) * n_ops
        assert p.slots[:n_ops] == (-1,) * n_ops


@pytest.mark.parametrize(
    ("target", "qubits"),
    [
        ("all", [0, 1, 2, 3, 4, 5]),
        ("q[3]", [3]),
        ("q[0,2,5]", [0, 2, 5]),
        ("q[0..3]", [0, 1, 2, 3]),
        ("q[0, 2..4]", [0, 2, 3, 4]),
        ("q[5, 1]", [5, 1]),
        ("q[2..2]", [2]),
    ],
)
def test_one_qubit_targets(target, qubits):
    p = prog(f"rx {target}", qubits=6)
    assert p.wires == tuple((q, -1) for q in qubits)
    assert p.slots == tuple(range(len(qubits)))


@pytest.mark.parametrize(
    ("n", "target", "pairs"),
    [
        (2, "ring", [(0, 1)]),
        (4, "ring", [(0, 1), (1, 2), (2, 3), (3, 0)]),
        (3, "ring", [(0, 1), (1, 2), (2, 0)]),
        (2, "chain", [(0, 1)]),
        (4, "chain", [(0, 1), (1, 2), (2, 3)]),
        (4, "(0,1), (3,2)", [(0, 1), (3, 2)]),
        (4, "(2, 0)", [(2, 0)]),
    ],
)
def test_two_qubit_targets(n, target, pairs):
    p = prog(f"rzz {target}", qubits=n)
    assert p.wires == tuple(pairs)
    assert p.gates == ("rzz",) * len(pairs)


def test_sources_default_param_const():
    p = prog("ry q[0] rx q[1] <- param rz q[0] <- param(pi/4) ry q[1] <- controller rx q[2] <- 0.5")
    assert p.sources == ("controller", "param", "param", "controller", "const")
    assert p.slots == (0, 0, 1, 1, 0)
    assert p.param_init == (None, pytest.approx(math.pi / 4))
    assert p.constants == (0.5,)
    r = p.resources
    assert (r.controller_angles, r.static_params, r.constants, r.input_angles) == (2, 2, 1, 0)


@pytest.mark.parametrize(
    ("angle", "value"),
    [
        ("pi", math.pi),
        ("pi/2", math.pi / 2),
        ("-pi/4", -math.pi / 4),
        ("0.5*pi", 0.5 * math.pi),
        ("2*pi/3", 2 * math.pi / 3),
        ("(pi)", math.pi),
        ("1", 1.0),
        ("1e-1", 0.1),
        ("pi - 1 + 2", math.pi + 1),
        ("-(pi/2)*2", -math.pi),
    ],
)
def test_constant_angles(angle, value):
    p = prog(f"rx q[0] <- {angle}")
    assert p.sources == ("const",)
    assert p.slots == (0,)
    assert p.constants == (pytest.approx(value),)
    op = qrnnc.loads(model_text(f"rx q[0] <- {angle}")).ir.models[0].cell[0]
    assert isinstance(op.source, ir.ConstSource) and op.source.value == pytest.approx(value)


def test_input_source():
    p = prog("ry q[1..3] <- input ry all", inp="input features(dim=3)")
    assert p.sources[:3] == ("input",) * 3
    assert p.slots[:3] == (0, 1, 2)
    assert p.wires[:3] == ((1, -1), (2, -1), (3, -1))
    assert p.resources.input_angles == 3
    assert p.resources.controller_angles == 4


def test_nested_repeat_slots():
    cell = "repeat 2 { rx q[0,1] repeat 2 { ry q[0] <- param rz q[1] <- pi } } cnot (0,1)"
    p = prog(cell, qubits=2)
    one = ["rx", "rx", "ry", "rz", "ry", "rz"]
    assert p.gates == tuple(one * 2 + ["cnot"])
    assert p.sources == tuple((["controller"] * 2 + ["param", "const"] * 2) * 2 + ["none"])
    assert p.slots == (0, 1, 0, 0, 1, 1, 2, 3, 2, 2, 3, 3, -1)
    assert p.param_init == (None,) * 4
    assert p.constants == (pytest.approx(math.pi),) * 4
    assert p.wires[-1] == (0, 1)
    r = p.resources
    assert (r.gates, r.controller_angles, r.static_params, r.constants) == (13, 4, 4, 4)
    # The IR keeps the repeat as written.
    cellir = qrnnc.loads(model_text(cell, qubits=2)).ir.models[0].cell
    assert isinstance(cellir[0], ir.RepeatOp) and cellir[0].count == 2
    assert isinstance(cellir[0].body[1], ir.RepeatOp)


def test_readout_xyz_order():
    text = model_text("ry all", qubits=3).replace("readout z on all", "readout x, y, z on all")
    p = qrnnc.loads(text).program
    assert p.readout_obs == ("x",) * 3 + ("y",) * 3 + ("z",) * 3
    assert p.readout_wires == tuple((q, -1) for q in range(3)) * 3
    assert p.resources.readouts == 9


def test_readout_zz_and_concatenation():
    text = model_text("ry all", qubits=3).replace(
        "readout z on all", "readout zz on ring\n readout x on q[2]\n readout zz on (0,2)"
    )
    p = qrnnc.loads(text).program
    assert p.readout_obs == ("zz", "zz", "zz", "x", "zz")
    assert p.readout_wires == ((0, 1), (1, 2), (2, 0), (2, -1), (0, 2))
    assert len(qrnnc.loads(text).ir.models[0].readouts) == 3


@pytest.mark.parametrize(
    ("text", "kind", "out", "mode"),
    [
        ("linear per_step", "linear", None, "per_step"),
        ("linear(out=5) last", "linear", 5, "last"),
        ("mlp(hidden=32, out=3) last", "mlp", 3, "last"),
    ],
)
def test_heads(text, kind, out, mode):
    head = qrnnc.loads(model_text("ry all", extra=f"head {text}")).ir.models[0].head
    assert (head.kind, head.out, head.mode) == (kind, out, mode)
    if kind == "mlp":
        assert head.hidden == 32


def test_comments_and_one_line():
    one_line = (
        "model m { qubits 2 input features(dim=2) cell { ry all <- input cz (0,1) } "
        "readout z on all head linear last } task adding(length=5) train(lr=0.1)"
    )
    commented = """# header
model m {   # a model
  qubits 2  # two
  input features(dim=2)
  cell {
    ry all <- input   # angle encoding
    cz (0,1)
  }  # end cell
  readout z on all
  head linear last
}
# trailing
task adding(length=5)
train(lr=0.1) # done"""
    a, b = qrnnc.loads(one_line), qrnnc.loads(commented)
    assert a.program == b.program
    assert a.program.gates == ("ry", "ry", "cz")
    assert a.ir.task.length == 5 and b.ir.train.lr == 0.1


def test_task_and_train_defaults():
    text = model_text("ry all", extra="head linear per_step") + "task copying\ntrain()\n"
    doc = qrnnc.loads(text).ir
    assert isinstance(doc.task, ir.CopyingTask)
    assert (doc.task.delay, doc.task.length, doc.task.symbols) == (100, 10, 8)
    t = doc.train
    assert (t.optimizer, t.lr, t.epochs, t.batch, t.seed) == ("adam", 1e-3, 10, 32, 0)
    assert (t.clip, t.weight_decay, t.schedule) == (None, 0.0, "constant")


def test_train_args():
    text = (
        model_text("ry all") + "train(optimizer=sgd, lr=0.5, epochs=3, batch=8, seed=-2, clip=1.0)"
    )
    t = qrnnc.loads(text).ir.train
    assert (t.optimizer, t.lr, t.epochs, t.batch, t.seed, t.clip) == ("sgd", 0.5, 3, 8, -2, 1.0)


def test_seq2seq_translation():
    text = """
model enc { qubits 3 input tokens(vocab=50, embed=8) cell { ry all cnot ring } readout z on all }
model dec {
  qubits 2 input tokens(vocab=60, embed=8) controller glu()
  cell { rx all rzz chain } readout x, z on all head linear per_step
}
seq2seq(encoder=enc, decoder=dec, attention=general)
task translation(src="fr", tgt="en", beam=4)
"""
    m = qrnnc.loads(text)
    assert [x.name for x in m.ir.models] == ["enc", "dec"]
    assert set(m.programs) == {"enc", "dec"}
    s = m.ir.seq2seq
    assert (s.encoder, s.decoder, s.attention) == ("enc", "dec", "general")
    task = m.ir.task
    assert isinstance(task, ir.TranslationTask)
    assert (task.src, task.tgt, task.beam) == ("fr", "en", 4)
    assert m.programs["enc"].gates == ("ry",) * 3 + ("cnot",) * 3
    assert m.programs["dec"].wires == ((0, -1), (1, -1), (0, 1))
    assert m.programs["dec"].resources.readouts == 4
    with pytest.raises(qrnnc.QrnnError):
        _ = m.program  # two models: pick one by name


def test_copying_zoo_resources():
    m = qrnnc.load(ROOT / "zoo" / "copying" / "model.qrnn")
    r = m.program.resources
    assert r.qubits == 6
    assert r.gates == 42
    assert r.gate_counts == {"ry": 6, "rx": 12, "rz": 12, "cnot": 12}
    assert r.controller_angles == 30
    assert r.readouts == 18
    assert r.two_qubit_depth == 12
    assert r.two_qubit_gates == 12
    assert r.static_params == 0 and r.constants == 0 and r.input_angles == 0
    model = m.ir.models[0]
    assert isinstance(model.controller, ir.MlpController)
    assert (model.controller.hidden, model.controller.act) == (64, "gelu")
    assert model.controller.dropout == 0
    assert (model.head.kind, model.head.mode) == ("linear", "per_step")
    assert m.ir.task.delay == 100 and m.ir.train.lr == pytest.approx(0.002)


def test_depth_counts():
    p = prog("h q[0] ry all cnot (0,1) cz (1,2)", qubits=3)
    r = p.resources
    assert r.depth == 4  # h, ry, cnot, cz on qubit 1
    assert r.two_qubit_depth == 2
    assert r.gate_counts == {"ry": 3, "h": 1, "cnot": 1, "cz": 1}


def test_ir_json_roundtrip():
    m = qrnnc.loads(ROOT.joinpath("zoo", "copying", "model.qrnn").read_text(), file="copying.qrnn")
    assert m.ir.file == "copying.qrnn"
    again = qrnnc.IR.model_validate_json(m.ir.model_dump_json())
    assert again == m.ir
    assert qrnnc.compile_ir(again).program == m.program
