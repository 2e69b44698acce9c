"""Built-in task names: which family a name belongs to, loading it, and listing a data root's tasks.

A built-in name is ``<family>-<part>[-<part>...]`` (``xquad-zh``, ``flores-en-zh``). Each family
module registers a ``Family`` here when it is imported; this module never imports the families,
so they can import its types without a circle. ``import lingalign.tasks`` imports every family,
in the order ``lingalign eval --list`` and the task-forms message show them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import langcodes

from lingalign.errors import UserError
from lingalign.langid import _identifier, base_code
from lingalign.tasks.base import Task


@dataclass(frozen=True)
class Family:
    name: str  # the part of a task name before the first "-"
    forms: tuple[str, ...]  # the name forms, as --list and error messages show them
    part_counts: tuple[int, ...]  # how many "-" parts after the family name a task name may have
    load: Callable[[str, list[str], Path, str], Task]  # (task name, its parts, data root, split) -> Task
    names: Callable[[Path, str], list[str]]  # (data root, split) -> the family's task names present there
    # Part counts of names whose items are the same in every language, under the same ids, with the
    # language as the first part (mgsm-zh-cot and mgsm-en-cot ask the same problems): see english_task.
    parallel: tuple[int, ...] = ()


_FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    if family.name in _FAMILIES:
        raise ValueError(f"task family {family.name!r} is registered twice")
    _FAMILIES[family.name] = family
    return family


def family_forms() -> str:
    """``xquad-<lang>, mlqa-<lang>, ...``: every registered name form, in registration order."""
    return ", ".join(form for family in _FAMILIES.values() for form in family.forms)


def is_builtin(name: str) -> bool:
    """Whether ``name`` has the form of a built-in task (its data may still be missing)."""
    return name.split("-")[0] in _FAMILIES


def load_builtin(name: str, root: Path, split: str = "devtest") -> Task:
    """Load a built-in task by name from a data root (raises UserError if it is not there)."""
    family, *parts = name.split("-")
    found = _FAMILIES.get(family)
    if found is None or len(parts) not in found.part_counts:
        raise unknown_task(name, root)
    return found.load(name, parts, root, split)


def available_tasks(root: Path, split: str = "devtest") -> dict[str, list[str]]:
    """Task names present in a data root, by family (FLORES: pairs among the paper languages only)."""
    return {name: family.names(root, split) for name, family in _FAMILIES.items()}


def unknown_task(name: str, root: Path, extra: list[str] = ()) -> UserError:
    valid = [t for names in available_tasks(root).values() for t in names] + list(extra)
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"did you mean {close[0]}?" if close else None
    shown = ", ".join(valid[:40]) + (" ..." if len(valid) > 40 else "")
    return UserError(f"unknown task {name!r}. Task forms: {family_forms()}. Available here: {shown}", hint=hint)


def english_task(name: str) -> str | None:
    """The built-in English task with the same items as ``name`` (``mgsm-zh-cot`` -> ``mgsm-en-cot``).

    None when ``name`` is English already, not a built-in name, or of a family whose items differ
    between languages (FLORES pairs, NTREX, MLQA across languages). Cross-lingual consistency
    (``metrics.consistency``) compares a model's answers on the two tasks item by item.
    """
    family, *parts = name.split("-")
    found = _FAMILIES.get(family)
    if found is None or len(parts) not in found.parallel or base_code(parts[0]) == "en":
        return None
    return "-".join([family, "en", *parts[1:]])


def expected_from_task(task: str) -> str | None:
    """The language an answer to ``task`` should be in: the last language-code part of its name.

    For any task name, built-in or not (``xquad-zh`` -> zh, ``flores-en-zh`` -> zh, the target),
    when nothing better says it (a results.json's ``lang``)."""
    known = set(_identifier().nb_classes)
    parts = task.replace("_", "-").split("-")
    for part in reversed(parts):
        if langcodes.tag_is_valid(part) and base_code(part) in known:
            return base_code(part)
    return None
