"""Answer-language distribution from hand-made prediction files."""

from __future__ import annotations

import json

import pytest

from lingalign.analysis.responses import format_table, response_languages
from lingalign.cli import main

ZH = "今天的天气非常好，我们一起去公园散步吧。"
EN = "The weather is very nice today, let us go for a walk in the park."
VI = "Hôm nay thời tiết rất đẹp, chúng ta hãy đi dạo trong công viên."


def _write(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def test_distribution_per_task_and_model(tmp_path):
    run = tmp_path / "eval-coit"
    (run).mkdir()
    (run / "results.json").write_text(json.dumps({"model": "/somewhere/models/coit-zh"}), encoding="utf-8")
    _write(run / "predictions" / "xquad-zh.jsonl", [{"prediction": ZH}] * 3 + [{"prediction": EN}])
    _write(run / "predictions" / "flores-zh-en.jsonl", [{"prediction": EN}, {"prediction": ""}])
    _write(tmp_path / "other.jsonl", [{"prediction": VI, "task": "chat", "expected_lang": "vie", "model": "base"}])

    report = response_languages([run, tmp_path / "other.jsonl"], tmp_path / "out")
    rows = {(r["model"], r["task"]): r for r in report["rows"]}
    xquad = rows[("coit-zh", "xquad-zh")]
    assert (xquad["expected"], xquad["n"], xquad["detected"]) == ("zh", 4, {"zh": 3, "en": 1})
    assert xquad["share_expected"] == pytest.approx(0.75)
    flores = rows[("coit-zh", "flores-zh-en")]
    assert flores["detected"] == {"en": 1, "und": 1} and flores["share_expected"] == pytest.approx(0.5)
    assert response_languages([run / "predictions" / "xquad-zh.jsonl"])["rows"][0]["model"] == "coit-zh"
    _write(run / "results.json", [{"model": "runs/coit-zh/model"}])
    assert response_languages([run / "predictions" / "xquad-zh.jsonl"])["rows"][0]["model"] == "coit-zh/model"
    assert rows[("base", "chat")]["expected"] == "vi" and rows[("base", "chat")]["share_expected"] == 1.0

    saved = json.loads((tmp_path / "out" / "responses.json").read_text(encoding="utf-8"))
    assert saved == report
    assert (tmp_path / "out" / "responses.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = format_table(report["rows"])
    assert "coit-zh" in table and "75%" in table


def test_results_json_gives_the_expected_language_and_marks_choice_tasks(tmp_path):
    run = tmp_path / "eval"
    tasks = {"mlqa-zh-en": {"lang": "zh", "kind": "qa"}, "xcopa-zh": {"lang": "zh", "kind": "choice"}}
    _write(run / "results.json", [{"model": "base", "tasks": tasks}])
    _write(run / "predictions" / "mlqa-zh-en.jsonl", [{"prediction": ZH, "references": ["x"]}])
    _write(run / "predictions" / "xcopa-zh.jsonl", [{"prediction": "A", "label": "B"}])
    report = response_languages([run])
    (row,) = report["rows"]
    assert (row["model"], row["task"], row["expected"], row["share_expected"]) == ("base", "mlqa-zh-en", "zh", 1.0)
    assert report["skipped_choice_tasks"] == ["xcopa-zh"]


def test_model_falls_back_to_the_run_folder_name(tmp_path):
    _write(tmp_path / "run-base" / "predictions" / "mlqa-vi.jsonl", [{"prediction": VI}])
    row, = response_languages([tmp_path / "run-base" / "predictions" / "mlqa-vi.jsonl"])["rows"]
    assert (row["model"], row["task"], row["expected"]) == ("run-base", "mlqa-vi", "vi")


def test_cli_prints_a_table_and_refuses_bad_files(tmp_path, capsys):
    _write(tmp_path / "xquad-zh.jsonl", [{"prediction": ZH}])
    assert main(["analyze", "responses", str(tmp_path / "xquad-zh.jsonl")]) == 0
    assert "xquad-zh" in capsys.readouterr().out

    _write(tmp_path / "bad.jsonl", [{"prediction": ZH}, {"answer": "x"}])
    assert main(["analyze", "responses", str(tmp_path / "bad.jsonl")]) == 2
    assert "bad.jsonl:2: no answer text" in capsys.readouterr().err
    assert main(["analyze", "responses", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl: file not found" in capsys.readouterr().err


def test_mgsm_step_by_step_answers_are_counted_against_the_variant_language(tmp_path):
    """mgsm-zh-cot should answer in Chinese; mgsm-zh-cot-en (English pivot) in English; xcopa is a choice."""
    run = tmp_path / "eval"
    tasks = {"mgsm-zh-cot": {"lang": "zh", "kind": "math"}, "mgsm-zh-cot-en": {"lang": "en", "kind": "math"},
             "xcopa-zh": {"lang": "zh", "kind": "choice"}}
    _write(run / "results.json", [{"model": "base", "tasks": tasks}])
    english = "She has 16 eggs, eats 3 and bakes with 4, so she sells 9 eggs for 2 dollars each: 18 dollars."
    _write(run / "predictions" / "mgsm-zh-cot.jsonl", [{"prediction": ZH, "references": ["18"]},
                                                       {"prediction": english, "references": ["3"]}])
    _write(run / "predictions" / "mgsm-zh-cot-en.jsonl", [{"prediction": english, "references": ["18"]}])
    _write(run / "predictions" / "xcopa-zh.jsonl", [{"prediction": 0, "label": 1, "scores": [-1.0, -2.0]}])
    report = response_languages([run])
    rows = {row["task"]: row for row in report["rows"]}
    assert (rows["mgsm-zh-cot"]["expected"], rows["mgsm-zh-cot"]["share_expected"]) == ("zh", 0.5)
    assert (rows["mgsm-zh-cot-en"]["expected"], rows["mgsm-zh-cot-en"]["share_expected"]) == ("en", 1.0)
    assert report["skipped_choice_tasks"] == ["xcopa-zh"]
