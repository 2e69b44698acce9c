"""In which language does a model answer? Detected answer languages against the expected one.

Reads the evaluation stage's prediction files (one JSON object per line with at least
``prediction``) and is tolerant about what else is there:

* task: the record's ``task``, else the file name (``predictions/xquad-zh.jsonl`` -> ``xquad-zh``);
* expected language: the record's ``expected_lang``, else the task's ``lang`` in the run's
  ``results.json``, else the last part of the task name that is a language code (``xquad-zh`` -> zh,
  ``flores-en-zh`` -> zh, the target; ``flores-zh-en`` -> en);
* model: the record's ``model``, else ``"model"`` in the run's ``results.json`` (for
  ``RUN/predictions/<task>.jsonl``), else the run folder's name.

Multiple-choice tasks (answers are option labels, e.g. XCOPA) are skipped and listed as such.
Math tasks (MGSM) count like any generation; their expected language is the one results.json
gives, the question's for ``mgsm-<lang>-cot`` and English for the pivot ``mgsm-<lang>-cot-en``.

A folder argument means every ``*.jsonl`` in it or in its ``predictions/`` sub-folder.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from lingalign.artifacts import iter_jsonl, read_json, write_json
from lingalign.errors import UserError, where
from lingalign.langid import base_code, detect, identifier_code
from lingalign.tasks.registry import expected_from_task

# analysis.plots (matplotlib, torch) is imported where it is used: `lingalign --help` imports this module.

TEXT_KEYS = ("prediction", "response", "output")
GENERIC_FOLDERS = ("model", "final", "merged", "adapter", "checkpoint")


def _short(name: str) -> str:
    """A model given as a path is shown by its folder name (with its parent for ``run/model``)."""
    if "/" not in name and os.sep not in name:
        return name
    path = Path(name.rstrip("/"))
    return f"{path.parent.name}/{path.name}" if path.name.startswith(GENERIC_FOLDERS) else path.name


def _run_results(path: Path) -> dict:
    """The ``results.json`` of the evaluation run a prediction file belongs to ({} when absent or unreadable)."""
    try:
        results = read_json(_run_folder(path) / "results.json")
    except (OSError, UserError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return results if isinstance(results, dict) else {}


def _run_folder(path: Path) -> Path:
    return path.parent.parent if path.parent.name == "predictions" else path.parent


def describe_file(path: Path) -> tuple[str, dict]:
    """Model name and per-task facts (``{task: {"lang", "kind"}}``) known for a prediction file."""
    results = _run_results(path)
    model = results.get("model")
    tasks = results.get("tasks") if isinstance(results.get("tasks"), dict) else {}
    name = _short(model) if isinstance(model, str) else _run_folder(path).resolve().name
    return name, {task: entry for task, entry in tasks.items() if isinstance(entry, dict)}


def expand(paths) -> list[Path]:
    """Files from the arguments: a file as is; a folder -> its (or its predictions/) ``*.jsonl``."""
    files = []
    for given in map(Path, paths):
        if given.is_dir():
            inner = given / "predictions" if (given / "predictions").is_dir() else given
            found = sorted(inner.glob("*.jsonl"))
            if not found:
                raise UserError(f"{given}: folder holds no *.jsonl prediction files")
            files.extend(found)
        elif given.is_file():
            files.append(given)
        else:
            raise UserError(f"{given}: file not found")
    if not files:
        raise UserError("no prediction files given")
    return files


def response_languages(paths, out_dir: str | os.PathLike | None = None) -> dict:
    """Count detected answer languages per (model, task); write responses.json and a PNG if ``out_dir``."""
    groups: dict[tuple[str, str, str | None], Counter] = {}
    sources: dict[tuple, set] = {}
    skipped = set()
    for path in expand(paths):
        run_model, run_tasks = describe_file(path)
        for line, record in iter_jsonl(path):
            task = str(record.get("task") or path.stem)
            facts = run_tasks.get(task, {})
            if facts.get("kind") == "choice" or "label" in record:
                skipped.add(task)  # the answer is an option label, not text in a language
                continue
            text = next((record[k] for k in TEXT_KEYS if k in record), None)
            if not isinstance(text, str):
                raise UserError(f"{where(path, line)}: no answer text (expected a string under 'prediction')")
            expected = record.get("expected_lang") or facts.get("lang") or expected_from_task(task)
            model = _short(record["model"]) if isinstance(record.get("model"), str) else run_model
            key = (model, task, (identifier_code(expected) or base_code(expected)) if expected else None)
            groups.setdefault(key, Counter())[detect(text)] += 1
            sources.setdefault(key, set()).add(str(path))
    rows = []
    for (model, task, expected), counts in sorted(groups.items(), key=lambda item: tuple(map(str, item[0]))):
        n = sum(counts.values())
        rows.append({"model": model, "task": task, "expected": expected, "n": n,
                     "detected": dict(counts.most_common()),
                     "share_expected": counts[expected] / n if expected else None,
                     "files": sorted(sources[(model, task, expected)])})
    report = {"rows": rows, "skipped_choice_tasks": sorted(skipped)}
    if out_dir is not None:
        from lingalign.analysis.plots import plot_responses

        out = Path(out_dir)
        write_json(out / "responses.json", report)
        if rows:
            plot_responses(rows, out / "responses.png")
    return report


def format_table(rows: list[dict], top: int = 4) -> str:
    """A plain-text table: one line per model and task."""
    header = ("model", "task", "expected", "n", "in expected", "detected languages")
    lines = [header]
    for row in rows:
        share = "-" if row["share_expected"] is None else f"{row['share_expected']:.0%}"
        langs = ", ".join(f"{lang} {count / row['n']:.0%}" for lang, count in list(row["detected"].items())[:top])
        lines.append((row["model"], row["task"], row["expected"] or "?", str(row["n"]), share, langs))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)
