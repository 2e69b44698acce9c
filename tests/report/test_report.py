"""The HTML report shows what a run folder holds, self-contained."""


import html

import pytest

from lingalign.artifacts import append_jsonl, read_json, write_json
from lingalign.cli import main
from lingalign.provenance import provenance
from lingalign.report.collect import COPY_SOURCE, collect, score_table
from lingalign.report.command import write_report


def _results(model, chrf, lang_share):
    return {
        "model": model, "prompt_format": "alpaca", "generation": {"max_new_tokens": 64},
        "tasks": {
            "flores-en-zh": {"n": 20, "metrics": {"chrf++": {"value": chrf, "signature": "nrefs:1|..."},
                                                  "answer_lang": {"value": lang_share, "expected": "zh"}}},
        },
    }


@pytest.fixture
def run_dir(tmp_path):
    write_json(tmp_path / "eval/base/results.json", _results("base", 4.0, 10.0))
    write_json(tmp_path / "eval/coit-zh/results.json", _results("coit-zh", 9.5, 85.0))
    append_jsonl(tmp_path / "models/coit-zh/train_log.jsonl",
                 [{"step": s, "loss": 3.0 / s, "lr": 1e-4} for s in range(1, 6)])
    (tmp_path / "recipe.yaml").write_text("base_model: smollm2-135m-instruct\n")
    return tmp_path


def test_report_has_scores_deltas_curves_and_config(run_dir):
    path = write_report(run_dir)
    page = path.read_text()
    assert page.startswith("<!doctype html>")
    assert "9.5" in page and "+5.5, +138%" in page  # coit vs base, absolute and relative
    assert "85.0%" in page  # answer-language share
    assert page.count("data:image/png;base64,") >= 2  # a task chart and the training curves
    assert "base_model: smollm2-135m-instruct" in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_report_of_empty_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "nothing to report yet" in capsys.readouterr().err


def test_models_are_listed_base_first_then_in_recipe_order(run_dir):
    write_json(run_dir / "eval/alpaca-en/results.json", _results("alpaca-en", 5.0, 20.0))
    (run_dir / "recipe.yaml").write_text("models:\n  - {name: coit-zh, data: x}\n  - {name: alpaca-en, data: y}\n")
    assert list(collect(run_dir)["results"]) == ["base", "coit-zh", "alpaca-en"]


def test_copy_source_floor_is_a_row_of_the_score_table(run_dir):
    results = _results("coit-zh", 9.5, 85.0)
    results["tasks"]["flores-en-zh"]["copy_source"] = {"chrf++": 4.9, "bleu": 0.2}
    write_json(run_dir / "eval/coit-zh/results.json", results)
    models, columns, values = score_table(collect(run_dir)["results"])
    assert models[-1] == COPY_SOURCE and values[(COPY_SOURCE, "flores-en-zh", "chrf++")] == 4.9
    assert (COPY_SOURCE, "flores-en-zh", "bleu") not in values  # no column of its own: only the models' metrics
    page = write_report(run_dir).read_text()
    copy_row = page[page.index("<td class=name>(copy the source)</td>"):].split("</tr>")[0]
    assert "<td>4.9</td>" in copy_row and "%" not in copy_row  # a floor, not a system: no delta from the base


def test_each_task_has_its_own_table_with_only_the_models_scored_on_it(run_dir):
    write_json(run_dir / "eval/qa-only/results.json", {"model": "qa-only", "tasks": {"xquad-zh": {"n": 20, "metrics": {
        "f1": {"value": 12.5}, "em": {"value": 2.0}}}}})
    page = write_report(run_dir).read_text()
    blocks = {b.split("</h3>")[0]: b.split("<img")[0] for b in page.split("<h3>")[1:]}  # heading: its table
    assert set(blocks) == {"flores-en-zh", "xquad-zh"}
    assert "qa-only" not in blocks["flores-en-zh"] and "coit-zh" not in blocks["xquad-zh"]
    assert "<th>em</th><th>f1</th>" in blocks["xquad-zh"] and "<td>12.5</td>" in blocks["xquad-zh"]
    assert "<th>chrf++</th>" in blocks["flores-en-zh"] and "+5.5, +138%" in blocks["flores-en-zh"]


def test_alignment_section_shows_peaks_and_paired_differences(run_dir):
    import matplotlib.pyplot as plt

    align = run_dir / "analysis/align"
    align.mkdir(parents=True)
    fig = plt.figure(figsize=(1, 1))
    fig.savefig(align / "overview.png")
    plt.close(fig)
    best = {"retrieval_en_x": {"layer": 1, "value": 0.715}, "retrieval_x_en": {"layer": 0, "value": 0.5}}
    write_json(align / "alignment.json", {
        "models": [{"label": "base", "intervals": {"zh": {"retrieval_en_x": [[0.1, 0.2], [0.628, 0.781]],
                                                           "retrieval_x_en": [[0.43, 0.57], [0.1, 0.2]]}}},
                   {"label": "coit-zh"}],
        "best_layer": {"base": {"zh": best}, "coit-zh": {"zh": best}},
        "paired": [{"model": "coit-zh", "reference": "base", "lang": "zh", "metric": "retrieval_en_x",
                    "at_reference_best": {"layer": 1, "delta": 0.05, "low": 0.015, "high": 0.09, "p": 0.0126}}],
    })
    page = write_report(run_dir).read_text()
    section = page[page.index("Cross-lingual alignment by layer"):]
    assert "71.5 [62.8, 78.1] @ 1" in section  # the peak with its Wilson interval
    assert "71.5 @ 1" in section  # a model without intervals still gets its peak
    assert "coit-zh - base" in section and "+5.0 [+1.5, +9.0]" in section and "0.013" in section


def test_report_header_names_precision_and_cpu_kind(run_dir):
    block = provenance(train="fp32", eval="float32")
    results = read_json(run_dir / "eval/coit-zh/results.json")
    write_json(run_dir / "eval/coit-zh/results.json", {**results, "provenance": block})
    # A training output written before provenance existed: only its resolved precision.
    write_json(run_dir / "models/coit-zh/manifest.json", {"stage": "train", "derived": {"precision": "fp32"}})
    page = write_report(run_dir).read_text()
    header = page[page.index("<h1>"):page.index("<h2>")]
    assert "precision: train fp32; eval fp32" in header
    assert html.escape(block["cpu"]["kind"]) in header  # says whether the CPU has native bf16
    assert "machine not recorded for train:coit-zh, eval:base" in header


def _math_eval(folder, same_as_english: int):
    """An eval folder with mgsm-zh and mgsm-en: English right on all 20, zh the same on the first few."""
    from pathlib import Path

    from lingalign.evaluate.scoring import add_consistency, score_task
    from lingalign.tasks.base import Task

    gold = [str(3 * i + 1) for i in range(20)]
    records = {
        "mgsm-en": [{"id": str(i), "prompt": "p", "prediction": f"It is {g}.", "references": [g]}
                    for i, g in enumerate(gold)],
        "mgsm-zh": [{"id": str(i), "prompt": "p", "prediction": f"是 {g if i < same_as_english else 0}。",
                     "references": [g]} for i, g in enumerate(gold)]}
    tasks = {}
    for name, recs in records.items():
        append_jsonl(folder / "predictions" / f"{name}.jsonl", recs)
        tasks[name] = score_task(Task(name, "math", name[-2:], [], [Path("d")]), recs)
    add_consistency(tasks, records.get, lambda n: "mgsm-en" if n == "mgsm-zh" else None, "alpaca")
    write_json(folder / "results.json", {"model": folder.name, "prompt_format": "alpaca", "tasks": tasks})


def test_consistency_rows_beside_answer_language_with_intervals(tmp_path):
    _math_eval(tmp_path / "eval/base", 5)
    _math_eval(tmp_path / "eval/coit-zh", 15)
    rows = collect(tmp_path)["consistency"]
    assert [(r["model"], r["task"], r["with"], r["value"]) for r in rows] == [
        ("base", "mgsm-zh", "mgsm-en", 25.0), ("coit-zh", "mgsm-zh", "mgsm-en", 75.0)]
    assert rows[0]["low"] < 25 < rows[0]["high"] and "diff" not in rows[0]  # the baseline itself
    diff = rows[1]["diff"]
    assert diff["delta"] == 50.0 and 25 < diff["low"] < 50 < diff["high"] <= 75 and diff["n"] == 20
    page = write_report(tmp_path).read_text()
    assert page.index("<h2>Answer language") < page.index("<h2>Cross-lingual consistency") < page.index(
        "<h2>Configuration")
    assert f"75.0% [{rows[1]['low']:.1f}, {rows[1]['high']:.1f}]" in page
    assert f"+50.0 [{diff['low']:+.1f}, {diff['high']:+.1f}]" in page

    (tmp_path / "eval/coit-zh/predictions/mgsm-en.jsonl").unlink()  # predictions gone: the stored value only
    rows = collect(tmp_path)["consistency"]
    assert rows[1]["value"] == 75.0 and "low" not in rows[1] and "diff" not in rows[1]


def test_a_run_without_consistency_has_no_such_section(run_dir):
    assert collect(run_dir)["consistency"] == []
    assert "Cross-lingual consistency" not in write_report(run_dir).read_text()
