"""What scoring adds to a task's metrics: the copy-the-source floor of a translation task."""

from __future__ import annotations

import pytest
from sacrebleu.metrics import BLEU, CHRF

from lingalign.evaluate.scoring import score_task
from lingalign.tasks.base import Example, Task


def test_copy_source_floor_scores_the_sources_of_the_scored_records():
    src = ["Vietnam has 4 months old mice.", "He added.", "Hanoi in 2019."]
    ref = ["Việt Nam có chuột 4 tháng tuổi.", "Ông nói thêm.", "Hà Nội năm 2019."]
    task = Task("flores-en-vi", "translation", "vi", [Example(f"s{i}", source=s, references=[r])
                                                       for i, (s, r) in enumerate(zip(src, ref))], [], src_lang="en")
    # records in another order and one left out: the floor follows the records, by id
    records = [{"id": "s2", "prediction": ref[2], "references": [ref[2]]},
               {"id": "s0", "prediction": src[0], "references": [ref[0]]}]
    entry = score_task(task, records)
    floor = entry["copy_source"]
    expected = CHRF(word_order=2).corpus_score([src[2], src[0]], [[ref[2], ref[0]]]).score
    assert floor["chrf++"] == pytest.approx(expected, abs=1e-3)
    assert floor["bleu"] == pytest.approx(BLEU().corpus_score([src[2], src[0]], [[ref[2], ref[0]]]).score, abs=1e-3)
    assert entry["metrics"]["chrf++"]["value"] > floor["chrf++"]  # one exact translation beats copying
