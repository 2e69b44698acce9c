"""Recipe loading: typed validation with messages that name the file and key."""

from typing import Optional

import pytest

from lingalign.config import Strict, load_recipe, resolve_path, samples_dir
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
