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
