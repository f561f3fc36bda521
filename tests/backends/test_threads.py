"""The thread plan: numba's layer is chosen before numba loads, and the pools fit the cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from qrnnc import threads

PROBE = """
import json, os
import qrnnc.backends.numba_sv  # configures threads, then imports numba
import numba, torch
from qrnnc import threads
kernels = qrnnc.backends.numba_sv.kernels
import numpy as np
psi = kernels.initial_state(2, 2, False, np.complex128)
z = np.zeros((2, 0))
empty = np.zeros(0, dtype=np.int64)
kernels.uncompute_step(psi, 2, empty, np.zeros((0, 2), dtype=np.int64), empty, empty,
                       z, np.zeros(0), np.zeros(0), z)
print(json.dumps({"layer": numba.threading_layer(), "numba": numba.get_num_threads(),
                  "torch": torch.get_num_threads(), "cores": threads.available_cores()}))
"""


def probe(**env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("QRNNC_", "NUMBA_"))}
    full.update(env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=full, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_default_plan_uses_workqueue_and_fits_the_cores():
    got = probe()
    assert got["layer"] == "workqueue"
    assert got["numba"] + got["torch"] <= max(2, got["cores"])
    assert got["numba"] >= 1 and got["torch"] >= 1


def test_overrides_are_honoured():
    got = probe(QRNNC_NUMBA_THREADS="1", QRNNC_TORCH_THREADS="1")
    assert (got["numba"], got["torch"]) == (1, 1)


def test_bad_override_names_the_variable(monkeypatch):
    monkeypatch.setenv("QRNNC_NUMBA_THREADS", "many")
    with pytest.raises(ValueError, match="QRNNC_NUMBA_THREADS='many'"):
        threads.plan()
