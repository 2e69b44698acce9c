"""``lingalign run``: a whole experiment on a tiny model, cached, resumable, with clear errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
import yaml

import lingalign.train as train_module
from lingalign.artifacts import read_json
from lingalign.cli import main
from lingalign.output_lock import LOCK_FILE, holder
from lingalign.run import launcher as run_module
from running_processes import processes_with, survivors, wait_for_text

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def experiment(model: Path, **changes) -> dict:
    """A two-model experiment on shipped samples: an English baseline and a CoIT model, both tiny."""
    alpaca_en = {"name": "alpaca-en", "kind": "instructions", "path": "sample:alpaca/alpaca_en_zh.json",
                 "lang": "en", "fields": {"instruction": "en_instruction", "input": "en_input", "output": "en_output"}}
    alpaca_zh = {**alpaca_en, "name": "alpaca-zh", "lang": "zh",
                 "fields": {"instruction": "zh_instruction", "input": "zh_input", "output": "zh_output"}}
    news = {"name": "news", "kind": "bitext", "path": "sample:bitext/newstest2017.en-zh", "languages": ["en", "zh"]}
    recipe = {
        "name": "tiny",
        "base_model": str(model),
        "datasets": {
            "en": {"seed": 0, "sources": [{**alpaca_en, "count": 8}]},
            "coit": {"seed": 0, "eval_sets": ["sample:flores101/devtest"],
                     "sources": [{**alpaca_zh, "count": 4}, {**news, "count": 4}]},
        },
        "train": {"max_length": 512, "overlength": "truncate", "packing": False, "micro_batch_size": 2,
                  "gradient_accumulation_steps": 1, "epochs": 1,
                  "learning_rate": 1e-3, "precision": "fp32", "checkpoint_every": 1, "seed": 3},
        "models": [{"name": "alpaca-en", "data": "en"}, {"name": "coit-zh", "data": "coit"}],
        "evaluate": {"tasks": ["flores-en-zh"], "limit": 3, "batch_size": 3, "max_new_tokens": 4},
    }
    recipe.update(changes)
    return recipe


def write_recipe(folder: Path, recipe: dict) -> Path:
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def run(recipe: Path, out: Path, *extra: str) -> int:
    return main(["run", str(recipe), "-o", str(out), *extra])


def statuses(out: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (out / "run_log.jsonl").read_text().splitlines():
        entry = json.loads(line)
        found.setdefault(entry["step"], []).append(entry["status"])
    return found


def weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_model_dir):
    """One uninterrupted run of the tiny experiment, shared by the tests that only read it."""
    folder = tmp_path_factory.mktemp("run")
    recipe = write_recipe(folder, experiment(tiny_model_dir))
    assert run(recipe, folder / "out") == 0
    return recipe, folder / "out"


def test_run_builds_trains_scores_and_reports(finished):
    _, out = finished
    for name in ("en", "coit"):
        assert len((out / "data" / name / "train.jsonl").read_text().splitlines()) == 8
    for model in ("alpaca-en", "coit-zh"):
        assert (out / "models" / model / "model.safetensors").is_file()
        assert (out / "models" / model / "hyperparameters.yaml").is_file()
    for label in ("base", "alpaca-en", "coit-zh"):
        results = read_json(out / "eval" / label / "results.json")
        assert results["tasks"]["flores-en-zh"]["n"] == 3
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "coit-zh" in page and "flores-en-zh" in page
    assert sorted(p.name for p in (out / "steps").iterdir()) == [
        "data__coit.json", "data__en.json", "eval__alpaca-en.json", "eval__base.json", "eval__coit-zh.json",
        "train__alpaca-en.json", "train__coit-zh.json"]


def test_the_eval_steps_put_their_scores_in_the_model_cards(finished, tiny_model_dir):
    from huggingface_hub import ModelCard

    _, out = finished
    for model in ("alpaca-en", "coit-zh"):
        card = ModelCard.load(out / "models" / model / "README.md")
        chrf = [r for r in card.data.eval_results if r.dataset_name == "flores-en-zh" and r.metric_type == "chrf"]
        scored = read_json(out / "eval" / model / "results.json")["tasks"]["flores-en-zh"]["metrics"]["chrf++"]
        assert [r.metric_value for r in chrf] == [scored["value"]]
        assert "lingalign" in card.data.tags and card.data.language
    assert "coit" in ModelCard.load(out / "models" / "coit-zh" / "README.md").data.tags
    assert not (tiny_model_dir / "README.md").exists()  # the base model's folder is not lingalign's


def test_trained_models_differ_from_the_base(finished, tiny_model_dir):
    _, out = finished
    base = weights(tiny_model_dir)
    tuned = weights(out / "models" / "coit-zh")
    changed = [k for k in base if k in tuned and not (base[k] == tuned[k]).all()]
    assert len(changed) > len(base) // 2


def test_second_run_does_nothing(finished, capsys):
    recipe, out = finished
    report_time = (out / "report.html").stat().st_mtime_ns
    before = statuses(out)
    assert run(recipe, out) == 0
    after = statuses(out)
    assert all(after[step][len(before[step]):] == ["skipped"] for step in before)
    assert (out / "report.html").stat().st_mtime_ns == report_time
    assert "[cached]" in capsys.readouterr().out


def test_changing_the_evaluation_reruns_only_evaluation(finished, tmp_path, tiny_model_dir):
    _, out = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    recipe = experiment(tiny_model_dir)
    recipe["evaluate"]["limit"] = 2
    assert run(write_recipe(tmp_path, recipe), copy) == 0
    log = statuses(copy)
    assert log["train:coit-zh"][-1] == "skipped" and log["data:en"][-1] == "skipped"
    assert log["eval:coit-zh"][-1] == "done"
    assert read_json(copy / "eval" / "coit-zh" / "results.json")["tasks"]["flores-en-zh"]["n"] == 2


def test_a_data_setting_that_keeps_the_records_does_not_retrain(finished, tmp_path, tiny_model_dir):
    """E.g. a recipe pinning the old length unit: the data step re-runs, finds the same records, and the
    models are kept (the train stage keys on the records, not on the recipe's text)."""
    _, out = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    model = copy / "models" / "coit-zh" / "model.safetensors"
    stamp = model.stat().st_mtime_ns
    recipe = experiment(tiny_model_dir)
    recipe["datasets"]["coit"]["clean"] = {"length_unit": "utf8-bytes"}
    assert run(write_recipe(tmp_path, recipe), copy) == 0
    log = statuses(copy)
    assert log["data:coit"][-1] == "done" and log["data:en"][-1] == "skipped"
    assert (copy / "data" / "coit" / "train.jsonl").read_bytes() == (out / "data" / "coit" / "train.jsonl").read_bytes()
    assert model.stat().st_mtime_ns == stamp  # not trained again


def test_run_killed_in_training_resumes_to_the_same_result(finished, tmp_path, monkeypatch, tiny_model_dir):
    """A kill after a training checkpoint, then the same command: the same weights and scores."""
    import torch

    recipe, reference = finished
    real_train = train_module.train
    calls = []

    def killed_after_two_steps(*args, **kwargs):
        calls.append(kwargs)
        real_train(*args, **kwargs, stop_after=2)  # writes a checkpoint at step 2, like a run killed there
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "train", killed_after_two_steps)
    out = tmp_path / "out"
    assert run(recipe, out) == 130
    assert statuses(out)["train:alpaca-en"] == ["interrupted"]
    assert not (out / "steps" / "train__alpaca-en.json").exists()

    monkeypatch.setattr(train_module, "train", real_train)
    assert run(recipe, out) == 0
    log = statuses(out)
    assert log["data:en"] == ["done", "skipped"]
    assert log["train:alpaca-en"] == ["interrupted", "done"]
    for model in ("alpaca-en", "coit-zh"):
        a, b = weights(reference / "models" / model), weights(out / "models" / model)
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    for label in ("base", "alpaca-en", "coit-zh"):
        expected = read_json(reference / "eval" / label / "results.json")["tasks"]
        assert read_json(out / "eval" / label / "results.json")["tasks"] == expected


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, tiny_model_dir, capsys):
    recipe = write_recipe(tmp_path, experiment(tiny_model_dir))
    assert run(recipe, tmp_path / "out", "--dry-run") == 0
    plan = capsys.readouterr().out
    assert "data:en: 8 records" in plan and "train:coit-zh: full fine-tuning" in plan
    assert "eval:base: flores-en-zh (first 3 items" in plan
    assert "<= 4 optimizer steps" in plan  # 8 records, 2 per step
    assert not (tmp_path / "out").exists()


STEP_LINE = re.compile(r"^  ([a-z]+:[^:]+): .*; fingerprint ([0-9a-f]{16})"
                       r"(?: \(content [0-9a-f]{16}\))? \[(cached|to run)\]$")


def printed_fingerprints(plan: str) -> dict[str, tuple[str, str]]:
    """Step -> (fingerprint, "cached" or "to run") from a printed plan."""
    return {m[1]: (m[2], m[3]) for m in map(STEP_LINE.match, plan.splitlines()) if m}


def test_dry_run_in_an_empty_folder_prints_the_fingerprints_a_run_writes(finished, tmp_path, capsys):
    """Before anything is built, the plan knows every step's fingerprint (the train steps key on the
    data stage's content fingerprint, computed from the inputs): the ones the run wrote to steps/*.json."""
    recipe, out = finished
    capsys.readouterr()
    assert run(recipe, tmp_path / "empty", "--dry-run") == 0
    plan = capsys.readouterr().out
    printed = printed_fingerprints(plan)
    written = {read_json(marker)["step"]: read_json(marker)["fingerprint"] for marker in (out / "steps").iterdir()}
    assert len(written) == 7 and {step: fp for step, (fp, _) in printed.items()} == written
    assert {state for _, state in printed.values()} == {"to run"}
    assert not (tmp_path / "empty").exists()
    for name in ("en", "coit"):  # the data step's line also names the content fingerprint its models key on
        content = read_json(out / "data" / name / "manifest.json")["fingerprint"]
        assert f"fingerprint {written['data:' + name]} (content {content}) [to run]" in plan
    assert run(recipe, out, "--dry-run") == 0
    again = printed_fingerprints(capsys.readouterr().out)
    assert again == {step: (fp, "cached") for step, fp in written.items()}


def test_a_dataset_no_model_uses_is_unused_and_not_built(tmp_path, tiny_model_dir, capsys):
    """Also: a recipe that includes another file is recorded resolved in the run folder (serve and report read it)."""
    shared = experiment(tiny_model_dir)
    shared.pop("evaluate")
    (tmp_path / "shared.yaml").write_text(yaml.safe_dump(shared, sort_keys=False), encoding="utf-8")
    path = tmp_path / "unused.yaml"
    path.write_text("include: shared.yaml\nmodels: [{name: x, data: en, train: {max_steps: 1}}]\n", encoding="utf-8")
    assert run(path, tmp_path / "out", "--dry-run") == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("  data:coit:"))
    assert line.endswith("not built: no model trains on it [unused]") and "[cached]" not in line
    assert run(path, tmp_path / "out") == 0
    assert not (tmp_path / "out" / "data" / "coit").exists() and "data:coit" not in statuses(tmp_path / "out")
    saved = (tmp_path / "out" / "recipe.yaml").read_text(encoding="utf-8")
    assert saved.startswith(f"# {path} including {tmp_path / 'shared.yaml'}\n")
    assert yaml.safe_load(saved) == {**shared, "models": [{"name": "x", "data": "en", "train": {"max_steps": 1}}]}


def test_unknown_key_is_one_line_naming_it(tmp_path, tiny_model_dir, capsys):
    recipe = experiment(tiny_model_dir)
    recipe["evaluate"]["limt"] = 3
    assert run(write_recipe(tmp_path, recipe), tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "limt" in err and "evaluate" in err
    assert "Traceback" not in err


def test_missing_input_fails_before_any_work(tmp_path, tiny_model_dir, capsys):
    recipe = experiment(tiny_model_dir)
    recipe["datasets"]["en"]["sources"][0]["path"] = "no/such/alpaca.json"
    assert run(write_recipe(tmp_path, recipe), tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "no/such/alpaca.json" in err and "datasets.en" in err
    assert not (tmp_path / "out" / "steps").exists()


def test_failing_step_names_itself_and_keeps_finished_steps(tmp_path, tiny_model_dir, capsys):
    recipe = experiment(tiny_model_dir)
    recipe["models"][1]["train"] = {"max_length": 16, "overlength": "drop"}  # every example too long: the step fails
    path = write_recipe(tmp_path, recipe)
    assert run(path, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "step train:coit-zh failed" in err
    assert (tmp_path / "out" / "steps" / "train__alpaca-en.json").exists()

    recipe["models"][1]["train"] = {}
    assert run(write_recipe(tmp_path, recipe), tmp_path / "out") == 0
    log = statuses(tmp_path / "out")
    assert log["train:alpaca-en"] == ["done", "skipped"]
    assert log["train:coit-zh"] == ["failed", "done"]


@pytest.mark.parametrize("name", ["quickstart.yaml", "x-llama-7b-zh.yaml", "x-llama-7b-vi.yaml", "x-llama-7b-ar.yaml",
                                  "x-llama-7b-el.yaml", "x-llama-7b-hi.yaml", "x-llama-7b-tr.yaml", "m-llama-7b.yaml",
                                  "study/zh.yaml", "study/vi-muit.yaml"])
def test_shipped_recipes_pass_the_dry_run(name, tmp_path, capsys):
    assert run(RECIPES / name, tmp_path / "out", "--dry-run") == 0
    plan = capsys.readouterr().out
    assert plan.startswith("experiment ") and "report:" in plan
    if "7b" in name:
        assert "accelerate launch" in plan and "8 processes" in plan
        assert "lr 2e-05 cosine, warm-up 3%, effective batch 128" in plan and "3 epoch(s)" in plan
    for lang in ("ar", "el", "hi", "tr"):  # Alpaca-X made by `data translate`, a step of its own
        if name in (f"x-llama-7b-{lang}.yaml", "m-llama-7b.yaml"):
            assert f".alpaca-{lang}: en->{lang} of " in plan and "nllb-200-distilled-600M" in plan
            assert "not found: datasets." in plan and "translate.model" in plan


def test_analysis_language_without_sentences_fails_before_training(tmp_path, tiny_model_dir, capsys):
    recipe = experiment(tiny_model_dir, analysis={"langs": ["en", "el"], "limit": 4})  # the sample has en, zh, vi
    assert run(write_recipe(tmp_path, recipe), tmp_path / "out") == 2
    assert "analysis sentences" in capsys.readouterr().err
    assert not (tmp_path / "out" / "steps").exists()


def test_alignment_analysis_runs_as_a_step(finished, tmp_path, tiny_model_dir):
    _, out = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    recipe = experiment(tiny_model_dir, analysis={"langs": ["en", "zh"], "limit": 4})
    assert run(write_recipe(tmp_path, recipe), copy) == 0
    log = statuses(copy)
    assert log["analysis:align"] == ["done"] and log["train:coit-zh"][-1] == "skipped"
    report = read_json(copy / "analysis" / "align" / "alignment.json")
    assert {"base", "alpaca-en", "coit-zh"} <= set(json.dumps(report).split('"'))


def test_study_recipes_can_list_mgsm_and_xcopa(tmp_path, tiny_model_dir, capsys):
    recipe = experiment(tiny_model_dir)
    recipe["evaluate"]["tasks"] = ["flores-en-zh", "mgsm-zh-cot", "mgsm-zh-cot-en", "xcopa-zh"]
    assert run(write_recipe(tmp_path, recipe), tmp_path / "out", "--dry-run") == 0
    assert "eval:base: flores-en-zh, mgsm-zh-cot, mgsm-zh-cot-en, xcopa-zh" in capsys.readouterr().out
    recipe["evaluate"]["tasks"] = ["mgsm-xx"]
    run(write_recipe(tmp_path, recipe), tmp_path / "out", "--dry-run")  # the plan lists what is missing
    assert "not found: evaluate.tasks mgsm-xx: task mgsm-xx: unknown MGSM language 'xx'" in capsys.readouterr().out


def test_run_launching_two_processes_resumes_caches_and_matches_one(tmp_path, tiny_model_dir, monkeypatch, capfd):
    """``launch:`` with the shipped DDP config and 2 processes (gloo on this CPU): killed after a
    checkpoint, the same command resumes the launched training; a third run does nothing; the
    weights equal a 1-process run of the same global batch (accumulation 2), to 1e-5 (see
    tests/train/test_distributed.py for the tolerance)."""
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # inherited by the launched processes: 2 x 1 thread on 2 cores
    models = [{"name": "coit-zh", "data": "coit"}]
    evaluation = {"tasks": ["flores-en-zh"], "limit": 2, "batch_size": 2, "max_new_tokens": 3, "include_base": False}
    launched = experiment(tiny_model_dir, models=models, evaluate=evaluation,
                          launch={"accelerate_config": str(RECIPES / "accelerate" / "ddp.yaml"), "num_processes": 2})
    folder = tmp_path / "launched"
    folder.mkdir()
    recipe = write_recipe(folder, launched)
    real_launch = run_module.launch_train

    def killed_after_one_step(*args, **kwargs):
        real_launch(*args, **kwargs, stop_after=1)  # a checkpoint at step 1 of 2, as if killed after it
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "launch_train", killed_after_one_step)
    out = folder / "out"
    assert run(recipe, out) == 130
    assert (out / "models" / "coit-zh.work" / "checkpoints" / "step-00000001").is_dir()
    monkeypatch.setattr(run_module, "launch_train", real_launch)
    capfd.readouterr()
    assert run(recipe, out) == 0
    assert "(step 1 of 2)" in capfd.readouterr().err  # the launched training resumed from the checkpoint
    assert statuses(out)["train:coit-zh"] == ["interrupted", "done"]
    hyper = (out / "models" / "coit-zh" / "hyperparameters.yaml").read_text()
    assert "world_size: 2" in hyper and "total_steps: 2" in hyper
    assert read_json(out / "eval" / "coit-zh" / "results.json")["tasks"]["flores-en-zh"]["n"] == 2

    monkeypatch.setattr(run_module, "launch_train", lambda *a, **k: pytest.fail("a cached step was launched"))
    assert run(recipe, out) == 0
    assert statuses(out)["train:coit-zh"][-1] == "skipped"

    single = experiment(tiny_model_dir, models=models, evaluate=evaluation)
    single["train"]["gradient_accumulation_steps"] = 2
    (tmp_path / "single").mkdir()
    assert run(write_recipe(tmp_path / "single", single), tmp_path / "single" / "out") == 0
    a, b = weights(tmp_path / "single" / "out" / "models" / "coit-zh"), weights(out / "models" / "coit-zh")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-5)


def test_set_overrides_a_recipe_key_and_the_run_folder_records_it(finished, tmp_path, capsys):
    recipe, out = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    assert run(recipe, copy, "--set", "evaluate.limit=2", "--set", "evaluate.dtype=float32") == 0
    log = statuses(copy)
    assert log["train:coit-zh"][-1] == "skipped" and log["eval:coit-zh"][-1] == "done"
    results = read_json(copy / "eval" / "coit-zh" / "results.json")
    assert results["tasks"]["flores-en-zh"]["n"] == 2
    assert results["provenance"]["precision"] == {"train": "fp32", "eval": "fp32"}
    saved = (copy / "recipe.yaml").read_text(encoding="utf-8")
    assert saved.startswith(f"# {recipe} with --set evaluate.limit=2 --set evaluate.dtype=float32\n")
    assert yaml.safe_load(saved)["evaluate"]["limit"] == 2
    page = (copy / "report.html").read_text(encoding="utf-8")
    assert "precision: train fp32; eval fp32" in page
    capsys.readouterr()
    assert run(recipe, tmp_path / "plan", "--dry-run", "--set", "train.precision=bf16") == 0
    assert "precision bf16" in capsys.readouterr().out
    assert run(recipe, tmp_path / "plan", "--dry-run", "--set", "train.precison=bf16") == 2
    assert "precison: unknown key. Did you mean 'precision'?" in capsys.readouterr().err
    assert run(recipe, tmp_path / "plan", "--dry-run", "--set", "evaluate.dtype=fp32") == 2
    assert "evaluate.dtype" in capsys.readouterr().err


def test_translation_is_a_cached_step_of_the_run(tmp_path, tiny_model_dir, capsys):
    """Alpaca-X made by `data translate` inside an experiment: its own step, cached, shown by --dry-run."""
    english = [{"instruction": f"Say number {i} twice.", "input": "", "output": f"Number {i}, number {i}."}
               for i in range(4)]
    (tmp_path / "alpaca_en.json").write_text(json.dumps(english), encoding="utf-8")
    translate = {"model": str(tiny_model_dir), "chunk_size": 2, "max_new_tokens": 8, "prompt_format": "alpaca",
                 "filters": {"langid": False, "max_length_ratio": None, "numbers": False, "truncated": False}}
    source = {"name": "alpaca-el", "kind": "instructions", "path": "alpaca_en.json", "lang": "el",
              "translate": translate}
    recipe = experiment(tiny_model_dir, datasets={"x": {"clean": {"dedup": False}, "sources": [source]}},
                        models=[{"name": "x-el", "data": "x", "train": {"max_steps": 1}}])
    recipe.pop("evaluate")
    path = write_recipe(tmp_path, recipe)
    assert run(path, tmp_path / "out", "--dry-run") == 0
    assert "translate:x.alpaca-el: en->el of alpaca_en.json (all records)" in capsys.readouterr().out
    assert run(path, tmp_path / "out") == 0
    log = statuses(tmp_path / "out")
    assert log["translate:x.alpaca-el"] == ["done"] and log["data:x"] == ["done"]
    (folder,) = (tmp_path / "out" / "translations").iterdir()
    assert read_json(folder / "manifest.json")["counts"]["records"] == 4
    assert run(path, tmp_path / "out") == 0
    assert statuses(tmp_path / "out")["translate:x.alpaca-el"] == ["done", "skipped"]
    assert "records kept) with" in capsys.readouterr().out


# ---- stopping and one writer per folder (issue 27) ------------------------------------------------

HOLD = textwrap.dedent("""
    import sys
    from lingalign.output_lock import output_lock
    with output_lock(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.readline()
""")


@pytest.fixture
def holding(tmp_path):
    """Hold the lock of a folder from another process: ``holding(folder) -> pid``."""
    started = []

    def hold(folder: Path) -> int:
        process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "held"
        started.append(process)
        return process.pid

    yield hold
    for process in started:
        process.stdin.close()
        process.wait(timeout=10)


def test_sigterm_to_run_stops_the_launched_training_workers(tmp_path, tiny_model_dir):
    models = [{"name": "coit-zh", "data": "coit", "train": {"epochs": 500}}]  # far longer than the test waits
    recipe = experiment(tiny_model_dir, models=models,
                        launch={"accelerate_config": str(RECIPES / "accelerate" / "ddp.yaml"), "num_processes": 2})
    recipe.pop("evaluate")
    path = write_recipe(tmp_path, recipe)
    out = tmp_path / "launched-run"
    log = tmp_path / "run.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w") as handle:
        command = subprocess.Popen([sys.executable, "-m", "lingalign.cli", "run", str(path), "-o", str(out)], env=env,
                                   stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_text(log, "training full", command, timeout=300)  # rank 0 has started the loop
    marker = str(out)
    workers = [p for p in processes_with(marker) if p.pid != command.pid and os.getsid(p.pid) == p.pid]
    assert len(workers) == 2 and len(processes_with(marker)) == 4  # and the run command, accelerate launch
    command.send_signal(signal.SIGTERM)
    assert command.wait(timeout=60) == 128 + signal.SIGTERM
    assert survivors(marker, within=5) == []
    text = log.read_text()
    assert "lingalign run: stopped by SIGTERM; finished work is kept, re-run to resume" in text
    steps = [json.loads(line) for line in (out / "run_log.jsonl").read_text().splitlines()]
    assert steps[-1] == {**steps[-1], "step": "train:coit-zh", "status": "interrupted"}
    assert not (out / LOCK_FILE).exists()  # released by the run command
    left = holder(out / "models" / "coit-zh.work")  # the training's rank 0 ended by SIGTERM: no release;
    assert left and not psutil.pid_exists(left["pid"])  # flock went with it, the next run takes the file over


def test_a_run_folder_being_written_is_refused(tmp_path, tiny_model_dir, holding, capsys):
    path = write_recipe(tmp_path, experiment(tiny_model_dir))
    out = tmp_path / "out"
    pid = holding(out)
    assert main(["run", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"lingalign run: error: {out}: another process is writing this folder: process {pid} ")
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing written


def test_a_training_folder_being_written_is_refused(tmp_path, tiny_model_dir, holding, capsys):
    out = tmp_path / "model"
    pid = holding(tmp_path / "model.work")
    assert main(["train", "--data", "sample:alpaca/alpaca_en_zh.json", "-o", str(out),
                 "--set", f"model={tiny_model_dir}"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"model.work: another process is writing this folder: process {pid} " in err
    assert not out.exists()
