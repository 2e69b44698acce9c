"""The loop on the tiny model: accumulation invariance, learning, resume == uninterrupted, outputs."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from lingalign.errors import UserError
from lingalign.models import load_model, load_tokenizer
from lingalign.train import train
from lingalign.train.checkpoint import list_checkpoints
from lingalign.train.examples import Example
from lingalign.train.identity import work_dir
from lingalign.train.loop import accumulate_gradients, step_targets
from lingalign.train.loss import ResponseLoss


def params_of(folder):
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    return dict(model.named_parameters())


def test_gradient_accumulation_invariance(tiny_model_dir):
    from accelerate import Accelerator

    tok = load_tokenizer(str(tiny_model_dir))
    wrapper = ResponseLoss(load_model(str(tiny_model_dir), dtype="float32"))
    gen = torch.Generator().manual_seed(1)
    examples = [Example(torch.randint(5, len(tok), (n,), generator=gen).tolist(), 3) for n in (8, 30, 14, 21)]
    accelerator = Accelerator(cpu=True)

    def grads(micro):
        wrapper.zero_grad()
        loss = accumulate_gradients(accelerator, wrapper, micro, examples, step_targets(micro, examples), "fp32",
                                    tok.pad_token_id)
        return loss, {n: p.grad.clone() for n, p in wrapper.named_parameters()}

    loss_a, one_batch_of_4 = grads([[[0], [1], [2], [3]]])
    loss_b, four_batches_of_1 = grads([[[0]], [[1]], [[2]], [[3]]])
    assert torch.allclose(loss_a, loss_b, atol=1e-4)
    for name, grad in one_batch_of_4.items():
        assert torch.allclose(grad, four_batches_of_1[name], atol=1e-6, rtol=1e-4), name


def test_full_training_writes_a_model_folder(tiny_config, tiny_model_dir, data_dir, tmp_path):
    out = train(tiny_config, data_dir, tmp_path / "out")
    assert not work_dir(out).exists()
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "lingalign_model.json",
            "hyperparameters.yaml", "train_log.jsonl", "manifest.json"} <= names
    before, after = params_of(tiny_model_dir), params_of(out)
    assert any(not torch.equal(before[n], after[n]) for n in before)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["step"] for r in log] == list(range(1, manifest["derived"]["total_steps"] + 1))
    assert all(r["loss"] > 0 and r["tokens_per_s"] > 0 for r in log)
    assert manifest["counts"]["examples"] == 24
    gen = json.loads((out / "generation_config.json").read_text())
    tok = load_tokenizer(str(out))
    assert gen["eos_token_id"] == tok.eos_token_id and gen["pad_token_id"] == tok.pad_token_id
    assert json.loads((out / "lingalign_model.json").read_text())["prompt_format"] == "alpaca"
    # Same run again: recognised as complete, nothing retrained.
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert train(tiny_config, data_dir, out) == out
    assert (out / "manifest.json").stat().st_mtime_ns == stamp


def test_loss_goes_down_over_epochs(tiny_config, data_dir, tmp_path):
    config = tiny_config.model_copy(update={"epochs": 4, "learning_rate": 3e-3})
    out = train(config, data_dir, tmp_path / "out")
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["loss"] < log[0]["loss"] - 0.5


def test_fused_adamw_trains_to_the_same_weights_within_rounding(tiny_config, data_dir, tmp_path, monkeypatch):
    import yaml

    made = []

    class Recording(torch.optim.AdamW):
        def __init__(self, params, **kwargs):
            made.append(kwargs.get("fused"))
            super().__init__(params, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", Recording)
    config = tiny_config.model_copy(update={"max_steps": 4})
    assert config.fused_adamw is True  # the default
    loop = train(config.model_copy(update={"fused_adamw": False}), data_dir, tmp_path / "loop")
    fused = train(config, data_dir, tmp_path / "fused")
    assert made == [None, True]  # the loop (torch's CPU default), then the fused kernel
    a, b = params_of(loop), params_of(fused)
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5), name
    assert yaml.safe_load((fused / "hyperparameters.yaml").read_text())["fused_adamw"] is True
    assert "fused_adamw" not in yaml.safe_load((loop / "hyperparameters.yaml").read_text())  # off: left out, as before


@pytest.mark.parametrize("packing", [False, True])
def test_resume_matches_uninterrupted(tiny_config, data_dir, tmp_path, packing):
    config = tiny_config.model_copy(update={"packing": packing, "max_steps": 6, "epochs": 3,
                                            "checkpoint_every": 2, "keep_checkpoints": 1})
    straight = train(config, data_dir, tmp_path / "straight")
    resumed_out = tmp_path / "resumed"
    checkpoint = train(config, data_dir, resumed_out, stop_after=3)
    assert checkpoint.name == "step-00000003" and not resumed_out.exists()
    assert [p.name for p in list_checkpoints(work_dir(resumed_out))] == ["step-00000003"]  # keep_checkpoints=1
    with pytest.raises(UserError, match="--resume"):
        train(config, data_dir, resumed_out)
    resumed = train(config, data_dir, resumed_out, resume=True)
    a, b = params_of(straight), params_of(resumed)
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6), name
    log = [json.loads(line)["step"] for line in (resumed / "train_log.jsonl").read_text().splitlines()]
    assert log == [1, 2, 3, 4, 5, 6]


def test_output_of_another_run_is_refused(tiny_config, data_dir, tmp_path):
    out = train(tiny_config.model_copy(update={"max_steps": 1}), data_dir, tmp_path / "out")
    other = tiny_config.model_copy(update={"max_steps": 1, "learning_rate": 5e-4})
    with pytest.raises(UserError, match="different training run"):
        train(other, data_dir, out)
    assert train(other, data_dir, out, force=True) == out
    assert json.loads((out / "manifest.json").read_text())["config"]["learning_rate"] == 5e-4
