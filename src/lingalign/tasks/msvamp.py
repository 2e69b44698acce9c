"""MSVAMP: SVAMP's math word problems in several languages, beside MGSM, with MGSM's prompts and scoring.

* ``msvamp-<lang>[-cot|-cot-en]``  ``msvamp/test.<lang>.jsonl``

MSVAMP (Chen et al. 2023, "Breaking Language Barriers in Multilingual Mathematical Reasoning",
the MathOctopus paper) is SVAMP's 1,000 problems (Patel et al. 2021: one-step and two-step
arithmetic with distractors, out of GSM8K's domain) translated into nine languages (the shared
copy here has de en es fr ja ru sw zh); QAlign (Zhu et al. 2024) reports it beside MGSM. Its
JSONL holds, per problem, ``m_query`` (the problem in the file's language), ``query`` (the English
original; the English file has only ``m_query``), ``response`` (the answer as text, ``"8.0"``) and
``equation``. The files are parallel: line ``i`` is the same problem in every language, so an
example's id is its line number and ids match across languages (cross-lingual consistency joins
on them).

The three prompt variants, the generation budgets and the scoring (the response's last number
against the answer, ``8`` equals ``8.0``) are MGSM's (``math_problems``); a user ``math`` set in
MSVAMP's format reads the same way (``math_problems.read_math_jsonl``).
"""

from __future__ import annotations

from pathlib import Path

from lingalign.errors import UserError
from lingalign.tasks.base import Task
from lingalign.tasks.math_problems import math_task, variant_of
from lingalign.tasks.registry import Family, register


def msvamp_file(root: Path, lang: str) -> Path:
    return root / "msvamp" / f"test.{lang}.jsonl"


def msvamp_langs(root: Path) -> list[str]:
    return sorted(p.name.split(".")[1] for p in (root / "msvamp").glob("test.*.jsonl") if p.name.count(".") == 2)


def msvamp_task(name: str, root: Path, parts: list[str]) -> Task:
    """``msvamp-<lang>`` (direct), ``msvamp-<lang>-cot``, ``msvamp-<lang>-cot-en`` from ``msvamp/test.<lang>.jsonl``."""
    lang, variant = parts[0], variant_of(name, "msvamp", parts)
    path = msvamp_file(root, lang)
    if not path.is_file():
        have = msvamp_langs(root)
        raise UserError(f"task {name}: unknown MSVAMP language {lang!r}: no {path}; "
                        f"this data root has MSVAMP for {', '.join(have) or 'no language'}",
                        hint="pass --data-root with a full MSVAMP copy (msvamp/test.<lang>.jsonl)")
    return math_task(name, path, lang, variant)


def _load_msvamp(name: str, parts: list[str], root: Path, split: str) -> Task:
    return msvamp_task(name, root, parts)  # one split (test)


def _msvamp_names(root: Path, split: str) -> list[str]:
    return [f"msvamp-{lang}" for lang in msvamp_langs(root)]  # each also as -cot and -cot-en


register(Family("msvamp", ("msvamp-<lang>[-cot|-cot-en]",), (1, 2, 3), _load_msvamp, _msvamp_names,
                parallel=(1, 2, 3)))
