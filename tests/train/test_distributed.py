"""Two CPU processes (gloo) train the same model as one process with the same global batch:
plain DDP under torchrun, FSDP2 under the shipped ``recipes/accelerate/fsdp.yaml``, and DeepSpeed
ZeRO-2 under the shipped ``recipes/deepspeed/zero2.json`` (when deepspeed is installed).

Tolerance: the runs do the same arithmetic except for the order of some floating-point sums
(gradients are reduced across two ranks instead of accumulated in one process; under FSDP the
clipping norm is summed over shards), which moves fp32 results by about 1e-7 relative per step.
After these 4 AdamW steps at learning rate 1e-3 the weights agreed to 2e-8 (FSDP) and 6e-8
(ZeRO-2) when measured; the tests allow 1e-5. A real fault moves them far more: a micro-batch
dropped or counted twice, or untied embeddings, change an AdamW update (up to 1e-3 per weight)
by a sizeable fraction. AdamW hides a wrong gradient scale, so the logged per-step gradient norms
(before clipping) are compared too, to 1e-5 relative.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from lingalign.runtime import free_port
from lingalign.train import train

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
COMMON = {"max_steps": 4, "micro_batch_size": 1, "packing": False, "checkpoint_every": 2}


def write_recipe(tmp_path, tiny_config, tiny_model_dir, accumulation: int = 1) -> Path:
    """The two-process recipe (the one-process run accumulates twice as many micro-batches: the same rows per step)."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"model: {tiny_model_dir}\nmax_length: {tiny_config.max_length}\nprecision: fp32\n"
                      f"learning_rate: {tiny_config.learning_rate}\nwarmup_ratio: {tiny_config.warmup_ratio}\n"
                      f"seed: {tiny_config.seed}\ngradient_accumulation_steps: {accumulation}\n"
                      + "".join(f"{k}: {str(v).lower()}\n" for k, v in COMMON.items()))
    return recipe


def run(launcher: list[str], recipe: Path, data_dir: Path, out: Path, *extra: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, *launcher, "-m", "lingalign.cli", "train", str(recipe), "--data", str(data_dir),
           "-o", str(out), *extra]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def accelerate_launch(*options: str) -> list[str]:
    return ["-m", "accelerate.commands.launch", *options, "--num_processes", "2",
            "--main_process_port", str(free_port())]


def one_process(tiny_config, data_dir, folder: Path, accumulation: int = 2) -> Path:
    """The one-process reference: ``accumulation`` micro-batches per step."""
    return train(tiny_config.model_copy(update={**COMMON, "gradient_accumulation_steps": accumulation}),
                 data_dir, folder)


@pytest.fixture()
def single(tiny_config, data_dir, tmp_path):
    return one_process(tiny_config, data_dir, tmp_path / "single")


def assert_same_training(single: Path, double: Path) -> None:
    log_a = [json.loads(x) for x in (single / "train_log.jsonl").read_text().splitlines()]
    log_b = [json.loads(x) for x in (double / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log_b] == [1, 2, 3, 4]
    count = "pairs" if "pairs" in log_a[0] else "targets"  # what a step is normalised by: DPO pairs or tokens
    for a, b in zip(log_a, log_b):
        assert (a["tokens"], a[count], a["lr"]) == (b["tokens"], b[count], b["lr"])
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-5)
    a = AutoModelForCausalLM.from_pretrained(single, dtype=torch.float32)
    b = AutoModelForCausalLM.from_pretrained(double, dtype=torch.float32)  # the exported folder loads
    assert b.lm_head.weight is b.model.embed_tokens.weight  # tied embeddings stay tied
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    assert pa.keys() == pb.keys()
    for name in pa:
        assert torch.allclose(pa[name], pb[name], atol=1e-5, rtol=0), name


def test_two_processes_match_one(tiny_config, tiny_model_dir, data_dir, tmp_path, single):
    recipe = write_recipe(tmp_path, tiny_config, tiny_model_dir)
    out = tmp_path / "double"
    run(["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port())],
        recipe, data_dir, out)
    assert "world_size: 2" in (out / "hyperparameters.yaml").read_text()
    assert_same_training(single, out)


def test_fsdp_shipped_config_checkpoints_resumes_and_matches_one(tiny_config, tiny_model_dir, data_dir, tmp_path):
    """FSDP2 full sharding, as shipped: a sharded checkpoint at step 2, a second launch resumes it.
    Accumulation 2 per process (accelerate's FSDP2 no_sync) against 4 in one process."""
    single = one_process(tiny_config, data_dir, tmp_path / "single", accumulation=4)
    recipe = write_recipe(tmp_path, tiny_config, tiny_model_dir, accumulation=2)
    out = tmp_path / "fsdp"
    launcher = accelerate_launch("--config_file", str(RECIPES / "accelerate" / "fsdp.yaml"))
    run(launcher, recipe, data_dir, out, "--stop-after", "2")
    checkpoint = out.with_name("fsdp.work") / "checkpoints" / "step-00000002"
    shards = sorted(p.name for p in (checkpoint / "pytorch_model_fsdp_0").iterdir())
    assert shards == [".metadata", "__0_0.distcp", "__1_0.distcp"]  # one shard per rank: FSDP, not DDP
    assert not (checkpoint / "model.safetensors").exists()
    run(launcher, recipe, data_dir, out, "--resume")
    hyper = (out / "hyperparameters.yaml").read_text()
    assert "world_size: 2" in hyper and "distributed: FSDP" in hyper
    assert_same_training(single, out)


@pytest.mark.deepspeed
def test_deepspeed_zero2_on_cpu_checkpoints_resumes_and_matches_one(tiny_config, tiny_model_dir, data_dir,
                                                                   tmp_path, single):
    pytest.importorskip("deepspeed")
    recipe = write_recipe(tmp_path, tiny_config, tiny_model_dir)
    out = tmp_path / "zero2"
    launcher = accelerate_launch("--use_deepspeed", "--deepspeed_config_file",
                                 str(RECIPES / "deepspeed" / "zero2.json"))
    run(launcher, recipe, data_dir, out, "--stop-after", "2")
    states = out.with_name("zero2.work") / "checkpoints" / "step-00000002" / "pytorch_model"
    assert {"zero_pp_rank_0_mp_rank_00_optim_states.pt", "zero_pp_rank_1_mp_rank_00_optim_states.pt"} <= {
        p.name for p in states.iterdir()}  # optimizer state partitioned over the two ranks
    run(launcher, recipe, data_dir, out, "--resume")
    assert "distributed: DEEPSPEED" in (out / "hyperparameters.yaml").read_text()
    assert_same_training(single, out)


def test_dpo_two_processes_match_one(dpo_config, tiny_model_dir, pref_dir, tmp_path):
    """DPO under torchrun (DDP, gloo): the frozen reference on each process, the pairs of a step shared out,
    stopped at a checkpoint and resumed; the same losses, rewards and weights as one process."""
    update = {**COMMON, "micro_batch_size": 1, "gradient_accumulation_steps": 2}
    single = train(dpo_config.model_copy(update=update), pref_dir, tmp_path / "single")
    recipe = write_recipe(tmp_path, dpo_config, tiny_model_dir)
    recipe.write_text(recipe.read_text().replace("micro_batch_size: 1\n", "micro_batch_size: 1\nmethod: dpo\n"))
    out = tmp_path / "double"
    launcher = ["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port())]
    run(launcher, recipe, pref_dir, out, "--stop-after", "2")
    run(launcher, recipe, pref_dir, out, "--resume")
    assert "world_size: 2" in (out / "hyperparameters.yaml").read_text()
    log_a = [json.loads(x) for x in (single / "train_log.jsonl").read_text().splitlines()]
    log_b = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["pairs"] for r in log_b] == [2, 2, 2, 2]
    for a, b in zip(log_a, log_b):
        for key in ("loss", "reward_margin", "reward_accuracy", "grad_norm"):
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), key
    assert_same_training(single, out)
