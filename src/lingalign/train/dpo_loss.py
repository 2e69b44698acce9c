"""The DPO loss, taken from TRL, fed with log-probabilities from lingalign's response-only head.

TRL (tested with 1.16.0) keeps its DPO losses inside ``DPOTrainer._compute_loss``; there is no
standalone function. That method reads a handful of trainer attributes, calls the model for
per-token log-probabilities (its fused LM head's output), and, when the reference log-probabilities
are precomputed, reads them from the batch instead of running a reference model. So this module
calls it with a stand-in for the trainer holding plain-DPO settings (beta, one loss type, no
weighting, no f-divergence, no auxiliary loss) and a "model" that returns the log-probabilities
lingalign already computed: the loss arithmetic and the reward metrics are TRL's own lines.
``tests/train/test_dpo.py`` checks the result against a real ``DPOTrainer`` on the same batch.

The batch layout is TRL's: ``2N`` rows, the N chosen sequences then the N rejected ones, with
``completion_mask`` marking answer tokens and per-token log-probabilities of shape ``(2N, L - 1)``.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import torch
from torch import nn

from lingalign.errors import UserError
from lingalign.train.batching import collate
from lingalign.train.examples import IGNORE, Example
from lingalign.train.loss import ResponseLoss

try:
    from trl.trainer.dpo_trainer import DPOTrainer
    from trl.trainer.utils import FusedCausalLMOutput
except ImportError as exc:  # pragma: no cover - trl is a core dependency
    raise UserError(f"method: dpo needs TRL ({exc})", hint="pip install 'trl>=1.16'") from None


class PreferenceLogps(ResponseLoss):
    """Per-token log-probabilities of the answer tokens, zero elsewhere: ``(rows, L - 1)``.

    The same response-only head as supervised tuning (prompt and padding never become vocabulary
    logits); what TRL's fused head returns as ``log_probs``.
    """

    def forward(self, input_ids, position_ids, labels):
        logits, targets, keep = self.response_logits(input_ids, position_ids, labels)
        token_logps = -nn.functional.cross_entropy(logits, targets, reduction="none")
        return token_logps.new_zeros(keep.shape).masked_scatter(keep, token_logps)


def collate_pairs(pairs: list[int], examples: list[Example], pad_id: int) -> dict:
    """TRL's layout for pairs ``pairs`` of the flat examples ``[chosen_0, rejected_0, ...]``: chosen rows,
    then rejected rows, right-padded; plus the ``attention_mask`` and ``completion_mask`` TRL reads."""
    rows = [[2 * i] for i in pairs] + [[2 * i + 1] for i in pairs]
    batch = collate(rows, examples, pad_id)
    lengths = torch.tensor([len(examples[row[0]]) for row in rows])
    batch["attention_mask"] = (torch.arange(batch["input_ids"].shape[1])[None, :] < lengths[:, None]).long()
    batch["completion_mask"] = (batch["labels"] != IGNORE).long()
    return batch


MODEL_KEYS = ("input_ids", "position_ids", "labels")


def sequence_logps(log_probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed answer log-probabilities, split into (chosen, rejected), as TRL sums its reference's."""
    return log_probs.sum(dim=1).chunk(2, dim=0)


def _trainer_stand_in(beta: float, loss_type: str) -> SimpleNamespace:
    """The attributes ``DPOTrainer._compute_loss`` reads, set as ``DPOTrainer.__init__`` sets them for plain
    DPO with precomputed reference log-probabilities. Its metric gathers stay local: the loop reduces."""
    local = SimpleNamespace(device=torch.device("cpu"), gather=lambda t: t, gather_for_metrics=lambda t: t)
    return SimpleNamespace(
        model=SimpleNamespace(training=True), accelerator=local, beta=beta, loss_types=[loss_type],
        loss_weights=[1.0], precompute_ref_logps=True, ref_model=None, ld_alpha=None,
        f_divergence_type="reverse_kl", f_alpha_divergence_coef=1.0, label_smoothing=0.0, use_weighting=False,
        aux_loss_enabled=False, router_aux_loss_coef=0.0, args=SimpleNamespace(gradient_checkpointing_kwargs=None),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)}, _total_train_tokens=0, _tp_size=1)


def dpo_loss(log_probs: torch.Tensor, batch: dict, ref_chosen: torch.Tensor, ref_rejected: torch.Tensor, *,
             beta: float, loss_type: str = "sigmoid") -> tuple[torch.Tensor, dict[str, float]]:
    """TRL's DPO loss (mean over the batch's pairs) and its reward metrics for this batch.

    ``log_probs``: the policy's per-token log-probabilities ``(2N, L - 1)`` (:class:`PreferenceLogps`);
    ``ref_chosen``/``ref_rejected``: the reference's summed log-probabilities ``(N,)``.
    """
    zeros = torch.zeros_like(log_probs).detach()
    output = FusedCausalLMOutput(log_probs=log_probs, entropy=zeros, mean_logits=zeros,
                                 is_top1=zeros.bool(), label_mask=batch["completion_mask"][:, 1:].bool())
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
              "completion_mask": batch["completion_mask"], "ref_chosen_logps": ref_chosen,
              "ref_rejected_logps": ref_rejected}
    trainer = _trainer_stand_in(beta, loss_type)
    loss = DPOTrainer._compute_loss(trainer, lambda **_: output, inputs, False)
    logged = trainer._metrics["train"]
    metrics = {name: logged[key][-1] for name, key in (
        ("reward_margin", "rewards/margins"), ("reward_accuracy", "rewards/accuracies"),
        ("reward_chosen", "rewards/chosen"), ("reward_rejected", "rewards/rejected"))}
    return loss, metrics
