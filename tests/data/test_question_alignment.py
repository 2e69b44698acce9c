"""Question-alignment sources (QAlign stage 1) and GSM8K's calculator annotations, on the shipped samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lingalign.data import build_dataset, load_data_recipe
from lingalign.data.build import TRAIN_FILE
from lingalign.data.gsm8k import final_answer, strip_calculator
from lingalign.data.recipe import DataRecipe
from lingalign.errors import UserError

GSM8K = "sample:gsm8kinstruct/en/train.txt"


def build(tmp_path: Path, *sources: dict, **data) -> tuple[list[dict], dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"data": {"sources": list(sources), **data}}, allow_unicode=True), encoding="utf-8")
    manifest = build_dataset(path, tmp_path / "out")
    records = [json.loads(line) for line in (tmp_path / "out" / TRAIN_FILE).read_text(encoding="utf-8").splitlines()]
    return records, manifest


def lines(samples_dir: Path, name: str) -> list[str]:
    return (samples_dir / name).read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("x", ["zh", "ru"])
def test_parallel_question_files_give_x_questions_in_and_english_questions_out(tmp_path, samples_dir, x):
    source = {"name": f"q-{x}", "kind": "question-alignment", "path": f"sample:gsm8kinstruct/question-{x}-en/train",
              "languages": [x, "en"]}
    records, manifest = build(tmp_path, source)
    xs = lines(samples_dir, f"gsm8kinstruct/question-{x}-en/train.{x}")
    ens = lines(samples_dir, f"gsm8kinstruct/question-{x}-en/train.en")
    assert len(records) == 64 == manifest["counts"]["by_task"]["question-alignment"]
    pairs = dict(zip(xs, ens))
    questions = {json.loads(line)["question"] for line in lines(samples_dir, "gsm8kinstruct/en/train.txt")}
    for r in records:
        assert pairs[r["instruction"]] == r["output"]  # X in, its English question out: nothing else
        assert r["input"] == "" and r["output"] in questions and "####" not in r["output"]
        assert r["lang"] == x and r["direction"] == f"{x}-en" and r["task"] == "question-alignment"
    assert manifest["counts"]["by_direction"] == {f"{x}-en": 64}


def test_english_first_in_languages_still_puts_english_on_the_output_side(tmp_path):
    """(c) any bitext: newstest en-zh, listed English first, is read as zh -> en; the QAlign prefix on demand."""
    source = {"name": "news", "kind": "question-alignment", "path": "sample:bitext/newstest2017.en-zh",
              "languages": ["en", "zh"], "count": 20, "translate_instruction": True}
    records, _ = build(tmp_path, source)
    prefix = "Translate the following sentences from Chinese to English. "
    assert len(records) == 20
    for r in records:
        assert r["instruction"].startswith(prefix) and r["direction"] == "zh-en"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in r["instruction"][len(prefix):])
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in r["output"])


def test_instruction_fields_of_a_parallel_set_with_inputs_appended(tmp_path, samples_dir):
    source = {"name": "alpaca-q", "kind": "question-alignment", "path": "sample:alpaca/alpaca_en_zh.json",
              "lang": "zh", "fields": {"instruction": "zh_instruction", "input": "zh_input"},
              "english_fields": {"instruction": "en_instruction", "input": "en_input"}}
    records, manifest = build(tmp_path, source)
    alpaca = json.loads((samples_dir / "alpaca/alpaca_en_zh.json").read_text(encoding="utf-8"))
    by_zh = {}
    for a in alpaca:
        zh = a["zh_instruction"].strip() + ("\n" + a["zh_input"].strip() if a["zh_input"].strip() else "")
        by_zh[zh] = a
    assert len(records) == manifest["available"]["alpaca-q"] > 500
    with_input = 0
    for r in records:
        original = by_zh[r["instruction"]]
        english = original["en_instruction"].strip()
        if original["en_input"].strip():
            english += "\n" + original["en_input"].strip()
            with_input += 1
        assert r["output"] == english and r["input"] == ""  # the English question, never its answer
    assert with_input > 50  # inputs are part of the question, not dropped


def test_question_alignment_cleaning_counts_and_contamination(tmp_path):
    """Bitext cleaning applies: a pair whose English question is an evaluation text is dropped and counted."""
    en = lines(Path(__file__).resolve().parents[2] / "src/lingalign/samples", "gsm8kinstruct/question-zh-en/train.en")
    (tmp_path / "eval.txt").write_text(en[3] + "\n" + en[7] + "\n", encoding="utf-8")
    source = {"name": "q", "kind": "question-alignment", "path": "sample:gsm8kinstruct/question-zh-en/train",
              "languages": ["zh", "en"]}
    records, manifest = build(tmp_path, source, eval_sets=["eval.txt"])
    assert len(records) == 62 and manifest["dropped"]["q"] == {"contaminated": 2}
    assert en[3] not in {r["output"] for r in records}


@pytest.mark.parametrize("source, message", [
    ({"languages": ["zh", "vi"]}, "needs one English side"),
    ({"languages": ["zh", "en"], "direction": "en-x"}, "always X -> English"),
    ({"path": "a.json", "lang": "zh", "fields": {"instruction": "zh_instruction", "output": "zh_output"},
      "english_fields": {"instruction": "en_instruction"}}, "fields.output: question alignment uses only"),
    ({"path": "a.json", "lang": "zh", "english_fields": {"input": "en_input"}}, "english_fields needs instruction"),
])
def test_question_alignment_recipe_errors_name_the_source(tmp_path, source, message):
    entry = {"name": "qa", "kind": "question-alignment", "path": "c", **source}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"data": {"sources": [entry]}}), encoding="utf-8")
    with pytest.raises(UserError, match=message) as err:
        load_data_recipe(path)
    assert "sources.0" in str(err.value) and "'qa'" in str(err.value)


# ---- GSM8K as English task data, and its calculator annotations ------------------------------------------

def gsm8k_source(**extra) -> dict:
    return {"name": "gsm8k", "kind": "instructions", "path": GSM8K, "format": "jsonl", "lang": "en",
            "fields": {"instruction": "question", "output": "answer"}, **extra}


def test_gsm8k_reads_as_instructions_and_strip_calculator_removes_only_the_annotations(tmp_path, samples_dir):
    raw = [json.loads(line) for line in lines(samples_dir, "gsm8kinstruct/en/train.txt")]
    kept, _ = build(tmp_path / "kept", gsm8k_source())
    stripped, _ = build(tmp_path / "stripped", gsm8k_source(strip_calculator=True))
    assert len(kept) == len(stripped) == 64
    answers = {r["question"].strip(): r["answer"].strip() for r in raw}
    assert all(r["output"] == answers[r["instruction"]] for r in kept)  # as distributed by default
    assert sum("<<" in r["output"] for r in kept) > 50
    for r in stripped:
        original = answers[r["instruction"]]
        assert "<<" not in r["output"] and ">>" not in r["output"]
        assert r["output"].endswith(f"#### {final_answer(original)}")
        assert r["output"] == strip_calculator(original)
    first = next(r for r in stripped if r["instruction"].startswith("Natalia"))
    assert first["output"].startswith("The number of clips sold in April is 48/2 = 24.\n")


def test_strip_calculator_leaves_unclosed_annotations_and_other_brackets():
    assert strip_calculator("48/2 = <<48/2=24>>24 and <<1+1=2>>2") == "48/2 = 24 and 2"
    assert strip_calculator("69 kg / 3 liters = <<69/3=23=23 kg/liter") == "69 kg / 3 liters = <<69/3=23=23 kg/liter"
    assert strip_calculator("<<10*x>>x dollars, <<40%>>2.5 weeks") == "x dollars, 2.5 weeks"  # no "=" inside
    assert strip_calculator("a <<b\nc>> d") == "a <<b\nc>> d"  # never across lines
    assert final_answer("so 5\n#### 1,250") == "1,250" and final_answer("no final line") is None


def test_strip_calculator_is_left_out_of_the_dump_when_off_so_fingerprints_hold():
    for source in DataRecipe(sources=[gsm8k_source()]).model_dump(mode="json")["sources"]:
        assert not {"strip_calculator", "english_fields", "pivot", "translate_instruction"} & set(source)
    on = DataRecipe(sources=[gsm8k_source(strip_calculator=True)]).model_dump(mode="json")["sources"][0]
    assert on["strip_calculator"] is True
