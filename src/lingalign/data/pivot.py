"""Pivot-answering records (PLUG, Zhang et al. 2023): answer in English first, then in the user's language.

Each record keeps the user's instruction (and input) in language X; its response is an English part
(the instruction restated in English, then the English answer), the separator, then the answer in
X (``lingalign.prompting.pivot_response``; the model trains with ``prompt_format: alpaca-pivot``,
and evaluation scores only the final part). Two sources give both languages' answers:

* **a parallel instruction set** (``kind: instructions`` with ``pivot: {}``): ``fields`` map the X
  side, ``english_fields`` the English side of the same records (Alpaca en/zh: ``zh_*`` / ``en_*``);
* **parallel questions with English worked answers** (``kind: bitext``, ``languages: [zh, en]``, with
  ``pivot: {answers: gsm8kinstruct/en/train.txt}``): the English side of each pair is looked up in
  the answers file by its text; the response is the English question, GSM8K's English step-by-step
  answer, the separator, and a short sentence in X giving the number after the answer's ``####``
  (:data:`FINAL_ANSWER`, or ``pivot.final_template``). A question without an answer there is
  dropped (``no_answer``), an answer without a ``####`` line too (``no_final_answer``).

A record whose texts already contain the separator is dropped (``separator_in_text``), so a pivot
model is taught exactly one separator per answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from lingalign.data import readers
from lingalign.data.clean import Cleaner
from lingalign.data.gsm8k import AnswerIndex, final_answer, strip_calculator
from lingalign.data.recipe import Source
from lingalign.errors import UserError
from lingalign.languages import normalize_code
from lingalign.prompting import PIVOT_SEPARATOR, pivot_response

TASK = "pivot"

# The final answer of a math pivot record, per language: a short sentence with the number as GSM8K
# writes it (ASCII digits, "." for decimals, "," grouping thousands: the math scorer reads all of
# these in every language). Ours; the Swahili one deserves a native speaker's check.
FINAL_ANSWER: dict[str, str] = {
    "en": "The answer is {answer}.",
    "zh": "答案是{answer}。",
    "ja": "答えは{answer}です。",
    "ru": "Ответ: {answer}.",
    "de": "Die Antwort lautet {answer}.",
    "fr": "La réponse est {answer}.",
    "es": "La respuesta es {answer}.",
    "sw": "Jibu ni {answer}.",
}


def pivot_record(lang: str, instruction: str, input: str, english: tuple[str, str, str], final: str) -> dict:
    """One pivot example: the X instruction and input; the English instruction, input and answer, then ``final``."""
    return {"instruction": instruction, "input": input, "output": pivot_response(*english, final),
            "lang": normalize_code(lang), "task": TASK, "direction": None}


def final_template(source: Source) -> str:
    """The X sentence that gives a math answer: ``pivot.final_template``, else this language's in FINAL_ANSWER."""
    if source.pivot.final_template:
        return source.pivot.final_template
    lang = source.other_language()
    if lang not in FINAL_ANSWER:
        raise UserError(f"source '{source.name}' (key pivot.final_template): no final-answer sentence for "
                        f"language {lang!r}; built in: {', '.join(sorted(FINAL_ANSWER))}",
                        hint="give one with {answer} where the number goes, e.g. final_template: 'Jibu ni {answer}.'")
    return FINAL_ANSWER[lang]


def answers_format(path: Path) -> str:
    """A JSON list for ``.json``, else JSON lines (GSM8K's ``train.txt`` / ``.jsonl``)."""
    return "json" if path.suffix == ".json" else "jsonl"


def pivot_records(source: Source, fmt: str, paths: list[Path], cleaner: Cleaner) -> Iterator[dict]:
    """Cleaned pivot records of one source, in reading order (``paths``: its files; the answers file last)."""
    records = _math_records(source, fmt, paths, cleaner) if source.kind == "bitext" else \
        _instruction_records(source, fmt, paths[0], cleaner)
    marker = PIVOT_SEPARATOR.strip()
    for record in records:
        if marker in record["instruction"] or marker in record["input"] or \
                record["output"].count(marker) != 1:
            cleaner.count("separator_in_text")
            continue
        yield record


def _instruction_records(source: Source, fmt: str, path: Path, cleaner: Cleaner) -> Iterator[dict]:
    lang = source.other_language()
    sides = {"fields": source.fields, "english_fields": source.english_fields}
    names = ("instruction", "input", "output")
    for _, values in readers.read_fields(path, fmt, sides, names):
        x = tuple(values["fields"][n] for n in names)
        en = tuple(values["english_fields"][n] for n in names)
        if source.strip_calculator:
            x, en = _stripped(x), _stripped(en)
        kept = cleaner.parallel_instruction(x, en, lang)
        if kept:
            x, en = kept
            yield pivot_record(lang, x[0], x[1], en, x[2])


def _stripped(fields: tuple[str, ...]) -> tuple[str, ...]:
    return (*fields[:-1], strip_calculator(fields[-1]))  # the answer only


def _math_records(source: Source, fmt: str, paths: list[Path], cleaner: Cleaner) -> Iterator[dict]:
    codes = tuple(source.languages)
    english = 0 if normalize_code(codes[0]) == "en" else 1
    lang = source.other_language()
    template = final_template(source)
    answers_path = paths[-1]
    index = AnswerIndex(answers_path, answers_format(answers_path), source.pivot.answer_fields)
    for _, *sides in readers.read_pairs(fmt, paths[:-1], codes, source.min_score):
        kept = cleaner.pair(sides[0], sides[1], codes)
        if not kept:
            continue
        question_x, question_en = kept[1 - english], kept[english]
        answer = index.get(question_en)
        if answer is None:
            cleaner.count("no_answer")
            continue
        answer = (strip_calculator(answer) if source.strip_calculator else answer).strip()
        number = final_answer(answer)
        if number is None:
            cleaner.count("no_final_answer")
            continue
        if cleaner.contamination is not None and cleaner.contamination.contains(answer):
            cleaner.count("contaminated")
            continue
        yield pivot_record(lang, question_x, "", (question_en, "", answer), template.format(answer=number))
