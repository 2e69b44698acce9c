"""Staged training in ``lingalign run`` (``models[].init``): a model starts from another model of the run.

On the tiny random model: the chain is ordered by dependency and shown by ``--dry-run``; a stage's
fingerprint covers its upstream's (a change upstream retrains what depends on it, and only that); a
run killed in stage 2 resumes stage 2 from its checkpoint to the weights of an uninterrupted chain; a
LoRA adapter upstream (``merge: false``) is merged first; a DPO stage trains on a ``preference_file:``
dataset from a model of the run; a bad ``init:`` is one line naming the recipe key, and nothing is written.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import pytest
import yaml

import lingalign.train as train_module
from lingalign.artifacts import read_json
from lingalign.cli import main
from lingalign.config import samples_dir
from lingalign.run.plan import Plan

PREFERENCES = "sample:preferences/alpaca_zh_answer_language.jsonl"


def alpaca(lang: str, count: int = 8) -> dict:
    fields = {key: f"{lang}_{key}" for key in ("instruction", "input", "output")}
    return {"name": f"alpaca-{lang}", "kind": "instructions", "path": "sample:alpaca/alpaca_en_zh.json", "lang": lang,
            "fields": fields, "count": count}


def experiment(model: Path, models: list[dict], **changes) -> dict:
    """Two small datasets and a preference file; training settings that make every step cheap and exact."""
    recipe = {
        "name": "staged",
        "base_model": str(model),
        "datasets": {"zh": {"seed": 0, "sources": [alpaca("zh")]}, "en": {"seed": 0, "sources": [alpaca("en")]},
                     "prefs": {"preference_file": PREFERENCES}},
        "train": {"max_length": 512, "overlength": "truncate", "packing": False, "micro_batch_size": 2,
                  "gradient_accumulation_steps": 1, "epochs": 1, "learning_rate": 1e-3, "precision": "fp32",
                  "checkpoint_every": 1, "seed": 3},
        "models": models,
    }
    recipe.update(changes)
    return recipe


CHAIN = [{"name": "stage1", "data": "zh"}, {"name": "stage2", "data": "en", "init": "stage1"},
         {"name": "solo", "data": "en"}]


def write_recipe(folder: Path, recipe: dict, name: str = "recipe.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
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


def assert_same_weights(a: dict, b: dict) -> None:
    import torch

    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def written_fingerprints(out: Path) -> dict[str, str]:
    return {read_json(marker)["step"]: read_json(marker)["fingerprint"] for marker in (out / "steps").iterdir()}


STEP_LINE = re.compile(r"^  ([a-z]+:[^:]+): .*; fingerprint ([0-9a-f]{16})(?: \(content [0-9a-f]{16}\))? "
                       r"\[(cached|to run)\]$")


def printed(plan: str) -> dict[str, tuple[str, str]]:
    """Step -> (fingerprint, "cached" or "to run") from a printed plan, in the printed order."""
    return {m[1]: (m[2], m[3]) for m in map(STEP_LINE.match, plan.splitlines()) if m}


@pytest.fixture(scope="module")
def chain(tmp_path_factory, tiny_model_dir):
    """One uninterrupted run: stage1 (zh) -> stage2 (en), and solo (en, from the base model)."""
    folder = tmp_path_factory.mktemp("chain")
    evaluation = {"tasks": ["flores-en-zh"], "limit": 2, "batch_size": 2, "max_new_tokens": 3, "include_base": False}
    recipe = write_recipe(folder, experiment(tiny_model_dir, CHAIN, evaluate=evaluation))
    assert run(recipe, folder / "out") == 0
    return recipe, folder / "out"


def test_the_plan_orders_stages_by_dependency_then_by_recipe_order(tmp_path, tiny_model_dir):
    models = [{"name": "c", "data": "en", "init": "b"}, {"name": "x", "data": "en"},
              {"name": "b", "data": "en", "init": "a"}, {"name": "a", "data": "zh"}, {"name": "y", "data": "zh"}]
    plan = Plan(write_recipe(tmp_path, experiment(tiny_model_dir, models)), tmp_path / "out")
    assert plan.order == ["x", "a", "b", "c", "y"]
    assert plan.init == {"c": "b", "x": None, "b": "a", "a": None, "y": None}
    assert plan.trains["c"].model == str((tmp_path / "out" / "models" / "b").absolute())
    assert plan.trains["a"].model == str(tiny_model_dir)
    assert not plan.starts["c"].merge_first


def test_dry_run_shows_the_chain_in_training_order_and_writes_nothing(tmp_path, tiny_model_dir, capsys):
    models = [{"name": "stage2", "data": "en", "init": "stage1"}, {"name": "solo", "data": "en"},
              {"name": "stage1", "data": "zh"}]
    recipe = write_recipe(tmp_path, experiment(tiny_model_dir, models))
    assert run(recipe, tmp_path / "out", "--dry-run") == 0
    plan = capsys.readouterr().out
    trains = [line for line in plan.splitlines() if line.startswith("  train:")]
    assert [line.split(":")[1] for line in trains] == ["solo", "stage1", "stage2"]
    assert f"  train:stage1: full fine-tuning of {tiny_model_dir} on data:zh: " in plan
    assert "  train:stage2: full fine-tuning from models/stage1 (train:stage1) on data:en: 1 epoch(s)" in plan
    assert all(state == "to run" for _, state in printed(plan).values()) and len(printed(plan)) == 5
    assert not (tmp_path / "out").exists()


def test_a_stage_starts_from_its_upstream_and_records_it(chain, tiny_model_dir):
    _, out = chain
    fingerprints = written_fingerprints(out)
    manifest = read_json(out / "models" / "stage2" / "manifest.json")
    assert Path(manifest["inputs"]["model"]) == (out / "models" / "stage1").absolute()
    assert manifest["inputs"]["start_fingerprint"] == fingerprints["train:stage1"]
    assert "start_fingerprint" not in read_json(out / "models" / "solo" / "manifest.json")["inputs"]
    # stage2 and solo train on the same data with the same settings: only their starting weights differ
    stage2, solo = weights(out / "models" / "stage2"), weights(out / "models" / "solo")
    assert any(not (stage2[key] == solo[key]).all() for key in stage2)
    log = [json.loads(line)["step"] for line in (out / "run_log.jsonl").read_text().splitlines()]
    assert log.index("train:stage1") < log.index("train:stage2") < log.index("eval:stage2")
    assert read_json(out / "eval" / "stage2" / "results.json")["tasks"]["flores-en-zh"]["n"] == 2
    assert "<p>Staged: stage2 from stage1 (only the weights carry over" in (out / "report.html").read_text()


def test_dry_run_in_an_empty_folder_prints_the_fingerprints_the_chain_wrote(chain, tmp_path, capsys):
    recipe, out = chain
    capsys.readouterr()
    assert run(recipe, tmp_path / "empty", "--dry-run") == 0
    shown = printed(capsys.readouterr().out)
    written = written_fingerprints(out)
    assert len(written) == 8 and {step: fp for step, (fp, _) in shown.items()} == written
    assert run(recipe, out, "--dry-run") == 0
    assert printed(capsys.readouterr().out) == {step: (fp, "cached") for step, fp in written.items()}


def test_a_change_upstream_retrains_the_stages_after_it_and_nothing_else(chain, tmp_path, tiny_model_dir, capsys):
    _, out = chain
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    models = [{**CHAIN[0], "train": {"learning_rate": 5e-4}}, *CHAIN[1:]]
    evaluation = {"tasks": ["flores-en-zh"], "limit": 2, "batch_size": 2, "max_new_tokens": 3, "include_base": False}
    recipe = write_recipe(tmp_path, experiment(tiny_model_dir, models, evaluate=evaluation))
    capsys.readouterr()
    assert run(recipe, copy, "--dry-run") == 0
    states = {step: state for step, (_, state) in printed(capsys.readouterr().out).items()}
    expected = {"data:zh": "cached", "data:en": "cached", "train:stage1": "to run", "train:stage2": "to run",
                "train:solo": "cached", "eval:stage1": "to run", "eval:stage2": "to run", "eval:solo": "cached"}
    assert states == expected
    assert run(recipe, copy) == 0
    log = statuses(copy)
    assert {step: log[step][-1] for step in expected} == {
        step: "done" if state == "to run" else "skipped" for step, state in expected.items()}
    fingerprints = written_fingerprints(copy)
    assert read_json(copy / "models" / "stage2" / "manifest.json")["inputs"]["start_fingerprint"] == \
        fingerprints["train:stage1"] != written_fingerprints(out)["train:stage1"]
    old, new = weights(out / "models" / "stage2"), weights(copy / "models" / "stage2")
    assert any(not (old[key] == new[key]).all() for key in old)
    assert_same_weights(weights(out / "models" / "solo"), weights(copy / "models" / "solo"))


def kill_in(name: str, after: int, real_train):
    """A ``train`` that stops model ``name`` after ``after`` optimizer steps (a checkpoint), as a kill would."""

    def train(config, data_dir, out_dir, *args, **kwargs):
        if Path(out_dir).name != name:
            return real_train(config, data_dir, out_dir, *args, **kwargs)
        real_train(config, data_dir, out_dir, *args, **kwargs, stop_after=after)
        raise KeyboardInterrupt

    return train


def test_killed_in_stage_two_resumes_stage_two_to_the_uninterrupted_weights(chain, tmp_path, tiny_model_dir,
                                                                            monkeypatch, caplog):
    _, reference = chain
    recipe = write_recipe(tmp_path, experiment(tiny_model_dir, CHAIN[:2]))
    out = tmp_path / "out"
    real_train = train_module.train
    monkeypatch.setattr(train_module, "train", kill_in("stage2", 2, real_train))
    assert run(recipe, out) == 130
    assert statuses(out) == {"data:zh": ["done"], "data:en": ["done"], "train:stage1": ["done"],
                             "train:stage2": ["interrupted"]}
    assert (out / "models" / "stage2.work" / "checkpoints" / "step-00000002").is_dir()

    monkeypatch.setattr(train_module, "train", real_train)
    with caplog.at_level(logging.INFO, logger="lingalign.train.stage"):
        assert run(recipe, out) == 0
    assert "resumed from" in caplog.text and "(step 2 of 4)" in caplog.text
    log = statuses(out)
    assert log["train:stage1"] == ["done", "skipped"] and log["train:stage2"] == ["interrupted", "done"]
    for model in ("stage1", "stage2"):
        assert_same_weights(weights(reference / "models" / model), weights(out / "models" / model))


def test_checkpoints_made_from_an_older_upstream_are_not_resumed(tmp_path, tiny_model_dir, monkeypatch, caplog):
    """Killed in stage 2, then stage 1 changes: stage 2 starts again from the new stage 1, not from its checkpoint."""
    out = tmp_path / "out"
    real_train = train_module.train
    monkeypatch.setattr(train_module, "train", kill_in("stage2", 2, real_train))
    assert run(write_recipe(tmp_path, experiment(tiny_model_dir, CHAIN[:2])), out) == 130
    monkeypatch.setattr(train_module, "train", real_train)
    changed = [{**CHAIN[0], "train": {"learning_rate": 5e-4}}, CHAIN[1]]
    with caplog.at_level(logging.INFO):
        assert run(write_recipe(tmp_path, experiment(tiny_model_dir, changed)), out) == 0
    assert "models/stage2 was made with other settings, data or starting model" in caplog.text
    assert "resumed from" not in caplog.text
    fresh = tmp_path / "fresh"
    assert run(write_recipe(tmp_path / "f", experiment(tiny_model_dir, changed)), fresh) == 0
    assert_same_weights(weights(fresh / "models" / "stage2"), weights(out / "models" / "stage2"))


def test_a_lora_stage_on_a_lora_adapter_merges_it_first(tmp_path, tiny_model_dir, capsys):
    lora = {"r": 4, "alpha": 8}
    models = [{"name": "stage1", "data": "zh", "train": {"method": "lora", "lora": {**lora, "merge": False}}},
              {"name": "stage2", "data": "en", "init": "stage1", "train": {"method": "lora", "lora": lora}}]
    recipe = write_recipe(tmp_path, experiment(tiny_model_dir, models))
    out = tmp_path / "out"
    assert run(recipe, out, "--dry-run") == 0
    assert ("train:stage2: lora fine-tuning from models/stage1 (train:stage1; a LoRA adapter with lora.merge: "
            "false, merged first into merged/stage1/) on data:en:") in capsys.readouterr().out
    assert run(recipe, out) == 0
    assert (out / "models" / "stage1" / "adapter_config.json").is_file()
    assert not (out / "models" / "stage1" / "config.json").exists()  # an adapter folder
    merged = out / "merged" / "stage1"
    assert read_json(merged / "manifest.json")["fingerprint"] == written_fingerprints(out)["train:stage1"]
    assert read_json(merged / "lingalign_model.json")["method"] == "lora-merged"
    base, start = weights(tiny_model_dir), weights(merged)
    assert base.keys() == start.keys() and any(not (base[k] == start[k]).all() for k in base)
    adapter = read_json(out / "models" / "stage2" / "adapter" / "adapter_config.json")
    assert Path(adapter["base_model_name_or_path"]) == merged.absolute()
    tuned = weights(out / "models" / "stage2")  # the merged model of stage 2: stage 1's weights plus its own adapter
    assert any(not (start[k] == tuned[k]).all() for k in start)
    stamp = (merged / "model.safetensors").stat().st_mtime_ns
    assert run(recipe, out) == 0
    assert statuses(out)["train:stage2"] == ["done", "skipped"]
    assert (merged / "model.safetensors").stat().st_mtime_ns == stamp


def test_a_dpo_stage_trains_on_a_preference_file_from_a_model_of_the_run(tmp_path, tiny_model_dir, capsys):
    models = [{"name": "sft", "data": "en"},
              {"name": "dpo", "data": "prefs", "init": "sft",
               "train": {"method": "dpo", "max_steps": 2, "micro_batch_size": 2}}]
    recipe = write_recipe(tmp_path, experiment(tiny_model_dir, models))
    out = tmp_path / "out"
    assert run(recipe, out, "--dry-run") == 0
    plan = capsys.readouterr().out
    assert "  data:prefs: 48 preference pairs from sample:preferences/alpaca_zh_answer_language.jsonl; fingerprint" \
        in plan
    assert "  train:dpo: dpo fine-tuning from models/sft (train:sft) on data:prefs: " in plan
    assert "effective batch 2 pairs" in plan
    assert run(recipe, out) == 0
    source = samples_dir() / "preferences" / "alpaca_zh_answer_language.jsonl"
    assert (out / "data" / "prefs" / "train.jsonl").read_bytes() == source.read_bytes()
    assert read_json(out / "data" / "prefs" / "manifest.json")["counts"] == {"records": 48, "identical": 0}
    manifest = read_json(out / "models" / "dpo" / "manifest.json")
    sft = str((out / "models" / "sft").absolute())
    assert manifest["inputs"]["model"] == manifest["inputs"]["reference_model"] == sft  # the reference: the start
    assert manifest["derived"]["total_steps"] == 2
    assert read_json(out / "models" / "dpo" / "lingalign_model.json")["objective"] == "dpo"
    start, tuned = weights(out / "models" / "sft"), weights(out / "models" / "dpo")
    assert any(not (start[k] == tuned[k]).all() for k in start)
    assert run(recipe, out) == 0
    assert statuses(out)["train:dpo"] == ["done", "skipped"] and statuses(out)["data:prefs"] == ["done", "skipped"]


def test_a_bad_preference_file_stops_its_data_step_with_one_line(tmp_path, tiny_model_dir, capsys):
    (tmp_path / "pairs.jsonl").write_text(json.dumps({"prompt": "a", "chosen": "b", "rejected": "c"}) + "\n"
                                          + json.dumps({"instruction": "a", "output": "b"}) + "\n", encoding="utf-8")
    recipe = experiment(tiny_model_dir, [{"name": "dpo", "data": "prefs", "train": {"method": "dpo"}}])
    recipe["datasets"]["prefs"] = {"preference_file": "pairs.jsonl"}
    assert run(write_recipe(tmp_path, recipe), tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"step data:prefs failed: {tmp_path / 'pairs.jsonl'}:2: a supervised record" in err
    assert not (tmp_path / "out" / "data" / "prefs" / "train.jsonl").exists()


@pytest.mark.parametrize("models, message", [
    ([{"name": "a", "data": "en", "init": "zz"}],
     "[models.a.init]: no model named 'zz' in this run; models: a (or base, the base model, the default)"),
    ([{"name": "a", "data": "en", "init": "a"}], "[models.a.init]: model 'a' cannot start from itself"),
    ([{"name": "a", "data": "en", "init": "b"}, {"name": "b", "data": "en", "init": "a"}],
     "[models.a.init]: the stages form a cycle (a -> b -> a)"),
    ([{"name": "c", "data": "en", "init": "b"}, {"name": "a", "data": "en", "init": "c"},
      {"name": "b", "data": "en", "init": "c"}],
     "[models.c.init]: the stages form a cycle (c -> b -> c)"),
    ([{"name": "a", "data": "en"}, {"name": "b", "data": "en", "init": "a", "train": {"model": "other"}}],
     "[models.b.init]: conflicts with models.b.train.model"),
    ([{"name": "a", "data": "prefs"}], "[models.a.data]: dataset 'prefs' holds preference pairs"),
    ([{"name": "a", "data": "en", "train": {"method": "dpo"}}],
     "[models.a.data]: method: dpo trains on preference pairs, but dataset 'en' holds instruction records"),
])
def test_a_bad_chain_is_one_line_naming_the_key_and_writes_nothing(tmp_path, tiny_model_dir, capsys, models, message):
    recipe = write_recipe(tmp_path, experiment(tiny_model_dir, models))
    for extra in ((), ("--dry-run",)):
        assert run(recipe, tmp_path / "out", *extra) == 2
        err = capsys.readouterr().err
        assert f"lingalign run: error: {recipe}{' ' + message}" in err
        assert len(err.strip().splitlines()) <= 2 and "Traceback" not in err  # the error (and a hint at most)
        assert not (tmp_path / "out").exists()


def test_naming_the_base_model_as_init_is_the_default(tmp_path, tiny_model_dir, capsys):
    plain = write_recipe(tmp_path, experiment(tiny_model_dir, [{"name": "a", "data": "en"}]), "plain.yaml")
    explicit = write_recipe(tmp_path, experiment(tiny_model_dir, [{"name": "a", "data": "en", "init": "base"}]))
    plans = []
    for recipe in (plain, explicit):
        assert run(recipe, tmp_path / "out", "--dry-run") == 0
        plans.append(printed(capsys.readouterr().out))
    assert plans[0] == plans[1] and "train:a" in plans[0]


def test_a_launched_stage_passes_its_upstream_fingerprint_to_lingalign_train(tmp_path, tiny_model_dir, monkeypatch):
    """Under ``launch:`` a stage is started as ``lingalign train ... --start-fingerprint FP``; here the command
    runs in this process (no accelerate), so the flag's way through the train CLI is what is checked."""

    from lingalign.run import launcher

    commands = []

    def in_process(command, env=None):
        commands.append(command)
        return main(command[command.index("lingalign.cli") + 1:])

    monkeypatch.setattr(launcher, "run_launcher", in_process)
    recipes = Path(__file__).resolve().parents[2] / "recipes"
    launch = {"accelerate_config": str(recipes / "accelerate" / "ddp.yaml"), "num_processes": 1}
    out = tmp_path / "out"
    assert run(write_recipe(tmp_path, experiment(tiny_model_dir, CHAIN[:2], launch=launch)), out) == 0
    fingerprints = written_fingerprints(out)
    assert len(commands) == 2 and "--start-fingerprint" not in commands[0]
    assert commands[1][commands[1].index("--start-fingerprint") + 1] == fingerprints["train:stage1"]
    assert read_json(out / "models" / "stage2" / "manifest.json")["inputs"]["start_fingerprint"] == \
        fingerprints["train:stage1"]
