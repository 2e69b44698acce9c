"""A fitted law read back from ``law.json``: predicted scores and the sizes needed, with intervals.

Intervals come from the stored bootstrap draws: the prediction is computed under every draw
and the 2.5/97.5 percentiles are reported. For "size needed", a draw whose saturating ceiling is
below the target never reaches it; its size is infinite, and the upper end of the interval is
then infinite too when more than 2.5% of the draws say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from lingalign.artifacts import read_json
from lingalign.errors import UserError
from lingalign.scaling.bootstrap import interval
from lingalign.scaling.forms import FORMS, Form, Params

MAX_SIZE = 1e15  # search limit for numeric inversion: beyond this a target counts as unreachable


@dataclass
class Curve:
    """One language's chosen law and its bootstrap draws."""

    lang: str
    form: Form
    params: Params
    draws: list[Params]

    def value(self, size) -> np.ndarray:
        return self.form.value(np.asarray(size, float), self.params)

    def predict(self, size: float) -> dict:
        under = np.array([self.form.value(np.array([size], float), p)[0] for p in self.draws])
        return {"lang": self.lang, "size": size, "score": float(self.value([size])[0]), "interval": _interval(under)}

    def size_for(self, target: float) -> dict:
        sizes = np.array([invert(self.form, p, target) for p in self.draws])
        best = invert(self.form, self.params, target)
        out = {"lang": self.lang, "target": target, "size": best, "interval": _interval(sizes),
               "unreachable_share": float(np.mean(~np.isfinite(sizes))) if sizes.size else None}
        if not np.isfinite(best):
            ceiling = self.params.get("c")
            out["note"] = (f"unreachable: the fitted ceiling c = {ceiling:.4g} is at or below the target"
                           if ceiling is not None else "unreachable under this law")
        return out


def _interval(values: np.ndarray) -> list[float] | None:
    """95% interval over the bootstrap draws; None when the law was fitted without any."""
    if not values.size:
        return None
    lo, hi = interval(values)
    return [float(lo), float(hi)]


def invert(form: Form, params: Params, target: float) -> float:
    """Size at which the law reaches ``target``: analytic when the form has an inverse, else brentq."""
    if form.inverse is not None:
        return max(form.inverse(target, params), 1.0)
    return invert_numeric(form, params, target)


def invert_numeric(form: Form, params: Params, target: float, limit: float = MAX_SIZE) -> float:
    """Root of value(X) = target on log X in [0, log limit] (laws are increasing)."""
    gap = lambda u: float(form.value(np.array([np.exp(u)]), params)[0]) - target  # noqa: E731
    if gap(0.0) >= 0:
        return 1.0
    if gap(np.log(limit)) < 0:
        return float("inf")
    return float(np.exp(brentq(gap, 0.0, np.log(limit), xtol=1e-10)))


class Law:
    """All languages of a ``law.json``."""

    def __init__(self, data: dict, source: str = "law"):
        if not isinstance(data, dict) or "languages" not in data:
            raise UserError(f"{source}: not a law file (no 'languages'); make one with 'lingalign scaling fit'")
        self.data = data
        self.curves: dict[str, Curve] = {}
        for lang, entry in data["languages"].items():
            form = FORMS[entry["form"]]
            draws = [dict(zip(form.params, row)) for row in entry.get("bootstrap", [])]
            self.curves[lang] = Curve(lang, form, entry["params"], draws)

    @classmethod
    def load(cls, path) -> "Law":
        path = Path(path)
        if path.is_dir():
            path = path / "law.json"
        return cls(read_json(path), str(path))

    def curve(self, lang: str | None) -> list[Curve]:
        if lang is None:
            return list(self.curves.values())
        if lang not in self.curves:
            raise UserError(f"no law for language '{lang}'", hint=f"the law covers {', '.join(self.curves)}")
        return [self.curves[lang]]
