"""Turn ``train.jsonl`` records into token ids with labels only on the response.

The prompt and the response are tokenised separately and concatenated, with the tokenizer's
end-of-sequence id appended: the boundary is exact (no BPE merge across it, just as at inference
where generation starts right after the prompt ids), and the loss covers the response and its EOS,
so the model learns to stop. Pivot records (``task: pivot``, answers through English) need a pivot prompt
format (``alpaca-pivot``): the model folder records it, and only then does evaluation score just the
final part of the answers. Over-long examples follow a stated policy and are counted:

* ``drop``: the example is left out.
* ``truncate``: the ``input`` field is shortened (from its end) until the example fits; if the
  instruction and response alone do not fit, the example is dropped. The response and its EOS
  are never cut.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lingalign.artifacts import iter_jsonl
from lingalign.errors import UserError, where
from lingalign.prompting import build_prompt, is_pivot

IGNORE = -100  # label value the loss skips


@dataclass(frozen=True)
class Example:
    ids: list[int]
    n_prompt: int  # the first n_prompt ids carry no loss

    @property
    def labels(self) -> list[int]:
        return [IGNORE] * self.n_prompt + self.ids[self.n_prompt:]

    def __len__(self) -> int:
        return len(self.ids)


def prompt_ids(tokenizer, prompt: str, fmt: str) -> list[int]:
    # A chat template already writes its own special tokens; the Alpaca text gets the usual BOS (if any).
    return tokenizer(prompt, add_special_tokens=(fmt != "chat"))["input_ids"]


def response_ids(tokenizer, output: str) -> list[int]:
    return tokenizer(output, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def tokenize_record(record: dict, tokenizer, fmt: str, max_length: int, policy: str) -> tuple[Example | None, str]:
    """One record -> (Example, status) with status "kept", "truncated", "dropped_overlength" or "dropped_empty"."""
    if not record["output"].strip():
        return None, "dropped_empty"
    response = response_ids(tokenizer, record["output"])
    instruction, text = record["instruction"], record.get("input", "")
    prompt = prompt_ids(tokenizer, build_prompt(instruction, text, fmt, tokenizer), fmt)
    if len(prompt) + len(response) <= max_length:
        return Example(prompt + response, len(prompt)), "kept"
    if policy == "drop" or not text:
        return None, "dropped_overlength"
    # Shorten the input field; re-tokenise the whole prompt each time so the ids stay exact.
    input_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    for _ in range(4):
        excess = len(prompt) + len(response) - max_length
        keep = len(input_ids) - excess - 2  # a small margin for merges at the cut
        if keep <= 0:
            return None, "dropped_overlength"
        input_ids = input_ids[:keep]
        short = tokenizer.decode(input_ids)
        prompt = prompt_ids(tokenizer, build_prompt(instruction, short, fmt, tokenizer), fmt)
        if len(prompt) + len(response) <= max_length:
            return Example(prompt + response, len(prompt)), "truncated"
    return None, "dropped_overlength"


REQUIRED = ("instruction", "output")


def load_examples(path: Path, tokenizer, fmt: str, max_length: int, policy: str) -> tuple[list[Example], dict]:
    """Tokenise a whole ``train.jsonl``; returns the examples and counts of what happened to each record."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: training data not found",
                        hint="point --data at a `lingalign data build` output folder")
    examples, counts = [], Counter()
    for line_no, record in iter_jsonl(path):
        for key in REQUIRED:
            if not isinstance(record.get(key), str):
                hint = None
                if "chosen" in record and "rejected" in record:
                    hint = "this is preference data (chosen/rejected): train on it with method: dpo"
                raise UserError(f"{where(path, line_no, key)}: expected a string field {key!r}", hint=hint)
        if not isinstance(record.get("input", ""), str):
            raise UserError(f"{where(path, line_no, 'input')}: expected a string")
        if record.get("task") == "pivot" and not is_pivot(fmt):
            raise UserError(f"{where(path, line_no)}: a pivot record (answers through English, then in the user's "
                            f"language) but train.prompt_format is {fmt}",
                            hint="set prompt_format: alpaca-pivot, so that evaluation scores only the final answer")
        example, status = tokenize_record(record, tokenizer, fmt, max_length, policy)
        counts["records"] += 1
        counts[status] += 1
        if example is not None:
            examples.append(example)
    if not counts["records"]:
        raise UserError(f"{path}: the training data is empty")
    if not examples:
        raise UserError(
            f"{path}: all {counts['records']} records were dropped "
            f"({counts['dropped_overlength']} longer than max_length={max_length}, "
            f"{counts['dropped_empty']} with an empty output)",
            hint="raise max_length or use overlength: truncate",
        )
    counts["examples"] = len(examples)
    counts["response_tokens"] = sum(len(e) - e.n_prompt for e in examples)
    counts["tokens"] = sum(len(e) for e in examples)
    return examples, dict(counts)
