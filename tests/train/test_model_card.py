"""Model cards: every model folder ``train`` writes has a README.md the Hub's own parser reads offline,
and ``eval`` adds its scores to it without changing anything else in the folder."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from lingalign.data.build import build_dataset
from lingalign.data.recipe import DataRecipe
from lingalign.evaluate import evaluate
from lingalign.generation.fingerprint import model_fingerprint
from lingalign.model_card import facts
from lingalign.model_card.render import MARKER
from lingalign.model_card.results import is_lingalign_model, record_results
from lingalign.models import DEFAULT_MODEL
from lingalign.train import train
from lingalign.train.recipe import TrainConfig

ALPACA = {"kind": "instructions", "path": "sample:alpaca/alpaca_en_zh.json"}
NEWS = {"name": "news-en-zh", "kind": "bitext", "path": "sample:bitext/newstest2017.en-zh", "languages": ["en", "zh"]}


def alpaca(lang: str, count: int) -> dict:
    fields = {k: f"{lang}_{k}" for k in ("instruction", "input", "output")}
    return {**ALPACA, "name": f"alpaca-{lang}", "lang": lang, "fields": fields, "count": count}


@pytest.fixture(scope="module")
def hub_base(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model laid out as a Hugging Face cache snapshot, with a card that states its licence."""
    folder = tmp_path_factory.mktemp("hub") / "models--lingalign-test--tiny-llama" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# tiny\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def coit_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "coit-zh"
    recipe = DataRecipe.model_validate({"seed": 0, "sources": [alpaca("en", 6), alpaca("zh", 6), {**NEWS, "count": 6}]})
    build_dataset(recipe, out)
    return out


@pytest.fixture(scope="module")
def trained(hub_base, coit_data, tiny_config, tmp_path_factory) -> Path:
    config = tiny_config.model_copy(update={"model": str(hub_base), "max_steps": 2})
    return train(config, coit_data, tmp_path_factory.mktemp("models") / "coit-zh")


@pytest.fixture(scope="module")
def tiny_config(tiny_model_dir):  # module scope (the conftest one is per test)
    return TrainConfig(model=str(tiny_model_dir), max_length=512, micro_batch_size=1, gradient_accumulation_steps=2,
                       learning_rate=1e-3, warmup_ratio=0.1, precision="fp32", seed=7)


def files_except_card(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "README.md"}


def test_a_trained_folder_has_a_card_with_hub_metadata(trained, coit_data):
    card = ModelCard.load(trained / "README.md")  # the Hub's parser, offline (a local path)
    data = card.data
    assert data.base_model == "lingalign-test/tiny-llama"  # from the Hugging Face cache folder's name
    assert data.language == ["zh", "en"]  # from the data manifest, most records first (zh: Alpaca-Zh + translation)
    assert data.license == "apache-2.0"  # the base model's card states it
    assert data.datasets == ["tatsu-lab/alpaca", "wmt/wmt17"]
    assert data.library_name == "transformers" and data.pipeline_tag == "text-generation"
    assert {"lingalign", "coit", "instruction-tuning"} <= set(data.tags) and "muit" not in data.tags
    assert data.eval_results is None  # not scored yet
    manifest = json.loads((coit_data / "manifest.json").read_text())
    text = card.text
    assert MARKER in text and "## Training data" in text and "## Hyperparameters" in text
    assert "CoIT: instructions plus translation tasks (non-English languages: Chinese)" in text
    for name, count in manifest["counts"]["by_source"].items():
        assert f"| {name} | " in text and f"| {count} |" in text
    assert "| fused_adamw | True |" in text and "| learning_rate | 0.001 |" in text
    assert "precision: fp32" in text and "Not scored yet" in text


def test_eval_adds_scores_and_changes_nothing_else(trained, tmp_path):
    before, identity = files_except_card(trained), model_fingerprint(str(trained))
    evaluate(str(trained), "flores-en-zh", tmp_path / "eval", limit=2, max_new_tokens=3, batch_size=2)
    card = ModelCard.load(trained / "README.md")
    flores = [r for r in card.data.eval_results if r.dataset_name == "flores-en-zh"]
    assert {r.metric_type for r in flores} >= {"chrf", "bleu", "answer_language"}
    assert {r.dataset_type for r in flores} == {"facebook/flores"} and card.data.model_name == "coit-zh"
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    chrf = next(r for r in flores if r.metric_name == "chrF++")
    assert chrf.metric_value == pytest.approx(results["tasks"]["flores-en-zh"]["metrics"]["chrf++"]["value"])
    assert "| flores-en-zh | chrF++ |" in card.text and "| 2 |" in card.text  # the table, with the items scored
    assert files_except_card(trained) == before and model_fingerprint(str(trained)) == identity
    # another task is added beside it; scoring a task again replaces its scores
    evaluate(str(trained), "xquad-zh", tmp_path / "eval-qa", limit=1, max_new_tokens=3, batch_size=1)
    evaluate(str(trained), "flores-en-zh", tmp_path / "eval-3", limit=3, max_new_tokens=3, batch_size=3)
    card = ModelCard.load(trained / "README.md")
    names = [r.dataset_name for r in card.data.eval_results]
    assert set(names) == {"flores-en-zh", "xquad-zh"} and names.count("flores-en-zh") == len(flores)
    assert "| 3 |" in card.text and card.text.count("| flores-en-zh |") == len(flores)  # one row per metric, new n
    assert files_except_card(trained) == before


def test_folders_that_lingalign_did_not_train_are_never_touched(tiny_model_dir, trained, tmp_path):
    evaluate(str(tiny_model_dir), "flores-en-zh", tmp_path / "eval", limit=1, max_new_tokens=2, batch_size=1)
    assert not (tiny_model_dir / "README.md").exists() and not is_lingalign_model(tiny_model_dir)
    mine = tmp_path / "edited"
    shutil.copytree(trained, mine)
    (mine / "README.md").write_text("# my own card\n", encoding="utf-8")
    assert record_results(mine, {"tasks": {"t": {"metrics": {"bleu": {"value": 1.0}}}}}) is None
    assert (mine / "README.md").read_text() == "# my own card\n"


def test_a_folder_trained_before_cards_gets_one_when_scored(trained, tmp_path):
    old = tmp_path / "old-model"
    shutil.copytree(trained, old)
    (old / "README.md").unlink()
    record_results(old, {"date": "2026-12-04T00:00:00", "tasks": {"flores-en-zh": {
        "kind": "translation", "lang": "zh", "n": 5, "metrics": {"chrf++": {"value": 12.5}}}}})
    card = ModelCard.load(old / "README.md")
    assert card.data.base_model == "lingalign-test/tiny-llama" and card.data.language == ["zh", "en"]
    assert [(r.metric_type, r.metric_value) for r in card.data.eval_results] == [("chrf", 12.5)]


def test_lora_adapter_and_dpo_folders_say_what_they_are(hub_base, coit_data, tiny_config, tmp_path, samples_dir):
    lora = TrainConfig.model_validate({**tiny_config.model_dump(), "model": str(hub_base), "max_steps": 1,
                                       "method": "lora", "lora": {"r": 4, "alpha": 8, "merge": False}})
    adapter = train(lora, coit_data, tmp_path / "adapter")
    data = ModelCard.load(adapter / "README.md").data
    assert data.library_name == "peft" and "lora" in data.tags and data.base_model == "lingalign-test/tiny-llama"
    dpo = TrainConfig.model_validate({**tiny_config.model_dump(), "model": str(hub_base), "max_steps": 1,
                                      "method": "dpo", "packing": False})
    pairs = samples_dir / "preferences" / "alpaca_zh_answer_language.jsonl"
    card = ModelCard.load(train(dpo, pairs, tmp_path / "dpo") / "README.md")
    assert "dpo" in card.data.tags and "coit" not in card.data.tags
    assert card.data.datasets == ["tatsu-lab/alpaca"]  # the shipped pairs are made from Alpaca
    assert card.data.language is None  # the pairs do not record their language: not guessed


def test_what_the_card_reads_from_names_and_paths():
    assert facts.hub_dataset("../../../shared/data/bitext/wmt-newstest/en-hi/newstest2014.en-hi") == "wmt/wmt14"
    assert facts.hub_dataset("sample:bitext/tatoeba.eng-vie") == "Helsinki-NLP/tatoeba_mt"
    assert facts.hub_dataset("sample:gsm8kinstruct/question-zh-en/train") == "Mathoctopus/GSM8KInstruct_Parallel"
    assert facts.hub_dataset("../../../shared/data/gsm8kinstruct/en/train.txt") == "openai/gsm8k"
    assert facts.hub_dataset("../data/my-own.jsonl") is None
    assert facts.base_hub_id(DEFAULT_MODEL, "/anywhere") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert facts.base_hub_id("org/name", "/x") == "org/name"
    assert facts.base_hub_id("/models/mine", "/models/mine") is None
    muit = {"known": True, "by_lang": {"en": 10, "zh": 5, "vi": 5}, "by_task": {"translation": 4, "general": 16}}
    assert facts.mixture(muit, "full", "full")[0] == ["lingalign", "muit", "instruction-tuning"]
    english = {"known": True, "by_lang": {"en": 10}, "by_task": {"general": 10}}
    assert facts.mixture(english, "full", "full")[1].startswith("English instructions only")
    assert facts.mixture({"known": False}, "full", "lora")[0] == ["lingalign", "lora"]


def test_the_default_model_states_its_licence_in_its_gguf_file(default_model_dir):
    if not (default_model_dir / "lingalign_source.json").exists():
        pytest.skip("the default model was not converted by lingalign here")
    assert facts.base_license(str(default_model_dir)) == "apache-2.0"
