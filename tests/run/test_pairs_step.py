"""Preference pairs as a step of ``lingalign run`` (``datasets.<name>.pairs``): MAPO in one recipe.

On the tiny random model: the plan runs data -> SFT -> pairs (sampled from the SFT model) -> DPO;
the fingerprints chain (a change to the SFT re-makes the pairs and retrains the DPO model, a change to
the DPO model alone does not re-sample); an unknown ``pairs.model`` or a cycle is one line naming the
recipe key, and nothing is written; a run makes the pairs (resuming a killed pairs step) and the DPO model.
"""

from __future__ import annotations

import json
import logging

import pytest

import lingalign.run.datasets as run_datasets
from lingalign.artifacts import read_json
from lingalign.run.fingerprints import step_keys
from lingalign.run.plan import Plan
from run.test_staged import alpaca, printed, run, statuses, write_recipe, written_fingerprints

PROMPTS = {"name": "gsm8k-zh", "kind": "bitext", "path": "sample:gsm8kinstruct/question-zh-en/train",
           "languages": ["zh", "en"]}


def mapo(model, *, sft: dict | None = None, dpo: dict | None = None, pairs: dict | None = None,
         models: list[dict] | None = None) -> dict:
    """SFT on 8 English Alpaca records, 4 prompts x 2 samples of 6 tokens from it, DPO (2 steps) from it."""
    return {
        "name": "mapo-tiny",
        "base_model": str(model),
        "datasets": {
            "prefs": {"pairs": {"model": "sft", "prompts": PROMPTS, "count": 4, "samples": 2, "max_new_tokens": 6,
                                "prompt_format": "alpaca", "dtype": "float32", "chunk_size": 2, "batch_size": 4,
                                **(pairs or {})}},
            "coit": {"seed": 0, "sources": [alpaca("en")]},
        },
        "train": {"max_length": 256, "overlength": "truncate", "packing": False, "micro_batch_size": 2,
                  "gradient_accumulation_steps": 1, "epochs": 1, "learning_rate": 1e-3, "precision": "fp32",
                  "prompt_format": "alpaca", "checkpoint_every": 1, "seed": 3},
        "models": models or [  # the DPO model first: the plan orders by what each step needs
            {"name": "mapo", "data": "prefs", "init": "sft",
             "train": {"method": "dpo", "max_steps": 2, "learning_rate": 5e-6, **(dpo or {})}},
            {"name": "sft", "data": "coit", "train": sft or {}},
        ],
    }


def test_dry_run_orders_data_sft_pairs_dpo_and_writes_nothing(tmp_path, tiny_model_dir, capsys):
    recipe = write_recipe(tmp_path, mapo(tiny_model_dir))
    assert run(recipe, tmp_path / "out", "--dry-run") == 0
    plan = capsys.readouterr().out
    assert list(printed(plan)) == ["data:coit", "train:sft", "data:prefs", "train:mapo"]
    assert "  data:prefs: pairs from model sft: 4 prompts x 2 samples, scored by the model itself" in plan
    assert "  train:mapo: dpo fine-tuning from models/sft (train:sft) on data:prefs: " in plan
    assert all(state == "to run" for _, state in printed(plan).values())
    assert Plan(recipe, tmp_path / "out").steps == ["data:coit", "train:sft", "data:prefs", "train:mapo"]
    assert not (tmp_path / "out").exists()


def keys_of(tmp_path, recipe: dict):
    keys = step_keys(Plan(write_recipe(tmp_path, recipe), tmp_path / "out"))
    return keys.fingerprints, keys.content


def test_the_fingerprints_chain_sft_to_pairs_to_dpo(tmp_path, tiny_model_dir):
    fps, content = keys_of(tmp_path, mapo(tiny_model_dir))
    assert all(fps[k] for k in ("data:coit", "train:sft", "data:prefs", "train:mapo")) and content["prefs"]
    sft_fps, sft_content = keys_of(tmp_path, mapo(tiny_model_dir, sft={"learning_rate": 5e-4}))
    assert sft_fps["data:coit"] == fps["data:coit"]
    for key in ("train:sft", "data:prefs", "train:mapo"):
        assert sft_fps[key] != fps[key], key
    assert sft_content["prefs"] != content["prefs"]
    dpo_fps, dpo_content = keys_of(tmp_path, mapo(tiny_model_dir, dpo={"dpo": {"beta": 0.2}}))
    assert {k: dpo_fps[k] for k in ("data:coit", "train:sft", "data:prefs")} == \
        {k: fps[k] for k in ("data:coit", "train:sft", "data:prefs")}
    assert dpo_content["prefs"] == content["prefs"] and dpo_fps["train:mapo"] != fps["train:mapo"]
    pairs_fps, _ = keys_of(tmp_path, mapo(tiny_model_dir, pairs={"samples": 3}))
    assert pairs_fps["train:sft"] == fps["train:sft"]
    assert pairs_fps["data:prefs"] != fps["data:prefs"] and pairs_fps["train:mapo"] != fps["train:mapo"]


def one_line_error(tmp_path, recipe: dict, capsys) -> str:
    path = write_recipe(tmp_path, recipe)
    for extra in ((), ("--dry-run",)):
        assert run(path, tmp_path / "out", *extra) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) <= 2  # the error (and a hint at most)
        assert not (tmp_path / "out").exists()
    return err.strip().splitlines()[0]


def test_an_unknown_pairs_model_is_one_line_naming_the_key(tmp_path, tiny_model_dir, capsys):
    line = one_line_error(tmp_path, mapo(tiny_model_dir, pairs={"model": "sft-typo"}), capsys)
    assert line == (f"lingalign run: error: {tmp_path / 'recipe.yaml'} [datasets.prefs.pairs.model]: 'sft-typo' is "
                    f"no model of this run, no lingalign alias, hub id (owner/name) or existing folder")
    assert run(write_recipe(tmp_path, mapo(tiny_model_dir, pairs={"model": "sft-typo"})), tmp_path / "out") == 2
    hint = capsys.readouterr().err.strip().splitlines()[1]  # the DPO model trains on the pairs: not suggested
    assert "name a model of this run (sft), base (the base model)" in hint and "mapo" not in hint


@pytest.mark.parametrize("models, cycle", [
    ([{"name": "mapo", "data": "prefs", "train": {"method": "dpo"}}], "data:prefs -> train:mapo -> data:prefs"),
    ([{"name": "sft", "data": "coit", "init": "mapo"}, {"name": "mapo", "data": "prefs", "train": {"method": "dpo"}}],
     "data:prefs -> train:sft -> train:mapo -> data:prefs"),
])
def test_a_pairs_cycle_is_one_line(tmp_path, tiny_model_dir, capsys, models, cycle):
    recipe = mapo(tiny_model_dir, models=models, pairs={"model": models[0]["name"]})
    line = one_line_error(tmp_path, recipe, capsys)
    assert f"[datasets.prefs.pairs.model]: the pairs are sampled from model {models[0]['name']!r}, which is " \
           f"trained on them ({cycle})" in line


def test_a_run_makes_the_pairs_from_its_sft_model_and_trains_dpo_on_them(tmp_path, tiny_model_dir, monkeypatch,
                                                                         caplog, capsys):
    recipe = write_recipe(tmp_path, mapo(tiny_model_dir))
    out = tmp_path / "out"
    real = run_datasets.build_pairs

    def killed_after_one_chunk(*args, **kwargs):
        real(*args, **kwargs, stop_after_chunks=1)
        raise KeyboardInterrupt

    monkeypatch.setattr(run_datasets, "build_pairs", killed_after_one_chunk)
    assert run(recipe, out) == 130
    assert statuses(out)["data:prefs"] == ["interrupted"] and (out / "data" / "prefs" / ".partial").is_dir()
    monkeypatch.setattr(run_datasets, "build_pairs", real)
    with caplog.at_level(logging.INFO):
        assert run(recipe, out) == 0
    assert "resuming at prompt 2 of 4" in caplog.text
    log = statuses(out)
    assert log["train:sft"] == ["done", "skipped"] and log["data:prefs"] == ["interrupted", "done"]
    assert log["train:mapo"] == ["done"]

    pairs = [json.loads(line) for line in (out / "data" / "prefs" / "train.jsonl").read_text().splitlines()]
    assert pairs and all(p["chosen_score"] > p["rejected_score"] for p in pairs)
    manifest = read_json(out / "data" / "prefs" / "manifest.json")
    assert manifest["stage"] == "pairs" and manifest["counts"]["prompts"] == 4
    assert manifest["counts"]["pairs"] == len(pairs) and manifest["model"]["path"] == str((out / "models" / "sft"))
    assert manifest["config"]["model"] == str((out / "models" / "sft").absolute())
    assert not (out / "data" / "prefs" / ".partial").exists()
    fingerprints = written_fingerprints(out)
    trained = read_json(out / "models" / "mapo" / "manifest.json")
    assert trained["config"]["method"] == "dpo"
    assert trained["inputs"]["start_fingerprint"] == fingerprints["train:sft"]

    capsys.readouterr()
    assert run(recipe, tmp_path / "empty", "--dry-run") == 0  # the chain's fingerprints, known before it ran
    shown = printed(capsys.readouterr().out)
    assert {step: fp for step, (fp, _) in shown.items()} == fingerprints
    assert run(recipe, out) == 0
    assert all(statuses(out)[step][-1] == "skipped" for step in fingerprints)
