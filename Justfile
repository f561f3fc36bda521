# Recipes mirror the README. `pip install rust-just` gives `just`.
venv := ".venv"

# create the venv and install the project with its test tools
setup:
    python3 -m venv {{venv}}
    {{venv}}/bin/pip install -q torch==2.13.0
    {{venv}}/bin/pip install -q -e ".[test]"

# the main job: set up, check every zoo model, train the zoo's sequential-digits QRNN as its card says, evaluate it
run: setup check-zoo
    {{venv}}/bin/qrnnc zoo train smnist --out runs/smnist --only qrnn --overwrite
    {{venv}}/bin/qrnnc eval runs/smnist/qrnn

# what CI runs, from nothing: fresh venv, install, ruff, pytest
test:
    bash .ci/run

# simulator benchmarks: numba vs the torch reference, per gate vs Lightning (about 15 minutes;
# `.venv/bin/python benchmarks/bench_sim.py --quick` is a smoke run under a minute)
bench:
    {{venv}}/bin/python -c "import pennylane_lightning" 2>/dev/null || {{venv}}/bin/pip install -q -e ".[bench]"
    {{venv}}/bin/python benchmarks/bench_sim.py

lint:
    {{venv}}/bin/ruff check .
    {{venv}}/bin/ruff format --check .

check-zoo:
    {{venv}}/bin/qrnnc check zoo/*/model.qrnn

# the long fuzzing profile (CI runs the short one)
fuzz:
    HYPOTHESIS_PROFILE=fuzz {{venv}}/bin/python -m pytest -q tests/lang/test_fuzz.py
