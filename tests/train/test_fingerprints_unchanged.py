"""Supervised recipes resolve and fingerprint exactly as before the DPO keys existed, so every run
folder made before keeps its identity (a changed fingerprint would retrain it, or refuse to resume).

The expected values were computed on main before ``method: dpo`` and ``dpo:`` were added. Since
``fused_adamw`` became the default (issue 26) that holds for recipes that pin ``fused_adamw: false``:
the quickstart and the study recipes do, so their values here are the published ones; a recipe that
does not set it gets ``fused_adamw: true`` in its resolved config (and so a new fingerprint)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lingalign.artifacts import hash_obj
from lingalign.run.plan import Plan
from lingalign.run.sweep import load_sweep
from lingalign.train.command import load_config
from lingalign.train.identity import fingerprint
from lingalign.train.recipe import NON_RESULT_KEYS, TrainConfig

SHIPPED = Path(__file__).resolve().parents[2] / "recipes"
RECIPES = SHIPPED / "train"

DEFAULT_DUMP = {
    "model": "smollm2-135m-instruct", "trust_remote_code": False, "prompt_format": "alpaca", "method": "full",
    "lora": {"r": 16, "alpha": 32.0, "dropout": 0.0,
             "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
             "merge": True},
    "max_length": 512, "overlength": "drop", "packing": True, "micro_batch_size": 1, "gradient_accumulation_steps": 1,
    "epochs": 1, "max_steps": None, "learning_rate": 2e-05, "weight_decay": 0.0, "adam_betas": [0.9, 0.999],
    "lr_scheduler": "cosine", "warmup_ratio": 0.03, "max_grad_norm": 1.0, "precision": "auto",
    "gradient_checkpointing": False, "seed": 42, "checkpoint_every": 0, "keep_checkpoints": 2, "log_every": 1,
}


def test_a_supervised_config_with_the_adamw_loop_dumps_exactly_as_before():
    dumped = TrainConfig(fused_adamw=False).model_dump(mode="json")
    assert dumped == DEFAULT_DUMP and list(dumped) == list(DEFAULT_DUMP)  # keys and their order
    assert "dpo" not in TrainConfig(method="lora").model_dump(mode="json")


def test_fused_adamw_is_the_default_and_is_listed_in_the_resolved_config():
    dumped = TrainConfig().model_dump(mode="json")
    assert dumped["fused_adamw"] is True
    assert {k: v for k, v in dumped.items() if k != "fused_adamw"} == DEFAULT_DUMP


@pytest.mark.parametrize(("recipe", "expected"), [("quickstart-cpu", "716eafcd7960f96e"),
                                                  ("lora-cpu", "07b6279cde206eb5"),
                                                  ("x-llama-7b", "5a67336507a7db03")])
def test_shipped_supervised_recipes_resolve_as_before_with_the_adamw_loop(recipe, expected):
    """These recipes take the new default (fused); pinning the loop gives back their old identity, so a
    model folder trained with them before is continued with ``--set fused_adamw=false``."""
    config = load_config(str(RECIPES / f"{recipe}.yaml"), [])
    assert config.fused_adamw is True
    pinned = load_config(str(RECIPES / f"{recipe}.yaml"), ["fused_adamw=false"])
    settings = pinned.model_dump(mode="json", exclude=set(NON_RESULT_KEYS))
    settings["model"] = "M"  # the alias resolves to a per-machine path; the rest is the recipe
    assert hash_obj(settings) == expected


# The resolved train settings of every model of the published experiments, hashed as the run's train
# steps hash them (computed on main before fused_adamw became the default): the steps keep their
# fingerprints, so published run folders stay cached and their weights stay what the docs report.
PUBLISHED = {"quickstart": "402d3f6873798709", "study/zh": "402d3f6873798709", "study/zh-seed1": "08c1a8b432d963d4",
             "study/vi-muit": "402d3f6873798709", "study/ar-el-hi-tr": "a08baf7df217b5e6"}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_experiments_keep_their_train_settings(name, tmp_path):
    plan = Plan(SHIPPED / f"{name}.yaml", tmp_path / "out")
    for model, config in plan.trains.items():
        assert config.fused_adamw is False, model
        assert hash_obj(config.model_dump(mode="json", exclude=set(NON_RESULT_KEYS))) == PUBLISHED[name], model


def test_the_study_scaling_sweep_keeps_its_train_settings():
    _, _, config = load_sweep(SHIPPED / "study" / "scaling-zh.yaml")
    assert hash_obj(config.model_dump(mode="json", exclude=set(NON_RESULT_KEYS))) == "402d3f6873798709"


def test_the_run_fingerprint_of_a_supervised_run_is_unchanged(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"instruction": "a", "input": "", "output": "b"}\n')
    assert fingerprint(TrainConfig(fused_adamw=False), data, "/nonexistent/model") == "099955b2ba1dfd37"
    assert fingerprint(TrainConfig(), data, "/nonexistent/model") != "099955b2ba1dfd37"  # fused: another run
    dpo = TrainConfig(method="dpo")
    assert fingerprint(dpo, data, "/nonexistent/model", "/nonexistent/model") != fingerprint(dpo, data,
                                                                                            "/nonexistent/model")
