"""Cross-lingual consistency in the evaluate stage: stored by evaluate(), resampled by --compare, and
MSVAMP end to end (built-in tasks, and a hidden language's MSVAMP file as a user set)."""

import json
import shutil
from pathlib import Path

import pytest

from lingalign import artifacts
from lingalign.artifacts import append_jsonl, write_json
from lingalign.cli import main as cli_main
from lingalign.errors import UserError
from lingalign.evaluate import evaluate
from lingalign.evaluate.scoring import add_consistency, score_task
from lingalign.evaluate.significance import consistency_bootstrap, paired_bootstrap
from lingalign.metrics.consistency import consistency
from lingalign.metrics.math_answers import is_correct
from lingalign.prompting import PIVOT_SEPARATOR
from lingalign.tasks.base import Task

FAST = dict(limit=4, batch_size=4, max_new_tokens=6, dtype="float32")


def stored(out: Path, task: str) -> list[dict]:
    return artifacts.read_jsonl_tolerant(out / "predictions" / f"{task}.jsonl")


# ---- evaluate() --------------------------------------------------------------------------------------

def test_evaluate_adds_consistency_when_both_languages_are_scored(tiny_model_dir, tmp_path):
    out = tmp_path / "both"
    results = evaluate(str(tiny_model_dir), "msvamp-zh,msvamp-en,xcopa-zh", out, **FAST)
    zh, en = results["tasks"]["msvamp-zh"], results["tasks"]["msvamp-en"]
    entry = zh["metrics"]["consistency"]
    assert entry["with"] == "msvamp-en" and entry["n"] == 4 and "same final number" in entry["scoring"]
    assert entry["value"] == consistency("math", stored(out, "msvamp-zh"), stored(out, "msvamp-en"))["value"]
    assert "consistency" not in en["metrics"]  # English is the reference, not compared with itself
    assert "consistency" not in results["tasks"]["xcopa-zh"]["metrics"]  # no xcopa-en in the run
    assert artifacts.read_json(out / "results.json")["tasks"]["msvamp-zh"] == zh
    right = sum(is_correct(p["prediction"], p["references"][0]) for p in stored(out, "msvamp-zh"))
    assert zh["metrics"]["accuracy"]["value"] == 25 * right  # MSVAMP's "8.0" answers through MGSM's scoring


def test_a_run_without_the_english_task_is_unchanged(tiny_model_dir, tmp_path):
    out = tmp_path / "alone"
    results = evaluate(str(tiny_model_dir), "mgsm-zh", out, **FAST)
    assert set(results["tasks"]["mgsm-zh"]["metrics"]) == {"accuracy"}
    before = (out / "results.json").read_bytes()
    tasks = json.loads(before)["tasks"]
    assert add_consistency(tasks, lambda name: stored(out, name), lambda name: "mgsm-en", "alpaca") == []
    assert json.dumps(tasks, sort_keys=True) == json.dumps(json.loads(before)["tasks"], sort_keys=True)

    # Scoring the English task later into the same folder adds consistency to the kept mgsm-zh.
    again = evaluate(str(tiny_model_dir), "mgsm-en", out, **FAST)
    kept = again["tasks"]["mgsm-zh"]
    assert kept["metrics"]["consistency"]["with"] == "mgsm-en" and kept["metrics"]["consistency"]["n"] == 4
    assert kept["metrics"]["accuracy"] == results["tasks"]["mgsm-zh"]["metrics"]["accuracy"]


def test_hidden_language_msvamp_file_runs_as_a_user_set_with_consistency(tiny_model_dir, samples_dir, tmp_path):
    """A copy of MSVAMP's German file presented as Icelandic: no built-in prompt, English instruction."""
    shutil.copy(samples_dir / "msvamp/test.de.jsonl", tmp_path / "test.is.jsonl")
    (tmp_path / "eval.yaml").write_text(
        "eval:\n  tasks: [msvamp-is, msvamp-en]\n  limit: 3\n  sets:\n"
        "    - {name: msvamp-is, type: math, path: test.is.jsonl, lang: is, english_task: msvamp-en}\n")
    out = tmp_path / "out"
    assert cli_main(["eval", "--model", str(tiny_model_dir), "--recipe", str(tmp_path / "eval.yaml"), "-o", str(out),
                     "--dtype", "float32", "--max-new-tokens", "6"]) == 0
    results = artifacts.read_json(out / "results.json")
    hidden = results["tasks"]["msvamp-is"]
    assert (hidden["kind"], hidden["lang"], hidden["n"], hidden["instruction_lang"]) == ("math", "is", 3, "en")
    first = stored(out, "msvamp-is")[0]
    assert first["references"] == ["8.0"] and "Julia spielte am Montag mit 18 Kindern" in first["prompt"]
    assert hidden["metrics"]["consistency"]["with"] == "msvamp-en" and hidden["metrics"]["consistency"]["n"] == 3


def test_english_task_is_refused_on_translation_sets(tmp_path):
    from lingalign.tasks.user_sets import UserSet, load_user_set

    (tmp_path / "a.en").write_text("Hi.\n")
    (tmp_path / "a.vi").write_text("Chào.\n")
    with pytest.raises(UserError, match="english_task is for qa, choice and math sets"):
        load_user_set(UserSet(name="t", type="translation", prefix="a", src_lang="en", tgt_lang="vi",
                              english_task="flores-en-vi"), tmp_path)


# ---- eval --compare on hand-made folders -----------------------------------------------------------------

def make_run(folder: Path, tasks: dict[str, tuple[str, str, list[dict]]]) -> Path:
    """An eval folder as the runner leaves it: predictions, results scored by the stage, consistency added."""
    entries = {}
    for name, (kind, lang, records) in tasks.items():
        append_jsonl(folder / "predictions" / f"{name}.jsonl", records)
        entries[name] = score_task(Task(name, kind, lang, [], [Path("data")]), records)
    add_consistency(entries, lambda name: tasks[name][2] if name in tasks else None,
                    lambda name: name.replace("-zh", "-en") if "-zh" in name else None, "alpaca")
    write_json(folder / "results.json", {"model": folder.name, "prompt_format": "alpaca", "tasks": entries})
    return folder


def math_records(answers: list[str], gold: list[str]) -> list[dict]:
    return [{"id": str(i), "prompt": "p", "prediction": a, "references": [g]} for i, (a, g) in
            enumerate(zip(answers, gold))]


GOLD = [str(10 + i) for i in range(40)]


def math_run(folder: Path, same_as_english: int) -> Path:
    """40 MGSM items; English always says the gold number; zh says it on the first ``same_as_english``."""
    english = math_records([f"The answer is {g}." for g in GOLD], GOLD)
    chinese = math_records([f"答案是 {g}。" if i < same_as_english else "答案是 7。" for i, g in enumerate(GOLD)], GOLD)
    return make_run(folder, {"mgsm-zh": ("math", "zh", chinese), "mgsm-en": ("math", "en", english)})


def test_compare_prints_a_consistency_row_with_a_paired_interval(tmp_path, capsys):
    base, system = math_run(tmp_path / "base", 10), math_run(tmp_path / "system", 30)
    stored_value = artifacts.read_json(system / "results.json")["tasks"]["mgsm-zh"]["metrics"]["consistency"]
    assert stored_value == {"value": 75.0, "n": 40, "with": "mgsm-en", "scoring": stored_value["scoring"]}
    target = tmp_path / "cmp.json"
    assert cli_main(["eval", "--compare", str(base), str(system), "--bootstrap", "300", "--json", str(target)]) == 0
    out = capsys.readouterr().out
    entry = json.loads(target.read_text())["bootstrap"][0]["tasks"]["mgsm-zh"]["consistency"]
    assert (entry["a"], entry["b"], entry["delta"], entry["n"], entry["with"]) == (25.0, 75.0, 50.0, 40, "mgsm-en")
    assert 25 < entry["low"] < 50 < entry["high"] < 75
    row = next(line for line in out.splitlines() if "consistency vs mgsm-en" in line and "[" in line)
    assert row.split()[0] == "mgsm-zh" and f"{entry['delta']:+.1f} [{entry['low']:+.1f}, {entry['high']:+.1f}]" in row
    side_by_side = next(line for line in out.splitlines() if "consistency vs mgsm-en" in line and "[" not in line)
    assert "25.0" in side_by_side and "75.0" in side_by_side
    assert "consistency" not in json.loads(target.read_text())["bootstrap"][0]["tasks"]["mgsm-en"]


def test_compare_resamples_a_pivot_models_consistency_on_its_final_parts(tmp_path, capsys):
    """A pivot model's English working holds numbers of its own: only the final part may be compared."""
    english = math_records([f"Working: 3 + 4 = 7.{PIVOT_SEPARATOR}The answer is {g}." for g in GOLD], GOLD)
    chinese = math_records([f"Working: 3 + 4 = 7.{PIVOT_SEPARATOR}答案是 {g}。" if i < 30 else
                            f"Working: 3 + 4 = {g}.{PIVOT_SEPARATOR}答案是 7。" for i, g in enumerate(GOLD)], GOLD)
    pivot = tmp_path / "pivot"
    entries = {}
    for name, lang, records in (("mgsm-zh", "zh", chinese), ("mgsm-en", "en", english)):
        append_jsonl(pivot / "predictions" / f"{name}.jsonl", records)
        entries[name] = score_task(Task(name, "math", lang, [], [Path("data")]), records,
                                   pivot_separator=PIVOT_SEPARATOR)
    write_json(pivot / "results.json", {"model": "pivot", "prompt_format": "alpaca-pivot", "tasks": entries})
    base = math_run(tmp_path / "base", 10)
    target = tmp_path / "cmp.json"
    assert cli_main(["eval", "--compare", str(base), str(pivot), "--bootstrap", "200", "--json", str(target)]) == 0
    entry = json.loads(target.read_text())["bootstrap"][0]["tasks"]["mgsm-zh"]["consistency"]
    # whole responses would agree on 0 items (the last numbers differ) or on the working's 7s; final parts on 30
    assert (entry["a"], entry["b"], entry["delta"], entry["n"]) == (25.0, 75.0, 50.0, 40)


def test_consistency_is_resampled_even_when_results_json_predates_it(tmp_path):
    base, system = math_run(tmp_path / "base", 10), math_run(tmp_path / "system", 30)
    for folder in (base, system):  # as written before consistency existed
        data = artifacts.read_json(folder / "results.json")
        del data["tasks"]["mgsm-zh"]["metrics"]["consistency"]
        write_json(folder / "results.json", data)
    out = paired_bootstrap(base, system, "mgsm-zh", resamples=200)
    assert set(out) == {"accuracy", "answer_lang", "consistency"} and out["consistency"]["delta"] == 50.0
    assert out["consistency"] == consistency_bootstrap(base, system, "mgsm-zh", "mgsm-en", "math", 200)
    (system / "predictions/mgsm-en.jsonl").unlink()  # one side's English predictions gone: no interval, no error
    assert "consistency" not in paired_bootstrap(base, system, "mgsm-zh", resamples=50)


def test_choice_and_qa_consistency_through_compare(tmp_path):
    labels = [i % 2 for i in range(20)]
    choice = lambda picks: [{"id": str(i), "prompt": "p", "prediction": c, "label": l, "references": ["o"],  # noqa: E731
                             "scores": [0.0, 0.0]} for i, (c, l) in enumerate(zip(picks, labels))]
    english = choice([0] * 20)  # always the first option: right on half
    en = ("choice", "en", english)
    a = make_run(tmp_path / "a", {"xcopa-zh": ("choice", "zh", choice([1] * 20)), "xcopa-en": en})
    b = make_run(tmp_path / "b", {"xcopa-zh": ("choice", "zh", choice([0] * 20)), "xcopa-en": en})
    result = paired_bootstrap(a, b, "xcopa-zh", resamples=100)["consistency"]
    assert (result["a"], result["b"]) == (0.0, 100.0)  # never the same option, then always (right or wrong)

    qa = lambda preds, gold: [{"id": f"q{i}", "prompt": "p", "prediction": p, "references": [g]}  # noqa: E731
                              for i, (p, g) in enumerate(zip(preds, gold))]
    zh = qa(["北京", "不知道", "上海", "不知道"], ["北京", "长江", "上海", "黄河"])  # right, wrong, right, wrong
    en = qa(["Beijing", "Yangtze", "no idea", "no idea"], ["Beijing", "Yangtze", "Shanghai", "Yellow River"])
    run = make_run(tmp_path / "qa", {"xquad-zh": ("qa", "zh", zh), "xquad-en": ("qa", "en", en)})
    value = artifacts.read_json(run / "results.json")["tasks"]["xquad-zh"]["metrics"]["consistency"]
    assert value["value"] == 50.0 and "agreement of correctness" in value["scoring"]  # items 1 and 4 agree
