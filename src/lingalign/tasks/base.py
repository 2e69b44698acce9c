"""What a task is, and what every task family shares: the data root, language codes, line files.

A task is a list of examples (the prompt's instruction and input, gold answers, options) with
what scoring needs to know about it (its kind, the language answers should be in, the files it
was read from). The families (``qa``, ``translation``, ``math_problems``, ``choice``) build
tasks from their files and register their names with ``registry``; this module imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lingalign.artifacts import read_text
from lingalign.config import samples_dir
from lingalign.errors import UserError
from lingalign.langid import base_code

QA_MAX_NEW_TOKENS = 48  # a short answer: QA's cap, and a task's default


@dataclass
class Example:
    id: str
    instruction: str = ""
    input: str = ""
    references: list[str] = field(default_factory=list)  # gold answers, or the reference translation
    source: str = ""  # the source sentence of a translation (for COMET)
    options: list[str] = field(default_factory=list)  # multiple-choice sets only
    label: int | None = None


@dataclass
class Task:
    name: str
    kind: str  # "qa" | "translation" | "choice" | "math"
    lang: str  # ISO 639-1 code of the expected answer (QA: the gold answer's; translation: target)
    examples: list[Example]
    files: list[Path]
    max_new_tokens: int = QA_MAX_NEW_TOKENS
    split: str | None = None
    src_lang: str | None = None
    question_lang: str | None = None
    reduce: str = "mean"  # multiple-choice sets: "sum" or "mean" of option token log-probs
    prompt_variant: str | None = None  # math: "direct", "cot" or "cot-en" (math_problems.VARIANTS)
    instruction_lang: str | None = None  # math: the language the instruction is written in
    english_task: str | None = None  # a user set's task with the same items in English (cross-lingual consistency)


def default_data_root() -> Path:
    """The samples shipped in the package; ``--data-root`` points at a full copy laid out the same way."""
    return samples_dir()


def iso1(code: str) -> str:
    """``cmn_Hans``/``zho``/``vie`` -> ``zh``/``vi``: the code langid and the metrics use."""
    return base_code(code)


def need_file(path: Path | None, name: str, expected: Path) -> Path:
    """``path``, or the error that task ``name`` has no data where it was looked for."""
    if path is None:
        raise UserError(f"task {name}: no data at {expected}",
                        hint="see `lingalign eval --list` for the tasks this data root has, or pass --data-root")
    return path


def read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        return read_text(path).rstrip("\n").split("\n")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
