"""Budget allocation: closed form for log-linear laws, caps, max-min, comparisons, rounding."""

from __future__ import annotations

import numpy as np
import pytest

from lingalign.errors import UserError
from lingalign.scaling.allocate import allocate, largest_remainder, proportional, score, uniform
from lingalign.scaling.forms import FORMS
from lingalign.scaling.predict import Curve


def curves(form: str, params: dict[str, dict]) -> dict[str, Curve]:
    return {lang: Curve(lang, FORMS[form], p, [p]) for lang, p in params.items()}


LOG = curves("log-linear", {"zh": {"a": 4.0, "b": 8.0}, "vi": {"a": 2.0, "b": 15.0}, "el": {"a": 1.0, "b": 10.0}})


def test_log_linear_matches_closed_form_and_beats_uniform():
    counts = allocate(LOG, 70000, {}, {}, "sum")
    # X_l = B a_l / sum a = 70000 * (4, 2, 1) / 7
    assert counts == {"zh": 40000, "vi": 20000, "el": 10000}
    even = uniform(list(LOG), 70000, {})
    assert score(LOG, counts, {})["weighted_sum"] > score(LOG, even, {})["weighted_sum"]


def test_weights_scale_the_closed_form():
    counts = allocate(LOG, 60000, {}, {"el": 4.0}, "sum")  # weighted a: 4, 2, 4
    assert counts == {"zh": 24000, "vi": 12000, "el": 24000}


def test_caps_bind_and_excess_is_redistributed():
    counts = allocate(LOG, 70000, {"zh": 20000}, {}, "sum")
    assert counts["zh"] == 20000
    # the other 50000 go to vi and el in proportion 2:1
    assert counts["vi"] == pytest.approx(33333, abs=1) and counts["el"] == pytest.approx(16667, abs=1)
    assert sum(counts.values()) == 70000


def test_concave_laws_have_equal_marginal_gains():
    sat = curves("saturating", {"zh": {"c": 60, "a": 80, "b": 0.4}, "vi": {"c": 50, "a": 120, "b": 0.5}})
    counts = allocate(sat, 20000, {}, {}, "sum")
    slopes = [sat[l].form.slope(np.array([counts[l]], float), sat[l].params)[0] for l in sat]
    assert slopes[0] == pytest.approx(slopes[1], rel=1e-3)
    assert sum(counts.values()) == 20000
    # moving 500 pairs either way does not help
    best = score(sat, counts, {})["weighted_sum"]
    for shift in (-500, 500):
        moved = {"zh": counts["zh"] + shift, "vi": counts["vi"] - shift}
        assert score(sat, moved, {})["weighted_sum"] <= best


def test_max_min_equalises_predicted_scores():
    counts = allocate(LOG, 70000, {}, {}, "min")
    predicted = [LOG[l].value([counts[l]])[0] for l in LOG]
    one_pair = max(LOG[l].params["a"] / counts[l] for l in LOG)  # what rounding to whole pairs can cost
    assert max(predicted) - min(predicted) <= one_pair
    assert sum(counts.values()) == 70000
    assert score(LOG, counts, {})["min"] > score(LOG, uniform(list(LOG), 70000, {}), {})["min"]


def test_max_min_with_a_language_capped_below_the_level():
    counts = allocate(LOG, 70000, {"zh": 10}, {}, "min")
    assert counts["zh"] == 10 and sum(counts.values()) == 70000


def test_uniform_and_proportional_respect_caps():
    assert uniform(["zh", "vi", "el"], 30000, {"vi": 4000}) == {"zh": 13000, "vi": 4000, "el": 13000}
    assert proportional(["zh", "vi"], 3000, {"zh": 20000, "vi": 10000}) == {"zh": 2000, "vi": 1000}
    assert proportional(["zh", "vi"], 3000, {"zh": 20000}) is None


def test_largest_remainder_hits_the_budget_exactly():
    rounded = largest_remainder({"a": 1.4, "b": 1.35, "c": 2.25}, 5, {"a": 9, "b": 9, "c": 9})
    assert rounded == {"a": 2, "b": 1, "c": 2}


@pytest.mark.parametrize("budget, caps, message", [
    (-1, {}, "must not be negative"),
    (100000, {"zh": 10, "vi": 10, "el": 10}, "more than the 30 pairs available"),
    (2, {}, "below the minimum"),
])
def test_bad_budgets(budget, caps, message):
    with pytest.raises(UserError, match=message):
        allocate(LOG, budget, caps, {}, "sum")
