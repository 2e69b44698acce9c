"""Read a preference file into token pairs: one prompt, a chosen and a rejected answer.

Two record layouts are read, the ones TRL and LLaMA-Factory read:

* ``{"prompt", "chosen", "rejected"}``: the prompt is the user's whole request (the instruction);
* ``{"instruction", "input", "chosen", "rejected"}`` (LLaMA-Factory's alpaca-style pairs): ``input``
  is optional, and it is what ``overlength: truncate`` shortens, as in supervised tuning.

Each answer is tokenised the way supervised tuning tokenises its ``output``
(:func:`lingalign.train.examples.tokenize_record`: prompt and answer joined exactly, EOS appended,
labels only on the answer), and both answers of a pair get the same prompt ids: when the input must
be cut, it is cut to fit the longer answer, so the two sequences differ only after the prompt.

What stops a run (one line naming the file and line; nothing is written) is decided by
:mod:`lingalign.preference_records`, shared with ``lingalign data pairs --import``: a record without
the keys, a key that is not text, an empty prompt or answer, supervised records, or a file where
chosen == rejected in every record. A pair whose answers are the same text teaches nothing (its
gradient is zero), so a few of them among good pairs are dropped and counted (``dropped_identical``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lingalign.artifacts import iter_jsonl
from lingalign.errors import UserError
from lingalign.preference_records import check_record, nothing_to_prefer, same_answers
from lingalign.train.examples import Example, response_ids, tokenize_record


def tokenize_pair(instruction: str, text: str, chosen: str, rejected: str, tokenizer, fmt: str, max_length: int,
                  policy: str) -> tuple[tuple[Example, Example] | None, str]:
    """Two Examples with the same prompt ids, and the status of the record (as for supervised records)."""
    longer = max((chosen, rejected), key=lambda answer: len(response_ids(tokenizer, answer)))
    record = {"instruction": instruction, "input": text, "output": longer}
    example, status = tokenize_record(record, tokenizer, fmt, max_length, policy)
    if example is None:
        return None, status
    prompt = example.ids[:example.n_prompt]
    pair = tuple(Example(prompt + response_ids(tokenizer, answer), len(prompt)) for answer in (chosen, rejected))
    return pair, status


def load_pairs(path: Path, tokenizer, fmt: str, max_length: int, policy: str) -> tuple[list[Example], dict]:
    """Tokenise a whole preference file. Returns the Examples flat, ``[chosen_0, rejected_0, chosen_1, ...]``
    (so the supervised collation serves both), and counts of what happened to each record."""
    path = Path(path)
    examples, counts = [], Counter()
    first_line = None
    for line_no, record in iter_jsonl(path):
        first_line = first_line or line_no
        instruction, text = check_record(record, path, line_no)
        counts["records"] += 1
        if same_answers(record):
            counts["dropped_identical"] += 1
            continue
        pair, status = tokenize_pair(instruction, text, record["chosen"], record["rejected"], tokenizer, fmt,
                                     max_length, policy)
        counts[status] += 1
        if pair is not None:
            examples.extend(pair)
    if not counts["records"]:
        raise UserError(f"{path}: the preference data is empty")
    if counts["dropped_identical"] == counts["records"]:
        raise nothing_to_prefer(path, first_line, counts["records"])
    if not examples:
        raise UserError(f"{path}: all {counts['records']} pairs were dropped ({counts['dropped_overlength']} longer "
                        f"than max_length={max_length}, {counts['dropped_identical']} with chosen == rejected)",
                        hint="raise max_length or use overlength: truncate (it shortens the input field)")
    counts["pairs"] = len(examples) // 2
    counts["response_tokens"] = sum(len(e) - e.n_prompt for e in examples)
    counts["tokens"] = sum(len(e) for e in examples)
    return examples, {"records": counts.pop("records"), **dict(counts)}


def pair_lengths(examples: list[Example]) -> list[int]:
    """The row width each pair needs (its longer sequence): what length grouping sorts by."""
    return [max(len(examples[i]), len(examples[i + 1])) for i in range(0, len(examples), 2)]
