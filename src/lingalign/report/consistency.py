"""Cross-lingual consistency rows of the report: each model's value with its interval, and its difference
from the baseline model with a paired interval.

``lingalign eval`` stores the consistency of a task scored beside its English counterpart
(``metrics.consistency``; ``tasks.<x>.metrics.consistency`` in results.json, naming the English
task under ``with``). The report recomputes the per-item scores from the stored predictions of both
tasks, to give each value a bootstrap 95% interval and each model's difference from the baseline a
paired one (items joined on id across models, the resampling of ``eval --compare``). A results file
whose predictions are not beside it (an lm-eval file, a folder copied without ``predictions/``)
shows its stored value without an interval.
"""

from __future__ import annotations

from pathlib import Path

from lingalign.errors import UserError
from lingalign.metrics.consistency import item_consistency
from lingalign.metrics.resampling import mean_interval, paired_difference
from lingalign.result_files import read_predictions

RESAMPLES = 1000


def _items(results_file: Path | None, data: dict, task: str, english: str, kind: str):
    """(ids, per-item scores) from the run's stored predictions, or None when they are not there."""
    if results_file is None:
        return None
    try:
        ours = read_predictions(results_file, task, kind)
        theirs = read_predictions(results_file, english, kind)
    except UserError:
        return None
    fmt = data.get("prompt_format")
    tasks = data.get("tasks") or {}
    return item_consistency(kind, ours, theirs, {**tasks[task], "prompt_format": fmt},
                            {**(tasks.get(english) or {}), "prompt_format": fmt})


def consistency_rows(results: dict[str, dict], files: dict[str, Path], baseline: str | None,
                     resamples: int = RESAMPLES, seed: int = 0) -> list[dict]:
    """One row per (model, task) with a stored consistency, in the results' model order.

    Each row: ``model, task, with, n, value`` and, when the predictions are there, ``low``/``high``
    (the value's 95% interval) and, for a model other than the baseline scored on the same task,
    ``diff`` (``paired_difference``: delta, low, high, p over the items both answered).
    """
    rows, items = [], {}
    for model, data in results.items():
        for task, entry in sorted((data.get("tasks") or {}).items()):
            stored = ((entry or {}).get("metrics") or {}).get("consistency")
            if not isinstance(stored, dict) or "value" not in stored or not stored.get("with"):
                continue
            row = {"model": model, "task": task, "with": stored["with"], "n": stored.get("n"),
                   "value": stored["value"]}
            found = _items(files.get(model), data, task, stored["with"], entry.get("kind"))
            if found is not None and len(found[0]):
                items[(model, task)] = found
                row["low"], row["high"] = mean_interval(found[1], resamples, seed)
            rows.append(row)
    for row in rows:
        key, base = (row["model"], row["task"]), (baseline, row["task"])
        if row["model"] == baseline or key not in items or base not in items:
            continue
        (ids_b, scores_b), (ids_a, scores_a) = items[key], items[base]
        position = {i: k for k, i in enumerate(ids_b)}
        shared = [k for k, i in enumerate(ids_a) if i in position]
        if shared:
            row["diff"] = paired_difference(scores_a[shared], scores_b[[position[ids_a[k]] for k in shared]],
                                            resamples, seed)
    return rows
