"""Supervised recipes resolve and fingerprint exactly as before the DPO keys existed, so every run
folder made before keeps its identity (a changed fingerprint would retrain it, or refuse to resume).

The expected values were computed on main before ``method: dpo`` and ``dpo:`` were added."""

from __future__ import annotations

from pathlib import Path

import pytest

from lingalign.artifacts import hash_obj
from lingalign.train.command import load_config
from lingalign.train.recipe import NON_RESULT_KEYS, TrainConfig
from lingalign.train.stage import fingerprint

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "train"

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


def test_a_supervised_config_dumps_exactly_as_before():
    dumped = TrainConfig().model_dump(mode="json")
    assert dumped == DEFAULT_DUMP and list(dumped) == list(DEFAULT_DUMP)  # keys and their order
    assert "dpo" not in TrainConfig(method="lora").model_dump(mode="json")


@pytest.mark.parametrize(("recipe", "expected"), [("quickstart-cpu", "716eafcd7960f96e"),
                                                  ("lora-cpu", "07b6279cde206eb5"),
                                                  ("x-llama-7b", "5a67336507a7db03")])
def test_shipped_supervised_recipes_resolve_as_before(recipe, expected):
    settings = load_config(str(RECIPES / f"{recipe}.yaml"), []).model_dump(mode="json", exclude=set(NON_RESULT_KEYS))
    settings["model"] = "M"  # the alias resolves to a per-machine path; the rest is the recipe
    assert hash_obj(settings) == expected


def test_the_run_fingerprint_of_a_supervised_run_is_unchanged(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"instruction": "a", "input": "", "output": "b"}\n')
    assert fingerprint(TrainConfig(), data, "/nonexistent/model") == "099955b2ba1dfd37"
    dpo = TrainConfig(method="dpo")
    assert fingerprint(dpo, data, "/nonexistent/model", "/nonexistent/model") != fingerprint(dpo, data,
                                                                                            "/nonexistent/model")
