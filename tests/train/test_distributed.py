"""Two CPU processes (torchrun, gloo) give the same weights as one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM

from lingalign.train import train


def test_two_processes_match_one(tiny_config, tiny_model_dir, data_dir, tmp_path):
    common = {"max_steps": 4, "micro_batch_size": 1, "packing": False, "checkpoint_every": 2}
    single = train(tiny_config.model_copy(update={**common, "gradient_accumulation_steps": 2}),
                   data_dir, tmp_path / "single")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"model: {tiny_model_dir}\nmax_length: {tiny_config.max_length}\nprecision: fp32\n"
                      f"learning_rate: {tiny_config.learning_rate}\nwarmup_ratio: {tiny_config.warmup_ratio}\n"
                      f"seed: {tiny_config.seed}\ngradient_accumulation_steps: 1\n"
                      + "".join(f"{k}: {str(v).lower()}\n" for k, v in common.items()))
    out = tmp_path / "double"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "lingalign.cli", "train", str(recipe), "--data", str(data_dir), "-o", str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = (out / "hyperparameters.yaml").read_text()
    assert "world_size: 2" in manifest
    a = dict(AutoModelForCausalLM.from_pretrained(single, dtype=torch.float32).named_parameters())
    b = dict(AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).named_parameters())
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5), name
