"""Where an answer ends: the model's end-of-sequence ids, and the first stop string of the template.

Each backend stops a row at an end id or a stop string (an Alpaca model that starts a new
"### Instruction:" is done); the text is then cut before the stop string the same way for all.
"""

from __future__ import annotations

from typing import Sequence


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """The text before the first stop string, stripped."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))
    return text[:cut].strip()


def end_token_ids(tokenizer, generation_config) -> list[int]:
    """The tokenizer's EOS and the model's generation-config EOS ids (instruct models often list several)."""
    eos = {tokenizer.eos_token_id}
    config_eos = getattr(generation_config, "eos_token_id", None) if generation_config is not None else None
    eos.update(config_eos if isinstance(config_eos, list) else [config_eos] if config_eos is not None else [])
    return sorted(e for e in eos if e is not None)
