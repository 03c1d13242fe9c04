"""``fapilog-notebook notebooks DIR``: the notebooks and their data ship in the package and run
from wherever they are copied."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fapilog_notebook.cli import bundled_notebooks, main

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_copies_every_notebook_and_its_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bundled_notebooks() == ROOT / "notebooks"
    target = tmp_path / "mine"
    assert main(["notebooks", str(target)]) == 0
    assert sorted(p.name for p in target.glob("*.ipynb")) == NOTEBOOKS
    for data in (ROOT / "notebooks" / "data").glob("*/*.jsonl"):
        copied = target / "data" / data.parent.name / data.name
        assert copied.read_bytes() == data.read_bytes()
    assert f"copied {len(NOTEBOOKS)} notebooks" in capsys.readouterr().out
    # Never over an existing file, unless asked.
    (target / NOTEBOOKS[0]).write_text("my edits", encoding="utf-8")
    assert main(["notebooks", str(target)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert (target / NOTEBOOKS[0]).read_text(encoding="utf-8") == "my edits"
    assert main(["notebooks", str(target), "--force"]) == 0
    assert (target / NOTEBOOKS[0]).read_bytes() == (ROOT / "notebooks" / NOTEBOOKS[0]).read_bytes()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package as a wheel installs it: built from this checkout and unpacked (no editable
    finder, no repository beside it)."""
    wheels = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(wheels)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=wheels,
    )
    if build.returncode:
        pytest.fail(f"building the wheel failed:\n{build.stderr[-2000:]}")
    site = tmp_path_factory.mktemp("site")
    (wheel,) = wheels.glob("fapilog_notebook-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        assert "License-Expression: Apache-2.0" in archive.read(metadata).decode()
    return site


def test_an_installed_package_copies_its_notebooks_and_each_runs_there(
    installed: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed), "CI": "1"}
    target = tmp_path / "copied"
    copy = subprocess.run(
        [sys.executable, "-m", "fapilog_notebook", "notebooks", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert copy.returncode == 0, copy.stderr
    assert sorted(p.name for p in target.glob("*.ipynb")) == NOTEBOOKS
    # Each notebook runs from the folder it was copied to, on the installed package.
    probe = "import fapilog_notebook, sys; print(fapilog_notebook.__file__)"
    where = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=target, env=env
    )
    assert where.stdout.startswith(str(installed)), where.stdout
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--output-dir",
            str(tmp_path / "executed"),
            "--ExecutePreprocessor.timeout=300",
            *NOTEBOOKS,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=target,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "executed").glob("*.ipynb")) == NOTEBOOKS
    # Notebook 02 keeps the report files it exports, beside itself.
    assert sorted(p.name for p in (target / "exports").iterdir()) == [
        "findings.csv",
        "report.html",
        "report.json",
    ]


def test_the_wheel_holds_every_subpackage(installed: Path) -> None:
    # A subpackage missing from the wheel fails only where the source tree is not importable.
    source = ROOT / "fapilog_notebook"
    packages = sorted(
        p.parent.relative_to(source)
        for p in source.rglob("__init__.py")
        if "__pycache__" not in p.parts
    )
    assert Path("notebook") in packages
    missing = [str(p) for p in packages if not (installed / "fapilog_notebook" / p).is_dir()]
    assert missing == []
