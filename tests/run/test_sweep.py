"""The sweep's bookkeeping with the stages replaced by fakes: rows, counts per run, resume after a kill."""

from __future__ import annotations

import csv
import math

import pytest
import yaml

from lingalign.errors import UserError
from lingalign.run import sweep as sweep_module

RECIPE = {
    "scaling": {"languages": {"zh": {"source": "news-en-zh", "task": "flores-en-zh"},
                              "vi": {"source": "tatoeba-en-vi", "task": "flores-en-vi"}},
                "sizes": [100, 200, 400], "metric": "chrf++", "eval_limit": 5},
    "data": {"seed": 0, "sources": [
        {"name": "alpaca-en", "kind": "instructions", "path": "sample:alpaca/alpaca_en_zh.json", "lang": "en",
         "fields": {"instruction": "en_instruction", "input": "en_input", "output": "en_output"}, "count": 10},
        {"name": "news-en-zh", "kind": "bitext", "path": "sample:bitext/newstest2017.en-zh", "languages": ["en", "zh"],
         "count": 1},
        {"name": "tatoeba-en-vi", "kind": "bitext", "path": "sample:bitext/tatoeba.eng-vie",
         "languages": ["eng", "vie"], "weight": 1},
    ]},
    "train": {"epochs": 1, "seed": 7},
}


class FakeStages:
    """Records what each stage was asked to do; the score grows with the log of the pair count."""

    def __init__(self, monkeypatch, fail_on_call: int | None = None):
        self.built, self.trained, self.evaluated = [], [], []
        self.fail_on_call = fail_on_call
        monkeypatch.setattr("lingalign.run.sweep.build_dataset", self.build)
        monkeypatch.setattr("lingalign.train.train", self.train)
        monkeypatch.setattr("lingalign.evaluate.evaluate", self.evaluate)

    def build(self, recipe, out_dir, recipe_dir=None, force=False):
        self.built.append((out_dir.parent.name, {s.name: s.count for s in recipe.sources}))
        return {}

    def train(self, config, data_dir, out_dir, resume=False):
        if self.fail_on_call is not None and len(self.trained) + 1 == self.fail_on_call:
            raise KeyboardInterrupt  # the sweep is killed during this run
        self.trained.append((data_dir.parent.name, config.seed, resume))
        return out_dir

    def evaluate(self, model, tasks, out_dir, limit=None, batch_size=8, max_new_tokens=None):
        run = out_dir.parent.name
        self.evaluated.append((run, tuple(tasks), limit))
        size = int(run.split("-")[1])
        return {"tasks": {tasks[0]: {"metrics": {"chrf++": {"value": round(3 * math.log(size) + 10, 4)}}}}}


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(RECIPE, sort_keys=False))
    return path


def rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_sweep_runs_every_language_and_size(recipe, tmp_path, monkeypatch):
    fake = FakeStages(monkeypatch)
    csv_path = sweep_module.run_sweep(recipe, tmp_path / "out")
    got = rows(csv_path)
    assert [(r["language"], r["size"]) for r in got] == [(l, str(s)) for l in ("zh", "vi") for s in (100, 200, 400)]
    assert {r["metric"] for r in got} == {"chrf++"} and {r["seed"] for r in got} == {"7"}
    assert float(got[1]["value"]) == round(3 * math.log(200) + 10, 4)
    # each run sets only its own language's bitext to the size; the other language's bitext is left out
    assert fake.built[0] == ("zh-100", {"alpaca-en": 10, "news-en-zh": 100})
    assert fake.built[4] == ("vi-200", {"alpaca-en": 10, "tatoeba-en-vi": 200})
    assert fake.evaluated[0] == ("zh-100", ("flores-en-zh",), 5)


def test_killed_sweep_resumes_with_the_same_rows(recipe, tmp_path, monkeypatch):
    FakeStages(monkeypatch)
    whole = sweep_module.run_sweep(recipe, tmp_path / "whole")
    killed = FakeStages(monkeypatch, fail_on_call=4)
    with pytest.raises(KeyboardInterrupt):
        sweep_module.run_sweep(recipe, tmp_path / "resumed")
    assert len(rows(tmp_path / "resumed" / "points.csv")) == 3
    assert len(killed.trained) == 3
    again = FakeStages(monkeypatch)
    sweep_module.run_sweep(recipe, tmp_path / "resumed")
    assert [t[0] for t in again.trained] == ["vi-100", "vi-200", "vi-400"]  # finished runs are skipped
    assert rows(tmp_path / "resumed" / "points.csv") == rows(whole)
    third = FakeStages(monkeypatch)
    sweep_module.run_sweep(recipe, tmp_path / "resumed")
    assert third.trained == []


def test_sweep_recipe_errors(tmp_path):
    bad = dict(RECIPE, scaling={**RECIPE["scaling"], "languages": {"zh": {"source": "nope", "task": "flores-en-zh"}}})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad, sort_keys=False))
    with pytest.raises(UserError, match="no data source named 'nope'"):
        sweep_module.load_sweep(path)
    path.write_text(yaml.safe_dump({"scaling": RECIPE["scaling"]}, sort_keys=False))
    with pytest.raises(UserError, match="needs scaling:, data: and train:"):
        sweep_module.load_sweep(path)
    path.write_text(yaml.safe_dump(dict(RECIPE, scaling={**RECIPE["scaling"], "sizes": [0, 100]}), sort_keys=False))
    with pytest.raises(UserError, match="sizes must be positive"):
        sweep_module.load_sweep(path)
    with pytest.raises(UserError, match="reports no metric 'bleu'"):
        sweep_module.metric_value({"tasks": {"t": {"metrics": {"chrf++": {"value": 1}}}}}, "t", "bleu")


def test_tiny_model_sweep_end_to_end(tiny_model_dir, tmp_path):
    """The real stages on the tiny random model: two sizes, one row each, and a re-run adds nothing."""
    recipe = {
        "scaling": {"languages": {"zh": {"source": "news-en-zh", "task": "flores-en-zh"}},
                    "sizes": [4, 8], "metric": "chrf++", "eval_limit": 2, "eval_batch_size": 2,
                    "eval_max_new_tokens": 16},
        "data": {"seed": 0, "eval_sets": ["sample:flores101/devtest"], "sources": [
            {"name": "news-en-zh", "kind": "bitext", "path": "sample:bitext/newstest2017.en-zh",
             "languages": ["en", "zh"], "count": 1}]},
        "train": {"model": str(tiny_model_dir), "max_length": 1024, "epochs": 1, "learning_rate": 1e-3,
                  "precision": "fp32", "seed": 3},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    csv_path = sweep_module.run_sweep(path, tmp_path / "out")
    got = rows(csv_path)
    assert [(r["language"], r["size"], r["seed"]) for r in got] == [("zh", "4", "3"), ("zh", "8", "3")]
    assert all(0 <= float(r["value"]) <= 100 for r in got)
    for size in (4, 8):
        run = tmp_path / "out" / "runs" / f"zh-{size}"
        lines = (run / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == size
        assert (run / "eval" / "results.json").exists()
    small = set((tmp_path / "out" / "runs" / "zh-4" / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines())
    large = set((tmp_path / "out" / "runs" / "zh-8" / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines())
    assert small <= large  # nested subsets
    before = csv_path.read_text()
    sweep_module.run_sweep(path, tmp_path / "out")
    assert csv_path.read_text() == before
