"""Paired bootstrap confidence intervals for the difference between two evaluation runs.

A study claim such as "CoIT beats English-only on XQuAD-zh by +6.5 F1 [2.1, 10.8]" needs to know
how much of the gap is test-set luck. The paired bootstrap (Koehn 2004) answers it: draw the test
items with replacement ``resamples`` times, score **both** systems on the **same** draw, and read
the 2.5th and 97.5th percentiles of the differences. Pairing matters: both systems find the same
items easy or hard, and scoring them on one draw cancels that shared variation.

* Items are joined on example id (only ids present in both prediction files count; ``n`` says how
  many, ``n_a``/``n_b`` how many each file had).
* Per-item metrics (inclusion, em, f1, answer_lang, accuracy) are averaged over each draw, with the
  evaluate stage's own per-item functions (``metrics.per_item``: metrics.qa, langid; math
  accuracy: metrics.math_answers).
* Corpus metrics (chrf++, bleu, spbleu) are recomputed on each draw from per-sentence sufficient
  statistics, the method of ``sacrebleu.significance``, with the same sacrebleu settings and
  tokenizer as the stage (``metrics.translation``), so the full-sample values equal results.json's. sacrebleu's
  own ``PairedTest`` reports each system's interval and a p-value but not the interval of the
  difference, and seeds itself from an environment variable, so its statistics are used directly.
* COMET has no stored segment scores, so it gets no interval.
* A pivot model's predictions (its task entry has ``pivot_separator``) are cut to their final part
  first, as the evaluate stage scored them (``prompting.scored_answer``).

Each draw is a row of item counts, shared by every metric and both systems; the interval is the
percentile interval of the per-draw differences, the p-value the two-sided share of null-centred
differences at least as large as the observed one. Deterministic under ``seed``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from lingalign.errors import UserError
from lingalign.evaluate.scoring import final_parts
from lingalign.metrics import consistency as cross_lingual
from lingalign.metrics.per_item import PER_ITEM, corpus_metric, item_scores, score_from_stats, segment_stats
from lingalign.metrics.resampling import paired_summary, resample_counts
from lingalign.metrics.translation import find_spm_model
from lingalign.result_files import load_results, read_predictions, read_task_entry, results_path
from lingalign.tasks.registry import english_task

log = logging.getLogger(__name__)

BY_KIND = {"qa": ("inclusion", "em", "f1", "answer_lang"),
           "translation": ("chrf++", "bleu", "spbleu", "answer_lang"),
           "choice": ("accuracy",),
           "math": ("accuracy", "answer_lang")}
CONSISTENCY = "consistency"  # qa, choice, math: against the English task's predictions in the same run


def default_metrics(entry_a: dict, entry_b: dict, kind: str, spm_model: Path | None) -> list[str]:
    """Metrics both runs report that can be resampled (spbleu only with a SentencePiece model)."""
    both = set(entry_a.get("metrics") or {}) & set(entry_b.get("metrics") or {})
    names = [m for m in BY_KIND.get(kind, ()) if m in both  # answer_lang of an unsupported language has no value
             and all("value" in ((e.get("metrics") or {}).get(m) or {}) for e in (entry_a, entry_b))]
    return [m for m in names if m != "spbleu" or spm_model is not None]


def paired_bootstrap(run_a_dir: str | Path, run_b_dir: str | Path, task: str, metrics: Sequence[str] | None = None,
                     resamples: int = 1000, seed: int = 0, *, spm_model: str | Path | None = None) -> dict[str, dict]:
    """Paired bootstrap of B - A on ``task``: ``{metric: {a, b, delta, low, high, p, n, ...}}``.

    ``run_*_dir`` are eval output folders (or their results.json). Values are percentages (0-100):
    ``a``/``b`` the full-sample scores on the shared items, ``delta = b - a``, ``[low, high]`` its
    95% percentile interval, ``p`` the two-sided bootstrap p-value, ``n`` the shared items
    (``n_a``/``n_b``: items in each file), ``rel = delta / a * 100`` with ``rel_low``/``rel_high``;
    corpus metrics also carry their sacrebleu ``signature``.
    """
    if resamples < 1:
        raise UserError(f"--bootstrap must be at least 1 resample, got {resamples}")
    entry_a, entry_b = read_task_entry(run_a_dir, task), read_task_entry(run_b_dir, task)
    kind, lang = entry_a.get("kind"), entry_a.get("lang")
    if (entry_b.get("kind"), entry_b.get("lang")) != (kind, lang):
        raise UserError(f"{task}: the runs disagree on the task ({kind}/{lang} in {results_path(run_a_dir)}, "
                        f"{entry_b.get('kind')}/{entry_b.get('lang')} in {results_path(run_b_dir)})")
    if entry_a.get("prompt_variant") != entry_b.get("prompt_variant"):
        raise UserError(f"{task}: the runs used different prompt variants ({entry_a.get('prompt_variant')} in "
                        f"{results_path(run_a_dir)}, {entry_b.get('prompt_variant')} in {results_path(run_b_dir)})")
    if kind not in BY_KIND or not lang:
        raise UserError(f"{results_path(run_a_dir)} [tasks.{task}]: needs 'kind' (qa, translation, choice or math) "
                        "and 'lang', as `lingalign eval` writes them")
    spm_path = find_spm_model(spm_model)
    wanted = list(metrics) if metrics else default_metrics(entry_a, entry_b, kind, spm_path)
    available = BY_KIND[kind] + ((CONSISTENCY,) if kind in cross_lingual.KINDS else ())
    unknown = [m for m in wanted if m not in available]
    if unknown:
        raise UserError(f"{task} ({kind}): no bootstrap for {', '.join(unknown)}; "
                        f"available: {', '.join(available)}")
    english = english_counterpart(task, entry_a, entry_b) if kind in cross_lingual.KINDS else None
    with_consistency = CONSISTENCY in wanted if metrics else english is not None  # by default: when it exists
    wanted = [m for m in wanted if m != CONSISTENCY]

    preds_a, preds_b = read_predictions(run_a_dir, task, kind), read_predictions(run_b_dir, task, kind)
    ids = [i for i in preds_a if i in preds_b]  # A's file order
    if not ids:
        raise UserError(f"{task}: the two prediction files share no example ids "
                        f"({results_path(run_a_dir).parent}, {results_path(run_b_dir).parent})")
    if len(ids) < min(len(preds_a), len(preds_b)) or len(preds_a) != len(preds_b):
        log.warning("%s: %d shared ids (%d in A, %d in B); scoring the shared ones", task, len(ids),
                    len(preds_a), len(preds_b))
    rec_a, rec_b = [preds_a[i] for i in ids], [preds_b[i] for i in ids]
    differ = [i for i, x, y in zip(ids, rec_a, rec_b) if x.get("references") != y.get("references")]
    if differ:
        raise UserError(f"{task}: the runs have different references for {len(differ)} shared ids "
                        f"(first: {differ[0]!r}); they scored different data (split or data root?)")

    rec_a, rec_b = final_parts(rec_a, entry_a), final_parts(rec_b, entry_b)
    n = len(ids)
    per_item, corpus, signatures = {}, {}, {}
    for metric in wanted:
        if metric in PER_ITEM:
            per_item[metric] = (item_scores(metric, rec_a, lang, kind), item_scores(metric, rec_b, lang, kind))
        else:
            scorer = corpus_metric(metric, lang, spm_path)
            refs = [r["references"][0] for r in rec_a]
            corpus[metric] = (scorer, segment_stats(scorer, [r["prediction"] for r in rec_a], refs),
                              segment_stats(scorer, [r["prediction"] for r in rec_b], refs))
            signatures[metric] = str(scorer.get_signature())

    boot = {m: ([], []) for m in wanted}
    for counts in resample_counts(n, resamples, seed):
        for metric, (sa, sb) in per_item.items():
            boot[metric][0].append(counts @ sa / n)
            boot[metric][1].append(counts @ sb / n)
        for metric, (scorer, sa, sb) in corpus.items():
            boot[metric][0].append([score_from_stats(scorer, row) for row in counts @ sa])
            boot[metric][1].append([score_from_stats(scorer, row) for row in counts @ sb])

    out = {}
    for metric in wanted:
        if metric in per_item:
            sa, sb = per_item[metric]
            a, b = float(sa.mean()), float(sb.mean())
        else:
            scorer, sa, sb = corpus[metric]
            a, b = score_from_stats(scorer, sa.sum(0)), score_from_stats(scorer, sb.sum(0))
        out[metric] = paired_summary(a, b, np.concatenate(boot[metric][0]), np.concatenate(boot[metric][1]),
                               n, len(preds_a), len(preds_b))
        if metric in signatures:
            out[metric]["signature"] = signatures[metric]
            stored = {(e.get("metrics") or {}).get(metric, {}).get("signature") for e in (entry_a, entry_b)}
            if stored - {None, signatures[metric]}:
                out[metric]["note"] = "results.json signature differs from this sacrebleu's: values may differ"
    if with_consistency:
        if english is None:
            raise UserError(f"{task}: no English task with the same items, so no cross-lingual consistency")
        found = consistency_bootstrap(run_a_dir, run_b_dir, task, english, kind, resamples, seed)
        if found is not None:
            out[CONSISTENCY] = found
    return out


# ---- cross-lingual consistency ----------------------------------------------------------------------

def english_counterpart(task: str, *entries: dict) -> str | None:
    """The English task with ``task``'s items: the one its stored consistency names, else the registry's."""
    for entry in entries:
        named = (((entry.get("metrics") or {}).get(CONSISTENCY) or {}).get("with"))
        if named:
            return named
    return english_task(task)


def _consistency_items(run, task: str, english: str, kind: str) -> tuple[list[str], np.ndarray] | None:
    """One run's per-item consistency (0/100) of ``task`` with ``english``; None if it lacks either side."""
    data = load_results(run)
    if task not in data["tasks"] or english not in data["tasks"]:
        return None
    try:
        ours, theirs = read_predictions(run, task, kind), read_predictions(run, english, kind)
    except UserError:
        return None
    fmt = data.get("prompt_format")
    ours, theirs = final_parts(ours, data["tasks"][task]), final_parts(theirs, data["tasks"][english])
    return cross_lingual.item_consistency(kind, ours, theirs, {**data["tasks"][task], "prompt_format": fmt},
                                          {**data["tasks"][english], "prompt_format": fmt})


def consistency_bootstrap(run_a, run_b, task: str, english: str, kind: str, resamples: int = 1000,
                          seed: int = 0) -> dict | None:
    """Paired bootstrap of B - A on the cross-lingual consistency of ``task`` with ``english``.

    Items are those each run answered in both languages, joined across runs; the entry also names
    ``with`` (the English task). None when a run lacks the English task or its predictions.
    """
    found_a = _consistency_items(run_a, task, english, kind)
    found_b = _consistency_items(run_b, task, english, kind)
    if found_a is None or found_b is None:
        return None
    (ids_a, scores_a), (ids_b, scores_b) = found_a, found_b
    position = {i: k for k, i in enumerate(ids_b)}
    shared = [k for k, i in enumerate(ids_a) if i in position]
    if not shared:
        return None
    sa, sb = scores_a[shared], scores_b[[position[ids_a[k]] for k in shared]]
    n = len(shared)
    boot_a, boot_b = [], []
    for counts in resample_counts(n, resamples, seed):
        boot_a.append(counts @ sa / n)
        boot_b.append(counts @ sb / n)
    entry = paired_summary(float(sa.mean()), float(sb.mean()), np.concatenate(boot_a), np.concatenate(boot_b),
                           n, len(ids_a), len(ids_b))
    return {**entry, "with": english}


# ---- several runs against a baseline -------------------------------------------------------------

def compare_runs(runs: Sequence[str | Path], resamples: int = 1000, seed: int = 0,
                 spm_model: str | Path | None = None) -> list[dict]:
    """Each later run against the first (the baseline), on every task both have predictions for.

    Returns one ``{"baseline", "system", "tasks": {task: {metric: entry}}, "notes": [...]}`` per
    later run; ``notes`` say which tasks or metrics got no interval, and why.
    """
    if len(runs) < 2:
        raise UserError("--bootstrap needs at least two runs: a baseline first, then the systems to test")
    spm_path = find_spm_model(spm_model)
    paths = [results_path(r) for r in runs]
    loaded = [load_results(p) for p in paths]
    comparisons = []
    for path, data in zip(paths[1:], loaded[1:]):
        tasks, notes = {}, []
        for task in sorted(set(loaded[0]["tasks"]) & set(data["tasks"])):
            try:
                tasks[task] = paired_bootstrap(paths[0], path, task, resamples=resamples, seed=seed,
                                               spm_model=spm_path)
            except UserError as exc:
                notes.append(f"{task}: no intervals ({exc.message})")
                continue
            shown = set(tasks[task])
            for metric in sorted(set(loaded[0]["tasks"][task].get("metrics") or {})
                                 & set(data["tasks"][task].get("metrics") or {}) - shown):
                stored_note = ((loaded[0]["tasks"][task].get("metrics") or {}).get(metric) or {}).get("note")
                why = ("needs --spm FILE" if metric == "spbleu" else
                       f"needs both runs' predictions of {english_counterpart(task, loaded[0]['tasks'][task])}"
                       if metric == CONSISTENCY else stored_note or "no per-item scores stored")
                notes.append(f"{task} {metric}: no interval ({why})")
            first = next(iter(tasks[task].values()), None)
            if first and (first["n"] != first["n_a"] or first["n"] != first["n_b"]):
                notes.append(f"{task}: {first['n']} shared example ids ({first['n_a']} in the baseline, "
                             f"{first['n_b']} in {path.parent.name}); intervals use the shared ones")
            for metric, entry in tasks[task].items():
                if entry.get("note"):
                    notes.append(f"{task} {metric}: {entry['note']}")
                for side, run in (("a", loaded[0]), ("b", data)):
                    stored = ((run["tasks"][task].get("metrics") or {}).get(metric) or {}).get("value")
                    if isinstance(stored, (int, float)) and abs(stored - entry[side]) > 0.01:
                        notes.append(f"{task} {metric}: {entry[side]:.2f} on the predictions file vs {stored:.2f} "
                                     "in results.json (the file holds other examples than were scored)")
        if not tasks:
            notes.append(f"no task could be bootstrapped for {path}")
        comparisons.append({"baseline": str(paths[0]), "system": str(path), "resamples": resamples, "seed": seed,
                            "tasks": tasks, "notes": notes})
    if not any(c["tasks"] for c in comparisons):
        raise UserError("no intervals: " + "; ".join(n for c in comparisons for n in c["notes"]))
    return comparisons
