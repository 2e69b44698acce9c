"""The prompts of ``lingalign data pairs``: each a text in language X and the same request in English.

Read from line-aligned questions (GSM8KInstruct's ``question-zh-en/train.zh`` + ``train.en``, or any
bitext layout the data recipe reads) or from an instruction set holding both sides of a record
(Alpaca en/zh). A record's ``input``, when it has one, follows its instruction after a blank line
(``"instruction\\n\\ninput"``): that one text is the prompt the model is sampled with and the
``prompt`` of the pair, so training sees exactly what sampling saw.

Which prompts: all, or ``count`` of them chosen by a seeded hash of their ids (as the data
recipe's ``count`` chooses records), so ``count: 8`` is a subset of ``count: 100`` and adding lines
elsewhere in the file does not change the choice. The chosen prompts keep their file order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from lingalign.artifacts import iter_jsonl
from lingalign.config import resolve_path
from lingalign.data import readers
from lingalign.data.build import resolve_source
from lingalign.data.hashing import seeded_hash
from lingalign.data.pairs_recipe import PromptSource
from lingalign.data.recipe import Source
from lingalign.errors import UserError, where
from lingalign.languages import normalize_code


@dataclass(frozen=True)
class PromptPair:
    """One prompt: its id (``<source name>:<index in the file>``), its X text and its English text."""

    id: str
    x: str
    english: str


def prompt_files(source: PromptSource, base: str | Path | None) -> tuple[str, list[Path]]:
    """The format and files of ``source``, checked to exist (errors before any model loads)."""
    if source.kind == "bitext":
        as_source = Source(name=source.name, kind="bitext", path=source.path, paths=source.paths,
                           format=source.format, languages=source.languages)
        return resolve_source(as_source, base)
    path = resolve_path(source.path, base)
    fmt = source.format
    if fmt == "auto":
        if path.suffix not in (".json", ".jsonl"):
            raise UserError(f"prompts: cannot tell the format of {source.path}", hint="set format: json or jsonl")
        fmt = path.suffix[1:]
    if not path.is_file():
        raise UserError(f"{path}: file not found (prompts)")
    return fmt, [path]


def read_prompts(source: PromptSource, fmt: str, paths: list[Path]) -> tuple[list[PromptPair], int]:
    """Every prompt with both sides non-empty, in file order, and how many had an empty side."""
    found, empty = [], 0
    for index, (x, english) in enumerate(_sides(source, fmt, paths)):
        x, english = x.strip(), english.strip()
        if not x or not english:
            empty += 1
            continue
        found.append(PromptPair(f"{source.name}:{index}", x, english))
    return found, empty


def choose_prompts(prompts: list[PromptPair], count: int | None, seed: int) -> list[PromptPair]:
    """``count`` prompts ranked by a seeded hash of their ids (all when None), in file order."""
    if count is None:
        return list(prompts)
    if count > len(prompts):
        raise UserError(f"prompts: count {count} is more than the {len(prompts)} prompts available",
                        hint=f"use count: {len(prompts)} or less (or leave it out for all)")
    ranked = sorted(range(len(prompts)), key=lambda i: (seeded_hash(seed, "prompt", prompts[i].id), i))
    return [prompts[i] for i in sorted(ranked[:count])]


def joined(instruction: str, input: str) -> str:
    """A request as one text: the instruction, then its input after a blank line (as chat prompts join them)."""
    return instruction if not input.strip() else f"{instruction.strip()}\n\n{input.strip()}"


def _sides(source: PromptSource, fmt: str, paths: list[Path]) -> Iterator[tuple[str, str]]:
    """``(X text, English text)`` per line or record, in file order."""
    if source.kind == "bitext":
        codes = tuple(source.languages)
        x_side = 0 if normalize_code(codes[0]) != "en" else 1
        if fmt == "tsv":
            pairs = readers.read_tsv(paths[0])
        elif fmt == "jsonl":
            pairs = readers.read_translation_jsonl(paths[0], codes)
        else:
            pairs = readers.read_line_pairs(paths[0], paths[1])
        for _, *sides in pairs:
            yield sides[x_side], sides[1 - x_side]
        return
    path = paths[0]
    records = readers.iter_json_array(path) if fmt == "json" else iter_jsonl(path)
    for number, record in records:
        if not isinstance(record, dict):
            raise UserError(f"{where(path, number)}: expected a JSON object, got {type(record).__name__}")
        yield (_request(record, source.fields, path, number, "fields"),
               _request(record, source.english_fields, path, number, "english_fields"))


def _request(record: dict, fields: dict[str, str], path: Path, number: int, setting: str) -> str:
    values = []
    for ours in ("instruction", "input"):
        key = fields.get(ours, ours)
        value = record.get(key, "" if ours == "input" else None)
        if value is None:
            keys = ", ".join(list(record)[:8])
            raise UserError(f"{where(path, number, key)}: missing field (record has {keys})",
                            hint=f"map it in the recipe: prompts: {{{setting}: {{{ours}: <key in the file>}}}}")
        if not isinstance(value, str):
            raise UserError(f"{where(path, number, key)}: expected text, got {type(value).__name__}")
        values.append(value)
    return joined(*values)
