"""Prompts as the token ids every backend decodes from, and batches of prompts of similar length.

Fixed batches go longest first: each batch holds prompts of similar length (little padding), and
memory peaks in the first batch, where an out-of-memory error shows early.
"""

from __future__ import annotations

from typing import Sequence


def encode_prompts(tokenizer, prompts: Sequence[str], add_special_tokens: bool) -> list[list[int]]:
    """The token ids every backend decodes from: one tokenizer call, shared by HF and vLLM.

    ``add_special_tokens`` is False for chat prompts, whose template already wrote the BOS token.
    """
    return tokenizer(list(prompts), add_special_tokens=add_special_tokens)["input_ids"]


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches, longest prompts first (stable for equal lengths)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
