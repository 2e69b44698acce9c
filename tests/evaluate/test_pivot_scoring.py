"""Pivot models (prompt format alpaca-pivot): only the final part of an answer is scored and language-checked."""

from __future__ import annotations

import shutil

import pytest

from lingalign import artifacts
from lingalign.evaluate import evaluate
from lingalign.evaluate.scoring import score_task
from lingalign.evaluate.significance import compare_runs
from lingalign.generation.hf_generator import HFGenerator
from lingalign.metrics.answer_language import answer_language
from lingalign.prompting import (
    PIVOT_SEPARATOR,
    build_prompt,
    eval_stop_strings,
    model_pivot_separator,
    pivot_response,
    read_model_info,
    scored_answer,
    split_pivot,
    write_model_info,
)
from lingalign.tasks.base import Example, Task, default_data_root
from lingalign.tasks.registry import load_builtin

SEP = PIVOT_SEPARATOR


# ---- the extraction -------------------------------------------------------------------------------------

def test_split_at_the_separator():
    answer = pivot_response("What is 2+3?", "", "2+3 = 5.", "答案是5。")
    parts = split_pivot(answer)
    assert (parts.final, parts.found, parts.repeated) == ("答案是5。", True, False)
    assert parts.english == "English instruction:\nWhat is 2+3?\n\nEnglish response:\n2+3 = 5."


def test_without_the_separator_the_whole_answer_is_scored_as_it_is():
    parts = split_pivot("  just an answer, 12 \n")
    assert (parts.final, parts.english, parts.found, parts.repeated) == ("  just an answer, 12 \n", "", False, False)


def test_a_second_separator_ends_the_final_part():
    """A repetition loop restarts the pattern: the first final answer counts, what follows the second is cut."""
    parts = split_pivot(f"English part 99{SEP}答案是5。{SEP}答案是7777。{SEP}")
    assert (parts.final, parts.found, parts.repeated) == ("答案是5。", True, True)


def test_the_separator_is_matched_without_its_surrounding_whitespace():
    assert split_pivot("English part\nFinal response: 答案是5。").final == "答案是5。"
    assert split_pivot(f"English part{SEP}").final == ""  # cut off right after it: an empty answer
    assert scored_answer("text", None) == "text" and scored_answer(f"a{SEP}b", SEP) == "b"


def test_pivot_format_prompts_and_stops_as_alpaca_and_records_its_separator(tmp_path):
    assert build_prompt("Q", "I", "alpaca-pivot") == build_prompt("Q", "I", "alpaca")
    assert eval_stop_strings("alpaca-pivot") == eval_stop_strings("alpaca")
    assert not any(stop in pivot_response("a", "b", "c", "d") for stop in eval_stop_strings("alpaca"))
    write_model_info(tmp_path, "alpaca-pivot", method="full")
    assert read_model_info(tmp_path) == {"prompt_format": "alpaca-pivot", "pivot_separator": SEP, "method": "full"}
    assert model_pivot_separator(tmp_path, "alpaca-pivot") == SEP
    assert model_pivot_separator(tmp_path, "alpaca") is None  # --prompt-format alpaca: scored whole
    write_model_info(tmp_path, "alpaca")
    assert "pivot_separator" not in read_model_info(tmp_path)


# ---- scoring -------------------------------------------------------------------------------------------

def records(predictions: list[str], golds: list[str]) -> list[dict]:
    return [{"id": str(i), "prediction": p, "references": [g]} for i, (p, g) in enumerate(zip(predictions, golds))]


def test_score_task_scores_the_final_parts_and_counts_missing_separators():
    task = Task("mgsm-zh-cot", "math", "zh", [Example(str(i)) for i in range(4)], [], prompt_variant="cot",
                question_lang="zh")
    golds = ["5", "12", "7", "30"]
    predictions = [f"The sum is 99.{SEP}答案是5。",  # right in the final part, wrong number in English
                   f"It is 12.{SEP}答案是12。{SEP}答案是13。",  # a second separator: cut there
                   "答案是7。",  # no separator: scored as it is (right)
                   f"Thirty.{SEP}答案是31。"]  # wrong
    entry = score_task(task, records(predictions, golds), pivot_separator=SEP)
    assert entry["metrics"]["accuracy"]["value"] == 75.0
    assert entry["metrics"]["pivot_missing"]["value"] == 25.0 and entry["metrics"]["pivot_missing"]["count"] == 1
    assert entry["metrics"]["pivot_missing"]["repeated"] == 1 and entry["pivot_separator"] == SEP
    finals = ["答案是5。", "答案是12。", "答案是7。", "答案是31。"]
    assert entry["metrics"]["answer_lang"] == answer_language(finals, "zh")
    whole = score_task(task, records(predictions, golds))  # the same answers from a model of another format
    assert whole["metrics"]["accuracy"]["value"] == 50.0 and "pivot_missing" not in whole["metrics"]
    assert "pivot_separator" not in whole


def test_qa_and_translation_are_scored_on_the_final_part():
    qa = Task("xquad-zh", "qa", "zh", [Example("0"), Example("1")], [])
    entry = score_task(qa, records([f"The answer is Beijing.{SEP}北京", "北京"], ["北京", "北京"]), pivot_separator=SEP)
    assert entry["metrics"]["em"]["value"] == 100.0 and entry["metrics"]["pivot_missing"]["count"] == 1
    mt = Task("flores-en-zh", "translation", "zh", [Example("0", source="Hello.")], [], src_lang="en")
    pivot = score_task(mt, records([f"English instruction: translate{SEP}你好。"], ["你好。"]), pivot_separator=SEP)
    assert pivot["metrics"]["chrf++"]["value"] == 100.0 and pivot["metrics"]["pivot_missing"]["value"] == 0.0


# ---- end to end: a pivot model's evaluation ------------------------------------------------------------

def fake_answers(task_name: str) -> dict[str, str]:
    """Question text -> the answer a pivot model would give, item by item: a clean pivot answer, one with a
    repeated separator whose second final part is wrong, one without a separator."""
    task = load_builtin(task_name, default_data_root(), "devtest")
    answers = {}
    for i, example in enumerate(task.examples[:6]):
        gold = example.references[0]
        english = f"English instruction:\n{example.input[:40]}\n\nEnglish response:\nIt is 999."
        answers[example.input] = [f"{english}{SEP}所以答案是{gold}。",
                                  f"{english}{SEP}所以答案是{gold}。{SEP}所以答案是7777。",
                                  f"So the answer is {gold}."][i % 3]
    return answers


@pytest.fixture()
def scripted_generator(monkeypatch):
    """The tiny model's generator, answering with scripted texts (what a trained pivot model would write)."""
    answers = fake_answers("mgsm-zh-cot")

    def generate(self, prompts, **kwargs):
        yield [(i, next(a for q, a in answers.items() if q in p)) for i, p in enumerate(prompts)]

    monkeypatch.setattr(HFGenerator, "generate", generate)


def test_a_pivot_models_evaluation_scores_the_final_part_and_reports_the_missing_share(
        tiny_model_dir, tmp_path, scripted_generator):
    runs = {}
    for fmt in ("alpaca", "alpaca-pivot"):
        model = tmp_path / f"model-{fmt}"
        shutil.copytree(tiny_model_dir, model)
        write_model_info(model, fmt, method="full")
        runs[fmt] = tmp_path / f"eval-{fmt}"
        evaluate(str(model), "mgsm-zh-cot", runs[fmt], limit=6, batch_size=3, dtype="float32")
    pivot = artifacts.read_json(runs["alpaca-pivot"] / "results.json")
    plain = artifacts.read_json(runs["alpaca"] / "results.json")
    assert pivot["prompt_format"] == "alpaca-pivot"
    # room for the English part: 256 + 2 x the task's 512 (pivot_token_budget); the plain model keeps 512
    assert (pivot["generation"]["max_new_tokens"], plain["generation"]["max_new_tokens"]) == (
        {"mgsm-zh-cot": 1280}, {"mgsm-zh-cot": 512})
    entry = pivot["tasks"]["mgsm-zh-cot"]
    assert entry["metrics"]["accuracy"]["value"] == 100.0  # every final part holds the gold answer
    assert entry["metrics"]["pivot_missing"] == {
        "value": 33.3333, "count": 2, "repeated": 2,
        "scoring": "share of answers without the separator, scored whole; the others on their final part"}
    assert plain["tasks"]["mgsm-zh-cot"]["metrics"]["accuracy"]["value"] == pytest.approx(66.6667)  # 7777 last
    assert "pivot_missing" not in plain["tasks"]["mgsm-zh-cot"]["metrics"]
    stored = [artifacts.read_jsonl_tolerant(runs[f] / "predictions" / "mgsm-zh-cot.jsonl") for f in runs]
    assert [r["prediction"] for r in stored[0]] == [r["prediction"] for r in stored[1]]  # raw text kept
    assert sum(SEP.strip() in r["prediction"] for r in stored[1]) == 4
    finals = [split_pivot(r["prediction"]).final for r in stored[1]]
    assert entry["metrics"]["answer_lang"] == answer_language(finals, "zh")
    # the paired bootstrap rescores what the stage scored: no mismatch with results.json
    comparison = compare_runs([runs["alpaca"], runs["alpaca-pivot"]], resamples=50)[0]
    accuracy = comparison["tasks"]["mgsm-zh-cot"]["accuracy"]
    assert (accuracy["a"], accuracy["b"]) == (pytest.approx(66.6667, abs=1e-3), 100.0)
    assert not [n for n in comparison["notes"] if "on the predictions file" in n]
