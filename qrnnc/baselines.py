"""Classical baselines at matched parameter counts: tanh RNN, LSTM, GRU, orthogonal RNN.

    net = build_baseline("lstm", qrnn.model_ir, out=qrnn.out, match=parameter_count(qrnn))
    logits = net(x)        # the shapes the QRNN gives for the same x
    h = net.states         # (B, T, H) hidden states of the last forward, in the graph

A baseline is built from the QRNN's IR model so that only the recurrence
differs: the same input layer (the embedding for tokens, nothing for
features), the same head (`qrnnc.heads.build_head` on the hidden state instead
of the readouts), the same `encode` / `recur` / `head` structure, so the
trainer, the metrics and the gradient analysis treat both alike.

Per step t, with h_0 = 0 (and c_0 = 0 for the LSTM) and e_t the input:
- rnn:  h_t = tanh(W_ih e_t + b_ih + W_hh h_{t-1} + b_hh)          (torch.nn.RNN)
- lstm: the torch.nn.LSTM cell; h_t is its output, c_t its cell state
- gru:  the torch.nn.GRU cell
- orthogonal: h_t = modReLU(V e_t + W h_{t-1}), W = exp(A - A^T) orthogonal
  (expRNN, Lezcano-Casado & Martinez-Rubio 2019), modReLU(z)_i =
  sign(z_i) relu(|z_i| + b_i) with a learned bias b.

`python -m qrnnc.baselines zoo/*/model.qrnn` prints the matched hidden sizes as the
markdown table in docs/baselines.md.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import orthogonal

from qrnnc import ir
from qrnnc.heads import Head, build_head
from qrnnc.qrnn import _checked_features, _checked_tokens, _dtype_named, build_embedding

Kind = Literal["rnn", "lstm", "gru", "orthogonal"]
KINDS: tuple[str, ...] = get_args(Kind)
TOLERANCE = 0.05  # how far a matched count may be from its target, relatively
_TORCH_RNNS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class OrthogonalRNN(nn.Module):
    """expRNN: h_t = modReLU(V e_t + W h_{t-1}) with W = exp(A - A^T).

    forward(e (B, T, D)) -> the per-step states, a list of T tensors (B, H).
    """

    def __init__(self, input_size: int, hidden_size: int, *, dtype: torch.dtype) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        # No bias here: modReLU's b is the only bias, as in expRNN.
        self.input = nn.Linear(input_size, hidden_size, bias=False, dtype=dtype)
        self.recurrent = nn.Linear(hidden_size, hidden_size, bias=False, dtype=dtype)
        # use_trivialization=False makes the weight exactly exp(A - A^T), A the strict lower
        # triangle of `original`; the default would multiply by a stored base matrix.
        orthogonal(self.recurrent, orthogonal_map="matrix_exp", use_trivialization=False)
        self.bias = nn.Parameter(torch.empty(hidden_size, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """expRNN's initialization: Kaiming for V, Henaff for A, b ~ U(-0.01, 0.01)."""
        nn.init.kaiming_normal_(self.input.weight, nonlinearity="relu")
        with torch.no_grad():
            self.recurrent.parametrizations.weight.original.copy_(
                _henaff_skew(self.hidden_size, self.bias.dtype)
            )
        nn.init.uniform_(self.bias, -0.01, 0.01)

    @property
    def redundant(self) -> int:
        """Entries of `original` that never reach W: the diagonal and the upper triangle."""
        n = self.hidden_size
        return n * (n + 1) // 2

    def forward(self, e: torch.Tensor) -> list[torch.Tensor]:
        w = self.recurrent.weight  # one matrix exponential per sequence, not per step
        drive = self.input(e)  # every step's V e_t in one matmul
        h = e.new_zeros(e.shape[0], self.hidden_size)
        steps = []
        for t in range(e.shape[1]):
            h = modrelu(drive[:, t] + F.linear(h, w), self.bias)
            steps.append(h)
        return steps


def modrelu(z: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """sign(z) relu(|z| + b): a ReLU on the magnitude that keeps the sign (expRNN's form)."""
    return torch.sign(z) * F.relu(z.abs() + bias)


class Baseline(nn.Module):
    """A classical RNN in the place of a QRNN's cell.

    forward(x) -> (B, T, out) for a per_step head, (B, out) for a last head, or the
    hidden states (B, T, H) when the model has no head. After a forward:
    - `states`: h (B, T, H), what the head read, in the graph;
    - `step_states`: the T tensors h_t (B, H) that the recurrence fed on to step
      t + 1, so dL/dh_t taken with respect to them (torch.autograd.grad) is the
      full gradient through the future, not only through the head. For the LSTM
      it is the gradient at h_t with the cell state c_t held fixed.

    With autograd off (evaluation) the torch RNNs run fused over the sequence,
    which is faster and gives the same states to float rounding.
    """

    def __init__(
        self,
        kind: str,
        model: ir.Model,
        *,
        hidden: int,
        out: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown baseline {kind!r}: expected one of {', '.join(KINDS)}")
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden={hidden!r}: expected a positive int")
        out = _resolved_out(model, out)
        self.kind = kind
        self.model_ir = model
        self.hidden = hidden
        self.out = out
        self.states: torch.Tensor | None = None
        self.step_states: list[torch.Tensor] = []

        inp = model.input
        self.embed = build_embedding(inp, dtype)
        self.rnn: nn.Module = (
            OrthogonalRNN(inp.dim, hidden, dtype=dtype)
            if kind == "orthogonal"
            else _TORCH_RNNS[kind](inp.dim, hidden, batch_first=True, dtype=dtype)
        )
        self.head: Head | None = (
            None if model.head is None else build_head(model.head, hidden, out, dtype=dtype)
        )

    # ---- configuration --------------------------------------------------------------

    @property
    def dtype(self) -> torch.dtype:
        return next(self.rnn.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.rnn.parameters()).device

    def config(self) -> dict[str, Any]:
        """Plain JSON that rebuilds this module (without its weights): see `from_config`."""
        return {
            "kind": self.kind,
            "hidden": self.hidden,
            "model": self.model_ir.model_dump(mode="json"),
            "out": self.out,
            "dtype": str(self.dtype).removeprefix("torch."),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], **overrides: Any) -> Baseline:
        """The module `config()` describes, freshly initialized; load weights with
        `load_state_dict`. `overrides` replace build options (dtype)."""
        options = {"out": config["out"], "dtype": _dtype_named(config["dtype"])}
        options.update(overrides)
        return cls(
            config["kind"],
            ir.Model.model_validate(config["model"]),
            hidden=config["hidden"],
            **options,
        )

    def extra_repr(self) -> str:
        return f"kind={self.kind}, model={self.model_ir.name}, hidden={self.hidden}"

    # ---- forward -------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = self.recur(self.encode(x))
        return states if self.head is None else self.head(states)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Check x against the model's input and return e (B, T, D) in the module's dtype."""
        inp = self.model_ir.input
        if isinstance(inp, ir.TokenInput):
            return self.embed(_checked_tokens(x, inp, self.model_ir.name))
        return _checked_features(x, inp, self.model_ir.name).to(self.dtype)

    def recur(self, e: torch.Tensor) -> torch.Tensor:
        """The recurrence over e (B, T, D): hidden states h (B, T, H)."""
        if isinstance(self.rnn, OrthogonalRNN):
            steps = self.rnn(e)
            states = torch.stack(steps, dim=1)
        elif torch.is_grad_enabled():
            steps = _stepped(self.rnn, e)
            states = torch.stack(steps, dim=1)
        else:
            states, _ = self.rnn(e)
            steps = list(states.unbind(1))
        self.step_states = steps
        self.states = states
        return states


def _stepped(rnn: nn.RNNBase, e: torch.Tensor) -> list[torch.Tensor]:
    """A torch RNN one step at a time, each step fed the very tensor h_t it returns.

    The fused call hides h_t inside one kernel, so a gradient taken at its output
    would miss every path through later steps.
    """
    batch, steps = e.shape[0], e.shape[1]
    h = e.new_zeros(batch, rnn.hidden_size)
    c = e.new_zeros(1, batch, rnn.hidden_size)
    out = []
    for t in range(steps):
        e_t = e[:, t : t + 1]
        if isinstance(rnn, nn.LSTM):
            _, (h_next, c) = rnn(e_t, (h.unsqueeze(0), c))
        else:
            _, h_next = rnn(e_t, h.unsqueeze(0))
        h = h_next[0]
        out.append(h)
    return out


def _henaff_skew(n: int, dtype: torch.dtype) -> torch.Tensor:
    """A skew-symmetric A whose exp(A) rotates 2-planes by angles ~ U(-pi, pi) (Henaff et al.).

    Eigenvalues spread over the unit circle: expRNN's default start for long memory.
    """
    angles = (torch.rand(n // 2, dtype=torch.float64) * 2 - 1) * math.pi
    a = torch.zeros(n, n, dtype=torch.float64)
    idx = torch.arange(0, 2 * (n // 2), 2)
    a[idx + 1, idx] = angles
    return (a - a.T).to(dtype)


def _resolved_out(model: ir.Model, out: int | None) -> int | None:
    if model.head is None:
        if out is not None:
            raise ValueError(f"model {model.name} has no head, so out={out} has nothing to size")
        return None
    if out is None:
        out = model.head.out
        if out is None:
            raise ValueError(f"model {model.name}: the head has no out= and none was passed")
    if isinstance(out, bool) or not isinstance(out, int) or out < 1:
        raise ValueError(f"out={out!r}: expected a positive int")
    return out


# ---- counting and matching ---------------------------------------------------------


def parameter_count(net: nn.Module) -> int:
    """Trainable numbers of any module (QRNN, baseline, or one holding them).

    An orthogonal RNN counts its recurrent matrix as the n(n-1)/2 free entries of
    A, as expRNN does, not the n^2 entries of the tensor that stores A. For a QRNN
    this equals `qrnnc.qrnn.parameter_counts(net)["total"]`.
    """
    stored = sum(p.numel() for p in net.parameters())
    return stored - sum(m.redundant for m in net.modules() if isinstance(m, OrthogonalRNN))


def parameter_counts(net: Baseline) -> dict[str, int]:
    """Trainable numbers by part: embedding, recurrent, head, and total."""

    def count(module: nn.Module | None) -> int:
        return 0 if module is None else parameter_count(module)

    counts = {"embedding": count(net.embed), "recurrent": count(net.rnn), "head": count(net.head)}
    counts["total"] = sum(counts.values())
    return counts


def build_baseline(
    kind: str,
    model: ir.Model,
    *,
    out: int | None,
    hidden: int | None = None,
    match: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> Baseline:
    """A `kind` baseline for the QRNN model `model`, with `out` head outputs.

    Give either `hidden`, the hidden size, or `match`, a parameter count (the
    QRNN's `parameter_count`): the hidden size whose total count is closest to it,
    which must lie within 5%.
    """
    if (hidden is None) == (match is None):
        raise ValueError("give exactly one of hidden= (a size) and match= (a parameter count)")
    if hidden is None:
        assert match is not None
        hidden = matched_hidden(kind, model, out=out, target=match)
    return Baseline(kind, model, hidden=hidden, out=out, dtype=dtype)


def matched_hidden(kind: str, model: ir.Model, *, out: int | None, target: int) -> int:
    """The hidden size whose total parameter count is closest to `target` (ties: the smaller).

    The count grows with the hidden size, so a doubling then bisecting search
    finds the first size at or above the target; the answer is it or the one below.
    """
    if isinstance(target, bool) or not isinstance(target, int) or target < 1:
        raise ValueError(f"match={target!r}: expected a positive parameter count")
    smallest = count_at(kind, model, hidden=1, out=out)
    if smallest > target and smallest - target <= TOLERANCE * target:
        return 1  # an embedding that is nearly all of the target leaves room for no more
    if smallest > target:
        raise ValueError(
            f"a {kind} baseline for model {model.name} has {smallest} parameters already at"
            f" hidden=1, more than the target {target}"
        )
    low, high = 1, 2  # count(low) <= target; search for count(high) >= target
    while count_at(kind, model, hidden=high, out=out) < target:
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        if count_at(kind, model, hidden=mid, out=out) < target:
            low = mid
        else:
            high = mid
    below, above = (count_at(kind, model, hidden=h, out=out) for h in (low, high))
    hidden, count = (low, below) if target - below <= above - target else (high, above)
    if abs(count - target) > TOLERANCE * target:
        raise ValueError(
            f"no {kind} baseline for model {model.name} comes within"
            f" {TOLERANCE:.0%} of {target} parameters: the closest, hidden={hidden},"
            f" has {count} ({(count - target) / target:+.1%})"
        )
    return hidden


def count_at(kind: str, model: ir.Model, *, hidden: int, out: int | None) -> int:
    """The total parameter count of a `kind` baseline of size `hidden`, without building it.

    The module is made on the meta device: shapes only, no memory, no draws from
    the global RNG, so matching leaves a seeded build unchanged.
    """
    with torch.device("meta"):
        return parameter_count(Baseline(kind, model, hidden=hidden, out=out))


# ---- the table in docs/baselines.md ---------------------------------------------------


def matched_table(paths: Iterable[str | Path]) -> str:
    """Markdown: per zoo model, the QRNN's count and each kind's matched size and count."""
    import qrnnc
    from qrnnc.qrnn import parameter_counts as qrnn_counts

    header = "| model | QRNN total | QRNN w/o embedding |"
    rule = "|---|---:|---:|"
    for kind in KINDS:
        header += f" {kind} H | {kind} total |"
        rule += "---:|---:|"
    rows = [header, rule]
    for path in paths:
        compiled = qrnnc.load(path)
        for name in compiled.programs:
            qrnn = compiled.build(name, backend="torch")
            counts = qrnn_counts(qrnn)
            target = counts["total"]
            file = Path(path)  # zoo/<entry>/model.qrnn is named by its entry
            label = file.parent.name if file.name == "model.qrnn" else file.stem
            row = f"| {label}/{name} | {target} | {target - counts['embedding']} |"
            for kind in KINDS:
                h = matched_hidden(kind, qrnn.model_ir, out=qrnn.out, target=target)
                total = count_at(kind, qrnn.model_ir, hidden=h, out=qrnn.out)
                row += f" {h} | {total} ({(total - target) / target:+.1%}) |"
            rows.append(row)
    return "\n".join(rows)


if __name__ == "__main__":
    print(matched_table(sys.argv[1:]))
