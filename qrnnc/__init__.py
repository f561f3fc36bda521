"""qrnnc: a compiler and model zoo for hybrid quantum-classical RNNs.

m = qrnnc.load("zoo/copying.qrnn")
m.ir        # the typed IR (pydantic)
m.program   # the flat gate Program every backend consumes
"""

from qrnnc.compiled import Compiled, compile_ir, load, loads
from qrnnc.errors import QrnnError
from qrnnc.ir import IR
from qrnnc.program import Program

__version__ = "0.1.0"
__all__ = ["IR", "Compiled", "Program", "QrnnError", "compile_ir", "load", "loads"]
