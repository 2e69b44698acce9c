"""Paired bootstrap intervals on synthetic prediction folders (no model): values, widths, joins, errors."""

import json
import random
from pathlib import Path

import pytest

from lingalign.artifacts import append_jsonl, read_json, write_json
from lingalign.cli import main as cli_main
from lingalign.errors import UserError
from lingalign.evaluate.scoring import score_task
from lingalign.evaluate.significance import paired_bootstrap
from lingalign.tasks.base import Task

QA_GOLD = ["北京", "长江", "一九四九年", "孔子", "熊猫", "上海", "黄河", "长城"]
ZH_REFS = ["今天的天气很好，我们去公园散步。", "这本书讲述了一个古老的故事。", "他每天早上喝一杯咖啡。",
           "会议将在下周三举行。", "孩子们在操场上踢足球。", "这座城市有很多历史建筑。"]


def make_run(folder: Path, task: str, kind: str, lang: str, records: list[dict]) -> Path:
    """An eval output folder as the runner leaves it, scored with the stage's own scoring."""
    append_jsonl(folder / "predictions" / f"{task}.jsonl", records)
    entry = score_task(Task(task, kind, lang, [], [Path("data")]), records)
    write_json(folder / "results.json", {"model": folder.name, "prompt_format": "alpaca", "tasks": {task: entry}})
    return folder


def qa_records(n: int, p_right: float, seed: int, start: int = 0) -> list[dict]:
    """Chinese QA predictions: right ones contain the gold answer, wrong ones an English filler."""
    rng = random.Random(seed)
    out = []
    for i in range(start, start + n):
        gold = QA_GOLD[i % len(QA_GOLD)]
        prediction = f"答案是{gold}" if rng.random() < p_right else "I do not know the answer."
        out.append({"id": f"q{i}", "prompt": "p", "prediction": prediction, "references": [gold]})
    return out


def mt_records(n: int, p_right: float, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ref = ZH_REFS[i % len(ZH_REFS)] + f"第{i}句。"
        prediction = ref if rng.random() < p_right else "这是完全不同的一句话。"
        out.append({"id": str(i), "prompt": "p", "prediction": prediction, "references": [ref]})
    return out


def test_identical_systems_give_zero_delta_and_an_interval_around_it(tmp_path):
    records = qa_records(40, 0.5, seed=1)
    a = make_run(tmp_path / "a", "xquad-zh", "qa", "zh", records)
    b = make_run(tmp_path / "b", "xquad-zh", "qa", "zh", records)
    out = paired_bootstrap(a, b, "xquad-zh", resamples=300)
    assert set(out) == {"inclusion", "em", "f1", "answer_lang"}
    for entry in out.values():
        assert entry["delta"] == 0 and entry["low"] <= 0 <= entry["high"] and entry["p"] == 1.0
        assert entry["low"] == entry["high"] == 0  # paired: both scored on the same draws
        assert entry["n"] == entry["n_a"] == entry["n_b"] == 40


def test_right_on_every_item_vs_wrong_on_every_item_is_tight_and_far_from_zero(tmp_path):
    a = make_run(tmp_path / "a", "xquad-zh", "qa", "zh", qa_records(30, 0.0, seed=2))
    b = make_run(tmp_path / "b", "xquad-zh", "qa", "zh", qa_records(30, 1.0, seed=2))
    out = paired_bootstrap(a, b, "xquad-zh", resamples=400)
    inc = out["inclusion"]
    assert (inc["a"], inc["b"], inc["delta"], inc["low"], inc["high"]) == (0, 100, 100, 100, 100)
    assert inc["p"] == pytest.approx(1 / 401, abs=1e-6)
    assert inc["rel"] is None  # no relative gain over a baseline at 0

    a = make_run(tmp_path / "ma", "flores-en-zh", "translation", "zh", mt_records(30, 0.0, seed=3))
    b = make_run(tmp_path / "mb", "flores-en-zh", "translation", "zh", mt_records(30, 1.0, seed=3))
    out = paired_bootstrap(a, b, "flores-en-zh", resamples=200)
    assert out["chrf++"]["b"] == pytest.approx(100) and out["bleu"]["b"] == pytest.approx(100)
    for metric in ("chrf++", "bleu"):
        e = out[metric]
        assert e["low"] > 50 and e["high"] - e["low"] < 20, e
        assert e["rel"] == pytest.approx(e["delta"] / e["a"] * 100, rel=1e-3)


def test_full_sample_values_equal_the_stage_metrics(tmp_path):
    for task, kind, make in (("xquad-zh", "qa", qa_records), ("flores-en-zh", "translation", mt_records)):
        a = make_run(tmp_path / f"{kind}-a", task, kind, "zh", make(60, 0.4, seed=4))
        b = make_run(tmp_path / f"{kind}-b", task, kind, "zh", make(60, 0.7, seed=5))
        out = paired_bootstrap(a, b, task, resamples=50)
        stored_a = read_json(a / "results.json")["tasks"][task]["metrics"]
        stored_b = read_json(b / "results.json")["tasks"][task]["metrics"]
        assert set(out) == set(stored_a)
        for metric, entry in out.items():
            assert entry["a"] == pytest.approx(stored_a[metric]["value"], abs=1e-3)
            assert entry["b"] == pytest.approx(stored_b[metric]["value"], abs=1e-3)
            assert entry["delta"] == pytest.approx(entry["b"] - entry["a"], abs=1e-3)
            if "signature" in stored_a[metric]:  # same sacrebleu settings and tokenizer (zh) as the stage
                assert entry["signature"] == stored_a[metric]["signature"]
                assert "tok:zh" in entry["signature"] or metric == "chrf++"
        assert 0 < out[next(iter(out))]["delta"]


def test_same_seed_same_interval_and_other_seed_another(tmp_path):
    a = make_run(tmp_path / "a", "xquad-zh", "qa", "zh", qa_records(80, 0.4, seed=6))
    b = make_run(tmp_path / "b", "xquad-zh", "qa", "zh", qa_records(80, 0.6, seed=7))
    first = paired_bootstrap(a, b, "xquad-zh", metrics=["f1"], resamples=300, seed=11)
    assert first == paired_bootstrap(a, b, "xquad-zh", metrics=["f1"], resamples=300, seed=11)
    other = paired_bootstrap(a, b, "xquad-zh", metrics=["f1"], resamples=300, seed=12)
    assert other["f1"]["delta"] == first["f1"]["delta"]
    assert (other["f1"]["low"], other["f1"]["high"]) != (first["f1"]["low"], first["f1"]["high"])


def test_interval_shrinks_with_more_items(tmp_path):
    widths = {}
    for n in (50, 800):
        a = make_run(tmp_path / f"a{n}", "xquad-zh", "qa", "zh", qa_records(n, 0.5, seed=8))
        b = make_run(tmp_path / f"b{n}", "xquad-zh", "qa", "zh", qa_records(n, 0.7, seed=9))
        e = paired_bootstrap(a, b, "xquad-zh", metrics=["inclusion"], resamples=500)["inclusion"]
        assert e["low"] <= e["delta"] <= e["high"]
        widths[n] = e["high"] - e["low"]
    assert widths[800] < 0.5 * widths[50]  # ~1/sqrt(16) = 0.25 expected


def test_only_shared_ids_are_joined_and_counted(tmp_path, capsys):
    a = make_run(tmp_path / "a", "xquad-zh", "qa", "zh", qa_records(10, 0.0, seed=10, start=0))
    b = make_run(tmp_path / "b", "xquad-zh", "qa", "zh", qa_records(10, 1.0, seed=10, start=4))
    e = paired_bootstrap(a, b, "xquad-zh", metrics=["inclusion"], resamples=100)["inclusion"]
    assert (e["n"], e["n_a"], e["n_b"]) == (6, 10, 10)
    assert (e["a"], e["b"]) == (0, 100)
    assert cli_main(["eval", "--compare", str(a), str(b), "--bootstrap", "100"]) == 0
    out = capsys.readouterr().out
    assert "6 shared example ids (10 in the baseline, 10 in b)" in out


def test_runs_that_scored_different_references_are_refused(tmp_path):
    records = mt_records(5, 1.0, seed=1)
    a = make_run(tmp_path / "a", "flores-en-zh", "translation", "zh", records)
    other = [{**r, "references": [r["references"][0] + "!"]} for r in records]
    b = make_run(tmp_path / "b", "flores-en-zh", "translation", "zh", other)
    with pytest.raises(UserError, match="different references for 5 shared ids"):
        paired_bootstrap(a, b, "flores-en-zh", resamples=10)


def test_missing_predictions_file_is_a_user_error_naming_it(tmp_path, capsys):
    a = make_run(tmp_path / "a", "xquad-zh", "qa", "zh", qa_records(5, 0.5, seed=1))
    b = make_run(tmp_path / "b", "xquad-zh", "qa", "zh", qa_records(5, 0.5, seed=2))
    missing = b / "predictions" / "xquad-zh.jsonl"
    missing.unlink()
    with pytest.raises(UserError, match="predictions file not found") as info:
        paired_bootstrap(a, b, "xquad-zh")
    assert str(missing) in str(info.value)
    assert cli_main(["eval", "--compare", str(a), str(b / "results.json"), "--bootstrap", "50"]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err
    with pytest.raises(UserError, match="no bootstrap for bleu"):
        paired_bootstrap(a, a, "xquad-zh", metrics=["bleu"])
    assert cli_main(["eval", "--compare", str(a), str(a), "--bootstrap", "0"]) == 2


def test_cli_compares_each_run_with_the_first_and_writes_json(tmp_path, capsys):
    base = make_run(tmp_path / "base", "xquad-zh", "qa", "zh", qa_records(40, 0.3, seed=1))
    coit = make_run(tmp_path / "coit", "xquad-zh", "qa", "zh", qa_records(40, 0.8, seed=2))
    muit = make_run(tmp_path / "muit", "xquad-zh", "qa", "zh", qa_records(40, 0.5, seed=3))
    target = tmp_path / "cmp.json"
    argv = ["eval", "--compare", str(base), str(coit / "results.json"), str(muit), "--bootstrap", "200",
            "--json", str(target)]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert "coit (alpaca) minus base (alpaca)" in out and "muit (alpaca) minus base (alpaca)" in out
    assert "delta [95% CI]" in out
    saved = json.loads(target.read_text())
    assert [Path(c["system"]).parent.name for c in saved["bootstrap"]] == ["coit", "muit"]
    f1 = saved["bootstrap"][0]["tasks"]["xquad-zh"]["f1"]
    assert f1 == paired_bootstrap(base, coit, "xquad-zh", resamples=200)["f1"]
    assert f"{f1['delta']:+.1f} [{f1['low']:+.1f}, {f1['high']:+.1f}]" in out
    assert cli_main(["eval", "--compare", str(base), str(coit), "--json", str(target)]) == 0
    assert "bootstrap" not in json.loads(target.read_text())


def test_math_and_choice_accuracy_are_resampled_per_item(tmp_path):
    """MGSM-style accuracy (last number vs gold) and XCOPA-style accuracy (chosen option vs label)."""
    rng = random.Random(0)
    golds = [str(rng.randint(1, 5000)) for _ in range(60)]  # "1,234" in the right answers
    wrong = [{"id": str(i), "prompt": "p", "prediction": "不知道", "references": [g]} for i, g in enumerate(golds)]
    right = [{"id": str(i), "prompt": "p", "prediction": f"答案是 {int(g):,}。" if i % 4 else "不知道",
              "references": [g]} for i, g in enumerate(golds)]
    a = make_run(tmp_path / "a", "mgsm-zh", "math", "zh", wrong)
    b = make_run(tmp_path / "b", "mgsm-zh", "math", "zh", right)
    assert read_json(b / "results.json")["tasks"]["mgsm-zh"]["metrics"]["accuracy"]["value"] == 75.0
    out = paired_bootstrap(a, b, "mgsm-zh", resamples=300)
    assert set(out) == {"accuracy", "answer_lang"}
    acc = out["accuracy"]
    assert (acc["a"], acc["b"], acc["delta"]) == (0.0, 75.0, 75.0) and 60 < acc["low"] <= 75 <= acc["high"] < 90

    labels = [rng.randint(0, 1) for _ in range(40)]
    choice = lambda hit: [{"id": str(i), "prompt": "p", "prediction": l if hit(i) else 1 - l, "label": l,  # noqa: E731
                           "references": ["x"], "scores": [0.0, 0.0]} for i, l in enumerate(labels)]
    c = make_run(tmp_path / "c", "xcopa-zh", "choice", "zh", choice(lambda i: i % 2 == 0))
    d = make_run(tmp_path / "d", "xcopa-zh", "choice", "zh", choice(lambda i: True))
    acc = paired_bootstrap(c, d, "xcopa-zh", resamples=300)["accuracy"]
    assert (acc["a"], acc["b"]) == (50.0, 100.0) and 30 < acc["low"] < 50 < acc["high"] <= 70
