"""Question-alignment records (QAlign's stage 1): a question in language X in, the same question in English out.

QAlign (Zhu et al. 2024) tunes an English-centric model on X -> English *questions* only (no answers,
no translation of the answers), then tunes it on English task data. Its objective is
``log p(question_en | question_x)``: the record's instruction is the X question itself and its
response the English question. (The authors' released loader prefixes the question with
"Translate the following sentences from X to English."; ``translate_instruction: true`` does that,
with lingalign's evaluation instruction, which is the same sentence.)

A ``kind: question-alignment`` source reads its pairs from

* parallel text in any bitext format (``languages: [zh, en]``: GSM8KInstruct's
  ``question-zh-en/train.zh`` + ``train.en``, a TSV, a FLORES folder, ...), or
* the instruction fields of a parallel instruction set (``lang`` + ``fields`` for the X side,
  ``english_fields`` for the English side, in the same records). An instruction's input, when it
  has one, is part of the question: it is appended to the instruction after a newline, on each
  side, as instruction sets written as one prompt do (``alpaca_vi``'s ``prompt``). Outputs are
  never read.

Pairs are cleaned as bitext (length bounds and ratio, contamination guard, dedup, langid).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from lingalign.data import readers
from lingalign.data.clean import Cleaner
from lingalign.data.recipe import Source
from lingalign.languages import normalize_code
from lingalign.prompting import eval_instruction

TASK = "question-alignment"


def question_record(x_code: str, question_x: str, question_en: str, translate_instruction: bool = False) -> dict:
    """One question-alignment example: the X question as the instruction, the English question as the answer."""
    x = normalize_code(x_code)
    instruction = f"{eval_instruction(x, 'en')} {question_x}" if translate_instruction else question_x
    return {"instruction": instruction, "input": "", "output": question_en, "lang": x, "task": TASK,
            "direction": f"{x}-en"}


def question_alignment_records(source: Source, fmt: str, paths: list[Path], cleaner: Cleaner) -> Iterator[dict]:
    """Cleaned question-alignment records of one source, in reading order."""
    x = source.other_language()
    for question_x, question_en in _pairs(source, fmt, paths, cleaner, x):
        yield question_record(x, question_x, question_en, source.translate_instruction)


def _pairs(source: Source, fmt: str, paths: list[Path], cleaner: Cleaner, x: str) -> Iterator[tuple[str, str]]:
    """(X question, English question), cleaned as a bitext pair."""
    if source.english_fields is None:
        codes = tuple(source.languages)
        english = 0 if normalize_code(codes[0]) == "en" else 1
        for _, *sides in readers.read_pairs(fmt, paths, codes, source.min_score):
            kept = cleaner.pair(sides[0], sides[1], codes)
            if kept:
                yield kept[1 - english], kept[english]
        return
    sides = {"fields": source.fields, "english_fields": source.english_fields}
    for _, values in readers.read_fields(paths[0], fmt, sides, ("instruction", "input")):
        kept = cleaner.pair(_question(values["fields"]), _question(values["english_fields"]), (x, "en"))
        if kept:
            yield kept


def _question(fields: dict[str, str]) -> str:
    """An instruction with its input (if any) after a newline: the whole question a user would ask."""
    instruction, input = fields["instruction"].strip(), fields["input"].strip()
    return f"{instruction}\n{input}" if input else instruction
