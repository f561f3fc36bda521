"""Sequence to sequence: an encoder and a decoder recurrence joined by Luong attention.

    s2s = build_seq2seq(qrnnc.load("zoo/deen/model.qrnn"), backend="numba")
    logits = s2s(src, tgt_in, src_mask)      # (B, U, V), teacher forcing
    ids = s2s.greedy(src, src_mask, max_len=50, bos=2, eos=3)           # (B, <=50)
    hyps, scores = s2s.beam(src, src_mask, max_len=50, bos=2, eos=3, beam=4)
    texts = translate(s2s, src, src_mask, max_len=50, bos=2, eos=3, beam=4)

The encoder and the decoder are any modules with `encode(tokens) -> e (B, T, D)`
and `recur(e) -> states (B, T, K)`; the decoder also has a per-step `head`. For a
QRNN the states are its readouts, for a classical baseline its hidden states.
Per decoder step t (Luong et al. 2015, "global attention"):

    a_t = softmax_s score(d_t, e_s)      over the real (unpadded) source positions
    c_t = sum_s a_t[s] e_s
    h_t = tanh(W_c [d_t; c_t] + b_c)     (size K_d, so the decoder's head keeps its input)
    logits_t = head(h_t)

with score `dot` d.e, `general` d.(W e) or `additive` v.tanh(W1 d + W2 e).
There is no input feeding (h_{t-1} into the decoder's next step): a QRNN runs a
whole sequence in one call, so the decoder sees only the target tokens. For the
same reason decoding re-runs the decoder over the growing prefix at every step.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from qrnnc import ir
from qrnnc.compiled import Compiled
from qrnnc.errors import QrnnError
from qrnnc.qrnn import QRNN, _dtype_named, default_out, parameter_counts

AttentionKind = Literal["dot", "general", "additive"]
ATTENTION_KINDS: tuple[str, ...] = ("dot", "general", "additive")


class Attention(nn.Module):
    """Luong attention of decoder states over encoder states, with the attentional layer.

    forward(d (B, U, Kd), e (B, S, Ke), mask (B, S) bool) -> (h (B, U, Kd), a (B, U, S)).
    """

    def __init__(
        self,
        kind: AttentionKind,
        enc_size: int,
        dec_size: int,
        *,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"attention={kind!r}: expected one of {', '.join(ATTENTION_KINDS)}")
        if kind == "dot" and enc_size != dec_size:
            raise ValueError(
                f"dot attention needs equal state sizes, got encoder {enc_size}"
                f" and decoder {dec_size}"
            )
        self.kind = kind
        self.enc_size = enc_size
        self.dec_size = dec_size
        if kind == "general":
            self.w = nn.Linear(enc_size, dec_size, bias=False, dtype=dtype)
        elif kind == "additive":
            # The score's hidden width is the decoder's size: no new hyperparameter to tune.
            self.w_dec = nn.Linear(dec_size, dec_size, bias=False, dtype=dtype)
            self.w_enc = nn.Linear(enc_size, dec_size, dtype=dtype)
            self.v = nn.Linear(dec_size, 1, bias=False, dtype=dtype)
        self.combine = nn.Linear(dec_size + enc_size, dec_size, dtype=dtype)

    def scores(self, d: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """Unnormalized scores (B, U, S)."""
        if self.kind == "dot":
            return d @ e.transpose(1, 2)
        if self.kind == "general":
            return d @ self.w(e).transpose(1, 2)
        hidden = torch.tanh(self.w_dec(d).unsqueeze(2) + self.w_enc(e).unsqueeze(1))
        return self.v(hidden).squeeze(-1)

    def forward(
        self, d: torch.Tensor, e: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.scores(d, e)
        keep = mask.unsqueeze(1)
        # A finite fill rather than -inf: a source with no real token then gives uniform
        # weights (zeroed below) instead of NaN, and its gradient stays finite.
        scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1) * keep
        context = weights @ e
        h = torch.tanh(self.combine(torch.cat((d, context), dim=-1)))
        return h, weights

    def extra_repr(self) -> str:
        return f"kind={self.kind}, enc_size={self.enc_size}, dec_size={self.dec_size}"


class Seq2Seq(nn.Module):
    """An encoder, a decoder and attention: `forward(src, tgt_in, src_mask) -> (B, U, V)`.

    encoder, decoder: modules with `encode` and `recur` (a QRNN, a baseline); the
      decoder needs a per-step `head`. The encoder's head, if it has one, is not used.
    attention: "dot" (needs equal state sizes), "general" or "additive".
    dtype: of the attention's parameters; default the decoder's.

    Padding must come at the end of a source row (src_mask True then False): the
    encoder reads left to right, so only then do real tokens' states not depend on it.
    `self.attention` holds the weights (B, U, S) of the last `forward`, detached.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        *,
        attention: AttentionKind = "dot",
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for role, part in (("encoder", encoder), ("decoder", decoder)):
            if not (
                callable(getattr(part, "encode", None)) and callable(getattr(part, "recur", None))
            ):
                raise TypeError(f"the {role} needs encode(tokens) and recur(e) methods")
        head = getattr(decoder, "head", None)
        if head is None:
            raise ValueError(f"decoder {_name(decoder, 'decoder')} has no head to predict tokens")
        if getattr(head, "mode", "per_step") != "per_step":
            raise ValueError(
                f"decoder {_name(decoder, 'decoder')} has a `{head.mode}` head;"
                " seq2seq predicts a token at every step, so it needs `per_step`"
            )
        enc_size, dec_size = state_size(encoder), state_size(decoder)
        if attention == "dot" and enc_size != dec_size:
            quantum = isinstance(encoder, QRNN) and isinstance(decoder, QRNN)
            raise ValueError(
                _dot_mismatch(
                    _name(encoder, "encoder"),
                    enc_size,
                    _name(decoder, "decoder"),
                    dec_size,
                    "readouts" if quantum else "states",
                )
            )
        if dtype is None:
            dtype = next((p.dtype for p in decoder.parameters() if p.is_floating_point()), None)
        self.encoder = encoder
        self.decoder = decoder
        self.attend = Attention(attention, enc_size, dec_size, dtype=dtype or torch.float32)
        self.attention: torch.Tensor | None = None
        self.file_ir: ir.IR | None = None  # the file it was built from, if any

    @property
    def attention_kind(self) -> str:
        return self.attend.kind

    # ---- teacher forcing ------------------------------------------------------------

    def forward(
        self, src: torch.Tensor, tgt_in: torch.Tensor, src_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (B, U, V) for every position of `tgt_in` (BOS + target)."""
        memory, mask = self.memory(src, src_mask)
        if tgt_in.shape[0] != src.shape[0]:
            raise ValueError(f"src has {src.shape[0]} sequences but tgt_in has {tgt_in.shape[0]}")
        d = self.decoder.recur(self.decoder.encode(tgt_in))
        h, weights = self.attend(d, memory, mask)
        self.attention = weights.detach()
        return self.decoder.head(h)

    def memory(
        self, src: torch.Tensor, src_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's states (B, S, Ke) and the checked mask (B, S) bool."""
        mask = _checked_mask(src, src_mask)
        return self.encoder.recur(self.encoder.encode(src)), mask

    # ---- decoding ---------------------------------------------------------------------

    def next_logits(
        self, prefix: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Logits (B, V) for the token after `prefix` (B, L): the whole prefix is re-run."""
        d = self.decoder.recur(self.decoder.encode(prefix))[:, -1:]
        h, _ = self.attend(d, memory, mask)
        return self.decoder.head(h)[:, 0]

    @torch.no_grad()
    def greedy(
        self,
        src: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        *,
        max_len: int,
        bos: int,
        eos: int,
    ) -> torch.Tensor:
        """The most likely next token at every step: LongTensor (B, L), L <= max_len.

        Generation stops when every row has produced `eos` (kept in the output) or after
        `max_len` tokens; a finished row is filled with `eos` to the common length.
        """
        _check_decode_args(max_len, bos, eos)
        memory, mask = self.memory(src, src_mask)
        ys = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=memory.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=memory.device)
        for _ in range(max_len):
            # argmax of the log-softmax, not of the logits, so beam=1 ranks the same numbers.
            token = F.log_softmax(self.next_logits(ys, memory, mask), dim=-1).argmax(-1)
            token = token.masked_fill(done, eos)
            ys = torch.cat((ys, token.unsqueeze(1)), dim=1)
            done |= token == eos
            if bool(done.all()):
                break
        return ys[:, 1:]

    @torch.no_grad()
    def beam(
        self,
        src: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        *,
        max_len: int,
        bos: int,
        eos: int,
        beam: int = 4,
        length_penalty: float = 0.6,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Beam search: hypotheses (B, beam, L) best first and their scores (B, beam).

        A score is the hypothesis' log-probability (up to and including `eos`) divided by
        the GNMT length penalty ((5 + n) / 6) ** length_penalty, n its number of tokens;
        0 ranks by plain log-probability. A finished hypothesis stays in the beam at its
        score (filled with `eos`) and competes with the longer ones; the search stops when
        all are finished or after `max_len` tokens. The beam's B*beam prefixes run as one
        batch. beam=1 gives `greedy`.
        """
        _check_decode_args(max_len, bos, eos)
        if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
            raise ValueError(f"beam={beam!r}: expected a positive int")
        if length_penalty < 0:
            raise ValueError(f"length_penalty={length_penalty}: expected >= 0")
        memory, mask = self.memory(src, src_mask)
        batch, k, device = src.shape[0], beam, memory.device
        memory = memory.repeat_interleave(k, dim=0)
        mask = mask.repeat_interleave(k, dim=0)
        ys = torch.full((batch * k, 1), bos, dtype=torch.long, device=device)
        # Only the first copy is live at the start, so the k first picks are k different tokens.
        score = torch.full((batch, k), float("-inf"), dtype=memory.dtype, device=device)
        score[:, 0] = 0.0
        score = score.view(-1)
        length = torch.zeros(batch * k, dtype=torch.long, device=device)
        done = torch.zeros(batch * k, dtype=torch.bool, device=device)
        rows_base = torch.arange(batch, device=device).unsqueeze(1) * k
        for _ in range(max_len):
            logp = F.log_softmax(self.next_logits(ys, memory, mask), dim=-1).to(score.dtype)
            vocab = logp.shape[-1]
            if k > vocab:
                raise ValueError(f"beam={k} exceeds the decoder's {vocab} output tokens")
            # A finished hypothesis may only continue with eos, at no cost and no length.
            logp[done] = float("-inf")
            logp[done, eos] = 0.0
            cand = score.unsqueeze(1) + logp
            cand_len = length + (~done).long()
            ranked = cand / _length_penalty(cand_len, length_penalty, cand.dtype).unsqueeze(1)
            _, pick = ranked.view(batch, k * vocab).topk(k, dim=-1)
            rows = (rows_base + pick // vocab).view(-1)
            token = (pick % vocab).view(-1)
            score = cand.view(batch, k * vocab).gather(1, pick).view(-1)
            length = cand_len[rows]
            done = done[rows] | (token == eos)
            ys = torch.cat((ys[rows], token.unsqueeze(1)), dim=1)
            if bool(done.all()):
                break
        final = score / _length_penalty(length, length_penalty, score.dtype)
        return ys[:, 1:].view(batch, k, -1), final.view(batch, k)

    # ---- configuration ------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Plain JSON that rebuilds this module (without weights): see `from_config`.

        Each part is stored as {"kind", "config"} from its own `config()`; `ir` is the
        compiled file (with its task: vocab, max_len, beam) when `build_seq2seq` made it.
        """
        return {
            "ir": None if self.file_ir is None else self.file_ir.model_dump(mode="json"),
            "attention": self.attend.kind,
            "dtype": str(self.attend.combine.weight.dtype).removeprefix("torch."),
            "encoder": _part_record(self.encoder, "encoder"),
            "decoder": _part_record(self.decoder, "decoder"),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], **overrides: Any) -> Seq2Seq:
        """The module `config()` describes, freshly initialized; load weights with
        `load_state_dict`. `overrides` (backend, shots, dtype, ...) go to the QRNN parts."""
        dtype = overrides.get("dtype", _dtype_named(config["dtype"]))
        encoder = _rebuild_part(config["encoder"], overrides)
        decoder = _rebuild_part(config["decoder"], overrides)
        net = cls(encoder, decoder, attention=config["attention"], dtype=dtype)
        if config.get("ir") is not None:
            net.file_ir = ir.IR.model_validate(config["ir"])
        return net

    def extra_repr(self) -> str:
        return f"attention={self.attend.kind}"


# ---- building from a .qrnn file ---------------------------------------------------------


def build_seq2seq(
    compiled: Compiled,
    *,
    backend: str = "numba",
    out: int | None = None,
    checkpoint_every: int = 0,
    shots: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> Seq2Seq:
    """The encoder-decoder a file's `seq2seq(...)` statement names, as QRNNs on `backend`.

    out: the decoder head's size; default its `out=`, else the task's target vocabulary.
    The encoder is built without its head if the file gives it one: attention reads
    its readouts, and a head there would only hold parameters that never learn.
    checkpoint_every, shots, dtype: as for `qrnnc.qrnn.build_qrnn`, for both models.
    """
    doc = compiled.ir
    s2s = doc.seq2seq
    if s2s is None:
        raise QrnnError(
            f"{doc.file or 'this file'} has no seq2seq statement",
            expected="seq2seq(encoder=NAME, decoder=NAME, attention=dot)",
        )
    enc_node, dec_node = doc.model(s2s.encoder), doc.model(s2s.decoder)
    for role, node in (("encoder", enc_node), ("decoder", dec_node)):
        if not isinstance(node.input, ir.TokenInput):
            raise QrnnError(
                f"seq2seq {role} {node.name} reads features; it needs `input tokens(...)`",
                node.input.span,
                file=doc.file,
            )
    if dec_node.head is None:
        raise QrnnError(
            f"seq2seq decoder {dec_node.name} has no head to predict target tokens",
            dec_node.name_span,
            file=doc.file,
            expected="head linear per_step",
        )
    enc_prog, dec_prog = compiled.programs[s2s.encoder], compiled.programs[s2s.decoder]
    if s2s.attention == "dot" and enc_prog.n_readouts != dec_prog.n_readouts:
        raise QrnnError(
            _dot_mismatch(
                enc_node.name,
                enc_prog.n_readouts,
                dec_node.name,
                dec_prog.n_readouts,
                "readouts",
            ),
            s2s.span,
            file=doc.file,
        )
    if out is None:
        out = dec_node.head.out if dec_node.head.out is not None else default_out(doc.task)
    if out > dec_node.input.vocab:
        # Decoding feeds predicted tokens back into the decoder's embedding.
        raise QrnnError(
            f"decoder {dec_node.name} predicts {out} tokens but reads only"
            f" vocab={dec_node.input.vocab}; decoding feeds its predictions back in",
            dec_node.input.span,
            file=doc.file,
        )
    options: dict[str, Any] = {
        "backend": backend,
        "checkpoint_every": checkpoint_every,
        "dtype": dtype,
    }
    encoder = QRNN(
        enc_node.model_copy(update={"head": None}),
        enc_prog,
        shots=enc_prog.shots if shots is None else shots,
        **options,
    )
    decoder = QRNN(
        dec_node, dec_prog, out=out, shots=dec_prog.shots if shots is None else shots, **options
    )
    net = Seq2Seq(encoder, decoder, attention=s2s.attention, dtype=dtype)
    net.file_ir = doc
    return net


def build_baseline_seq2seq(
    compiled: Compiled,
    kind: str,
    *,
    out: int | None = None,
    hidden: int | None = None,
    backend: str = "numba",
    dtype: torch.dtype = torch.float32,
) -> Seq2Seq:
    """The file's seq2seq with classical baselines (`qrnnc.baselines`) for both parts.

    Each part matches its QRNN's parameter count unless `hidden` fixes the size. With
    dot attention the encoder takes the decoder's hidden size, so the scores are defined.
    """
    from qrnnc.baselines import build_baseline

    quantum = build_seq2seq(compiled, backend=backend, out=out, dtype=dtype)
    qenc, qdec = quantum.encoder, quantum.decoder
    assert isinstance(qenc, QRNN) and isinstance(qdec, QRNN)
    decoder = build_baseline(
        kind,
        qdec.model_ir,
        out=qdec.out,
        hidden=hidden,
        match=None if hidden is not None else parameter_counts(qdec)["total"],
    )
    enc_hidden = hidden
    if enc_hidden is None and quantum.attention_kind == "dot":
        enc_hidden = state_size(decoder)
    encoder = build_baseline(
        kind,
        qenc.model_ir,
        out=None,
        hidden=enc_hidden,
        match=None if enc_hidden is not None else parameter_counts(qenc)["total"],
    )
    net = Seq2Seq(encoder, decoder, attention=quantum.attention_kind, dtype=dtype)
    net.file_ir = compiled.ir
    return net


# ---- translating ------------------------------------------------------------------------


def translate(
    model: Seq2Seq,
    src: torch.Tensor,
    src_mask: torch.Tensor | None = None,
    *,
    max_len: int,
    bos: int,
    eos: int,
    beam: int = 1,
    length_penalty: float = 0.6,
) -> list[list[int]]:
    """Token ids per source row, cut before the first `eos`: greedy for beam=1, else the
    best beam hypothesis. The module's train/eval mode is left as it is."""
    if beam == 1:
        ids = model.greedy(src, src_mask, max_len=max_len, bos=bos, eos=eos)
    else:
        hyps, _ = model.beam(
            src,
            src_mask,
            max_len=max_len,
            bos=bos,
            eos=eos,
            beam=beam,
            length_penalty=length_penalty,
        )
        ids = hyps[:, 0]
    return [cut_at(row, eos) for row in ids.tolist()]


def cut_at(ids: list[int], eos: int) -> list[int]:
    """The ids before the first `eos` (all of them if there is none)."""
    return ids[: ids.index(eos)] if eos in ids else ids


# ---- helpers ----------------------------------------------------------------------------


def _dot_mismatch(
    enc_name: str, enc_size: int, dec_name: str, dec_size: int, noun: str = "states"
) -> str:
    return (
        f"attention=dot compares decoder and encoder {noun}, but encoder {enc_name}"
        f" gives {enc_size} {noun} a step and decoder {dec_name} gives {dec_size};"
        " make the counts equal or use attention=general or attention=additive"
    )


def state_size(module: nn.Module) -> int:
    """K of `module.recur`'s (B, T, K): a QRNN's readouts, a `state_size` attribute, or
    the size one probe step on token 0 gives."""
    program = getattr(module, "program", None)
    if program is not None and hasattr(program, "n_readouts"):
        return int(program.n_readouts)
    size = getattr(module, "state_size", None)
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    with torch.no_grad():
        probe = module.recur(module.encode(torch.zeros(1, 1, dtype=torch.long, device=device)))
    return int(probe.shape[-1])


def _name(module: nn.Module, role: str) -> str:
    model_ir = getattr(module, "model_ir", None)
    return str(getattr(model_ir, "name", None) or getattr(module, "name", None) or role)


def _checked_mask(src: torch.Tensor, src_mask: torch.Tensor | None) -> torch.Tensor:
    if src_mask is None:
        return torch.ones(src.shape[:2], dtype=torch.bool, device=src.device)
    if tuple(src_mask.shape) != tuple(src.shape[:2]):
        raise ValueError(
            f"src_mask has shape {tuple(src_mask.shape)}, expected {tuple(src.shape[:2])} like src"
        )
    mask = src_mask.to(device=src.device, dtype=torch.bool)
    if bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        raise ValueError(
            "src_mask has a real token after padding: pad at the end of each source row"
            " (the encoder reads left to right, so leading padding would change its states)"
        )
    return mask


def _check_decode_args(max_len: int, bos: int, eos: int) -> None:
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len={max_len!r}: expected a positive int")
    for name, value in (("bos", bos), ("eos", eos)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}={value!r}: expected a token id (an int >= 0)")


def _length_penalty(length: torch.Tensor, alpha: float, dtype: torch.dtype) -> torch.Tensor:
    """GNMT's ((5 + n) / 6) ** alpha (Wu et al. 2016); 1 for alpha = 0."""
    return ((5.0 + length.to(dtype)) / 6.0).pow(alpha)


def _part_record(part: nn.Module, role: str) -> dict[str, Any]:
    if not callable(getattr(part, "config", None)):
        raise TypeError(f"the {role} ({type(part).__name__}) has no config() to save")
    kind = "qrnn" if isinstance(part, QRNN) else type(part).__name__.lower()
    return {"kind": kind, "config": part.config()}


def _rebuild_part(record: dict[str, Any], overrides: dict[str, Any]) -> nn.Module:
    kind = record["kind"]
    if kind == "qrnn":
        return QRNN.from_config(record["config"], **overrides)
    if kind == "baseline":
        from qrnnc.baselines import Baseline

        return Baseline.from_config(record["config"])
    raise ValueError(f"unknown seq2seq part kind {kind!r} in the config")
