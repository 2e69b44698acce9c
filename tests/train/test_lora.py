"""LoRA: only adapters train; the merged export is a standalone model with the adapter's logits."""

from __future__ import annotations

import json

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from lingalign.cli import main as cli_main
from lingalign.models import is_adapter


def test_lora_train_and_merged_export(tiny_config, tiny_model_dir, data_dir, tmp_path):
    from lingalign.train import train

    config = tiny_config.model_copy(update={"method": "lora", "max_steps": 3, "learning_rate": 1e-2})
    config.lora.r = 4
    out = train(config, data_dir, tmp_path / "out")
    adapter = out / "adapter"
    assert is_adapter(str(adapter))
    assert json.loads((out / "lingalign_model.json").read_text())["method"] == "lora-merged"
    hp = (out / "hyperparameters.yaml").read_text()
    assert "method: lora" in hp

    ids = torch.tensor([[1, 40, 41, 42, 43, 44, 45]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    base_logits = base(ids).logits
    with_adapter = PeftModel.from_pretrained(base, adapter).eval()
    expected = with_adapter(ids).logits
    merged = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    assert not torch.allclose(expected, base_logits, atol=1e-4)  # the adapter learned something
    assert torch.allclose(merged(ids).logits, expected, atol=1e-4)

    # The CLI can merge any adapter folder too.
    again = tmp_path / "merged"
    assert cli_main(["train", "--export-merged", str(adapter), "-o", str(again)]) == 0
    reloaded = AutoModelForCausalLM.from_pretrained(again, dtype=torch.float32)
    assert torch.allclose(reloaded(ids).logits, expected, atol=1e-4)
