"""A built wheel works on its own: installed into a fresh venv, its `qrnnc`
command checks a zoo file shipped inside the wheel.

The wheel is installed with --no-deps and the fresh venv sees this venv's
third-party packages through a .pth line (plain path lines do not run this
venv's own .pth hooks, so the editable qrnnc stays invisible there); this
keeps the test from reinstalling torch while still proving that the wheel
carries the package, the grammar and the zoo.
"""

import shutil
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ["pyproject.toml", "README.md", "qrnnc", "grammar", "backends", "zoo"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SHIPPED:
        item = ROOT / name
        if item.is_dir():
            shutil.copytree(item, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(item, src / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        check=True,
    )
    (built,) = dist.glob("qrnnc-*.whl")
    return built


def test_wheel_contains_package_grammar_and_zoo(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert "qrnnc/__init__.py" in names
    assert "qrnnc/grammar/qrnn.lark" in names
    assert "qrnnc/backends/__init__.py" in names
    assert "qrnnc/zoo/copying/model.qrnn" in names


def test_installed_wheel_checks_a_shipped_zoo_file(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
    (Path(purelib) / "_deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
         str(wheel)],
        check=True,
    )  # fmt: skip
    where = subprocess.run(
        [py, "-c", "import qrnnc, importlib.resources as r;"
         "print(qrnnc.__file__); print(r.files('qrnnc.zoo') / 'copying' / 'model.qrnn')"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout.split()  # fmt: skip
    assert where[0].startswith(purelib), where
    done = subprocess.run(
        [env_dir / "bin" / "qrnnc", "check", where[1]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(
        "ok — model copying: 6 qubits, 30 controller angles, 18 readouts"
    )
