"""Where an answer ends: the model's end-of-sequence ids, and the first stop string of the template.

Each backend stops a row at an end id or a stop string (an Alpaca model that starts a new
"### Instruction:" is done); the text is then cut before the stop string the same way for all.

A row that ran out of new tokens can end inside a character: its last token holds the first
byte(s) of a multi-byte UTF-8 character, which decodes to U+FFFD (byte-level BPE gives one for the
incomplete sequence, byte-fallback tokenizers one per byte). :func:`finish_answer` drops that tail,
up to 3 U+FFFD (an incomplete character has at most 3 bytes), and only at the very end of a row that
ran out; a U+FFFD anywhere else, or ending a row the model ended itself, is the model's output and
stays. The returned :class:`Answer` is a ``str`` that says how many it dropped.
"""

from __future__ import annotations

from typing import Sequence

REPLACEMENT = "\ufffd"
MAX_CUT = 3  # bytes of an incomplete UTF-8 character, so U+FFFD it can decode to


class Answer(str):
    """A decoded answer; ``cut_characters`` is the number of U+FFFD dropped from its end (0 or 1-3)."""

    cut_characters = 0


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """The text before the first stop string, stripped."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))
    return text[:cut].strip()


def finish_answer(text: str, stops: Sequence[str], ran_out: bool) -> Answer:
    """A row's decoded text as the answer: cut at the first stop string, and, when the row ran out of
    new tokens without one, without the half character it may end in (see the module docstring)."""
    if not ran_out or not text.endswith(REPLACEMENT) or any(s and s in text for s in stops):
        return Answer(cut_at_stop(text, stops))
    kept = text.rstrip(REPLACEMENT)
    dropped = len(text) - len(kept)
    if dropped > MAX_CUT:  # more than one character's worth: bytes the model wrote, not a cut
        return Answer(cut_at_stop(text, stops))
    answer = Answer(cut_at_stop(kept, stops))
    answer.cut_characters = dropped
    return answer


def end_token_ids(tokenizer, generation_config) -> list[int]:
    """The tokenizer's EOS and the model's generation-config EOS ids (instruct models often list several)."""
    eos = {tokenizer.eos_token_id}
    config_eos = getattr(generation_config, "eos_token_id", None) if generation_config is not None else None
    eos.update(config_eos if isinstance(config_eos, list) else [config_eos] if config_eos is not None else [])
    return sorted(e for e in eos if e is not None)
