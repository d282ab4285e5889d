"""A plain wheel (what `pip install .`, a container image or a package index installs) runs the demo:
every data file the code reads is package data, and the migrations ship with it.

Builds the wheel from a copy of the source without build isolation (nothing downloaded), installs it
with --no-deps into a fresh venv that sees this venv's packages (the dependencies), and runs
`igflow db upgrade` and a small `igflow demo` from outside the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 120) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_wheel_holds_every_data_file_and_runs_the_demo(tmp_path: Path) -> None:
    pytest.importorskip("setuptools", minversion="77")
    source = tmp_path / "source"
    shutil.copytree(
        ROOT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            ".",
        ],
        cwd=source,
    )
    (wheel,) = wheels.glob("igflow-*.whl")

    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "src" / "igflow"
    data_files = [
        p
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert data_files
    missing = [
        str(p.relative_to(package)) for p in data_files if f"igflow/{p.relative_to(package)}" not in in_wheel
    ]
    assert missing == [], f"data files left out of the wheel: {missing}"
    versions = {p.name for p in (package / "migrations" / "versions").glob("*.py")}
    assert {n.rsplit("/", 1)[-1] for n in in_wheel if n.startswith("igflow/migrations/versions/")} >= versions

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    # The fresh venv sees this venv's site-packages (the dependencies) through a .pth file, after its own.
    site = Path(
        subprocess.check_output(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        cwd=tmp_path,
    )

    work = tmp_path / "run"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IGFLOW_", "PYTHON"))}
    env["IGFLOW_DATABASE_URL"] = f"sqlite:///{work / 'demo.db'}"
    igflow = str(venv / "bin" / "igflow")
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import igflow; print(igflow.__file__)"], cwd=work, env=env
    )
    assert where.startswith(str(venv)), f"imported igflow from {where}, not the installed wheel"
    _run([igflow, "db", "upgrade"], cwd=work, env=env)
    demo = _run([igflow, "demo", "--patients", "20", "--orders", "0"], cwd=work, env=env, timeout=180)
    assert "demo-pharmacist-2026" in demo
