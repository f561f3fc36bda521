"""The Program: one model's cell as flat parallel arrays.

Every backend consumes this and nothing else. Op i applies `gates[i]` to
`wires[i]` (second wire -1 for one-qubit gates); its angle comes from the pool
named by `sources[i]` at index `slots[i]`:

- controller: column `slot` of the step's controller output (P columns),
- param: static trainable angle `slot` (shared across time),
- const: `constants[slot]`,
- input: feature `slot` of the step's input (angle encoding),
- none: a fixed gate (slot -1).

Slots of each pool are numbered in program order after `repeat` expansion; a
gate over several targets takes one slot per target, in target order.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict

from qrnnc.gates import GATE_CODES
from qrnnc.ir import GateName, Observable

PROGRAM_VERSION = 1
SourceKind = Literal["none", "controller", "param", "const", "input"]
SOURCE_CODES: dict[str, int] = {"none": 0, "controller": 1, "param": 2, "const": 3, "input": 4}
OBSERVABLE_CODES: dict[str, int] = {"x": 0, "y": 1, "z": 2, "zz": 3}


class Resources(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    qubits: int
    gates: int
    gate_counts: dict[str, int]
    two_qubit_gates: int
    controller_angles: int
    static_params: int
    constants: int
    input_angles: int
    readouts: int
    depth: int
    two_qubit_depth: int


class ProgramArrays(NamedTuple):
    """numpy views of a Program, for kernels that take no Python objects."""

    gates: np.ndarray  # int64 (G,) codes from qrnnc.gates.GATE_CODES
    wires: np.ndarray  # int64 (G, 2)
    sources: np.ndarray  # int64 (G,) codes from SOURCE_CODES
    slots: np.ndarray  # int64 (G,)
    constants: np.ndarray  # float64 (C,)
    readout_obs: np.ndarray  # int64 (K,) codes from OBSERVABLE_CODES
    readout_wires: np.ndarray  # int64 (K, 2)


class Program(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = PROGRAM_VERSION
    model: str
    qubits: int
    init: Literal["zero", "plus"]
    precision: Literal["complex64", "complex128"]
    shots: int | None
    input_kind: Literal["tokens", "features"]
    input_dim: int
    gates: tuple[GateName, ...]
    wires: tuple[tuple[int, int], ...]
    sources: tuple[SourceKind, ...]
    slots: tuple[int, ...]
    param_init: tuple[float | None, ...]
    constants: tuple[float, ...]
    readout_obs: tuple[Observable, ...]
    readout_wires: tuple[tuple[int, int], ...]
    resources: Resources

    @property
    def n_controller(self) -> int:
        return self.resources.controller_angles

    @property
    def n_params(self) -> int:
        return self.resources.static_params

    @property
    def n_readouts(self) -> int:
        return self.resources.readouts

    def arrays(self) -> ProgramArrays:
        return ProgramArrays(
            gates=np.array([GATE_CODES[g] for g in self.gates], dtype=np.int64),
            wires=np.array(self.wires, dtype=np.int64).reshape(-1, 2),
            sources=np.array([SOURCE_CODES[s] for s in self.sources], dtype=np.int64),
            slots=np.array(self.slots, dtype=np.int64),
            constants=np.array(self.constants, dtype=np.float64),
            readout_obs=np.array([OBSERVABLE_CODES[o] for o in self.readout_obs], dtype=np.int64),
            readout_wires=np.array(self.readout_wires, dtype=np.int64).reshape(-1, 2),
        )
