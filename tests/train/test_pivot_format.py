"""Training on pivot records: the format must be alpaca-pivot, and the model folder records it and its separator."""

from __future__ import annotations

import json

import pytest
import yaml

from lingalign.data import build_dataset
from lingalign.errors import UserError
from lingalign.models import load_tokenizer
from lingalign.prompting import PIVOT_SEPARATOR, build_prompt, read_model_info
from lingalign.train import train
from lingalign.train.examples import load_examples

SOURCE = {"name": "gsm8k-zh-pivot", "kind": "bitext", "path": "sample:gsm8kinstruct/question-zh-en/train",
          "languages": ["zh", "en"], "pivot": {"answers": "sample:gsm8kinstruct/en/train.txt"},
          "strip_calculator": True, "count": 12}


@pytest.fixture(scope="module")
def pivot_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pivot-data")
    recipe = folder / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"data": {"prompt_format": "alpaca-pivot", "sources": [SOURCE]}}),
                      encoding="utf-8")
    build_dataset(recipe, folder / "out")
    return folder / "out"


def test_pivot_records_with_a_plain_format_stop_at_the_first_one(pivot_data, tiny_model_dir):
    tok = load_tokenizer(str(tiny_model_dir))
    with pytest.raises(UserError) as err:
        load_examples(pivot_data / "train.jsonl", tok, "alpaca", 2048, "drop")
    assert "train.jsonl:1: a pivot record" in err.value.message
    assert err.value.message.endswith("train.prompt_format is alpaca") and "alpaca-pivot" in err.value.hint
    examples, counts = load_examples(pivot_data / "train.jsonl", tok, "alpaca-pivot", 2048, "drop")
    assert counts["records"] == 12 and examples
    first = json.loads((pivot_data / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    prompt = tok(build_prompt(first["instruction"], "", "alpaca"))["input_ids"]
    assert examples[0].ids[:examples[0].n_prompt] == prompt  # the Alpaca prompt, the whole pivot answer learnt


def test_a_pivot_model_records_its_format_and_separator(pivot_data, tiny_config, tmp_path):
    config = tiny_config.model_copy(update={"prompt_format": "alpaca-pivot", "max_length": 1024, "max_steps": 2})
    out = train(config, pivot_data, tmp_path / "model")
    info = read_model_info(out)
    assert info["prompt_format"] == "alpaca-pivot" and info["pivot_separator"] == PIVOT_SEPARATOR
    assert info["method"] == "full"
