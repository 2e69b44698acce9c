"""lm-evaluation-harness interop: exported tasks, reading its results files, and a real round trip.

The round trip (marked ``lm_eval``, skipped without the package) runs lm-eval's own CLI, offline,
on exported XCOPA and MGSM tasks with the tiny random model, and checks it gives lingalign's
numbers, item by item. Run it alone with:  python -m pytest -m lm_eval -q
"""

import json
import os
import sys

import pytest
import yaml

from lingalign import artifacts
from lingalign.cli import main as cli_main
from lingalign.errors import UserError
from lingalign.evaluate import evaluate
from lingalign.prompting import build_prompt
from lingalign.report.command import write_report
from lingalign.result_files import find_lm_eval_results, load_results, read_lm_eval_predictions
from lingalign.tasks.registry import load_builtin

TASKS = "xcopa-zh,xcopa-it,mgsm-zh"


class _Loader(yaml.SafeLoader):
    """Reads lm-eval's ``!function module.name`` tag as the plain string it names."""


_Loader.add_constructor("!function", lambda loader, node: "!function " + loader.construct_scalar(node))


def _export(tmp_path, *extra):
    target = tmp_path / "tasks"
    assert cli_main(["eval", "--export-lm-eval", str(target), "--task", TASKS, *extra]) == 0
    return target


def test_export_writes_tasks_with_lingalign_prompts_and_settings(tmp_path, samples_dir):
    target = _export(tmp_path, "--limit", "3")
    xcopa = yaml.load((target / "xcopa-zh.yaml").read_text(encoding="utf-8"), Loader=_Loader)
    assert xcopa["output_type"] == "multiple_choice" and xcopa["target_delimiter"] == ""
    assert xcopa["metadata"]["lingalign"] == {"kind": "choice", "lang": "zh", "prompt_format": "alpaca",
                                              "export_version": 1, "reduce": "sum"}
    data = xcopa["dataset_kwargs"]["data_files"]["test"]
    assert os.path.isabs(data)
    rows = [json.loads(line) for line in open(data, encoding="utf-8")]
    task = load_builtin("xcopa-zh", samples_dir)
    assert len(rows) == 3 and rows[0]["options"] == task.examples[0].options and rows[0]["label"] == 0
    assert rows[0]["prompt"] == build_prompt(task.examples[0].instruction, "", "alpaca")

    mgsm = yaml.load((target / "mgsm-zh.yaml").read_text(encoding="utf-8"), Loader=_Loader)
    assert mgsm["output_type"] == "generate_until"
    until = ["### Instruction:", "### Input:", "### Response:", "\n\n\n", "\n### "]
    assert mgsm["generation_kwargs"] == {"until": until, "do_sample": False, "max_gen_toks": 64}
    assert mgsm["process_results"] == "!function lingalign_lm_eval.process_math"
    assert mgsm["metadata"]["lingalign"]["prompt_variant"] == "direct"
    assert "process_math" in (target / "lingalign_lm_eval.py").read_text()

    assert cli_main(["eval", "--export-lm-eval", str(tmp_path / "c"), "--task", "xcopa-zh",
                     "--prompt-format", "chat"]) == 2  # chat prompts need a model's template


def _lm_eval_file(folder, results, configs=None, samples=None):
    """A results file laid out as ``lm_eval --output_path folder --log_samples`` leaves it."""
    stamp = "2026-12-04T05-59-25.499567"
    data = {"results": results, "configs": configs or {}, "versions": {t: 1.0 for t in results},
            "n-samples": {t: {"original": 25, "effective": 25} for t in results},
            "config": {"model": "hf", "model_args": {"pretrained": "/models/coit-zh"}}, "lm_eval_version": "0.4.13"}
    path = folder / "__models__coit-zh" / f"results_{stamp}.json"
    artifacts.write_json(path, data)
    for task, rows in (samples or {}).items():
        artifacts.append_jsonl(path.with_name(f"samples_{task}_{stamp}.jsonl"), rows)
    return path


def test_lm_eval_results_read_as_one_more_model(tmp_path, capsys):
    meta = {"metadata": {"version": 1.0, "lingalign": {"kind": "choice", "lang": "zh", "prompt_format": "alpaca"}}}
    path = _lm_eval_file(tmp_path / "lm", {
        "xcopa-zh": {"alias": "xcopa-zh", "acc,none": 0.64, "acc_stderr,none": 0.1},
        "mgsm_native_cot_zh": {"exact_match,strict-match": 0.1, "exact_match,flexible-extract": 0.125,
                               "exact_match_stderr,flexible-extract": "N/A"},
        "wmt-like": {"bleu,none": 12.5, "chrf,none": 40.1},
    }, configs={"xcopa-zh": meta})
    data = load_results(tmp_path / "lm")  # the --output_path folder is enough
    assert data["source"] == "lm-eval" and data["model"] == "coit-zh" and data["prompt_format"] == "lm-eval"
    xcopa = data["tasks"]["xcopa-zh"]
    assert (xcopa["kind"], xcopa["lang"], xcopa["n"]) == ("choice", "zh", 25)
    assert xcopa["metrics"]["accuracy"]["value"] == 64.0 and set(xcopa["metrics"]) == {"accuracy"}
    assert set(data["tasks"]["mgsm_native_cot_zh"]["metrics"]) == {"exact_match/strict-match",
                                                                  "exact_match/flexible-extract"}
    assert data["tasks"]["wmt-like"]["metrics"]["bleu"]["value"] == 12.5  # corpus scores are already 0-100

    ours = tmp_path / "ours"
    artifacts.write_json(ours / "results.json", {"model": "base", "prompt_format": "alpaca", "tasks": {
        "xcopa-zh": {"n": 25, "kind": "choice", "lang": "zh", "metrics": {"accuracy": {"value": 52.0}}}}})
    artifacts.append_jsonl(ours / "predictions/xcopa-zh.jsonl", [
        {"id": str(i), "prediction": i % 2, "label": 0, "references": ["x"]} for i in range(25)])
    assert cli_main(["eval", "--compare", str(ours), str(path)]) == 0
    out = capsys.readouterr().out
    assert "coit-zh (lm-eval)" in out and "64.0" in out and "52.0" in out
    assert "10.0" in out and "12.5" in out  # strict-match and flexible-extract, on rows of their own
    assert "without per-item samples" in out and "point values only, no paired intervals" in out
    assert cli_main(["eval", "--compare", str(ours), str(path), "--bootstrap", "50"]) == 2  # nothing to pair
    assert "no per-item samples for xcopa-zh" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    ({"results": {"xcopa-zh": 0.5}, "versions": {}}, r"\[results.xcopa-zh\]: expected an object of metric values"),
    ({"results": {"xcopa-zh": {"alias": "x"}}, "versions": {}}, r"\[results.xcopa-zh\]: no metric values"),
    ({"scores": {"xcopa-zh": 0.5}}, "neither a lingalign results.json"),
])
def test_a_file_of_another_format_is_a_clear_error(tmp_path, capsys, content, message):
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps(content))
    with pytest.raises(UserError, match=message):
        load_results(bad)
    assert cli_main(["eval", "--compare", str(bad), str(bad)]) == 2
    assert "other.json" in capsys.readouterr().err


def test_report_shows_an_lm_eval_file_beside_the_run(tmp_path):
    artifacts.write_json(tmp_path / "run/eval/base/results.json", {
        "model": "base", "prompt_format": "alpaca", "tasks": {
        "mgsm-zh-cot": {"n": 25, "kind": "math", "lang": "zh", "prompt_variant": "cot",
                        "metrics": {"accuracy": {"value": 4.0}}}}})
    meta = {"metadata": {"lingalign": {"kind": "math", "lang": "zh", "prompt_variant": "cot"}}}
    path = _lm_eval_file(tmp_path / "lm", {"mgsm-zh-cot": {"accuracy,none": 0.08}}, configs={"mgsm-zh-cot": meta})
    page = write_report(tmp_path / "run", extra=[path]).read_text()
    assert "coit-zh (lm-eval)" in page and "8.0<br>" in page and "+4.0, +100%" in page
    assert "step by step, in the question&#x27;s language" in page
    assert cli_main(["report", str(tmp_path / "run"), "--results", str(tmp_path / "missing.json")]) == 2


# ---- the real thing ----------------------------------------------------------------------------------

@pytest.mark.lm_eval
def test_lm_eval_round_trip_gives_lingalign_scores_item_by_item(tiny_model_dir, tmp_path, monkeypatch, capsys):
    pytest.importorskip("lm_eval")

    ours = evaluate(str(tiny_model_dir), TASKS, tmp_path / "ours", limit=25, max_new_tokens=8, dtype="float32")
    target = _export(tmp_path, "--max-new-tokens", "8")
    exported = yaml.load((target / "mgsm-zh.yaml").read_text(encoding="utf-8"), Loader=_Loader)
    until = exported["generation_kwargs"]["until"]
    assert until == ours["generation"]["stop_strings"]  # the export stops where the runner does

    # lm-eval's own command line, in this process (a subprocess would import torch again), offline.
    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    out = tmp_path / "lm-eval-out"
    monkeypatch.setattr(sys, "argv", ["lm_eval", "--model", "hf", "--model_args",
                                      f"pretrained={tiny_model_dir},dtype=float32", "--device", "cpu",
                                      "--include_path", str(target), "--tasks", TASKS,
                                      "--output_path", str(out), "--log_samples"])
    from lm_eval.__main__ import cli_evaluate

    cli_evaluate()
    results_file = find_lm_eval_results(out)
    theirs = load_results(results_file)
    for task in TASKS.split(","):
        assert theirs["tasks"][task]["n"] == 25
        accuracy = theirs["tasks"][task]["metrics"]["accuracy"]["value"]
        assert accuracy == ours["tasks"][task]["metrics"]["accuracy"]["value"]
    for task, kind in (("xcopa-zh", "choice"), ("xcopa-it", "choice"), ("mgsm-zh", "math")):
        mine = {r["id"]: r for r in artifacts.read_jsonl_tolerant(tmp_path / "ours/predictions" / f"{task}.jsonl")}
        other = read_lm_eval_predictions(results_file, task, kind)
        assert set(other) == set(mine)
        assert {i: r["prediction"] for i, r in other.items()} == {i: r["prediction"] for i, r in mine.items()}
        if kind == "choice":  # the same log-likelihoods, not only the same argmax
            for i, r in other.items():
                assert r["scores"] == pytest.approx(mine[i]["scores"], abs=1e-4)

    capsys.readouterr()
    assert cli_main(["eval", "--compare", str(tmp_path / "ours"), str(out), "--bootstrap", "100"]) == 0
    text = capsys.readouterr().out
    assert "(lm-eval) minus ours (alpaca)" in text and "+0.0 [+0.0, +0.0]" in text
    assert "no paired intervals" not in text
