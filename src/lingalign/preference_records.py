"""Preference records ``{prompt, chosen, rejected}``: the layouts read, and the checks every reader makes.

Two stages read preference files: ``lingalign train`` (``method: dpo``) tokenises them, and
``lingalign data pairs --import`` turns one into a data folder. Both must accept and refuse exactly
the same files with the same one-line messages, and a stage may not import another, so the record
rules live here, below the stages.

The layouts are the ones TRL and LLaMA-Factory read:

* ``{"prompt", "chosen", "rejected"}``: the prompt is the user's whole request (the instruction);
* ``{"instruction", "input", "chosen", "rejected"}`` (LLaMA-Factory's alpaca-style pairs): ``input``
  is optional.

Other keys (``id``, ``lang``, scores) are carried along and ignored. What is refused: a record
without the keys, a key that is not text, an empty prompt or answer, a supervised record
(``instruction`` and ``output``: preference training pointed at the wrong data), and a file whose
chosen and rejected answers are the same text in every record. A pair whose answers are the same
text (after stripping whitespace) teaches nothing, so a few of them among good pairs are dropped
and counted by the reader.
"""

from __future__ import annotations

from pathlib import Path

from lingalign.errors import UserError, where

ANSWERS = ("chosen", "rejected")
EXPECTED = "{prompt, chosen, rejected} or {instruction, input, chosen, rejected} records"


def check_record(record: dict, path: Path, line_no: int) -> tuple[str, str]:
    """The record's (instruction, input) after checking its keys; raises a one-line UserError."""
    if "output" in record and not any(k in record for k in ANSWERS):
        raise UserError(f"{where(path, line_no)}: a supervised record (instruction/output), but method: dpo "
                        f"expects {EXPECTED}", hint="point --data at preference data, or use method: full or lora")
    prompt_key = "prompt" if "prompt" in record else "instruction"
    for key in (prompt_key, *ANSWERS):
        if key not in record:
            raise UserError(f"{where(path, line_no)}: missing {key!r}; expected {EXPECTED}")
        if not isinstance(record[key], str):
            raise UserError(f"{where(path, line_no, key)}: expected a string, got {type(record[key]).__name__}")
        if not record[key].strip():
            raise UserError(f"{where(path, line_no, key)}: empty {key}")
    text = record.get("input", "") if prompt_key == "instruction" else ""
    if not isinstance(text, str):
        raise UserError(f"{where(path, line_no, 'input')}: expected a string, got {type(text).__name__}")
    return record[prompt_key], text


def same_answers(record: dict) -> bool:
    """True when chosen and rejected are the same text (whitespace at the ends aside): no preference."""
    return record["chosen"].strip() == record["rejected"].strip()


def nothing_to_prefer(path: Path, first_line: int | None, records: int) -> UserError:
    """The error for a file where chosen == rejected in every record."""
    return UserError(f"{where(path, first_line)}: chosen == rejected in every one of the {records} "
                     "records: there is nothing to prefer", hint="the rejected answers must differ from the chosen")
