"""Recipe loading: typed validation with messages that name the file and key."""

import re
from typing import Optional

import pytest

from lingalign.config import Strict, load_recipe, read_recipe, read_yaml, resolve_path, samples_dir
from lingalign.errors import UserError


class Inner(Strict):
    learning_rate: float = 1e-4
    epochs: int = 1


class Outer(Strict):
    model: str
    train: Optional[Inner] = None


def test_valid_recipe_and_section(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: m\ntrain:\n  learning_rate: 0.001\n")
    recipe = load_recipe(path, Outer)
    assert recipe.train.learning_rate == 0.001 and recipe.train.epochs == 1
    assert load_recipe(path, Inner, section="train").learning_rate == 0.001


def test_misspelt_key_gets_a_suggestion(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: m\ntrain:\n  learning_rat: 0.001\n")
    with pytest.raises(UserError) as err:
        load_recipe(path, Outer)
    assert "train.learning_rat: unknown key" in str(err.value)
    assert "Did you mean 'learning_rate'?" in str(err.value)
    assert str(path) in str(err.value)


def test_wrong_type_and_missing_key(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("train:\n  epochs: many\n")
    with pytest.raises(UserError) as err:
        load_recipe(path, Outer)
    assert "model: required key is missing" in str(err.value)
    assert "train.epochs" in str(err.value) and "'many'" in str(err.value)


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: m\ntrain: [unclosed\n")
    with pytest.raises(UserError, match=r"r\.yaml:\d+: invalid YAML"):
        load_recipe(path, Outer)


def test_resolve_path_handles_samples_and_relative(tmp_path):
    assert resolve_path("sample:flores101/dev/eng.dev") == samples_dir() / "flores101/dev/eng.dev"
    assert resolve_path("sample:flores101/dev/eng.dev").exists()
    assert resolve_path("data/x.txt", tmp_path) == tmp_path / "data/x.txt"
    assert resolve_path("/abs/x.txt", tmp_path).as_posix() == "/abs/x.txt"


def test_include_merges_mappings_and_replaces_lists(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base.yaml").write_text(
        "model: base\ntags: [a, b]\ntrain:\n  learning_rate: 0.1\n  epochs: 3\n")
    path = tmp_path / "r.yaml"
    path.write_text("include: shared/base.yaml\ntags: [c]\ntrain:\n  epochs: 2\n")
    data, included = read_recipe(path)
    assert data == {"model": "base", "tags": ["c"], "train": {"learning_rate": 0.1, "epochs": 2}}
    assert included == [tmp_path / "shared" / "base.yaml"]
    assert load_recipe(path, Inner, section="train").epochs == 2


def test_include_list_and_nested_includes(tmp_path):
    (tmp_path / "a.yaml").write_text("model: a\ntrain: {epochs: 1}\n")
    (tmp_path / "b.yaml").write_text("include: a.yaml\ntrain: {epochs: 2, learning_rate: 0.5}\n")
    (tmp_path / "c.yaml").write_text("model: c\n")
    path = tmp_path / "r.yaml"
    path.write_text("include: [b.yaml, c.yaml]\ntrain: {learning_rate: 0.25}\n")
    assert read_yaml(path) == {"model": "c", "train": {"epochs": 2, "learning_rate": 0.25}}
    assert read_recipe(path)[1] == [tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "c.yaml"]


@pytest.mark.parametrize("include, expected", [
    ("missing.yaml", r"r\.yaml: include missing\.yaml: file not found \(.*missing\.yaml\)$"),
    ("loop.yaml", r"loop\.yaml: include r\.yaml: an include cycle \(.*r\.yaml -> .*loop\.yaml -> .*r\.yaml\)$"),
    ("[1, 2]", r"r\.yaml: include: expected a path or a list of paths"),
    ("list.yaml", r"list\.yaml: an included file must be a mapping of keys \(included by .*r\.yaml\)$"),
])
def test_include_errors_are_one_line_naming_the_file(tmp_path, include, expected):
    (tmp_path / "loop.yaml").write_text("include: r.yaml\n")
    (tmp_path / "list.yaml").write_text("[1, 2]\n")
    path = tmp_path / "r.yaml"
    path.write_text(f"include: {include}\nmodel: m\n")
    with pytest.raises(UserError) as err:
        read_yaml(path)
    assert "\n" not in err.value.message
    assert re.search(expected, err.value.message), err.value.message
