"""The training objective: summed cross-entropy over response tokens only.

The language-model head is applied only at positions whose next token carries a label. Prompt
and padding positions never become vocabulary-sized logits, which on a small model with a large
vocabulary (SmolLM2: 576 -> 49152) is a large share of the compute and memory. The result is the
same sum the full-logits path gives (the tests compare them).

The module wraps the causal LM so that ``accelerate`` (DDP/FSDP) sees one forward call. It passes
on the embedding accessors and ``tie_weights``: accelerate's FSDP2 preparation calls them on the
module it is given, and without them a model with tied input/output embeddings (SmolLM2) would
come out of sharding with two separate matrices.
"""

from __future__ import annotations

import torch
from torch import nn

from lingalign.train.examples import IGNORE


class ResponseLoss(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def get_output_embeddings(self):
        return self.model.get_output_embeddings()

    def tie_weights(self, *args, **kwargs):
        return self.model.tie_weights(*args, **kwargs)

    def response_logits(self, input_ids, position_ids, labels):
        """fp32 logits at the positions whose next token carries a label, those labels, and where they are."""
        core = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        hidden = core.get_decoder()(input_ids=input_ids, position_ids=position_ids,
                                    attention_mask=None, use_cache=False).last_hidden_state
        targets = labels[:, 1:]
        keep = targets != IGNORE
        picked = hidden[:, :-1][keep]  # (n_targets, hidden)
        return core.get_output_embeddings()(picked).float(), targets[keep], keep

    def forward(self, input_ids, position_ids, labels):
        """Return the *sum* of token losses; the caller divides by the step's target count."""
        logits, targets, _ = self.response_logits(input_ids, position_ids, labels)
        return nn.functional.cross_entropy(logits, targets, reduction="sum")


def reference_loss_sum(model: nn.Module, batch: dict) -> torch.Tensor:
    """The same sum through the standard full-logits forward (used by tests as the yardstick)."""
    logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                   attention_mask=batch.get("attention_mask"), use_cache=False).logits
    shift = logits[:, :-1].float()
    return nn.functional.cross_entropy(shift.reshape(-1, shift.shape[-1]), batch["labels"][:, 1:].reshape(-1),
                                       ignore_index=IGNORE, reduction="sum")
