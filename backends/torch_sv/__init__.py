"""Reference statevector simulator on torch autograd (CPU or GPU): the living definition."""

from qrnnc.backends.torch_sv.cell import SUPPORTED_GATES, Cell, Run

__all__ = ["SUPPORTED_GATES", "Cell", "Run"]
