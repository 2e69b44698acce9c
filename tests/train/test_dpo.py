"""DPO on the tiny model: TRL's loss on our log-probabilities, what one step does, the LoRA reference,
resume, and what the manifest says."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from conftest import make_tiny_model, make_tiny_tokenizer
from lingalign.train import train
from lingalign.train.dpo import PreferenceObjective, Reference
from lingalign.train.dpo_loss import MODEL_KEYS, PreferenceLogps, collate_pairs, dpo_loss, sequence_logps
from lingalign.train.examples import Example
from lingalign.train.identity import work_dir


@pytest.fixture(scope="module")
def tok():
    return make_tiny_tokenizer()


def hand_made_pairs(tok, n_pairs: int = 3, seed: int = 0):
    """(prompt, chosen, rejected) id lists of different lengths, and the flat Examples of lingalign."""
    gen = torch.Generator().manual_seed(seed)

    def ids(n):
        return torch.randint(5, len(tok), (n,), generator=gen).tolist()

    pairs = [(ids(4 + 2 * i), ids(3 + 3 * i) + [tok.eos_token_id], ids(6 - i) + [tok.eos_token_id])
             for i in range(n_pairs)]
    examples = [Example(p + answer, len(p)) for p, c, r in pairs for answer in (c, r)]
    return pairs, examples


def ours(policy, reference, examples, pad_id, beta=0.1, loss_type="sigmoid"):
    batch = collate_pairs(list(range(len(examples) // 2)), examples, pad_id)
    with torch.no_grad():
        ref_chosen, ref_rejected = sequence_logps(PreferenceLogps(reference)(**{k: batch[k] for k in MODEL_KEYS}))
    log_probs = PreferenceLogps(policy)(**{k: batch[k] for k in MODEL_KEYS})
    return dpo_loss(log_probs, batch, ref_chosen, ref_rejected, beta=beta, loss_type=loss_type)


@pytest.mark.parametrize("loss_type", ["sigmoid", "hinge", "ipo"])
def test_loss_and_gradients_equal_trls_dpo_trainer_on_a_hand_made_batch(tok, tmp_path, loss_type):
    """A real ``DPOTrainer`` (its own collator, fused head and reference forward) against our path."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    pairs, examples = hand_made_pairs(tok)
    policy, reference = make_tiny_model(tok, seed=0), make_tiny_model(tok, seed=1)
    trl_policy, trl_reference = copy.deepcopy(policy), copy.deepcopy(reference)
    # bf16=False: DPOConfig defaults to bf16, and accelerate would then run the reference under autocast
    args = DPOConfig(output_dir=str(tmp_path / "trl"), beta=0.1, loss_type=[loss_type], report_to=[],
                     use_cpu=True, max_length=None, bf16=False)
    trainer = DPOTrainer(model=trl_policy, ref_model=trl_reference, args=args, processing_class=tok,
                         train_dataset=Dataset.from_list([{"prompt": "a", "chosen": "b", "rejected": "c"}]))
    trl_batch = DataCollatorForPreference(pad_token_id=tok.pad_token_id)(
        [{"prompt_ids": p, "chosen_ids": c, "rejected_ids": r} for p, c, r in pairs])
    trl_policy.train()
    expected = trainer.compute_loss(trainer.model, trl_batch)
    expected.backward()
    logged = trainer._metrics["train"]

    loss, metrics = ours(policy, reference, examples, tok.pad_token_id, loss_type=loss_type)
    loss.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert metrics["reward_margin"] == pytest.approx(logged["rewards/margins"][-1], rel=1e-4, abs=1e-7)
    assert metrics["reward_accuracy"] == logged["rewards/accuracies"][-1]
    trl_grads = dict(trl_policy.named_parameters())
    for name, param in policy.named_parameters():
        assert torch.allclose(param.grad, trl_grads[name].grad, rtol=1e-4, atol=1e-7), name
    assert 0 < sum(float(p.grad.norm()) for p in policy.parameters())


def objective_for(policy, reference_model, examples, pad_id):
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    frozen = PreferenceLogps(reference_model).eval() if reference_model is not None else None
    wrapper = PreferenceLogps(policy)
    objective = PreferenceObjective(examples, pad_id, Reference(frozen, accelerator, wrapper), beta=0.1,
                                    loss_type="sigmoid")
    micro = [[[i] for i in range(len(examples) // 2)]]  # one micro-batch holding every pair
    return accelerator, wrapper, objective, micro


def step_loss(accelerator, wrapper, objective, micro) -> tuple[float, dict]:
    wrapper.zero_grad(set_to_none=True)
    sums = objective.accumulate(accelerator, wrapper, micro, objective.step_targets(micro), "fp32")
    n = objective.step_targets(micro)
    return float(sums["loss"]) / n, {k: float(v) / n for k, v in sums.items()}


def test_one_dpo_step_lowers_the_dpo_loss_on_its_batch(tok):
    _, examples = hand_made_pairs(tok, n_pairs=4)
    policy = make_tiny_model(tok, seed=0)
    accelerator, wrapper, objective, micro = objective_for(policy, copy.deepcopy(policy), examples, tok.pad_token_id)
    before, stats = step_loss(accelerator, wrapper, objective, micro)
    assert before == pytest.approx(0.693147, abs=1e-5)  # policy == reference: log 2, no margin yet
    assert stats["reward_margin"] == 0
    torch.optim.AdamW(policy.parameters(), lr=1e-3).step()
    after, stats = step_loss(accelerator, wrapper, objective, micro)
    assert after < before - 0.01
    assert stats["reward_margin"] > 0 and stats["reward_accuracy"] == 1.0


def test_chosen_equal_to_rejected_gives_zero_gradient(tok):
    pairs, examples = hand_made_pairs(tok, n_pairs=3)
    same = [Example(e.ids, e.n_prompt) for e in examples[0::2] for _ in (0, 1)]  # rejected := chosen
    reference = make_tiny_model(tok, seed=1)  # another model: the log-ratios are not zero, only their difference
    policy = make_tiny_model(tok, seed=0)
    accelerator, wrapper, objective, micro = objective_for(policy, reference, same, tok.pad_token_id)
    loss, stats = step_loss(accelerator, wrapper, objective, micro)
    assert loss == pytest.approx(0.693147, abs=1e-6) and stats["reward_margin"] == 0
    # Zero up to rounding: the two rows' gradients cancel inside sums over the batch (1e-8 seen here)
    assert max(float(p.grad.abs().max()) for p in policy.parameters()) < 1e-7
    # The same pairs with their real rejected answers do move the weights (the test can fail).
    accelerator, wrapper, objective, micro = objective_for(policy, reference, examples, tok.pad_token_id)
    step_loss(accelerator, wrapper, objective, micro)
    assert max(float(p.grad.abs().max()) for p in policy.parameters()) > 1e-4


def test_lora_reference_is_the_adapter_off_model_and_no_second_model_is_loaded(tok, tiny_model_dir, dpo_config,
                                                                                 pref_dir, tmp_path, monkeypatch):
    from peft import LoraConfig, get_peft_model

    _, examples = hand_made_pairs(tok)
    base = make_tiny_model(tok, seed=0)
    peft_model = get_peft_model(copy.deepcopy(base), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)  # an adapter that changes the outputs
    accelerator, wrapper, objective, micro = objective_for(peft_model, None, examples, tok.pad_token_id)
    batch = collate_pairs([0, 1, 2], examples, tok.pad_token_id)
    inputs = {k: batch[k] for k in MODEL_KEYS}
    ref = objective.reference(batch, "fp32")
    with torch.no_grad():
        expected = sequence_logps(PreferenceLogps(base)(**inputs))
        adapted = sequence_logps(wrapper(**inputs))
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(ref, expected))
    assert not torch.allclose(adapted[0], expected[0], atol=1e-3)
    assert wrapper.training  # back in train mode after the reference pass

    import lingalign.train.dpo
    import lingalign.train.stage

    loaded = []
    real = lingalign.train.stage.load_model

    def counting(path, **kwargs):
        loaded.append(path)
        return real(path, **kwargs)

    for module in (lingalign.train.stage, lingalign.train.dpo):  # where training looks the loader up
        monkeypatch.setattr(module, "load_model", counting)
    lora = dpo_config.model_copy(update={"max_steps": 2, "dpo": dpo_config.dpo.model_copy(update={"tune": "lora"})})
    out = train(lora, pref_dir, tmp_path / "lora")
    assert loaded[:1] == [str(tiny_model_dir)] and len([p for p in loaded if p == str(tiny_model_dir)]) == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"]["reference_model"] == str(tiny_model_dir)
    assert "adapters off" in manifest["derived"]["reference"]
    loaded.clear()
    train(dpo_config.model_copy(update={"max_steps": 1}), pref_dir, tmp_path / "full")
    assert loaded == [str(tiny_model_dir)] * 2  # full tuning: the policy and a frozen reference copy


def params_of(folder):
    return dict(AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).named_parameters())


def read_log(folder):
    return [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines()]


def test_dpo_run_writes_a_model_folder_naming_method_and_reference(dpo_config, tiny_model_dir, pref_dir, tmp_path):
    import yaml

    lines = (pref_dir / "train.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    same = json.dumps({**first, "rejected": first["chosen"] + " "})  # the same answer up to whitespace
    (pref_dir / "train.jsonl").write_text("\n".join(lines + [same, same]) + "\n")
    config = dpo_config.model_copy(update={"epochs": 2, "learning_rate": 3e-3})
    out = train(config, pref_dir, tmp_path / "out")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["method"] == "dpo" and manifest["config"]["dpo"]["beta"] == 0.1
    assert manifest["inputs"]["reference_model"] == str(tiny_model_dir)
    assert manifest["counts"]["records"] == 18 and manifest["counts"]["dropped_identical"] == 2
    assert manifest["counts"]["pairs"] == 16
    hyper = yaml.safe_load((out / "hyperparameters.yaml").read_text().split("# derived")[0])
    assert hyper["method"] == "dpo" and hyper["dpo"] == {"beta": 0.1, "tune": "full", "reference_model": None,
                                                         "loss_type": "sigmoid"}
    info = json.loads((out / "lingalign_model.json").read_text())
    assert info["objective"] == "dpo" and info["reference_model"] == str(tiny_model_dir)
    log = read_log(out)
    assert [r["step"] for r in log] == list(range(1, 9)) and all(r["pairs"] == 4 for r in log)
    for key in ("loss", "reward_margin", "reward_accuracy", "lr", "grad_norm", "tokens_per_s"):
        assert all(key in r for r in log), key
    assert log[-1]["loss"] < log[0]["loss"] - 0.05 and log[-1]["reward_accuracy"] > 0.5


@pytest.mark.parametrize("tune", ["full", "lora"])
def test_dpo_resume_gives_the_same_weights_as_an_uninterrupted_run(dpo_config, pref_dir, tmp_path, tune):
    update = {"max_steps": 4, "checkpoint_every": 2, "dpo": dpo_config.dpo.model_copy(update={"tune": tune})}
    config = dpo_config.model_copy(update=update)
    config.lora.r, config.lora.dropout = 4, 0.1  # dropout: the RNG state must come back too
    straight = train(config, pref_dir, tmp_path / "straight")
    resumed = tmp_path / "resumed"
    checkpoint = train(config, pref_dir, resumed, stop_after=3)
    assert checkpoint.name == "step-00000003" and not resumed.exists() and work_dir(resumed).exists()
    train(config, pref_dir, resumed, resume=True)
    a, b = params_of(straight), params_of(resumed)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert [r["step"] for r in read_log(resumed)] == [1, 2, 3, 4]
    assert [r["loss"] for r in read_log(resumed)] == [r["loss"] for r in read_log(straight)]


def test_a_named_reference_model_is_loaded_frozen_and_recorded(dpo_config, pref_dir, tmp_path):
    from lingalign.errors import UserError

    other = tmp_path / "other-reference"
    tok = make_tiny_tokenizer()
    make_tiny_model(tok, seed=3).save_pretrained(other)
    tok.save_pretrained(other)
    dpo = dpo_config.dpo.model_copy(update={"reference_model": str(other), "tune": "lora"})
    out = train(dpo_config.model_copy(update={"max_steps": 1, "dpo": dpo}), pref_dir, tmp_path / "out")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"]["reference_model"] == str(other) != manifest["inputs"]["model"]
    assert manifest["derived"]["reference"] == "a frozen copy"  # LoRA, but the reference is another model
    assert read_log(out)[0]["reward_margin"] != 0  # policy and reference differ from the first step

    smaller = tmp_path / "smaller-vocab"
    tok = make_tiny_tokenizer(vocab_size=500)
    make_tiny_model(tok).save_pretrained(smaller)
    tok.save_pretrained(smaller)
    dpo = dpo_config.dpo.model_copy(update={"reference_model": str(smaller)})
    with pytest.raises(UserError, match="another vocabulary"):
        train(dpo_config.model_copy(update={"dpo": dpo}), pref_dir, tmp_path / "bad")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "bad.work").exists()
