"""Pivot-answering records (PLUG): from a parallel instruction set, and from parallel questions + GSM8K answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lingalign import cli
from lingalign.data import build_dataset
from lingalign.data.build import TRAIN_FILE
from lingalign.data.gsm8k import final_answer, strip_calculator
from lingalign.data.pivot import FINAL_ANSWER
from lingalign.prompting import PIVOT_SEPARATOR, pivot_response, split_pivot

ALPACA = {"name": "alpaca-zh-pivot", "kind": "instructions", "path": "sample:alpaca/alpaca_en_zh.json", "lang": "zh",
          "fields": {"instruction": "zh_instruction", "input": "zh_input", "output": "zh_output"},
          "english_fields": {"instruction": "en_instruction", "input": "en_input", "output": "en_output"},
          "pivot": {}}


def math_source(x: str = "zh", **pivot) -> dict:
    return {"name": f"gsm8k-{x}-pivot", "kind": "bitext", "path": f"sample:gsm8kinstruct/question-{x}-en/train",
            "languages": [x, "en"], "pivot": {"answers": "sample:gsm8kinstruct/en/train.txt", **pivot}}


def write_recipe(folder: Path, *sources: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump({"data": {"sources": list(sources)}}, allow_unicode=True), encoding="utf-8")
    return path


def build(folder: Path, *sources: dict) -> tuple[list[dict], dict]:
    manifest = build_dataset(write_recipe(folder, *sources), folder / "out")
    lines = (folder / "out" / TRAIN_FILE).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines], manifest


def test_alpaca_pivot_record_is_x_prompt_english_part_separator_x_answer(tmp_path, samples_dir):
    records, manifest = build(tmp_path, {**ALPACA, "count": 100})
    alpaca = {a["zh_instruction"].strip(): a for a in
              json.loads((samples_dir / "alpaca/alpaca_en_zh.json").read_text(encoding="utf-8"))}
    assert len(records) == 100 and manifest["counts"]["by_task"] == {"pivot": 100}
    for r in records:
        a = alpaca[r["instruction"]]
        assert r["input"] == a["zh_input"].strip() and r["lang"] == "zh" and r["direction"] is None
        expected = pivot_response(a["en_instruction"].strip(), a["en_input"].strip(), a["en_output"].strip(),
                                  a["zh_output"].strip())
        assert r["output"] == expected
        parts = split_pivot(r["output"])
        assert parts.found and not parts.repeated and parts.final == a["zh_output"].strip()
        assert parts.english.startswith("English instruction:\n" + a["en_instruction"].strip())
        assert a["en_output"].strip() in parts.english
    with_input = [r for r in records if r["input"]]
    assert with_input and all("\n\nEnglish input:\n" in r["output"] for r in with_input)


@pytest.mark.parametrize("x", ["zh", "ru"])
def test_math_pivot_from_parallel_questions_and_gsm8k_answers(tmp_path, samples_dir, x):
    records, manifest = build(tmp_path, {**math_source(x), "strip_calculator": True})
    gsm8k = {json.loads(line)["question"]: json.loads(line)["answer"]
             for line in (samples_dir / "gsm8kinstruct/en/train.txt").read_text(encoding="utf-8").splitlines()}
    pairs = dict(zip(*((samples_dir / f"gsm8kinstruct/question-{x}-en/train.{side}").read_text(
        encoding="utf-8").splitlines() for side in (x, "en"))))
    assert len(records) == 64 and manifest["dropped"][f"gsm8k-{x}-pivot"] == {}
    for r in records:
        question_en = pairs[r["instruction"]]  # the X question is the prompt
        answer = strip_calculator(gsm8k[question_en]).strip()
        number = final_answer(gsm8k[question_en])
        final = FINAL_ANSWER[x].format(answer=number)
        assert r["output"] == pivot_response(question_en, "", answer, final)
        assert r["output"].endswith(PIVOT_SEPARATOR + final) and "<<" not in r["output"]
        assert split_pivot(r["output"]).final == final and r["task"] == "pivot" and r["lang"] == x
    natalia = next(r for r in records if "48" in r["instruction"] and "72" in r["output"])
    assert natalia["output"].endswith({"zh": "答案是72。", "ru": "Ответ: 72."}[x])


def test_math_pivot_counts_questions_without_an_answer_and_takes_a_template(tmp_path, samples_dir):
    folder = tmp_path / "q"
    folder.mkdir()
    zh = (samples_dir / "gsm8kinstruct/question-zh-en/train.zh").read_text(encoding="utf-8").splitlines()[:5]
    en = (samples_dir / "gsm8kinstruct/question-zh-en/train.en").read_text(encoding="utf-8").splitlines()[:5]
    en[1] += " Answer in dollars."  # no longer a GSM8K question
    (folder / "q.zh").write_text("\n".join(zh) + "\n", encoding="utf-8")
    (folder / "q.en").write_text("\n".join(en) + "\n", encoding="utf-8")
    source = {**math_source(), "path": "q/q", "pivot": {"answers": "sample:gsm8kinstruct/en/train.txt",
                                                      "final_template": "最终答案：{answer}"}}
    records, manifest = build(tmp_path, source)
    assert len(records) == 4 and manifest["dropped"]["gsm8k-zh-pivot"] == {"no_answer": 1}
    assert all(split_pivot(r["output"]).final.startswith("最终答案：") for r in records)
    assert "<<" in records[0]["output"]  # calculator annotations kept unless strip_calculator


def test_math_pivot_language_without_a_final_sentence_names_the_key(tmp_path, samples_dir):
    folder = tmp_path / "q"
    folder.mkdir()
    for side, name in (("zh", "q.th"), ("en", "q.en")):
        text = (samples_dir / f"gsm8kinstruct/question-zh-en/train.{side}").read_text(encoding="utf-8")
        (folder / name).write_text(text, encoding="utf-8")
    path = write_recipe(tmp_path, {**math_source(), "path": "q/q", "languages": ["th", "en"]})
    assert cli.main(["data", "build", str(path), "-o", str(tmp_path / "out")]) == 2


def test_a_record_holding_the_separator_already_is_dropped(tmp_path):
    rows = [{"zh_instruction": f"问题{i}", "zh_output": f"回答{i}", "en_instruction": f"Question {i}",
             "en_output": f"Answer {i}" + (" Final response: no" if i == 2 else "")} for i in range(4)]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                      encoding="utf-8")
    records, manifest = build(tmp_path, {**ALPACA, "path": "p.jsonl"})
    assert len(records) == 3 and manifest["dropped"]["alpaca-zh-pivot"] == {"separator_in_text": 1}


@pytest.mark.parametrize("source, key", [
    ({**ALPACA, "english_fields": None}, "english_fields"),  # the X side only
    ({**ALPACA, "english_fields": {"instruction": "en_instruction"}}, "english_fields"),  # no English answer
    ({**math_source(), "pivot": {}}, "pivot"),  # parallel questions without answers
    ({**math_source(), "languages": ["zh", "ru"]}, "pivot"),  # no English side
])
def test_pivot_source_without_both_languages_is_one_line_exit_2_nothing_written(tmp_path, capsys, source, key):
    source = {k: v for k, v in source.items() if v is not None}
    path = write_recipe(tmp_path, source)
    out = tmp_path / "out"
    assert cli.main(["data", "build", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    problem = [line for line in err.splitlines() if "sources.0" in line]
    assert len(problem) == 1 and source["name"] in problem[0] and "Traceback" not in err
    assert key in problem[0] or "English" in problem[0]
    assert not out.exists()


def test_pivot_source_whose_file_lacks_the_english_fields_stops_at_the_record(tmp_path, capsys):
    (tmp_path / "zh_only.jsonl").write_text(json.dumps({"zh_instruction": "问", "zh_output": "答"},
                                                       ensure_ascii=False) + "\n", encoding="utf-8")
    path = write_recipe(tmp_path, {**ALPACA, "path": "zh_only.jsonl"})
    assert cli.main(["data", "build", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "zh_only.jsonl:1" in err and "en_instruction" in err and "english_fields" in err
    assert not (tmp_path / "out" / TRAIN_FILE).exists() and not (tmp_path / "out" / "manifest.json").exists()
