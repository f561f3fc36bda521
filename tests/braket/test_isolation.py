"""braket stays inside its backend, and importing it leaves the project's numba threading alone.

braket's simulator sets numba's threading layer and a thread count of -1 in
numba.config when it is imported (braket/default_simulator/linalg_utils.py).
Each probe runs in a fresh interpreter: import orders matter only once.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ROOT / "backends" / "braket"

RUN_KERNELS = """
import qrnnc.backends.numba_sv
import numpy as np
kernels = qrnnc.backends.numba_sv.kernels
psi = kernels.initial_state(2, 2, False, np.complex128)
z = np.zeros((2, 0))
empty = np.zeros(0, dtype=np.int64)
kernels.uncompute_step(psi, 2, empty, np.zeros((0, 2), dtype=np.int64), empty, empty,
                       z, np.zeros(0), np.zeros(0), z)
"""
USE_BRAKET = """
import qrnnc.backends.braket
from braket.circuits import Circuit
from braket.devices import LocalSimulator
LocalSimulator().run(Circuit().h(0).cnot(0, 1).probability(), shots=0).result()
"""
REPORT = """
import json, numba, torch
from qrnnc import threads
p = threads.plan()
numba.set_num_threads(numba.get_num_threads())  # still allowed: the count is sane
print(json.dumps({"layer": numba.threading_layer(), "numba": numba.get_num_threads(),
                  "pool": numba.config.NUMBA_NUM_THREADS, "torch": torch.get_num_threads(),
                  "plan": [p.layer, p.numba, p.torch]}))
"""


def probe(*parts: str, **env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("QRNNC_", "NUMBA_"))}
    full.update(env)
    code = "\n".join(parts)
    done = subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def as_planned(got: dict) -> dict:
    """The layer and thread counts, checked against the plan (the pool may be larger)."""
    layer, numba_threads, torch_threads = got["plan"]
    assert (got["layer"], got["numba"], got["torch"]) == (layer, numba_threads, torch_threads)
    assert got["pool"] >= got["numba"]
    return {k: got[k] for k in ("layer", "numba", "torch", "plan")}


@pytest.fixture(scope="module")
def plain() -> dict:
    """The threading of a process that never imports braket."""
    return as_planned(probe(RUN_KERNELS, REPORT))


def test_braket_imported_before_the_kernels_are_compiled(plain):
    assert as_planned(probe(USE_BRAKET, RUN_KERNELS, REPORT)) == plain


def test_braket_imported_after_the_kernels_ran(plain):
    assert as_planned(probe(RUN_KERNELS, USE_BRAKET, REPORT)) == plain


def test_braket_imported_by_the_user_before_qrnnc_s_backend(plain):
    # The user's own `import braket` comes first and numba starts with its default pool;
    # the backend repairs numba's settings, and the count in use is the planned one.
    first = "import braket.circuits, braket.devices\n"
    assert as_planned(probe(first, USE_BRAKET, RUN_KERNELS, REPORT)) == plain


def test_overrides_survive_braket(plain):
    env = {"QRNNC_NUMBA_THREADS": "1", "QRNNC_TORCH_THREADS": "1"}
    got = probe(USE_BRAKET, RUN_KERNELS, REPORT, **env)
    as_planned(got)
    assert (got["numba"], got["torch"]) == (1, 1)


def test_braket_imported_by_the_user_before_the_numba_backend(plain):
    # braket leaves numba.config.NUMBA_NUM_THREADS at -1; qrnnc.threads restores the pool size.
    first = "import braket.circuits\n"
    assert as_planned(probe(first, RUN_KERNELS, REPORT)) == plain


# ---- braket is imported by this backend only --------------------------------------


def imported_modules(path: Path) -> list[tuple[str, bool]]:
    """(module, at top level) for every import in a Python file."""
    tree = ast.parse(path.read_text(), str(path))
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, id(node) in top))
    return out


def project_files() -> list[Path]:
    files = list((ROOT / "qrnnc").rglob("*.py")) + list((ROOT / "backends").rglob("*.py"))
    return [f for f in files if BACKEND not in f.parents]


def test_no_module_outside_the_backend_imports_braket_at_import_time():
    offenders = []
    for path in project_files():
        for module, top_level in imported_modules(path):
            if module == "braket" or module.startswith("braket."):
                offenders.append(f"{path.relative_to(ROOT)}: {module}")
            elif module.startswith("qrnnc.backends.braket") and top_level:
                offenders.append(f"{path.relative_to(ROOT)}: {module} (at import time)")
    assert offenders == []


def test_the_project_and_its_cli_load_without_braket():
    code = """
import sys, json
import qrnnc, qrnnc.cli, qrnnc.qrnn, qrnnc.train, qrnnc.backends.numba_sv
qrnnc.load("zoo/copying/model.qrnn").build()
print(json.dumps(sorted(m for m in sys.modules if m == "braket" or m.startswith("braket."))))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
