"""The training loop: one loop for QRNNs and classical baselines, resumable, DDP-aware.

Determinism is by construction, so that a resumed run ends with the same
weights as an uninterrupted one: the batches of epoch e are a permutation
drawn from (seed, e) alone, every other random number comes from torch's
global generator, whose state each checkpoint stores, and the learning rate
is a pure function of the global step. A checkpoint therefore only needs the
weights, the optimizer state, that generator state and the position (epoch,
batch).

Under torchrun every rank takes its slice of each global batch, so one DDP
step on W ranks with `batch` examples in all equals one single-process step
on the same `batch` examples.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import default_collate

from qrnnc import checkpoint, ir, runs
from qrnnc.compiled import compile_ir
from qrnnc.tasks import load_task
from qrnnc.tasks.base import Batch, TaskData, add_scores


class TrainingStopped(RuntimeError):
    """A non-finite loss (or another fatal condition) stopped training; the message says why."""


@dataclass
class Position:
    """Where training is: what a checkpoint must restore besides weights and RNG."""

    epoch: int = 0
    batch: int = 0  # the next batch of `epoch` to run
    step: int = 0  # optimizer steps taken in all
    best: float | None = None  # best validation metric so far
    seconds: float = 0.0  # training time so far, over all sessions


@dataclass
class Context:
    """One process's view of a (possibly distributed) run."""

    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


# ---- building -----------------------------------------------------------------------


def build_model(cfg: runs.RunConfig, data: TaskData) -> nn.Module:
    """The QRNN (or its matched baseline) for `cfg`, sized to the task's outputs."""
    compiled = compile_ir(cfg.doc)
    doc = compiled.ir
    if doc.seq2seq is not None:
        from qrnnc.seq2seq import build_seq2seq

        _check_seq2seq_vocab(doc, data)

        if cfg.baseline is not None:
            from qrnnc.seq2seq import build_baseline_seq2seq

            return build_baseline_seq2seq(
                compiled, cfg.baseline, out=data.n_out, hidden=cfg.hidden, backend=cfg.backend
            )
        return build_seq2seq(compiled, backend=cfg.backend, out=data.n_out)
    net = compiled.build(cfg.model, backend=cfg.backend, out=_out_for(compiled, cfg, data))
    if cfg.shots is not None:
        net.shots = cfg.shots or None
    check_fit(net.model_ir, data)
    if cfg.baseline is None:
        return net
    from qrnnc.baselines import build_baseline
    from qrnnc.qrnn import parameter_counts

    target = None if cfg.hidden is not None else parameter_counts(net)["total"]
    return build_baseline(cfg.baseline, net.model_ir, out=net.out, hidden=cfg.hidden, match=target)


def _out_for(compiled: Any, cfg: runs.RunConfig, data: TaskData) -> int | None:
    name = cfg.model or next(iter(compiled.programs))
    head = compiled.ir.model(name).head
    if head is None:
        return None
    return head.out if head.out is not None else data.n_out


def check_fit(model: ir.Model, data: TaskData) -> None:
    """The model's input and head against the data's: a clear error instead of a shape crash."""
    where = f"model {model.name}"
    inp = model.input
    if data.inputs == "tokens":
        if not isinstance(inp, ir.TokenInput):
            raise ValueError(f"{where} reads features, but task {data.name} gives tokens")
        if inp.vocab < data.n_in:
            raise ValueError(
                f"{where}: input vocab={inp.vocab}, but task {data.name}'s data has"
                f" {data.n_in} token ids; write `input tokens(vocab={data.n_in}, ...)`"
            )
    elif not isinstance(inp, ir.FeatureInput) or inp.dim != data.n_in:
        raise ValueError(
            f"{where} reads {_describe(inp)}, but task {data.name} gives {data.n_in} features"
            f" a step; write `input features(dim={data.n_in})`"
        )
    if model.head is not None:
        if model.head.mode != data.target:
            raise ValueError(
                f"{where}: head is `{model.head.mode}`, but task {data.name} needs `{data.target}`"
            )
        if model.head.out is not None and model.head.out != data.n_out:
            raise ValueError(
                f"{where}: head out={model.head.out}, but task {data.name} has {data.n_out}"
                f" outputs; write out={data.n_out} or leave out= to take it from the task"
            )


def _check_seq2seq_vocab(doc: ir.IR, data: TaskData) -> None:
    """Token ids beyond an embedding would crash mid-epoch; say so before training."""
    assert doc.seq2seq is not None
    sides = (
        (doc.seq2seq.encoder, len(getattr(data, "src_vocab", None) or []), "source"),
        (doc.seq2seq.decoder, data.n_out, "target"),
    )
    for name, needed, side in sides:
        inp = doc.model(name).input
        if isinstance(inp, ir.TokenInput) and inp.vocab < needed:
            raise ValueError(
                f"model {name}: input vocab={inp.vocab}, but the {side} vocabulary of task"
                f" {data.name} has {needed} tokens; write `input tokens(vocab={needed}, ...)`"
            )


def _describe(inp: ir.Input) -> str:
    if isinstance(inp, ir.TokenInput):
        return f"tokens (vocab {inp.vocab})"
    return f"{inp.dim} features a step"


def make_optimizer(cfg: runs.RunConfig, params: Any) -> torch.optim.Optimizer:
    kinds: dict[str, Callable[..., torch.optim.Optimizer]] = {
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "rmsprop": torch.optim.RMSprop,
        "sgd": torch.optim.SGD,
    }
    return kinds[cfg.optimizer](params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_factor(schedule: str, step: int, total: int) -> float:
    """The learning rate multiplier at a global step: a pure function, so nothing to save."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))
    if schedule == "step":  # x0.1 at half and again at three quarters of training
        return 0.1 ** ((step >= total // 2) + (step >= (3 * total) // 4))
    return 1.0


# ---- batches ------------------------------------------------------------------------


def epoch_batches(n: int, batch: int, seed: int, epoch: int) -> list[torch.Tensor]:
    """The global batches of one epoch: a permutation drawn from (seed, epoch) alone.

    A last partial batch is dropped (every step sees `batch` examples, which a
    DDP split needs), unless it is the only one.
    """
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=gen)
    if n < batch:
        return [order]
    return list(order[: (n // batch) * batch].split(batch))


def shard(indices: torch.Tensor, ctx: Context) -> torch.Tensor:
    """This rank's slice of a global batch: contiguous, equal sizes."""
    if ctx.world == 1:
        return indices
    per = len(indices) // ctx.world
    return indices[ctx.rank * per : (ctx.rank + 1) * per]


def collate(dataset: Any, indices: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
    items = default_collate([dataset[int(i)] for i in indices])
    return {k: v.to(device) for k, v in items.items()}


def forward(net: nn.Module, batch: Batch) -> torch.Tensor:
    if "src" in batch:
        return net(batch["src"], batch["tgt_in"], batch.get("src_mask"))
    return net(batch["x"])


# ---- evaluation ---------------------------------------------------------------------


@torch.no_grad()
def evaluate(
    net: nn.Module,
    data: TaskData,
    split: str,
    batch: int,
    ctx: Context | None = None,
    *,
    limit: int | None = None,
) -> dict[str, float]:
    """The task's metrics on a split, or its first `limit` examples (sharded over ranks
    under DDP, then summed)."""
    ctx = ctx or Context()
    dataset = data.splits[split]
    was_training = net.training
    net.eval()
    scores: dict[str, tuple[float, float]] = {}
    n = len(dataset) if limit is None else min(limit, len(dataset))
    idx = torch.arange(n)[ctx.rank :: ctx.world]
    for part in idx.split(batch):
        b = collate(dataset, part, ctx.device)
        add_scores(scores, data.score(forward(net, b), b))
    net.train(was_training)
    if ctx.world > 1:
        keys = sorted(scores)
        flat = torch.tensor([v for k in keys for v in scores[k]], dtype=torch.float64)
        dist.all_reduce(flat)
        scores = {k: (float(flat[2 * i]), float(flat[2 * i + 1])) for i, k in enumerate(keys)}
    return data.summarize(scores)


# ---- the loop -----------------------------------------------------------------------


def check_device(cfg: runs.RunConfig) -> None:
    """A device the run cannot use is refused before anything is built."""
    try:
        dev = torch.device(cfg.device)
    except RuntimeError:
        raise ValueError(f"--device {cfg.device}: expected cpu, cuda or cuda:N") from None
    if dev.type == "cpu":
        return
    if dev.type != "cuda":
        raise ValueError(f"--device {cfg.device}: expected cpu, cuda or cuda:N")
    if cfg.backend == "numba" and cfg.baseline is None:
        raise ValueError(
            "--device cuda needs --backend torch: the numba backend simulates on the CPU"
        )
    if not torch.cuda.is_available():
        raise ValueError(f"--device {cfg.device}: torch sees no CUDA device on this machine")


def setup_distributed(device: str) -> Context:
    """Join torchrun's process group if launched by it (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dev = torch.device(device)
    if world == 1:
        return Context(device=dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    rank = dist.get_rank()
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    return Context(rank=rank, world=world, device=dev)


Reporter = Callable[[dict[str, Any]], None]


def train(
    cfg: runs.RunConfig,
    out: str | os.PathLike[str],
    *,
    resume: bool = False,
    report: Reporter | None = None,
    ctx: Context | None = None,
) -> dict[str, Any]:
    """Train `cfg` into the run folder `out`; returns the final summary.

    report(event) receives progress events (kind "start", "step", "epoch",
    "end") for a progress bar; only the main rank reports and writes files.
    """
    out = Path(out)
    check_device(cfg)
    ctx = ctx or setup_distributed(cfg.device)
    report = report if (report and ctx.main) else (lambda e: None)
    if cfg.batch % ctx.world:
        raise ValueError(f"--batch {cfg.batch} must be divisible by the {ctx.world} DDP ranks")

    torch.manual_seed(cfg.seed)
    data = task_data(cfg)
    net = build_model(cfg, data).to(ctx.device)
    opt = make_optimizer(cfg, net.parameters())
    pos = Position()
    if resume:
        pos = _restore(out, net, opt, ctx.main)
        if ctx.main:  # a resume may extend the epochs: the folder records what it ran
            checkpoint.write_json_atomic(out / runs.CONFIG, cfg.model_dump(mode="json"))
    elif ctx.main:
        out.mkdir(parents=True, exist_ok=True)
        checkpoint.write_json_atomic(out / runs.CONFIG, cfg.model_dump(mode="json"))
        (out / runs.METRICS).write_text("")
    model = net
    if ctx.world > 1:
        model = nn.parallel.DistributedDataParallel(net)

    train_set = data.splits["train"]
    per_epoch = len(epoch_batches(len(train_set), cfg.batch, cfg.seed, 0))
    total = per_epoch * cfg.epochs
    report({"kind": "start", "total": total, "step": pos.step, "data": data, "net": net})
    log = _Log(out / runs.METRICS, ctx.main)
    meta_base = {"config": cfg.model_dump(mode="json"), "model": runs.model_record(net)}

    def save(name: str, metrics: dict[str, Any] | None = None) -> None:
        if not ctx.main:
            return
        meta = dict(meta_base, position=pos.__dict__, metrics=metrics or {})
        checkpoint.save(
            out / name,
            model=net.state_dict(),
            optimizer=opt.state_dict(),
            meta=meta,
            rng={"torch": torch.get_rng_state()},
        )

    window: list[float] = []
    while pos.epoch < cfg.epochs:
        batches = epoch_batches(len(train_set), cfg.batch, cfg.seed, pos.epoch)
        started = time.perf_counter()
        model.train()
        while pos.batch < len(batches):
            b = collate(train_set, shard(batches[pos.batch], ctx), ctx.device)
            for group in opt.param_groups:
                group["lr"] = cfg.lr * lr_factor(cfg.schedule, pos.step, total)
            loss = data.loss(forward(model, b), b)
            value = _global_mean(loss.detach(), ctx)  # every rank sees the same NaN
            if not math.isfinite(value):
                raise TrainingStopped(_nan_message(out, pos, value, cfg))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip is not None:
                nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            opt.step()
            pos.batch += 1
            pos.step += 1
            window.append(value)
            if pos.step % cfg.log_every == 0 or pos.batch == len(batches):
                mean = sum(window) / len(window)
                lr_now = opt.param_groups[0]["lr"]
                log.write(
                    {
                        "kind": "step",
                        "epoch": pos.epoch,
                        "step": pos.step,
                        "loss": mean,
                        "lr": lr_now,
                    }
                )
                window.clear()
            report({"kind": "step", "step": pos.step, "epoch": pos.epoch, "loss": value})
            if cfg.checkpoint_every and pos.step % cfg.checkpoint_every == 0:
                pos.seconds += time.perf_counter() - started
                started = time.perf_counter()
                save(runs.LAST)
        pos.seconds += time.perf_counter() - started
        metrics = evaluate(net, data, "valid", cfg.batch, ctx)
        pos.epoch += 1
        pos.batch = 0
        value = metrics[data.metric]
        better = pos.best is None or (
            value > pos.best if data.higher_is_better else value < pos.best
        )
        if better:
            pos.best = value
        record = {
            "kind": "epoch",
            "epoch": pos.epoch,
            "step": pos.step,
            "valid": metrics,
            "seconds": pos.seconds,
        }
        log.write(record)
        report(record)
        save(runs.LAST, metrics)
        if better:
            save(runs.BEST, metrics)

    summary = {
        "metric": data.metric,
        "best_valid": pos.best,
        "steps": pos.step,
        "epochs": pos.epoch,
        "seconds": pos.seconds,
        "data": data.source,
        "info": _jsonable(data.info),
    }
    if ctx.main:
        checkpoint.write_json_atomic(out / runs.SUMMARY, summary)
    report({"kind": "end", **summary})
    return summary


def _global_mean(value: torch.Tensor, ctx: Context) -> float:
    if ctx.world > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= ctx.world
    return float(value)


def _restore(out: Path, net: nn.Module, opt: torch.optim.Optimizer, main: bool) -> Position:
    ck = checkpoint.load(out / runs.LAST)
    net.load_state_dict(ck.model)
    if ck.optimizer is not None:
        opt.load_state_dict(ck.optimizer)
    if "torch" in ck.rng:
        torch.set_rng_state(ck.rng["torch"])
    pos = Position(**ck.meta["position"])
    if not main:
        return pos
    # Records logged after this checkpoint belong to the lost tail of the killed run.
    path = out / runs.METRICS
    kept = [r for r in runs.read_metrics(out) if r.get("step", 0) <= pos.step]
    if kept and kept[-1]["kind"] == "epoch" and kept[-1]["epoch"] > pos.epoch:
        kept.pop()
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    return pos


def _nan_message(out: Path, pos: Position, value: float, cfg: runs.RunConfig) -> str:
    last = out / runs.LAST
    kept = (
        f"the last good checkpoint is {last}"
        if last.is_file()
        else "no checkpoint had been saved yet"
    )
    return (
        f"the training loss is {value} at step {pos.step + 1} (epoch {pos.epoch + 1},"
        f" batch {pos.batch + 1}); training stopped and {kept}. Lower --lr (now {cfg.lr}),"
        f" set --clip, or check the data for NaN/Inf values"
    )


def _jsonable(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if isinstance(v, str | int | float | bool | None)}


class _Log:
    def __init__(self, path: Path, enabled: bool) -> None:
        self.path = path
        self.enabled = enabled

    def write(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")
                f.flush()
                os.fsync(f.fileno())


# ---- reading a run back -------------------------------------------------------------


def task_data(cfg: runs.RunConfig, data: str | os.PathLike[str] | None = None) -> TaskData:
    """The data of a run's task, as the run saw it: its seed and sizes; `data` overrides
    the run's folder."""
    doc = cfg.doc
    if doc.task is None:
        raise ValueError(f"{cfg.source} has no `task` statement: no data to train or evaluate on")
    folder = data if data is not None else cfg.data
    return load_task(doc.task, folder, seed=cfg.seed, sizes=cfg.sizes or None)


def load_run(
    run: str | os.PathLike[str], which: str = "best", **overrides: Any
) -> tuple[runs.RunConfig, nn.Module, dict[str, Any]]:
    """A trained run's config, its model with the checkpoint's weights, and the metadata."""
    path = runs.checkpoint_path(run, which)
    ck = checkpoint.load(path)
    cfg = runs.RunConfig.model_validate(ck.meta["config"])
    net = runs.rebuild(ck.meta["model"], **{k: v for k, v in overrides.items() if v is not None})
    net.load_state_dict(ck.model)
    return cfg, net, ck.meta


def evaluate_checkpoint(
    run: str | os.PathLike[str],
    *,
    split: str = "test",
    which: str = "best",
    data: str | os.PathLike[str] | None = None,
    backend: str | None = None,
) -> dict[str, Any]:
    """Re-measure a run's metrics on a split from its checkpoint (what `qrnnc eval` prints)."""
    return evaluate_splits(run, [split], which=which, data=data, backend=backend)[split]


def evaluate_splits(
    run: str | os.PathLike[str],
    splits: Sequence[str],
    *,
    which: str = "best",
    data: str | os.PathLike[str] | None = None,
    backend: str | None = None,
) -> dict[str, dict[str, Any]]:
    """`evaluate_checkpoint` for several splits, loading the model and the data once."""
    cfg, net, meta = load_run(run, which, backend=backend)
    tasks = task_data(cfg, data)
    missing = [s for s in splits if s not in tasks.splits]
    if missing:
        raise KeyError(f"no split {missing[0]!r}; this task has {', '.join(tasks.splits)}")
    out = {}
    for split in splits:
        metrics: dict[str, Any] = evaluate(net, tasks, split, cfg.batch)
        if tasks.name == "translation":
            metrics["bleu"] = _bleu(net, tasks, split, cfg.batch)
        metrics["checkpoint"] = str(runs.checkpoint_path(run, which))
        metrics["step"] = meta["position"]["step"]
        out[split] = metrics
    return out


@torch.no_grad()
def _bleu(net: Any, data: Any, split: str, batch: int) -> float:
    """Corpus BLEU of decoded translations (the task's beam) against the split's references."""
    from qrnnc.seq2seq import translate
    from qrnnc.tasks.translation import BOS, EOS

    dataset = data.splits[split]
    hyps: list[str] = []
    net.eval()
    for part in torch.arange(len(dataset)).split(batch):
        b = collate(dataset, part, torch.device("cpu"))
        ids = translate(
            net, b["src"], b["src_mask"], max_len=data.task.max_len, bos=BOS, eos=EOS,
            beam=data.task.beam,
        )  # fmt: skip
        hyps += [data.detokenize(seq) for seq in ids]
    return float(data.bleu(hyps, data.references(split)))
