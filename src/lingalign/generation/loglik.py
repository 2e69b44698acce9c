"""Multiple-choice scoring by log-likelihood of each option's tokens given the prompt.

For XNLI/XCOPA-style sets: the model "chooses" the option whose tokens it finds most likely after
the prompt. Only the option's tokens are scored. The reference code instead takes the perplexity of
prompt + option as a whole, so the prompt's tokens, identical for every option, dilute the
difference between options. ``mean`` divides by the option's token count (fair to long options);
``sum`` is the plain joint log-probability.

Prompt and option are tokenized separately and concatenated, so the option's tokens are the same
whatever the prompt ends with.
"""

from __future__ import annotations

from typing import Sequence


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
