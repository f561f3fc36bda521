"""Amazon Braket backend: lowering to circuits and OpenQASM 3, and a runner for devices.

    from qrnnc.backends.braket import BraketRunner, to_qasm
    runner = BraketRunner(net, LocalSimulator(), shots=0)
    logits = runner.forward(x)

This package is the only place in qrnnc that imports braket (docs/braket.md).
braket's simulator sets numba's global configuration when it is imported (its
threading layer and a thread count of -1, which makes every later
`numba.set_num_threads` fail); so the project's thread plan is applied first
(`qrnnc.threads.configure`) and numba's settings are put back afterwards.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from qrnnc import threads

INSTALL_HINT = "pip install -e '.[braket]' (in a checkout) or pip install 'qrnnc[braket]'"

# The modules whose import runs braket's numba settings; importing them here,
# inside the guard, means no later braket import can change numba again.
_BRAKET_MODULES = (
    "braket.circuits",
    "braket.devices",
    "braket.ir.openqasm",
    "braket.default_simulator",
)


def _import_braket() -> None:
    numba = sys.modules.get("numba")
    if numba is not None:  # braket may have been imported (and numba set) before qrnnc
        _repair(numba)
    threads.configure()
    import numba

    before = {k: v for k, v in vars(numba.config).items() if k.isupper()}
    try:
        for name in _BRAKET_MODULES:
            importlib.import_module(name)
    except ImportError as e:
        raise ImportError(
            f"the Braket backend needs amazon-braket-sdk ({e}); install it with {INSTALL_HINT}"
        ) from e
    finally:
        for key in [k for k in vars(numba.config) if k.isupper() and k not in before]:
            delattr(numba.config, key)
        for key, value in before.items():
            if getattr(numba.config, key) != value:
                setattr(numba.config, key, value)


def _repair(numba: Any) -> None:
    """Undo, where it still matters, what an `import braket` before ours did to numba.

    The pool size numba fixed at its import replaces braket's -1, and the
    project's layer replaces braket's while no thread has started yet.
    """
    from numba.np.ufunc import parallel

    threads.restore_pool_size()
    if not getattr(parallel, "_is_initialized", True):
        numba.config.THREADING_LAYER = threads.plan().layer


_import_braket()


def local_simulator(name: str = "braket_sv") -> Any:
    """Braket's LocalSimulator: "braket_sv" (statevector) or "braket_dm" (density matrix)."""
    from braket.devices import LocalSimulator

    return LocalSimulator(name)


from qrnnc.backends.braket.lower import (  # noqa: E402
    Basis,
    bases,
    bind,
    prefix_circuit,
    qasm_inputs,
    step_circuit,
    to_qasm,
)
from qrnnc.backends.braket.runner import (  # noqa: E402
    BraketRunner,
    TaskLimitError,
    TaskPlan,
    Trajectory,
    exact_readouts,
    exact_trajectory,
)

__all__ = [
    "INSTALL_HINT",
    "Basis",
    "BraketRunner",
    "TaskLimitError",
    "TaskPlan",
    "Trajectory",
    "bases",
    "bind",
    "exact_readouts",
    "exact_trajectory",
    "local_simulator",
    "prefix_circuit",
    "qasm_inputs",
    "step_circuit",
    "to_qasm",
]
