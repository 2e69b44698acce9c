"""Sharing a budget of translation pairs across languages with their fitted laws.

Problem: choose X_l (pairs for language l) with sum X_l = B and floor_l <= X_l <= cap_l, where
cap_l is the number of pairs available (or B) and floor_l is 1 pair (or the point from which a
power-log law with g > 1 is concave). Objectives:

- ``sum``: maximise sum_l w_l f_l(X_l). The laws are concave and increasing, so the optimum has
  equal weighted marginal gains: w_l f_l'(X_l) = lam wherever floor < X_l < cap. For a given lam
  each X_l(lam) is found by inverting f_l' (analytically for log-linear: X = w a / lam; else by
  brentq), clipped to [floor, cap]; sum_l X_l(lam) falls as lam grows, and lam is found by
  bisection (brentq on log lam) so that the sum equals B. For log-linear laws with no binding
  cap this is the closed form X_l = B w_l a_l / sum_k w_k a_k.
- ``min``: maximise min_l f_l(X_l). For a level t, X_l(t) = f_l^{-1}(t) clipped to [floor, cap]
  is the least that lifts language l to t; the largest t whose total fits the budget is found by
  bisection. Languages that cannot reach t even at their cap stay at the cap.

Continuous solutions are rounded to integers by largest remainder so they sum to B exactly.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from lingalign.errors import UserError
from lingalign.scaling.predict import Curve, invert


def allocate(curves: dict[str, Curve], budget: float, caps: dict[str, float], weights: dict[str, float],
             objective: str) -> dict[str, int]:
    """Integer pairs per language that maximise the objective within budget and caps."""
    langs = list(curves)
    available = sum(caps.get(l, math.inf) for l in langs)
    if budget > available:
        raise UserError(f"the budget ({budget:g} pairs) is more than the {available:g} pairs available",
                        hint="lower --budget or raise --available")
    floors = {l: curves[l].form.concave_from(curves[l].params) for l in langs}
    caps = {l: min(caps.get(l, math.inf), budget) for l in langs}
    _check_budget(budget, floors, caps, langs)
    if objective == "sum":
        continuous = _equal_marginal_gains(curves, budget, floors, caps, weights)
    elif objective == "min":
        continuous = _equal_levels(curves, budget, floors, caps)
    else:
        raise UserError(f"--objective must be 'sum' or 'min', got {objective!r}")
    return largest_remainder(continuous, int(round(budget)), caps)


def _check_budget(budget, floors, caps, langs) -> None:
    if budget < 0:
        raise UserError(f"the budget must not be negative (got {budget:g})")
    need = sum(math.ceil(floors[l]) for l in langs)
    if budget < need:
        raise UserError(f"a budget of {budget:g} pairs is below the minimum of {need} (at least "
                        f"{', '.join(f'{l}: {math.ceil(floors[l])}' for l in langs)})")


def _equal_marginal_gains(curves, budget, floors, caps, weights) -> dict[str, float]:
    def size_at(lang: str, lam: float) -> float:
        curve, w = curves[lang], weights.get(lang, 1.0)
        if w <= 0:
            return floors[lang]
        if curve.form.name == "log-linear":
            x = w * curve.params["a"] / lam  # f' = a / X
        else:
            slope = lambda u: w * float(curve.form.slope(np.array([math.exp(u)]), curve.params)[0]) - lam  # noqa: E731
            lo, hi = math.log(floors[lang]), math.log(caps[lang])
            if slope(lo) <= 0:
                return floors[lang]
            if slope(hi) >= 0:
                return caps[lang]
            x = math.exp(brentq(slope, lo, hi, xtol=1e-12))
        return min(max(x, floors[lang]), caps[lang])

    return _solve(lambda lam: {l: size_at(l, lam) for l in curves}, budget, caps)


def _equal_levels(curves, budget, floors, caps) -> dict[str, float]:
    def sizes_at(level: float) -> dict[str, float]:
        return {l: min(max(invert(c.form, c.params, level), floors[l]), caps[l]) for l, c in curves.items()}

    lows = [float(c.value([floors[l]])[0]) for l, c in curves.items()]
    highs = [float(c.value([caps[l]])[0]) for l, c in curves.items()]
    total = lambda t: sum(sizes_at(t).values()) - budget  # noqa: E731
    lo, hi = min(lows), max(highs)
    if total(hi) <= 0:
        return sizes_at(hi)
    level = brentq(total, lo, hi, xtol=1e-12 * max(1.0, abs(hi)))
    return sizes_at(level)


def _solve(sizes_at, budget, caps) -> dict[str, float]:
    """Find the multiplier whose sizes sum to the budget (bisection on its logarithm)."""
    if sum(caps.values()) <= budget:
        return dict(caps)
    gap = lambda u: sum(sizes_at(math.exp(u)).values()) - budget  # noqa: E731
    lo, hi = -50.0, 50.0
    while gap(lo) < 0:
        lo -= 50
    while gap(hi) > 0:
        hi += 50
    return sizes_at(math.exp(brentq(gap, lo, hi, xtol=1e-13)))


def largest_remainder(sizes: dict[str, float], total: int, caps: dict[str, float]) -> dict[str, int]:
    """Round down, then give the missing units to the largest fractional parts (never past a cap)."""
    counts = {l: int(math.floor(x + 1e-9)) for l, x in sizes.items()}
    short = total - sum(counts.values())
    order = sorted(sizes, key=lambda l: sizes[l] - counts[l], reverse=True)
    while short > 0:
        progressed = False
        for lang in order:
            if short > 0 and counts[lang] + 1 <= caps[lang]:
                counts[lang] += 1
                short -= 1
                progressed = True
        if not progressed:
            break
    return counts


def uniform(langs: list[str], budget: float, caps: dict[str, float]) -> dict[str, int]:
    """Equal shares; a language that runs out of pairs gives its excess to the others equally."""
    caps = {l: min(caps.get(l, math.inf), budget) for l in langs}
    share, open_langs, sizes = budget, list(langs), {}
    while open_langs:
        each = share / len(open_langs)
        capped = [l for l in open_langs if caps[l] < each]
        if not capped:
            sizes.update({l: each for l in open_langs})
            break
        for lang in capped:
            sizes[lang] = caps[lang]
            share -= caps[lang]
            open_langs.remove(lang)
    return largest_remainder(sizes, int(round(budget)), caps)


def proportional(langs: list[str], budget: float, available: dict[str, float]) -> dict[str, int] | None:
    """Shares proportional to the pairs available (the usual "use what you have" mix)."""
    if not all(l in available for l in langs):
        return None
    total = sum(available[l] for l in langs)
    return largest_remainder({l: budget * available[l] / total for l in langs}, int(round(budget)), available)


def score(curves: dict[str, Curve], counts: dict[str, int], weights: dict[str, float]) -> dict:
    """Predicted score per language (with interval) and both objectives for one split."""
    per = {l: curves[l].predict(max(counts[l], 1)) for l in counts}
    return {
        "counts": dict(counts),  # a copy, so the YAML has no anchors
        "predicted": {l: {"score": round(p["score"], 4),
                          "interval": [round(v, 4) for v in p["interval"]] if p["interval"] else None}
                      for l, p in per.items()},
        "weighted_sum": round(sum(weights.get(l, 1.0) * per[l]["score"] for l in per), 4),
        "min": round(min(p["score"] for p in per.values()), 4),
    }
