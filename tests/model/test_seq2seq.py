"""Seq2Seq: QRNN (or classical) encoder and decoder joined by Luong attention."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import qrnnc
from qrnnc.errors import QrnnError
from qrnnc.heads import Head
from qrnnc.qrnn import QRNN
from qrnnc.seq2seq import (
    ATTENTION_KINDS,
    Seq2Seq,
    build_baseline_seq2seq,
    build_seq2seq,
    cut_at,
    translate,
)

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("numba", "torch")
PAD, BOS, EOS = 0, 1, 2


class GruPart(nn.Module):
    """A classical stand-in with the encoder/decoder interface a Baseline has."""

    def __init__(self, vocab: int, hidden: int, out: int | None = None, embed: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = nn.GRU(embed, hidden, batch_first=True)
        self.head = None if out is None else Head(nn.Linear(hidden, out), "per_step", out)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)

    def recur(self, e: torch.Tensor) -> torch.Tensor:
        return self.rnn(e)[0]


def qrnn_file(
    attention: str = "dot", *, enc_readout: str = "z on all", enc_head: str = "", vocab: int = 7
) -> str:
    return f"""
    model enc {{
        qubits 3
        input tokens(vocab={vocab}, embed=4)
        controller mlp(hidden=8, act=tanh)
        cell {{ ry all  rzz ring  rx all }}
        readout {enc_readout}
        {enc_head}
    }}
    model dec {{
        qubits 3
        input tokens(vocab={vocab}, embed=4)
        controller glu(hidden=8)
        cell {{ ry all  cz ring  rz all <- param }}
        readout z on all
        head linear per_step
    }}
    seq2seq(encoder=enc, decoder=dec, attention={attention})
    task translation(vocab={vocab})
    """


def qrnn_s2s(attention: str = "dot", backend: str = "numba", **options) -> Seq2Seq:
    torch.manual_seed(0)
    return build_seq2seq(qrnnc.loads(qrnn_file(attention)), backend=backend, **options)


def gru_s2s(attention: str = "dot", vocab: int = 9, hidden: int = 12) -> Seq2Seq:
    torch.manual_seed(0)
    return Seq2Seq(GruPart(vocab, hidden), GruPart(vocab, hidden, out=vocab), attention=attention)


def padded_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """src (3, 5) with 5, 3 and 1 real tokens, its mask, tgt_in (3, 4)."""
    g = torch.Generator().manual_seed(1)
    src = torch.randint(3, 7, (3, 5), generator=g)
    mask = torch.arange(5) < torch.tensor([[5], [3], [1]])
    src = src.masked_fill(~mask, PAD)
    tgt = torch.randint(3, 7, (3, 4), generator=g)
    tgt[:, 0] = BOS
    return src, mask, tgt


# ---- shapes and the attention itself ------------------------------------------------------


@pytest.mark.parametrize("attention", ATTENTION_KINDS)
def test_forward_shapes_and_attention_rows(attention: str) -> None:
    for net, vocab in ((gru_s2s(attention), 9), (qrnn_s2s(attention), 7)):
        src, mask, tgt = padded_batch()
        logits = net(src, tgt, mask)
        assert logits.shape == (3, 4, vocab)
        assert net.attention is not None and net.attention.shape == (3, 4, 5)
        assert not net.attention.requires_grad
        torch.testing.assert_close(net.attention.sum(-1), torch.ones(3, 4))


def test_dot_attention_needs_equal_counts_and_names_both_models() -> None:
    compiled = qrnnc.loads(qrnn_file("dot", enc_readout="x, z on all"))
    with pytest.raises(
        QrnnError, match=r"encoder enc gives 6 readouts a step and decoder dec gives 3"
    ):
        build_seq2seq(compiled)
    with pytest.raises(
        ValueError, match=r"encoder enc gives 6 readouts a step and decoder dec gives 3"
    ):
        Seq2Seq(compiled.build("enc"), compiled.build("dec"), attention="dot")
    with pytest.raises(
        ValueError, match=r"encoder encoder gives 8 states a step and decoder decoder gives 12"
    ):
        Seq2Seq(GruPart(9, 8), GruPart(9, 12, out=9), attention="dot")
    for kind in ("general", "additive"):
        net = build_seq2seq(qrnnc.loads(qrnn_file(kind, enc_readout="x, z on all")))
        src, mask, tgt = padded_batch()
        assert net(src, tgt, mask).shape == (3, 4, 7)


@pytest.mark.parametrize("attention", ATTENTION_KINDS)
def test_padding_gets_no_weight_and_does_not_change_outputs(attention: str) -> None:
    for net in (gru_s2s(attention), qrnn_s2s(attention)):
        src, mask, tgt = padded_batch()
        logits = net(src, tgt, mask)
        weights = net.attention
        assert torch.all(weights.masked_select(~mask.unsqueeze(1)) == 0)
        assert torch.all(weights.masked_select(mask.unsqueeze(1)) > 0)
        other = src.masked_fill(~mask, 5)
        assert torch.equal(net(other, tgt, mask), logits)
        # Without the mask the padding does count: the test above is not vacuous.
        assert not torch.allclose(net(other, tgt), logits)


def test_bad_masks_are_refused() -> None:
    net = gru_s2s()
    src, mask, tgt = padded_batch()
    with pytest.raises(ValueError, match="pad at the end"):
        net(src, tgt, mask.flip(1))
    with pytest.raises(ValueError, match=r"src_mask has shape \(3, 4\)"):
        net(src, tgt, mask[:, :4])


def test_decoder_needs_a_per_step_head() -> None:
    with pytest.raises(ValueError, match="no head"):
        Seq2Seq(GruPart(9, 8), GruPart(9, 8), attention="general")
    dec = GruPart(9, 8)
    dec.head = Head(nn.Linear(8, 9), "last", 9)
    with pytest.raises(ValueError, match="per_step"):
        Seq2Seq(GruPart(9, 8), dec, attention="general")


# ---- gradients ----------------------------------------------------------------------------


def grads(net: Seq2Seq) -> dict[str, torch.Tensor]:
    src, mask, tgt = padded_batch()
    logits = net(src, tgt, mask)
    F.cross_entropy(logits.flatten(0, 1), tgt.roll(-1, 1).flatten()).backward()
    return {name: p.grad.clone() for name, p in net.named_parameters()}


@pytest.mark.parametrize("attention", ATTENTION_KINDS)
def test_gradients_reach_encoder_decoder_and_attention_on_both_backends(attention: str) -> None:
    per_backend = {}
    for backend in BACKENDS:
        net = qrnn_s2s(attention, backend, dtype=torch.float64)
        g = grads(net)
        for part in ("encoder.", "decoder.", "attend."):
            assert any(name.startswith(part) for name in g), part
        for name, grad in g.items():
            assert torch.isfinite(grad).all(), name
            assert grad.abs().sum() > 0, f"no gradient reaches {name} on {backend}"
        per_backend[backend] = g
    for name, grad in per_backend["torch"].items():
        torch.testing.assert_close(per_backend["numba"][name], grad, rtol=0, atol=1e-6)


# ---- decoding -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reverser() -> Seq2Seq:
    """GRU parts trained to reverse 3-5 symbols: the decoder sees the source only through
    attention (it gets no encoder state), so learning this shows attention works."""
    torch.manual_seed(0)
    net = Seq2Seq(GruPart(9, 32), GruPart(9, 32, out=9), attention="dot")
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(0)
    for _ in range(400):
        src, mask, tgt_in, tgt_out = reverse_batch(64, g)
        logits = net(src, tgt_in, mask)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.final_loss = loss.item()
    return net.eval()


def reverse_batch(n: int, g: torch.Generator) -> tuple[torch.Tensor, ...]:
    """src (n, 5) of symbols 3..8, its mask, tgt_in = BOS + reversed, tgt_out = reversed + EOS."""
    lengths = torch.randint(3, 6, (n,), generator=g).tolist()
    src = torch.zeros(n, 5, dtype=torch.long)
    tgt_in = torch.zeros(n, 6, dtype=torch.long)
    tgt_out = torch.zeros(n, 6, dtype=torch.long)
    for i, length in enumerate(lengths):
        symbols = torch.randint(3, 9, (length,), generator=g)
        src[i, :length] = symbols
        tgt_in[i, 0] = BOS
        tgt_in[i, 1 : length + 1] = symbols.flip(0)
        tgt_out[i, :length] = symbols.flip(0)
        tgt_out[i, length] = EOS
    return src, src != PAD, tgt_in, tgt_out


def test_reversal_trains_and_greedy_decoding_reproduces_it(reverser: Seq2Seq) -> None:
    assert reverser.final_loss < 0.15
    src, mask, _, tgt_out = reverse_batch(200, torch.Generator().manual_seed(7))
    ids = translate(reverser, src, mask, max_len=8, bos=BOS, eos=EOS)
    want = [cut_at(row, EOS) for row in tgt_out.tolist()]
    exact = sum(a == b for a, b in zip(ids, want, strict=True)) / len(want)
    assert exact >= 0.85


def test_beam_of_one_is_greedy(reverser: Seq2Seq) -> None:
    src, mask, _, _ = reverse_batch(32, torch.Generator().manual_seed(3))
    for net in (reverser, gru_s2s("additive"), qrnn_s2s("general")):
        greedy = net.greedy(src.clamp(max=6), mask, max_len=7, bos=BOS, eos=EOS)
        hyps, _ = net.beam(src.clamp(max=6), mask, max_len=7, bos=BOS, eos=EOS, beam=1)
        assert [cut_at(r, EOS) for r in hyps[:, 0].tolist()] == [
            cut_at(r, EOS) for r in greedy.tolist()
        ]


@pytest.mark.parametrize("length_penalty", [0.0, 0.6, 1.0])
def test_beam_hypotheses_end_at_eos_and_are_ranked_by_score(
    reverser: Seq2Seq, length_penalty: float
) -> None:
    src, mask, _, _ = reverse_batch(8, torch.Generator().manual_seed(5))
    hyps, scores = reverser.beam(
        src, mask, max_len=10, bos=BOS, eos=EOS, beam=4, length_penalty=length_penalty
    )
    assert hyps.shape[:2] == (8, 4) and scores.shape == (8, 4)
    assert torch.all(scores[:, 1:] <= scores[:, :-1])
    for b in range(8):
        for k in range(4):
            row = hyps[b, k].tolist()
            assert EOS in row, row
            n = row.index(EOS) + 1
            assert all(t == EOS for t in row[n:])
            # The score is the hypothesis' own log-probability under teacher forcing.
            tgt_in = torch.tensor([[BOS, *row[: n - 1]]])
            with torch.no_grad():
                logits = reverser(src[b : b + 1], tgt_in, mask[b : b + 1])
            logp = F.log_softmax(logits, -1)
            total = logp[0, torch.arange(n), torch.tensor(row[:n])].sum()
            want = total / ((5 + n) / 6) ** length_penalty
            assert float(scores[b, k]) == pytest.approx(float(want), abs=1e-4)
    best = translate(reverser, src, mask, max_len=10, bos=BOS, eos=EOS, beam=4)
    assert best == [cut_at(r, EOS) for r in hyps[:, 0].tolist()]


def test_greedy_stops_at_eos_and_max_len(reverser: Seq2Seq) -> None:
    src, mask, _, _ = reverse_batch(6, torch.Generator().manual_seed(2))
    ids = reverser.greedy(src, mask, max_len=2, bos=BOS, eos=EOS)
    assert ids.shape == (6, 2)
    ids = reverser.greedy(src, mask, max_len=20, bos=BOS, eos=EOS)
    assert ids.shape[1] <= 6  # every row ends by its length + 1: the search stopped early
    for row in ids.tolist():
        assert all(t == EOS for t in row[row.index(EOS) :])
    with pytest.raises(ValueError, match="max_len"):
        reverser.greedy(src, mask, max_len=0, bos=BOS, eos=EOS)


def test_cut_at() -> None:
    assert cut_at([4, 5, 2, 2], 2) == [4, 5]
    assert cut_at([4, 5], 2) == [4, 5]


# ---- building from files, configs ---------------------------------------------------------


def test_zoo_deen_builds_and_runs_forward() -> None:
    torch.manual_seed(0)
    net = build_seq2seq(qrnnc.load(ROOT / "zoo" / "deen" / "model.qrnn"))
    assert net.attention_kind == "dot"
    assert isinstance(net.encoder, QRNN) and net.encoder.head is None
    src = torch.randint(0, 500, (2, 6))
    tgt = torch.randint(0, 500, (2, 5))
    logits = net(src, tgt, torch.ones(2, 6, dtype=torch.bool))
    assert logits.shape == (2, 5, 500) and torch.isfinite(logits).all()
    ids = net.greedy(src, None, max_len=3, bos=2, eos=3)
    assert ids.shape[0] == 2 and ids.shape[1] <= 3


def test_encoder_head_is_dropped() -> None:
    text = qrnn_file("dot", enc_head="head linear(out=4) per_step")
    net = build_seq2seq(qrnnc.loads(text))
    assert net.encoder.head is None
    assert not any(name.startswith("encoder.head") for name in net.state_dict())


def test_build_errors() -> None:
    single = "model m { qubits 2 input tokens(vocab=5, embed=2) cell { ry all } readout z on all }"
    with pytest.raises(QrnnError, match="no seq2seq statement"):
        build_seq2seq(qrnnc.loads(single))
    with pytest.raises(QrnnError, match="predicts 9 tokens but reads only vocab=7"):
        build_seq2seq(qrnnc.loads(qrnn_file()), out=9)


def test_config_round_trip() -> None:
    net = qrnn_s2s("additive", "numba")
    config = json.loads(json.dumps(net.config()))
    assert config["ir"]["seq2seq"]["attention"] == "additive"
    again = Seq2Seq.from_config(config, backend="torch")
    again.load_state_dict(net.state_dict())
    assert again.decoder.backend == "torch" and again.file_ir == net.file_ir
    src, mask, tgt = padded_batch()
    torch.testing.assert_close(again(src, tgt, mask), net(src, tgt, mask))
    with pytest.raises(TypeError, match="no config"):
        gru_s2s().config()


def test_baseline_seq2seq_matches_sizes_for_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a stand-in `qrnnc.baselines`: both parts get one hidden size under dot."""
    calls = []

    def build_baseline(kind, model, *, out, hidden, match):
        calls.append((model.name, out, hidden, match))
        size = hidden if hidden is not None else 10
        return GruPart(model.input.vocab, size, out=out)

    fake = types.ModuleType("qrnnc.baselines")
    fake.build_baseline = build_baseline
    monkeypatch.setitem(sys.modules, "qrnnc.baselines", fake)
    net = build_baseline_seq2seq(qrnnc.loads(qrnn_file("dot")), "gru")
    assert [c[0] for c in calls] == ["dec", "enc"]
    assert calls[0][1] == 7 and calls[0][3] > 0 and calls[1][2] == 10
    src, mask, tgt = padded_batch()
    assert net(src, tgt, mask).shape == (3, 4, 7)


def test_docs_python_blocks_run(monkeypatch: pytest.MonkeyPatch) -> None:
    code = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "seq2seq.md").read_text(), re.S)
    assert code
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for block in code:
        exec(compile(block, "docs/seq2seq.md", "exec"), namespace)
