"""The DPO step in lingalign's loop: the frozen reference, the policy, TRL's loss, one gradient.

A step holds ``micro_batch_size x gradient_accumulation_steps x processes`` *pairs* (one sequence
per row: chosen rows then rejected rows, grouped by length; packing does not apply to pairs). For
each micro-batch the reference's summed answer log-probabilities are computed without gradient,
then the policy's, and TRL's loss (:mod:`lingalign.train.dpo_loss`) gives the mean over the
micro-batch's pairs. As in supervised tuning, the gradient is made the mean over the *step's* pairs
whatever the split: each micro-batch's loss sum is divided by the pairs of the whole step, times
the process count (DDP averages gradients).

The reference is either a second, frozen model (full tuning, or a ``dpo.reference_model`` that is
not the starting model) or, with LoRA on the starting model, the policy itself with its adapters
switched off (peft's ``disable_adapter``): no second copy in memory. It runs in eval mode (no
dropout), as TRL's does, so a pair's reference log-probabilities are the same at every step.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import torch

from lingalign.artifacts import read_text
from lingalign.errors import UserError
from lingalign.models import load_model, resolve_model
from lingalign.train.dpo_loss import MODEL_KEYS, PreferenceLogps, collate_pairs, dpo_loss, sequence_logps
from lingalign.train.examples import Example
from lingalign.train.loop import autocast

METRICS = ("reward_margin", "reward_accuracy", "reward_chosen", "reward_rejected")


def reference_path(config, model_path: str) -> str:
    """The reference model's resolved path: ``dpo.reference_model``, or the starting model."""
    name = config.dpo.reference_model
    if name is None:
        return model_path
    path = resolve_model(name)
    if not Path(path).exists():
        raise UserError(f"train.dpo.reference_model: {name!r} is not an existing model folder or known model")
    sizes = _vocab_size(path), _vocab_size(model_path)
    if None not in sizes and sizes[0] != sizes[1]:  # an adapter folder has no config.json: loading will tell
        raise UserError(f"train.dpo.reference_model: {name!r} has another vocabulary than {config.model!r} "
                        f"({sizes[0]} against {sizes[1]} tokens)",
                        hint="the reference must share the trained model's tokenizer")
    return path


def _vocab_size(path: str) -> int | None:
    try:
        config = json.loads(read_text(Path(path) / "config.json"))
    except (OSError, ValueError):
        return None
    return config.get("vocab_size") or config.get("text_config", {}).get("vocab_size")


def adapter_off(config, model_path: str, reference: str) -> bool:
    """True when the reference is the policy with its LoRA adapters switched off."""
    return config.dpo.tune == "lora" and reference == model_path


def load_reference(path: str, config, attention: str, device) -> PreferenceLogps:
    """A frozen copy of the reference model (fp32, eval mode, no gradients), outside accelerate's wrapping."""
    model = load_model(path, dtype="float32", trust_remote_code=config.trust_remote_code,
                       attn_implementation=attention)
    model.requires_grad_(False).eval().to(device)
    return PreferenceLogps(model).eval()


class Reference:
    """Summed answer log-probabilities under the reference, for a collated pair batch, without gradient."""

    def __init__(self, frozen: PreferenceLogps | None, accelerator, wrapper):
        self.frozen, self.accelerator, self.wrapper = frozen, accelerator, wrapper

    def __call__(self, batch: dict, precision: str) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = {k: batch[k] for k in MODEL_KEYS}
        with torch.no_grad(), autocast(self.accelerator, precision):
            if self.frozen is not None:
                return sequence_logps(self.frozen(**inputs))
            policy = self.accelerator.unwrap_model(self.wrapper)  # not DDP's forward: no gradient to sync
            with policy.model.disable_adapter(), eval_mode(policy):
                return sequence_logps(policy(**inputs))


@contextlib.contextmanager
def eval_mode(module):
    was = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was)


class PreferenceObjective:
    """DPO for :func:`lingalign.train.loop.run_loop`: plan entries are pair indices, the normaliser is pairs."""

    count_key = "pairs"

    def __init__(self, examples: list[Example], pad_id: int, reference: Reference, *, beta: float, loss_type: str):
        self.examples, self.pad_id, self.reference = examples, pad_id, reference
        self.beta, self.loss_type = beta, loss_type

    def step_targets(self, micro: list) -> int:
        return sum(len(mb) for mb in micro)

    def step_tokens(self, micro: list) -> int:
        return sum(len(self.examples[2 * i + k]) for mb in micro for row in mb for i in row for k in (0, 1))

    def accumulate(self, accelerator, model, micro: list, n_pairs: int, precision: str) -> dict:
        """Forward and backward this process's micro-batches; return the summed loss and reward metrics."""
        world, rank = accelerator.num_processes, accelerator.process_index
        mine = micro[rank::world]
        n_local = math.ceil(len(micro) / world)
        sums = torch.zeros(1 + len(METRICS), dtype=torch.float64)
        for i in range(n_local):
            weight = 1.0 if i < len(mine) else 0.0  # a short last step: take part in the collectives, learn nothing
            pairs = [i_pair for row in (mine[i] if i < len(mine) else micro[0]) for i_pair in row]
            batch = {k: v.to(accelerator.device) for k, v in collate_pairs(pairs, self.examples, self.pad_id).items()}
            ref_chosen, ref_rejected = self.reference(batch, precision)
            sync = accelerator.no_sync(model) if i < n_local - 1 else contextlib.nullcontext()
            with sync:
                with autocast(accelerator, precision):
                    log_probs = model(**{k: batch[k] for k in MODEL_KEYS})
                loss, metrics = dpo_loss(log_probs.float(), batch, ref_chosen.float(), ref_rejected.float(),
                                         beta=self.beta, loss_type=self.loss_type)
                accelerator.backward(loss * (len(pairs) * weight * world / n_pairs))
            values = [loss.item()] + [metrics[name] for name in METRICS]
            sums += torch.tensor(values, dtype=torch.float64) * (len(pairs) * weight)
        return dict(zip(("loss", *METRICS), sums.to(accelerator.device)))

    def metrics(self, sums: dict, n_pairs: int) -> dict:
        return {name: round(sums[name] / n_pairs, 6) for name in METRICS}
