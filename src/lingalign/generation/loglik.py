"""Log-likelihoods of given text after a context: multiple-choice options, and continuations in batches.

For XNLI/XCOPA-style sets: the model "chooses" the option whose tokens it finds most likely after
the prompt. Only the option's tokens are scored. The reference code instead takes the perplexity of
prompt + option as a whole, so the prompt's tokens, identical for every option, dilute the
difference between options. ``mean`` divides by the option's token count (fair to long options);
``sum`` is the plain joint log-probability.

Prompt and option are tokenized separately and concatenated, so the option's tokens are the same
whatever the prompt ends with.

:func:`continuation_logprobs` scores many (context, continuation) id pairs in batches, for a causal
LM, and :func:`seq2seq_logprobs` the same for an encoder-decoder model (teacher forcing):
``lingalign data pairs`` rewards a sampled answer by the log-probability a translation model gives
the model's English answer after it. The causal batches are left-padded, so every continuation
ends in the last column and only the last ``longest continuation + 1`` positions need logits
(``logits_to_keep``), not the whole ``rows x length x vocabulary`` block.
"""

from __future__ import annotations

import inspect
from typing import Sequence

from lingalign.generation.batching import length_sorted_batches


def option_logprobs(model, tokenizer, prompt: str, options: Sequence[str], *,
                    add_special_tokens: bool = True, reduce: str = "sum") -> list[float]:
    """Log-probability (sum or mean over its tokens) of each option following ``prompt``."""
    import torch

    prompt_ids = tokenizer(prompt, add_special_tokens=add_special_tokens)["input_ids"]
    device = next(model.parameters()).device
    scores = []
    for option in options:
        option_ids = tokenizer(option, add_special_tokens=False)["input_ids"]
        if not option_ids:
            scores.append(float("-inf"))
            continue
        ids = torch.tensor([prompt_ids + option_ids], device=device)
        with torch.inference_mode():
            logits = model(input_ids=ids).logits[0, :-1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        targets = ids[0, 1:]
        token_lp = logprobs.gather(1, targets[:, None])[:, 0][len(prompt_ids) - 1:]
        total = float(token_lp.sum())
        scores.append(total / len(option_ids) if reduce == "mean" else total)
    return scores


def choose(scores: Sequence[float]) -> int:
    return max(range(len(scores)), key=lambda i: scores[i])


def continuation_logprobs(model, contexts: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]], *,
                          pad_id: int, batch_size: int = 4) -> list[list[float]]:
    """Per-token log-probabilities of each continuation's ids following its context's ids.

    Pairs go in length-sorted batches (longest first), left-padded with a mask and position ids
    that count real tokens, as the rolling batch prefills. An empty continuation gets ``[]``.
    """
    import torch

    device = next(model.parameters()).device
    lengths = [len(c) + len(t) for c, t in zip(contexts, continuations)]
    keep_logits = "logits_to_keep" in inspect.signature(model.forward).parameters
    out: list[list[float]] = [[] for _ in contexts]
    for batch in length_sorted_batches(lengths, batch_size):
        batch = [i for i in batch if continuations[i]]
        if not batch:
            continue
        rows = [list(contexts[i]) + list(continuations[i]) for i in batch]
        width = max(len(r) for r in rows)
        ids = torch.tensor([[pad_id] * (width - len(r)) + r for r in rows], device=device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        tail = max(len(continuations[i]) for i in batch) + 1  # the positions that predict continuation tokens
        extra = {"logits_to_keep": tail} if keep_logits else {}
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, **extra).logits
        logits = logits[:, -tail:]
        for row, i in enumerate(batch):
            n = len(continuations[i])
            row_logits = logits[row, tail - 1 - n:tail - 1].float()  # position t predicts token t + 1
            targets = ids[row, width - n:]
            token_lp = torch.log_softmax(row_logits, dim=-1).gather(1, targets[:, None])[:, 0]
            out[i] = [float(x) for x in token_lp]
    return out


def seq2seq_logprobs(model, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]], *,
                     pad_id: int, decoder_start_id: int, batch_size: int = 4) -> list[list[float]]:
    """Per-token log-probabilities of each target's ids given its source under an encoder-decoder model.

    Teacher forcing: the decoder reads ``decoder_start_id`` and the target shifted right, both sides
    right-padded with masks. An empty target gets ``[]``.
    """
    import torch

    device = next(model.parameters()).device
    out: list[list[float]] = [[] for _ in sources]
    lengths = [len(s) + len(t) for s, t in zip(sources, targets)]
    for batch in length_sorted_batches(lengths, batch_size):
        batch = [i for i in batch if targets[i]]
        if not batch:
            continue
        src_width = max(len(sources[i]) for i in batch)
        tgt_width = max(len(targets[i]) for i in batch)
        src = torch.tensor([list(sources[i]) + [pad_id] * (src_width - len(sources[i])) for i in batch], device=device)
        src_mask = (torch.arange(src_width, device=device)[None] <
                    torch.tensor([len(sources[i]) for i in batch], device=device)[:, None]).long()
        dec = torch.tensor([[decoder_start_id] + list(targets[i][:-1]) + [pad_id] * (tgt_width - len(targets[i]))
                            for i in batch], device=device)
        dec_mask = (torch.arange(tgt_width, device=device)[None] <
                    torch.tensor([len(targets[i]) for i in batch], device=device)[:, None]).long()
        with torch.inference_mode():
            logits = model(input_ids=src, attention_mask=src_mask, decoder_input_ids=dec,
                           decoder_attention_mask=dec_mask).logits
        for row, i in enumerate(batch):
            n = len(targets[i])
            wanted = torch.tensor(list(targets[i]), device=device)
            token_lp = torch.log_softmax(logits[row, :n].float(), dim=-1).gather(1, wanted[:, None])[:, 0]
            out[i] = [float(x) for x in token_lp]
    return out
