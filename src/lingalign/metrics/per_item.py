"""One score per item, and the corpus metric objects whose per-sentence statistics add up to a corpus score.

The paired bootstrap (``evaluate.significance``) resamples items, and the predictions browser
(``serve``) shows each item's score; both need the evaluate stage's own numbers item by item:

* per-item metrics (inclusion, em, f1, answer_lang, accuracy) are 0/100 or an F1 per item whose
  mean is the stage's value (``qa``, ``lingalign.langid`` for the answer language, ``math_answers``);
* corpus metrics (chrf++, bleu, spbleu) are the sacrebleu objects the stage scores with (same
  settings and tokenizer, ``translation``); a corpus score is a function of the **sum** of
  per-sentence sufficient statistics, the method of ``sacrebleu.significance``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from lingalign.errors import UserError
from lingalign.langid import in_language, supported
from lingalign.metrics import qa
from lingalign.metrics.math_answers import is_correct
from lingalign.metrics.translation import bleu_tokenizer, spbleu_metric

PER_ITEM = ("inclusion", "em", "f1", "answer_lang", "accuracy")
CORPUS = ("chrf++", "bleu", "spbleu")


def item_scores(metric: str, records: Sequence[dict], lang: str, kind: str | None = None) -> np.ndarray:
    """One score per item (0-100) whose mean is the stage's value of ``metric``."""
    if metric == "accuracy" and kind == "math":
        return np.array([100.0 * is_correct(r["prediction"], r["references"][0]) for r in records])
    if metric == "accuracy":
        return np.array([100.0 * (r["prediction"] == r.get("label")) for r in records])
    if metric == "answer_lang":
        if not supported(lang):
            raise UserError(f"answer_lang: {lang!r} is not supported by the language identifier (py3langid)")
        return np.array([100.0 * in_language(r["prediction"], lang) for r in records])
    one = {"inclusion": lambda p, g: qa.inclusion(p, g),
           "em": lambda p, g: qa.exact_match(p, g, lang),
           "f1": lambda p, g: qa.f1(p, g, lang)}[metric]
    return np.array([100.0 * one(r["prediction"], r["references"]) for r in records])


def corpus_metric(metric: str, lang: str, spm_model: Path | None = None):
    """The sacrebleu metric object the evaluate stage uses for ``metric`` on target ``lang``."""
    from sacrebleu.metrics import BLEU, CHRF

    if metric == "chrf++":
        return CHRF(word_order=2)
    if metric == "bleu":
        return BLEU(tokenize=bleu_tokenizer(lang))
    if spm_model is None:
        raise UserError("spbleu needs the FLORES-101 SentencePiece model", hint="pass --spm FILE")
    return spbleu_metric(spm_model)  # as translation.score_translation builds it


def segment_stats(metric, hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """sacrebleu's per-sentence sufficient statistics, shape (items, k); corpus score = f(sum)."""
    return np.asarray(metric._extract_corpus_statistics(list(hypotheses), [list(references)]), dtype=np.float64)


def score_from_stats(metric, summed: np.ndarray) -> float:
    return float(metric._compute_score_from_stats(summed).score)
