"""Turn a task's stored predictions into its metrics entry of ``results.json`` (values 0-100).

A pivot model's predictions (prompt format ``alpaca-pivot``) are scored on their final part only
(``prompting.split_pivot``), and the entry says how often the separator was missing."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from lingalign.metrics import consistency as cross_lingual
from lingalign.metrics.answer_language import answer_language
from lingalign.metrics.math_answers import is_correct, last_number
from lingalign.metrics.qa import normalisation_name, score_qa
from lingalign.metrics.translation import find_spm_model, score_comet, score_translation
from lingalign.prompting import scored_answer, split_pivot
from lingalign.tasks.base import Task


def spm_for(explicit) -> Path | None:
    return find_spm_model(explicit)


def copy_source_floor(sources: list[str], references: list[str], lang: str, spm_path: Path | None) -> dict:
    """What a model that copies the source unchanged would score (chrF++, BLEU, spBLEU).

    A small or briefly tuned model can score *below* this: a Latin-script target such as Vietnamese
    shares names, numbers and loanwords with its English source (copying FLORES en->vi scores about
    13 chrF++), so a chrF++ gain over another model means little until both are above the floor."""
    return {name: m["value"] for name, m in score_translation(sources, references, lang, spm_path).items()}


def score_task(task: Task, records: list[dict], *, spm_path: Path | None = None, comet_model=None,
               pivot_separator: str | None = None) -> dict:
    """``pivot_separator``: set for a pivot model; its generated answers are scored (and language-checked)
    on their final part, and the entry gets ``pivot_separator`` and the metric ``pivot_missing``."""
    entry = {"n": len(records), "kind": task.kind, "lang": task.lang, "files": [p.name for p in task.files]}
    if task.split:
        entry["split"] = task.split
    if task.kind == "choice":
        correct = sum(r["prediction"] == r["label"] for r in records)
        entry["metrics"] = {"accuracy": {"value": round(100 * correct / max(len(records), 1), 4),
                                         "scoring": f"log-likelihood of option tokens ({task.reduce})"}}
        return entry
    predictions = [r["prediction"] for r in records]
    references = [r["references"] for r in records]
    # answers cut by max_new_tokens inside a multi-byte character, whose half character was dropped
    entry["cut_characters"] = sum(1 for r in records if r.get("cut_characters"))
    parts = None
    if pivot_separator is not None:
        parts = [split_pivot(p, pivot_separator) for p in predictions]
        predictions = [p.final for p in parts]
    if task.kind == "math":
        return _with_pivot(score_math(task, entry, predictions, [r[0] for r in references]), parts, pivot_separator)
    if task.kind == "qa":
        scores = score_qa(predictions, references, task.lang)
        metrics = {name: {"value": round(100 * value, 4)} for name, value in scores.items()}
        metrics["em"]["normalisation"] = metrics["f1"]["normalisation"] = normalisation_name(task.lang)
        entry["question_lang"] = task.question_lang
    else:
        refs = [r[0] for r in references]
        metrics = score_translation(predictions, refs, task.lang, spm_path)
        entry["src_lang"] = task.src_lang
        by_id = {e.id: e.source for e in task.examples}
        sources = [by_id.get(r["id"], "") for r in records]
        if all(sources):  # a task read back without its source sentences has no floor
            entry["copy_source"] = copy_source_floor(sources, refs, task.lang, spm_path)
        if comet_model:
            comet = score_comet(sources, predictions, refs, comet_model)
            if comet is not None:
                metrics["comet"] = comet
            else:
                entry["note"] = "COMET skipped: unbabel-comet is not installed"
    metrics["answer_lang"] = answer_language(predictions, task.lang)
    entry["metrics"] = metrics
    return _with_pivot(entry, parts, pivot_separator)


def _with_pivot(entry: dict, parts: list | None, separator: str | None) -> dict:
    """How often a pivot model's answer had no separator (scored whole) or repeated it (cut at the second);
    ``entry`` unchanged for other models."""
    if parts is None:
        return entry
    missing = sum(not p.found for p in parts)
    entry["pivot_separator"] = separator
    entry["metrics"]["pivot_missing"] = {
        "value": round(100 * missing / max(len(parts), 1), 4), "count": missing,
        "repeated": sum(p.repeated for p in parts),
        "scoring": "share of answers without the separator, scored whole; the others on their final part"}
    return entry


def score_math(task: Task, entry: dict, predictions: list[str], answers: list[str]) -> dict:
    """Accuracy of the responses' last numbers; answer language for the step-by-step variants only.

    A direct answer is a number, which has no language; a step-by-step one is text, and whether it
    is in the question's language (``cot``) or in English (``cot-en``) is what those variants vary.
    """
    correct = sum(is_correct(p, a) for p, a in zip(predictions, answers))
    entry.update(prompt_variant=task.prompt_variant, question_lang=task.question_lang,
                 instruction_lang=task.instruction_lang,
                 no_number=sum(last_number(p) is None for p in predictions))
    metrics = {"accuracy": {"value": round(100 * correct / max(len(predictions), 1), 4),
                            "scoring": "exact numeric match of the response's last number (math_answers)"}}
    if task.prompt_variant != "direct":
        metrics["answer_lang"] = answer_language(predictions, task.lang)
    entry["metrics"] = metrics
    return entry


def add_consistency(tasks: dict[str, dict], records: Callable[[str], list[dict] | None],
                    english_of: Callable[[str], str | None], prompt_format: str) -> list[str]:
    """Give every task scored beside its English counterpart a ``consistency`` metric; returns their names.

    ``tasks`` is results.json's ``tasks`` (changed in place); ``records(name)`` gives a task's scored
    prediction records (None if they are gone); ``english_of(name)`` names the task with the same
    items in English (``mgsm-zh`` -> ``mgsm-en``). A task without its counterpart in ``tasks`` is
    left exactly as it was. The value is the share of shared items answered alike
    (``metrics.consistency``), with the English task and the number of shared items beside it.
    """
    added = []
    for name, entry in tasks.items():
        english = english_of(name)
        other = tasks.get(english) if english else None
        kind = entry.get("kind") if isinstance(entry, dict) else None
        if not isinstance(other, dict) or kind not in cross_lingual.KINDS or other.get("kind") != kind:
            continue
        ours, theirs = records(name), records(english)
        if not ours or not theirs:
            continue
        ours, theirs = final_parts(ours, entry), final_parts(theirs, other)  # a pivot model's final answers
        found = cross_lingual.consistency(kind, ours, theirs, {**entry, "prompt_format": prompt_format},
                                          {**other, "prompt_format": prompt_format})
        if found is None:
            continue
        entry.setdefault("metrics", {})["consistency"] = {**found, "with": english,
                                                          "scoring": cross_lingual.SCORING[kind]}
        added.append(name)
    return added


def final_parts(records: list[dict] | dict[str, dict], entry: dict) -> list[dict] | dict[str, dict]:
    """The records (a list, or a dict by id as ``read_predictions`` gives them), each prediction as it
    was scored: a pivot model's cut to its final part."""
    separator = entry.get("pivot_separator")
    if not separator:
        return records
    if isinstance(records, dict):
        return {key: {**r, "prediction": scored_answer(r["prediction"], separator)} for key, r in records.items()}
    return [{**r, "prediction": scored_answer(r["prediction"], separator)} for r in records]
