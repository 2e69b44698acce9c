"""The shipped recipes: every one has a purpose and a cost, names find them, ``cp`` copies what they name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import QUICKSTART_STEPS, step_fingerprints
from lingalign.catalog.copying import copy_recipe, related_files
from lingalign.catalog.shipped import catalog, find, header, recipe_argument, recipe_files, recipes_root
from lingalign.cli import main
from lingalign.errors import UserError

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"
def test_in_a_clone_the_catalog_reads_the_repository_recipes():
    assert recipes_root() == RECIPES
    on_disk = sorted(p for p in RECIPES.rglob("*") if p.is_file())
    assert recipe_files() == on_disk  # every shipped file is in the catalog, nothing else


@pytest.mark.parametrize("path", sorted(RECIPES.rglob("*.yaml")), ids=lambda p: p.relative_to(RECIPES).as_posix())
def test_every_shipped_recipe_states_its_purpose_and_cost_in_its_header(path):
    found = header(path)
    assert set(found) == {"purpose", "cost"} and all(found.values())
    first = path.read_text(encoding="utf-8").splitlines()[:2]
    assert first[0].startswith("# Purpose: ") and first[1].startswith("# Cost: ")  # the convention: the top two lines
    assert all(len(line) <= 120 for line in first)


def test_kinds_say_what_runs_a_recipe():
    kinds = {entry.name: entry.kind for entry in catalog()}
    assert kinds["quickstart"] == kinds["study/zh"] == kinds["x-llama-7b-zh"] == "experiment"
    assert kinds["train/lora-cpu"] == "train" and kinds["data/coit-zh"] == "data"
    assert kinds["study/scaling-zh"] == "sweep" and kinds["x-llama-7b-base"] == "included"
    assert kinds["accelerate/fsdp"] == "accelerate" and kinds["deepspeed/zero2"] == "deepspeed"
    zero3 = next(e for e in catalog() if e.name == "deepspeed/zero3")
    assert "stage 3" in zero3.purpose  # read from the JSON, which cannot hold comments


def test_names_find_recipes_and_unknown_names_list_the_close_ones():
    assert find("quickstart") == find("quickstart.yaml") == RECIPES / "quickstart.yaml"
    assert find("recipes/quickstart.yaml") == RECIPES / "quickstart.yaml"
    assert find("study/zh") == RECIPES / "study" / "zh.yaml"
    assert find("deepspeed/zero2") == RECIPES / "deepspeed" / "zero2.json"
    with pytest.raises(UserError) as error:
        find("zh")
    assert error.value.hint.startswith("close: study/zh,")  # the same file name first
    with pytest.raises(UserError, match="quickstrat: neither a file nor a shipped recipe") as error:
        find("quickstrat")
    assert "quickstart" in error.value.hint


def test_a_path_that_exists_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("quickstart").write_text("name: mine\n")
    assert recipe_argument("quickstart") == Path("quickstart")
    Path("quickstart").unlink()
    assert recipe_argument("quickstart") == RECIPES / "quickstart.yaml"  # outside the clone: the absolute path


def test_a_name_inside_the_clone_reads_as_the_readme_path(monkeypatch, capsys, tmp_path):
    """``lingalign run quickstart`` from the repository is ``lingalign run recipes/quickstart.yaml``: the
    same relative path, so the same data-step fingerprints (they include input paths)."""
    monkeypatch.chdir(REPO)
    assert recipe_argument("quickstart") == Path("recipes/quickstart.yaml")
    out = str(tmp_path / "never-created")
    assert main(["run", "quickstart", "-o", out, "--dry-run"]) == 0
    by_name = capsys.readouterr().out
    assert main(["run", "recipes/quickstart.yaml", "-o", out, "--dry-run"]) == 0
    assert capsys.readouterr().out == by_name
    assert step_fingerprints(by_name) == QUICKSTART_STEPS
    assert not os.path.exists(out)


def test_cp_copies_a_recipe_with_its_includes_and_launcher_config(tmp_path, capsys):
    assert main(["recipes", "cp", "x-llama-7b-zh", str(tmp_path / "mine")]) == 0
    copied = sorted(p.relative_to(tmp_path / "mine").as_posix() for p in (tmp_path / "mine").rglob("*") if p.is_file())
    assert copied == ["accelerate/fsdp.yaml", "x-llama-7b-base.yaml", "x-llama-7b-zh.yaml"]
    for name in copied:
        assert (tmp_path / "mine" / name).read_bytes() == (RECIPES / name).read_bytes()
    out = capsys.readouterr().out
    assert "note: its relative paths (../models/llama-7b" in out  # data paths are now relative to the copy
    # the copy plans like the original (the includes and the launcher config are found beside it)
    assert main(["run", str(tmp_path / "mine" / "x-llama-7b-zh.yaml"), "-o", str(tmp_path / "o"), "--dry-run"]) == 0
    assert "accelerate launch" in capsys.readouterr().out
    # nothing is overwritten without --force
    (tmp_path / "mine" / "x-llama-7b-zh.yaml").write_text("edited\n")
    assert main(["recipes", "cp", "x-llama-7b-zh", str(tmp_path / "mine")]) == 2
    assert "exists already" in capsys.readouterr().err
    assert (tmp_path / "mine" / "x-llama-7b-zh.yaml").read_text() == "edited\n"
    assert main(["recipes", "cp", "x-llama-7b-zh", str(tmp_path / "mine"), "--force"]) == 0
    assert (tmp_path / "mine" / "x-llama-7b-zh.yaml").read_bytes() == (RECIPES / "x-llama-7b-zh.yaml").read_bytes()


@pytest.mark.parametrize("path", recipe_files(RECIPES), ids=lambda p: p.relative_to(RECIPES).as_posix())
def test_every_shipped_recipe_copies(path, tmp_path):
    name = path.relative_to(RECIPES).with_suffix("").as_posix()
    written = copy_recipe(name, tmp_path)
    assert written[0] == tmp_path / path.name and written[0].read_bytes() == path.read_bytes()
    assert len(written) == len(related_files(path))


def test_a_copied_quickstart_plans_the_published_steps(tmp_path, capsys):
    copy_recipe("quickstart", tmp_path)
    assert main(["run", str(tmp_path / "quickstart.yaml"), "-o", str(tmp_path / "out"), "--dry-run"]) == 0
    assert step_fingerprints(capsys.readouterr().out) == QUICKSTART_STEPS  # sample: paths work from anywhere


def test_list_prints_every_recipe_with_purpose_and_cost(capsys):
    assert main(["recipes", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for entry in catalog():
        [at] = [i for i, line in enumerate(lines) if line.split()[:1] == [entry.name]]
        assert entry.purpose in lines[at] and lines[at + 1].strip() == f"cost: {entry.cost}"
    assert out.index("experiment: lingalign run NAME -o DIR") < out.index("train: lingalign train NAME")
