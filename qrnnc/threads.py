"""CPU threads for torch and numba, set once, before anything imports numba.

numba reads its threading layer and thread count when it is first imported,
and Braket's local simulator sets its own at import; so the numba backend
imports this module before numba, and `configure` runs at most once.

torch ops and numba kernels alternate within a step rather than overlap, but
torch's OpenMP workers keep spinning after each op, so two pools that together
ask for more threads than there are cores steal cycles from each other. The
budget is split: torch gets a quarter of the cores (at least one), numba the
rest (at least one). Override with QRNNC_TORCH_THREADS / QRNNC_NUMBA_THREADS,
and the layer with NUMBA_THREADING_LAYER (default: workqueue, numba's own pool,
which needs no OpenMP or TBB library and does not spin).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

DEFAULT_LAYER = "workqueue"


@dataclass(frozen=True)
class ThreadPlan:
    cores: int
    torch: int
    numba: int
    layer: str


_plan: ThreadPlan | None = None


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a positive integer") from None
    if value < 1:
        raise ValueError(f"{name}={raw!r}: expected a positive integer")
    return value


def plan() -> ThreadPlan:
    """The split this process uses (without applying it).

    Under torchrun each of the LOCAL_WORLD_SIZE processes on this machine gets
    its share of the cores, so that the ranks do not oversubscribe them.
    """
    cores = max(1, available_cores() // _env_int("LOCAL_WORLD_SIZE", 1))
    torch_threads = _env_int("QRNNC_TORCH_THREADS", max(1, cores // 4))
    numba_threads = _env_int("QRNNC_NUMBA_THREADS", max(1, cores - torch_threads))
    layer = os.environ.get("NUMBA_THREADING_LAYER", DEFAULT_LAYER)
    return ThreadPlan(cores, torch_threads, numba_threads, layer)


def configure() -> ThreadPlan:
    """Apply the plan: numba's environment (if numba is not yet imported) and torch's pool."""
    global _plan
    if _plan is not None:
        return _plan
    p = plan()
    if "numba" not in sys.modules:
        os.environ.setdefault("NUMBA_THREADING_LAYER", p.layer)
        os.environ["NUMBA_NUM_THREADS"] = str(p.numba)
    import numba
    import torch

    # numba imported by someone else first keeps its layer; the count can still
    # be lowered at run time, up to the pool size it started with.
    restore_pool_size()
    numba.set_num_threads(min(p.numba, numba.config.NUMBA_NUM_THREADS))
    if torch.get_num_threads() != p.torch:
        torch.set_num_threads(p.torch)
    _plan = p
    return p


def restore_pool_size() -> None:
    """Put numba's thread count back to the pool it launched with, if a package changed it.

    braket sets numba.config.NUMBA_NUM_THREADS to -1 when it is imported, after
    which every numba.set_num_threads fails; the pool size numba fixed at its
    own import is the real bound.
    """
    import numba
    from numba.np.ufunc import parallel

    if numba.config.NUMBA_NUM_THREADS < 1:
        numba.config.NUMBA_NUM_THREADS = parallel.NUM_THREADS
