"""Batched statevector kernels on numba, with adjoint BPTT (qrnnc's training backend)."""

from qrnnc.backends.numba_sv.cell import Cell, Run
from qrnnc.backends.numba_sv.kernels import SUPPORTED_GATES

__all__ = ["SUPPORTED_GATES", "Cell", "Run"]
