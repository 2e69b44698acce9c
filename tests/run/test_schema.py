"""The experiment schema: datasets and train sections are typed, so a mistake is reported with its recipe key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lingalign.errors import UserError
from lingalign.run.plan import Plan

SOURCE = {"name": "a", "kind": "instructions", "path": "sample:alpaca/alpaca_en_zh.json", "lang": "en",
          "fields": {"instruction": "en_instruction", "input": "en_input", "output": "en_output"}, "count": 4}


def plan(tmp_path: Path, **changes) -> Plan:
    recipe = {"datasets": {"en": {"sources": [SOURCE]}}, "models": [{"name": "m1", "data": "en"}], **changes}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return Plan(path, tmp_path / "out")


@pytest.mark.parametrize("changes, message", [
    ({"train": {"precison": "bf16"}}, "r.yaml: train.precison: unknown key. Did you mean 'precision'?"),
    ({"train": {"lora": {"rr": 3}}}, "r.yaml: train.lora.rr: unknown key. Did you mean 'r'?"),
    ({"train": {"learning_rate": 2}}, "r.yaml: train.learning_rate: Input should be less than or equal to 1 (got 2)"),
    ({"models": [{"name": "m1", "data": "en"}, {"name": "m2", "data": "en", "train": {"epohcs": 2}}]},
     "r.yaml: models.m2.train.epohcs: unknown key. Did you mean 'epochs'?"),
    ({"models": [{"name": "m1", "data": "en", "train": {"epochs": "many"}}]},
     "r.yaml: models.m1.train.epochs: Input should be a valid integer"),
    ({"datasets": {"en": {"sources": [{**SOURCE, "cuont": 3}]}}},
     "r.yaml: datasets.en.sources.0.cuont: unknown key. Did you mean 'count'?"),
    ({"datasets": {"en": {"sed": 1, "sources": [SOURCE]}}},
     "r.yaml: datasets.en.sed: unknown key. Did you mean 'seed'?"),
    ({"datasets": {"en": {"sources": [SOURCE]}, "p": {"preference_file": "p.jsonl", "seed": 1}}},
     "r.yaml: datasets.p.seed: unknown key. Valid keys: preference_file."),
    ({"datasets": {"en": 3}}, "r.yaml: datasets.en: Input should be a valid dictionary or instance of DataRecipe"),
    ({"models": [{"name": "m1", "data": "en", "inti": "m0"}]},
     "r.yaml: models.m1.inti: unknown key. Did you mean 'init'?"),
])
def test_a_mistake_is_one_line_naming_its_recipe_key(tmp_path, changes, message):
    with pytest.raises(UserError) as err:
        plan(tmp_path, **changes)
    assert "\n" not in err.value.message
    assert message in err.value.message


def test_typed_sections_give_the_same_configs_as_before(tmp_path):
    """A model's train keys override the shared section key by key (a nested section is replaced whole)."""
    made = plan(tmp_path, train={"epochs": 2, "learning_rate": "1e-4", "lora": {"r": 4, "alpha": 8}},
                models=[{"name": "m1", "data": "en", "train": {"lora": {"r": 8}, "max_steps": 3}},
                        {"name": "m2", "data": "en"}])
    assert made.datasets["en"].sources[0].count == 4
    m1, m2 = made.trains["m1"], made.trains["m2"]
    assert (m1.epochs, m1.learning_rate, m1.max_steps, m1.lora.r, m1.lora.alpha) == (2, 1e-4, 3, 8, 32)
    assert (m2.epochs, m2.max_steps, m2.lora.r, m2.lora.alpha) == (2, None, 4, 8)
    assert m1.model == m2.model == "smollm2-135m-instruct"


def test_the_7b_recipes_share_a_base_that_does_not_run_alone(tmp_path):
    recipes = Path(__file__).resolve().parents[2] / "recipes"
    with pytest.raises(UserError, match="models: required key is missing"):
        Plan(recipes / "x-llama-7b-base.yaml", tmp_path / "out")
    for lang in ("ar", "el", "hi", "tr", "vi", "zh"):
        made = Plan(recipes / f"x-llama-7b-{lang}.yaml", tmp_path / "out")
        assert made.included == [recipes / "x-llama-7b-base.yaml"]
        assert list(made.datasets) == ["alpaca-en", f"x-llama-{lang}"]
        assert made.trains[f"x-llama-{lang}"].learning_rate == 2e-5 and made.processes == 8
        assert f"mlqa-{lang}" in made.experiment.evaluate.tasks or lang in ("el", "tr")


def test_a_misspelt_preference_file_is_named_as_one(tmp_path):
    with pytest.raises(UserError) as err:
        plan(tmp_path, datasets={"en": {"sources": [SOURCE]}, "p": {"preference_flie": "p.jsonl"}})
    assert "datasets.p.preference_flie: unknown key. Did you mean 'preference_file'?" in err.value.message
    assert "sources" not in err.value.message  # not read as a data recipe
