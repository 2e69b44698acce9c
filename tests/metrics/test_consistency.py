"""Cross-lingual consistency against hand-worked examples: math numbers, choice options, QA correctness."""

import numpy as np
import pytest

from lingalign.metrics import consistency as cross_lingual
from lingalign.metrics.consistency import consistency, consistent, final_answer, item_consistency


def rec(id_, prediction, references=("x",), label=None):
    return {"id": id_, "prediction": prediction, "references": list(references), "label": label}


@pytest.mark.parametrize("x, en, expected", [
    ("答案是 8。", "The answer is 8.", True),              # same number, different words
    ("Die Antwort ist 8,0.", "8", True),                 # decimal comma 8,0 == 8
    ("Sie hat 1.250 Äpfel.", "She has 1,250 apples.", True),  # German thousands point == English comma
    ("-3", "It drops to -3 degrees.", True),
    ("12,50 €", "$12.50", True),
    ("First 5, then 7.", "7 first, then 5.", False),     # the final numbers differ
    ("我不知道。", "I don't know.", False),                # neither has a number: not consistent
    ("我不知道。", "8", False),                            # one side without a number
    ("8", "8.5", False),
])
def test_math_compares_the_final_numbers(x, en, expected):
    assert consistent("math", rec("1", x), rec("1", en)) is expected


def test_choice_compares_the_chosen_option_right_or_wrong():
    assert consistent("choice", rec("1", 0, label=1), rec("1", 0, label=1))  # both wrong, same option
    assert not consistent("choice", rec("1", 1, label=1), rec("1", 0, label=1))
    assert not consistent("choice", rec("1", None, label=1), rec("1", None, label=1))


def test_qa_is_agreement_of_correctness_under_inclusion():
    right_zh, wrong_zh = rec("q", "答案是北京。", ["北京"]), rec("q", "上海", ["北京"])
    right_en, wrong_en = rec("q", "It is Beijing.", ["Beijing"]), rec("q", "Shanghai", ["Beijing"])
    assert consistent("qa", right_zh, right_en) and consistent("qa", wrong_zh, wrong_en)
    assert not consistent("qa", right_zh, wrong_en) and not consistent("qa", wrong_zh, right_en)


def test_items_are_joined_on_id_in_x_order_and_scored_0_or_100():
    x = [rec("3", "5"), rec("1", "8"), rec("2", "no idea"), rec("9", "4")]
    en = {"1": rec("1", "8.0"), "2": rec("2", "no idea"), "3": rec("3", "6")}  # a dict, as read_predictions gives
    ids, scores = item_consistency("math", x, en)
    assert ids == ["3", "1", "2"] and scores.tolist() == [0.0, 100.0, 0.0]  # "9" has no English answer
    assert consistency("math", x, en) == {"value": pytest.approx(100 / 3, abs=1e-4), "n": 3}
    assert consistency("math", x, [rec("7", "1")]) is None  # nothing shared


def test_hand_worked_set_of_five():
    """MGSM-style: 2 same numbers, 1 different, 1 unparsable on one side, 1 unparsable on both -> 40%."""
    x = [rec(str(i), p) for i, p in enumerate(["18", "共 3 个", "5", "不知道", "?"])]
    en = [rec(str(i), p) for i, p in enumerate(["18 dollars", "3", "6", "4", "??"])]
    assert item_consistency("math", x, en)[1].tolist() == [100, 100, 0, 0, 0]
    assert consistency("math", x, en)["value"] == 40.0


def test_the_pivot_hook_returns_the_prediction_and_is_what_is_compared(monkeypatch):
    record = rec("1", "Let me think in English: 2 + 3 = 5. 答案：5")
    assert final_answer(record, {"prompt_format": "alpaca"}) == record["prediction"]
    # A pivot extraction plugged in at the hook decides what is compared.
    monkeypatch.setattr(cross_lingual, "final_answer", lambda r, settings=None: r["prediction"].split("答案：")[-1])
    assert consistent("math", rec("1", "2 + 3 = 5 then 6. 答案：5"), rec("1", "5"))


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="translation"):
        consistent("translation", rec("1", "a"), rec("1", "a"))
    assert isinstance(item_consistency("qa", [], [])[1], np.ndarray)
