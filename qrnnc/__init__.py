"""qrnnc: a compiler and model zoo for hybrid quantum-classical RNNs.

m = qrnnc.load("zoo/copying/model.qrnn")
m.ir        # the typed IR (pydantic)
m.program   # the flat gate Program every backend consumes
net = m.build(backend="numba")       # a torch.nn.Module
r = qrnnc.simulate(m.program, angles)  # the cell alone: (T, B, P) angles -> (T, B, K)
"""

from typing import Any

from qrnnc.compiled import Compiled, compile_ir, load, loads
from qrnnc.errors import QrnnError
from qrnnc.ir import IR
from qrnnc.program import Program

__version__ = "0.1.0"
__all__ = ["IR", "Compiled", "Program", "QrnnError", "compile_ir", "load", "loads", "simulate"]


def simulate(program: Program, angles: Any, backend: str = "numba", **kw: Any) -> Any:
    """The cell alone over T steps; see `qrnnc.cell.simulate` (imports torch lazily)."""
    from qrnnc.cell import simulate as run

    return run(program, angles, backend, **kw)
