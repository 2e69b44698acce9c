"""Bounded least-squares fits of one form, per language or shared across languages.

A *layout* maps a flat parameter vector (what ``scipy.optimize.least_squares`` sees) to the
parameters of each language's curve:

- per language: the vector is the form's own parameters, one language at a time;
- shared: the form's rate (``a`` for the log forms, ``b`` for the saturating form) is
  ``rate0 + rate1 * distance[lang]``, the form's level parameters (``b``; or ``c`` and ``a``) stay per
  language, and any other parameter (``g``) is one value for all languages.

Points at the same size (several seeds) are replicates: a form needs at least as many distinct
sizes as it has parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from lingalign.scaling.forms import Form, Params

Data = dict[str, tuple[np.ndarray, np.ndarray]]  # lang -> (sizes, values)


class TooFewPoints(ValueError):
    """The form has more parameters than the data has distinct sizes."""


@dataclass
class Layout:
    form: Form
    langs: list[str]
    distances: dict[str, float] | None = None  # set -> shared fit

    @property
    def shared(self) -> bool:
        return self.distances is not None

    @property
    def names(self) -> list[str]:
        f = self.form
        if not self.shared:
            return list(f.params)
        common = [p for p in f.params if p != f.rate and p not in f.local]
        local = [f"{p}[{lang}]" for lang in self.langs for p in f.local]
        return [f"{f.rate}0", f"{f.rate}1", *common, *local]

    def bounds(self, data: Data) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([data[l][0] for l in self.langs])
        y = np.concatenate([data[l][1] for l in self.langs])
        per = self.form.bounds(x, y)
        rate = self.form.rate
        pairs = []
        for name in self.names:
            base = name.split("[")[0]
            if self.shared and base == f"{rate}1":
                pairs.append((-np.inf, np.inf))  # the distance effect may go either way
            elif self.shared and base == f"{rate}0":
                pairs.append(per[rate])
            else:
                pairs.append(per[base])
        return np.array([p[0] for p in pairs], float), np.array([p[1] for p in pairs], float)

    def unpack(self, theta: np.ndarray) -> dict[str, Params]:
        values = dict(zip(self.names, map(float, theta)))
        if not self.shared:
            return {lang: values for lang in self.langs}
        f = self.form
        lo, hi = f.bounds(np.ones(1), np.ones(1))[f.rate]
        out = {}
        for lang in self.langs:
            p = {k: v for k, v in values.items() if "[" not in k and not k.startswith(f.rate)}
            p.update({k: values[f"{k}[{lang}]"] for k in f.local})
            rate = values[f"{f.rate}0"] + values[f"{f.rate}1"] * self.distances[lang]
            p[f.rate] = float(np.clip(rate, lo, hi))
            out[lang] = p
        return out

    def pack(self, per_lang: dict[str, Params]) -> np.ndarray:
        """Starting vector from per-language parameters (shared: average rate, zero distance effect)."""
        if not self.shared:
            return np.array([per_lang[self.langs[0]][p] for p in self.form.params], float)
        f = self.form
        theta = []
        for name in self.names:
            if name == f"{f.rate}0":
                theta.append(np.mean([per_lang[l][f.rate] for l in self.langs]))
            elif name == f"{f.rate}1":
                theta.append(0.0)
            elif "[" in name:
                key, lang = name[:-1].split("[")
                theta.append(per_lang[lang][key])
            else:
                theta.append(np.mean([per_lang[l][name] for l in self.langs]))
        return np.array(theta, float)

    def distinct_points(self, data: Data) -> int:
        return sum(len(np.unique(data[l][0])) for l in self.langs)

    def residuals(self, theta: np.ndarray, data: Data) -> np.ndarray:
        params = self.unpack(theta)
        return np.concatenate([self.form.value(data[l][0], params[l]) - data[l][1] for l in self.langs])


def fit(layout: Layout, data: Data, starts: list[np.ndarray] | None = None) -> np.ndarray:
    """Best bounded least-squares parameter vector over several starting points."""
    n_params = len(layout.names)
    if layout.distinct_points(data) < n_params:
        raise TooFewPoints(
            f"{layout.form.name} has {n_params} parameters but only "
            f"{layout.distinct_points(data)} distinct (language, size) points"
        )
    lower, upper = layout.bounds(data)
    if starts is None:
        starts = default_starts(layout, data)
    best = None
    for start in starts:
        x0 = _inside(np.where(np.isfinite(start), start, 0.0), lower, upper)
        with np.errstate(all="ignore"):
            result = least_squares(layout.residuals, x0, bounds=(lower, upper), args=(data,), x_scale="jac",
                                   max_nfev=300)
        if np.all(np.isfinite(result.fun)) and (best is None or result.cost < best.cost):
            best = result
    if best is None:
        raise TooFewPoints(f"{layout.form.name}: no starting point gave a finite fit")
    return best.x


def _inside(x0: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Move a start strictly inside the bounds (least_squares rejects starts on a bound)."""
    span = np.where(np.isfinite(upper - lower), upper - lower, 1.0)
    margin = 1e-6 * np.maximum(span, 1e-9)
    return np.clip(x0, np.where(np.isfinite(lower), lower + margin, -np.inf),
                   np.where(np.isfinite(upper), upper - margin, np.inf))


def default_starts(layout: Layout, data: Data) -> list[np.ndarray]:
    form = layout.form
    if not layout.shared:
        x, y = data[layout.langs[0]]
        return [np.array([s[p] for p in form.params], float) for s in form.starts(x, y)]
    # shared: start from the per-language fits of this form (or its default guesses)
    per_lang = {}
    for lang in layout.langs:
        single = Layout(form, [lang])
        try:
            per_lang[lang] = single.unpack(fit(single, data))[lang]
        except TooFewPoints:
            per_lang[lang] = form.starts(*data[lang])[0]
    return [layout.pack(per_lang)]


def predict(layout: Layout, theta: np.ndarray, lang: str, sizes) -> np.ndarray:
    return layout.form.value(np.asarray(sizes, float), layout.unpack(theta)[lang])


def cross_validate(layout: Layout, data: Data) -> dict:
    """Leave-one-size-out RMSE: drop every point at one size (for all languages), refit, predict them.

    Returns {"pooled": rmse, "per_language": {lang: rmse}}; raises TooFewPoints when a fold
    would have fewer distinct sizes than parameters.
    """
    sizes = np.unique(np.concatenate([data[l][0] for l in layout.langs]))
    errors: dict[str, list[float]] = {l: [] for l in layout.langs}
    full = fit(layout, data)
    for held in sizes:
        train = {l: (x[x != held], y[x != held]) for l, (x, y) in ((l, data[l]) for l in layout.langs)}
        theta = fit(layout, train, starts=[full, *default_starts(layout, train)[:1]])
        for lang in layout.langs:
            x, y = data[lang]
            mask = x == held
            if mask.any():
                errors[lang].extend(predict(layout, theta, lang, x[mask]) - y[mask])
    per_language = {l: float(np.sqrt(np.mean(np.square(e)))) for l, e in errors.items()}
    pooled = float(np.sqrt(np.mean(np.square(np.concatenate([e for e in errors.values()])))))
    return {"pooled": pooled, "per_language": per_language}


def choose(cv_by_form: dict[str, float], n_params: dict[str, int], tolerance: float = 0.02) -> str:
    """Lowest CV error, but a form with fewer parameters wins unless beaten by more than ``tolerance``.

    The parsimony margin keeps a flexible form (power-log contains log-linear at g=1) from
    winning on noise alone.
    """
    ranked = sorted(cv_by_form, key=lambda f: (n_params[f], cv_by_form[f]))
    best = min(cv_by_form, key=cv_by_form.get)
    for form in ranked:
        if cv_by_form[form] <= cv_by_form[best] * (1 + tolerance):
            return form
    return best
