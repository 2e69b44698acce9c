"""Candidate scaling-law forms: score as a function of X, the number of translation pairs.

The paper's exact equation could not be recovered (only that it has parameters alpha, beta and a
language-similarity term), so the toolkit fits several forms and lets cross-validation choose.
Each form knows its value, its slope (for allocation), its inverse (for "size needed"), sensible
bounds and starting points for least squares, and which parameter is its *rate* (the one a
language-distance term modulates in a shared fit).

All forms take X >= 1 pairs; log(1) = 0 is the "almost no translation data" anchor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Params = dict[str, float]


@dataclass(frozen=True)
class Form:
    name: str
    formula: str
    params: tuple[str, ...]
    rate: str  # the parameter made linear in language distance in a shared fit
    local: tuple[str, ...]  # parameters kept per language in a shared fit (the rest are shared)
    value: Callable[[np.ndarray, Params], np.ndarray]
    slope: Callable[[np.ndarray, Params], np.ndarray]
    inverse: Callable[[float, Params], float] | None  # None -> numeric root finding
    bounds: Callable[[np.ndarray, np.ndarray], dict[str, tuple[float, float]]]
    starts: Callable[[np.ndarray, np.ndarray], list[Params]]

    def concave_from(self, p: Params) -> float:
        """Smallest X from which the law is concave and increasing (allocation needs that)."""
        if self.name == "power-log" and p["g"] > 1:
            return float(np.exp(p["g"] - 1.0))  # inflection point of a*log(X)^g
        return 1.0


def _line(u: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope and intercept of y on u (slope floored at a small positive value)."""
    if np.ptp(u) == 0:
        return 1e-3, float(np.mean(y))
    slope, intercept = np.polyfit(u, y, 1)
    return max(float(slope), 1e-3), float(intercept)


# -- log-linear: a*log(X) + b ---------------------------------------------------------------------

def _ll_starts(x, y):
    a, b = _line(np.log(x), y)
    return [{"a": a, "b": b}]


LOG_LINEAR = Form(
    name="log-linear",
    formula="a*log(X) + b",
    params=("a", "b"),
    rate="a",
    local=("b",),
    value=lambda x, p: p["a"] * np.log(x) + p["b"],
    slope=lambda x, p: p["a"] / np.asarray(x, float),
    inverse=lambda t, p: float(np.exp((t - p["b"]) / p["a"])) if p["a"] > 0 else float("inf"),
    bounds=lambda x, y: {"a": (0.0, np.inf), "b": (-np.inf, np.inf)},
    starts=_ll_starts,
)


# -- power of log: a*log(X)^g + b ----------------------------------------------------------------

def _pl_value(x, p):
    return p["a"] * np.log(x) ** p["g"] + p["b"]


def _pl_slope(x, p):
    x = np.asarray(x, float)
    logx = np.maximum(np.log(x), 1e-12)
    return p["a"] * p["g"] * logx ** (p["g"] - 1.0) / x


def _pl_inverse(t, p):
    if t <= p["b"]:
        return 1.0
    if p["a"] <= 0:
        return float("inf")
    return float(np.exp(((t - p["b"]) / p["a"]) ** (1.0 / p["g"])))


def _pl_starts(x, y):
    starts = []
    for g in (0.5, 1.0, 2.0):
        a, b = _line(np.log(x) ** g, y)
        starts.append({"a": a, "g": g, "b": b})
    return starts


POWER_LOG = Form(
    name="power-log",
    formula="a*log(X)^g + b",
    params=("a", "g", "b"),
    rate="a",
    local=("b",),
    value=_pl_value,
    slope=_pl_slope,
    inverse=_pl_inverse,
    bounds=lambda x, y: {"a": (0.0, np.inf), "g": (0.05, 5.0), "b": (-np.inf, np.inf)},
    starts=_pl_starts,
)


# -- saturating: c - a*X^(-b) --------------------------------------------------------------------

def _sat_inverse(t, p):
    if t >= p["c"] or p["a"] <= 0:
        return float("inf")  # the ceiling c is never reached
    return float((p["a"] / (p["c"] - t)) ** (1.0 / p["b"]))


def _sat_bounds(y):
    """The ceiling c lies above the lowest score and at most ten spreads above the best one.

    Without a cap on c, data that are log-linear send c and a to infinity and b to zero (the
    logarithm is the limit of X^-b as b -> 0), and the fit never converges.
    """
    spread = max(float(np.ptp(y)), 1e-3)
    return {"c": (float(np.min(y)), float(np.max(y)) + 10 * spread), "a": (0.0, np.inf), "b": (0.01, 3.0)}


def _sat_starts(x, y):
    spread = max(float(np.ptp(y)), 1e-3)
    starts = []
    for b in (0.2, 0.6):
        for headroom in (0.2, 2.0):
            c = float(np.max(y)) + headroom * spread
            a, _ = _line(x ** (-b), c - y)  # c - y = a * X^-b
            starts.append({"c": c, "a": a, "b": b})
    return starts


SATURATING = Form(
    name="saturating",
    formula="c - a*X^(-b)",
    params=("c", "a", "b"),
    rate="b",
    local=("c", "a"),
    value=lambda x, p: p["c"] - p["a"] * np.asarray(x, float) ** (-p["b"]),
    slope=lambda x, p: p["a"] * p["b"] * np.asarray(x, float) ** (-p["b"] - 1.0),
    inverse=_sat_inverse,
    bounds=lambda x, y: _sat_bounds(y),
    starts=_sat_starts,
)

FORMS: dict[str, Form] = {f.name: f for f in (LOG_LINEAR, POWER_LOG, SATURATING)}
