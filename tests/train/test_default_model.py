"""Integration: 20 steps on the real default model produce a folder AutoModelForCausalLM loads."""

from __future__ import annotations

import json

import pytest
import torch

from lingalign.train import TrainConfig, train


@pytest.mark.slow
def test_twenty_steps_on_the_default_model(default_model_dir, make_data, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = make_data(tmp_path / "data", 40)
    config = TrainConfig(model=str(default_model_dir), max_length=128, packing=True, micro_batch_size=1,
                         gradient_accumulation_steps=1, learning_rate=1e-4, precision="auto", max_steps=20)
    out = train(config, data, tmp_path / "model")
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(log) == 20 and all(r["loss"] == r["loss"] for r in log)  # no NaN
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.num_hidden_layers == 30 and tokenizer.chat_template
    base = AutoModelForCausalLM.from_pretrained(default_model_dir)
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, dict(base.named_parameters())[n])]
    assert changed
    ids = tokenizer("Hello", return_tensors="pt").input_ids
    assert torch.isfinite(model(ids).logits).all()


@pytest.mark.slow
def test_dpo_on_the_default_model_with_the_shipped_preference_sample(tmp_path, capsys):
    """The shipped CPU recipe on the shipped sample, three steps, through the CLI."""
    from pathlib import Path

    from lingalign.cli import main as cli_main

    recipe = Path(__file__).resolve().parents[2] / "recipes" / "train" / "dpo-cpu.yaml"
    out = tmp_path / "dpo"
    code = cli_main(["train", str(recipe), "--data", "sample:preferences/alpaca_zh_answer_language.jsonl",
                     "-o", str(out), "--max-steps", "3"])
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["method"] == "dpo"
    assert manifest["inputs"]["reference_model"] == manifest["inputs"]["model"]
    assert manifest["counts"]["pairs"] == 48  # max_length 320 keeps them all (the longest needs 286 tokens)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["pairs"] for r in log] == [8, 8, 8]
    assert log[0]["loss"] == pytest.approx(0.693147, abs=1e-4)  # the policy starts as the reference
    assert all(r["loss"] == r["loss"] and r["grad_norm"] > 0 for r in log)
