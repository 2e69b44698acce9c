"""A wheel built from the repository holds the recipes, and works installed outside the clone.

Built with ``pip wheel --no-deps --no-build-isolation`` from a copy of the sources (so the test
writes nothing into the repository and needs no network), installed with pip into a fresh venv
without an editable lingalign; the venv reaches the test environment's dependencies (torch,
transformers, ...) through a ``.pth`` line naming its site-packages, written after the install so
that pip never sees the editable lingalign there.
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

from conftest import QUICKSTART_STEPS, step_fingerprints

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("src", "recipes", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")


def run(*command, cwd=None) -> str:
    """Run a command without the test's PYTHONPATH (which points at the sources, not the wheel)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copyfile(source, tree / name)
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", out, cwd=tree)
    [built] = out.glob("lingalign-*.whl")
    return built


def test_the_wheel_holds_the_recipes_and_samples(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"lingalign/recipes/{p.relative_to(REPO / 'recipes').as_posix()}"
               for p in (REPO / "recipes").rglob("*") if p.is_file()}
    assert shipped and shipped <= names
    assert "lingalign/samples/README.md" in names and "lingalign/samples/flores101/devtest/eng.devtest" in names
    assert "lingalign/serve/static/index.html" in names


def test_installed_outside_the_clone_it_lists_copies_and_plans_the_recipes(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    lingalign = venv / "bin" / "lingalign"

    where = run(python, "-c", "import lingalign; print(lingalign.__file__)", cwd=outside)
    assert where.startswith(str(site))  # the wheel's copy, not the editable install of the test environment
    listing = run(lingalign, "recipes", "list", cwd=outside)
    assert f"recipes in {site / 'lingalign' / 'recipes'} (" in listing
    assert "quickstart" in listing and "study/zh" in listing and "cost: about 10 min" in listing
    plan = run(lingalign, "run", "quickstart", "-o", "runs/quickstart", "--dry-run", cwd=outside)
    assert step_fingerprints(plan) == QUICKSTART_STEPS  # sample: paths read from the installed package
    assert not (outside / "runs").exists()
    run(lingalign, "recipes", "cp", "study/zh", "mine", cwd=outside)
    assert (outside / "mine" / "zh.yaml").read_bytes() == (REPO / "recipes" / "study" / "zh.yaml").read_bytes()
