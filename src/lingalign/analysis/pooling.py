"""One vector per sentence and layer: the true mean of the hidden states over the sentence's tokens.

The reference code multiplies by the attention mask and then averages over the padded length, so
a sentence's vector shrinks with the length of the longest sentence in its batch. Here the sum
over the sentence's tokens is divided by their number, so padding (either side) cannot change it.

Which tokens are pooled: the sentence's own tokens, except the first position of the input. Special
tokens and, with ``template="alpaca"``/``"chat"``, the template words around the sentence take part
in attention but not in the mean; otherwise every sentence would share them. The first position is
the model's "attention sink": from some middle layer on its state is huge (in SmolLM2-135M from
layer 12, norm ~22000 against ~150 for other tokens), so a mean that includes it is mostly
``sink / n_tokens`` and measures sentence length, not meaning. With a BOS token or a template the
first position is not a sentence token anyway; with raw text and no BOS (SmolLM2) it is the first
word, which is then dropped (``keep_first=True`` keeps it; a one-token sentence always keeps it).

Memory: hidden states exist for one batch at a time; each is reduced to ``[batch, hidden]`` at
once, so what is kept is ``layers x sentences x hidden`` floats, whatever the sentence lengths.
Sentences are batched by length so little compute is spent on padding.
"""

from __future__ import annotations

from lingalign.errors import UserError
from lingalign.prompting import build_prompt

TEMPLATES = ("raw", "alpaca", "chat")


def _prompt_and_span(sentence: str, template: str, tokenizer) -> tuple[str, int, int]:
    """The text fed to the model and the character span of the sentence inside it."""
    if template == "raw":
        return sentence, 0, len(sentence)
    if template not in TEMPLATES:
        raise UserError(f"unknown template {template!r}; expected one of {', '.join(TEMPLATES)}")
    prompt = build_prompt(sentence, fmt=template, tokenizer=tokenizer)
    start = prompt.rfind(sentence)
    return prompt, start, start + len(sentence)


def encode(tokenizer, sentences: list[str], template: str = "raw", max_length: int = 256,
           keep_first: bool = False):
    """Token ids and a 0/1 mask of the tokens to pool, per sentence (no padding yet)."""
    if template != "raw" and not getattr(tokenizer, "is_fast", False):
        raise UserError(f"--template {template} needs a fast tokenizer (to find the sentence inside the prompt)")
    encoded = []
    for sentence in sentences:
        prompt, start, end = _prompt_and_span(sentence, template, tokenizer)
        enc = tokenizer(prompt, truncation=True, max_length=max_length, return_special_tokens_mask=True,
                        return_offsets_mapping=getattr(tokenizer, "is_fast", False))
        if "offset_mapping" in enc:
            pool = [int(b > a and a < end and b > start) for a, b in enc["offset_mapping"]]
        else:
            pool = [1 - s for s in enc["special_tokens_mask"]]
        if not keep_first and sum(pool[1:]) > 0:
            pool[0] = 0  # the attention sink position (see the module docstring)
        if not any(pool):
            raise UserError(f"sentence {sentence[:40]!r}... has no tokens left within --max-length {max_length}")
        encoded.append((enc["input_ids"], pool))
    return encoded


def _pad_batch(items, pad_id: int, side: str):
    """Stack (ids, pool) pairs into tensors padded on ``side``; positions count real tokens only."""
    import torch

    width = max(len(ids) for ids, _ in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(items), width), dtype=torch.long)
    pool = torch.zeros((len(items), width), dtype=torch.bool)
    for row, (tokens, keep) in enumerate(items):
        cols = slice(width - len(tokens), width) if side == "left" else slice(0, len(tokens))
        ids[row, cols] = torch.tensor(tokens)
        attention[row, cols] = 1
        pool[row, cols] = torch.tensor(keep, dtype=torch.bool)
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    return ids, attention, positions, pool


def masked_mean(hidden, pool):
    """Mean of ``hidden[b, t]`` over the positions where ``pool[b, t]`` is true -> ``[batch, dim]``.

    ``masked_fill`` rather than multiplying by the mask: padded positions may hold NaN (a row that
    attends to nothing), and NaN * 0 is NaN.
    """
    keep = pool.unsqueeze(-1)
    total = hidden.float().masked_fill(~keep, 0.0).sum(dim=1)
    return total / keep.sum(dim=1).clamp(min=1)


def pooled_layers(model, tokenizer, sentences: list[str], *, template: str = "raw", batch_size: int = 16,
                  max_length: int = 256, padding_side: str | None = None, keep_first: bool = False,
                  label: str = "model"):
    """Pooled vectors ``[layers + 1, sentences, hidden]`` (float32): embeddings, then every block.

    The body of the model is run without its LM head (the logits are not needed).
    """
    import torch

    side = padding_side or getattr(tokenizer, "padding_side", "right")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = encode(tokenizer, sentences, template, max_length, keep_first)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]), reverse=True)
    body = getattr(model, "base_model", model)
    device = next(model.parameters()).device
    pooled = None
    model.eval()
    with torch.inference_mode():
        for first in range(0, len(order), batch_size):
            rows = order[first:first + batch_size]
            ids, attention, positions, pool = _pad_batch([encoded[i] for i in rows], pad_id, side)
            out = body(input_ids=ids.to(device), attention_mask=attention.to(device),
                       position_ids=positions.to(device), output_hidden_states=True, use_cache=False)
            states = getattr(out, "hidden_states", None)
            if not states:
                raise UserError(f"{label}: the model returned no hidden states, so its layers cannot be read")
            if pooled is None:
                pooled = torch.empty((len(states), len(sentences), states[0].shape[-1]), dtype=torch.float32)
            index = torch.tensor(rows)
            for layer, hidden in enumerate(states):
                pooled[layer, index] = masked_mean(hidden, pool.to(hidden.device)).cpu()
            del out, states
    return pooled
