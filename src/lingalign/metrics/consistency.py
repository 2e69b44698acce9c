"""Cross-lingual consistency: does a model give the same answer to an item in language X as in English?

Accuracy in X says how often the model is right there; consistency says whether it behaves as one
model across languages: the share of items of a parallel set on which the model's answer in X
equals its answer to the same item in English, right or wrong. MAPO (She et al., ACL 2024) reports
answer consistency across languages as a sign that alignment worked; its ratio counts the overlap
of the questions answered *correctly* in X and in English, while this one counts agreement, so that
a model that makes the same mistake in both languages counts as consistent. Items are joined on
their ids, which the parallel sets share across languages (MGSM and MSVAMP: the line number;
XCOPA: ``idx``; XQuAD: the SQuAD question id; MLQA: the ids of its parallel questions, a part of
each language's set). Per kind of task:

* **math** (MGSM, MSVAMP): the two responses' final numbers (``math_answers.last_number``) are
  equal. Both must have one: a response without a number is not consistent with anything, not even
  with another response without one.
* **choice** (XCOPA): the same option.
* **qa** (XQuAD, MLQA): an extracted span in Chinese and one in English share no characters even
  when they name the same thing, so answers cannot be compared as strings. Here consistency is the
  **agreement of correctness** under the inclusion match (the gold answer occurs in the response):
  both right or both wrong. It is weaker than the math and choice measures, since two wrong answers
  agree however different they are: a model wrong on nearly every item is nearly 100% consistent.
  Read it beside inclusion accuracy.

For every kind, two wrong answers can agree: the measure is about agreement, not correctness.

Each item scores 0 or 100, so the mean is the percentage and the paired bootstrap resamples items
as for any per-item metric. Everything here is a pure function of prediction records (the dicts
the evaluate stage stores in ``predictions/<task>.jsonl``: ``id``, ``prediction``, ``references``,
``label`` for choice tasks).

**Pivot answering.** A model trained to answer through English writes an English part, then the
answer in X; only the final part is the answer. ``final_answer`` is the one place where a
prediction is reduced to that part before comparing.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from lingalign.metrics.math_answers import last_number
from lingalign.metrics.qa import inclusion

KINDS = ("math", "choice", "qa")

SCORING = {
    "math": "same final number as the response to the English item (both must have a number)",
    "choice": "same option as chosen on the English item",
    "qa": "agreement of correctness with the English item (both right or both wrong, inclusion match)",
}


def final_answer(record: dict, settings: Mapping | None = None):
    """The part of a stored prediction that answers the item.

    HOOK (pivot answering, issue 24 part 3): the shared extraction of the final, target-language
    part of a pivot model's response goes here; ``settings`` is what the run recorded about the
    task (its results.json entry, with the run's ``prompt_format``), from which that function can
    tell whether the prediction is pivot-formatted. Until then the prediction is returned as it is.
    """
    return record["prediction"]


def consistent(kind: str, record_x: dict, record_en: dict, settings_x: Mapping | None = None,
               settings_en: Mapping | None = None) -> bool:
    """Whether the model answered one item the same way in X (``record_x``) and in English."""
    answer_x, answer_en = final_answer(record_x, settings_x), final_answer(record_en, settings_en)
    if kind == "math":
        number_x, number_en = last_number(str(answer_x)), last_number(str(answer_en))
        return number_x is not None and number_en is not None and number_x == number_en
    if kind == "choice":
        return isinstance(answer_x, int) and not isinstance(answer_x, bool) and answer_x == answer_en
    if kind == "qa":
        right_x = inclusion(str(answer_x), record_x["references"]) > 0
        right_en = inclusion(str(answer_en), record_en["references"]) > 0
        return right_x == right_en
    raise ValueError(f"no cross-lingual consistency for task kind {kind!r}; defined for {', '.join(KINDS)}")


def _by_id(records: Iterable[dict] | Mapping[str, dict]) -> dict[str, dict]:
    if isinstance(records, Mapping):
        return {str(k): v for k, v in records.items()}
    return {str(r["id"]): r for r in records}


def item_consistency(kind: str, records_x, records_en, settings_x: Mapping | None = None,
                     settings_en: Mapping | None = None) -> tuple[list[str], np.ndarray]:
    """(ids, scores): the items both sides answered, in X's order, each 100 (consistent) or 0.

    ``records_*`` are prediction records (a list, or a dict by id, as ``result_files.read_predictions``
    gives them)."""
    x, en = _by_id(records_x), _by_id(records_en)
    ids = [i for i in x if i in en]
    scores = np.array([100.0 * consistent(kind, x[i], en[i], settings_x, settings_en) for i in ids])
    return ids, scores


def consistency(kind: str, records_x, records_en, settings_x: Mapping | None = None,
                settings_en: Mapping | None = None) -> dict | None:
    """``{"value": percent, "n": shared items}``, or None when the two sides share no item."""
    ids, scores = item_consistency(kind, records_x, records_en, settings_x, settings_en)
    if not ids:
        return None
    return {"value": round(float(scores.mean()), 4), "n": len(ids)}
