"""From points to a law: fit every candidate form, cross-validate, choose, bootstrap.

The result is a plain dict (written as ``law.json``) that holds, for every language, the chosen
form, its parameters, their 95% bootstrap intervals and the bootstrap draws themselves (so
predictions and allocations get intervals without refitting), plus the CV error of every form.
"""

from __future__ import annotations

import numpy as np

from lingalign.errors import UserError
from lingalign.scaling.bootstrap import interval, residual_bootstrap, split_by_language
from lingalign.scaling.forms import FORMS
from lingalign.scaling.least_squares import Data, Layout, TooFewPoints, choose, cross_validate, fit


def fit_law(
    data: Data,
    forms: list[str],
    distances: dict[str, float] | None = None,
    draws: int = 1000,
    seed: int = 0,
    select: str = "pooled",
    tolerance: float = 0.02,
) -> dict:
    """Fit ``forms`` to ``data`` (per language, or shared when ``distances`` is given)."""
    langs = sorted(data)
    unknown = [f for f in forms if f not in FORMS]
    if unknown:
        raise UserError(f"unknown form(s) {', '.join(unknown)}", hint=f"choose from {', '.join(FORMS)}")
    if distances is not None:
        _check_distances(langs, distances)
    notes: list[str] = []
    report: dict[str, dict] = {}
    layouts: dict[str, list[Layout]] = {}
    for name in forms:
        form = FORMS[name]
        group = [Layout(form, langs, distances)] if distances is not None else [Layout(form, [l]) for l in langs]
        entry = {"formula": form.formula, "cv_rmse": {"pooled": None, "per_language": {}}, "train_rmse": {}}
        try:
            thetas = [fit(layout, data) for layout in group]
        except TooFewPoints as exc:
            notes.append(f"skipped {name}: {exc}")
            entry["skipped"] = str(exc)
            report[name] = entry
            continue
        layouts[name] = group
        entry["theta"] = [dict(zip(l.names, map(float, t))) for l, t in zip(group, thetas)]
        for layout, theta in zip(group, thetas):
            resid = layout.residuals(theta, data)
            for lang, r in split_by_language(layout, data, resid).items():
                entry["train_rmse"][lang] = float(np.sqrt(np.mean(r**2)))
        try:
            folds = [cross_validate(layout, data) for layout in group]
            per_language = {k: v for cv in folds for k, v in cv["per_language"].items()}
            squared = [cv["per_language"][l] ** 2 * data[l][0].size for cv in folds for l in cv["per_language"]]
            entry["cv_rmse"] = {
                "pooled": float(np.sqrt(sum(squared) / sum(data[l][0].size for l in langs))),
                "per_language": per_language,
            }
        except TooFewPoints as exc:
            notes.append(f"no cross-validation for {name} (a fold has too few sizes: {exc}); "
                         "it can only be chosen alone")
        report[name] = entry
    if not layouts:
        raise UserError("no candidate form could be fitted: " + "; ".join(notes),
                        hint="add sizes (a form needs at least as many distinct sizes as parameters)")
    chosen = _choose(report, layouts, langs, select, tolerance, notes)
    languages = {}
    shared = None
    for lang in langs:
        name = chosen[lang]
        layout, theta = _layout_for(layouts[name], report[name], lang)
        if distances is not None and shared is not None and shared["form"] == name:
            samples = shared["_samples"]
        else:
            samples = residual_bootstrap(layout, data, theta, draws, seed)
            if distances is not None:
                shared = {"form": name, "_samples": samples, "names": layout.names}
        params = layout.unpack(theta)[lang]
        form = FORMS[name]
        draw_params = (np.array([[layout.unpack(s)[lang][p] for p in form.params] for s in samples]) if len(samples)
                       else np.empty((0, len(form.params))))
        languages[lang] = {
            "form": name,
            "params": {p: float(params[p]) for p in form.params},
            "intervals": _intervals(form.params, draw_params),
            "bootstrap": np.round(draw_params, 10).tolist(),
            "sizes": data[lang][0].tolist(),
            "values": data[lang][1].tolist(),
            "cv_rmse": report[name]["cv_rmse"]["per_language"].get(lang),
            **({"distance": distances[lang]} if distances is not None else {}),
        }
    law = {
        "mode": "shared" if distances is not None else "per-language",
        "selection": select,
        "chosen": chosen[langs[0]] if len(set(chosen.values())) == 1 else chosen,
        "forms": report,
        "languages": languages,
        "bootstrap": {"method": "residual", "draws": draws, "kept": len(next(iter(languages.values()))["bootstrap"]),
                      "seed": seed, "levels": [2.5, 97.5]},
        "notes": notes,
    }
    if shared is not None:
        samples, names = shared["_samples"], shared["names"]
        theta = report[shared["form"]]["theta"][0]
        law["shared"] = {"form": shared["form"], "coefficients": theta, "intervals": _intervals(names, samples)}
    return law


def _intervals(names, samples: np.ndarray) -> dict[str, list[float] | None]:
    """95% percentile interval per parameter; None without bootstrap draws."""
    if not len(samples):
        return {n: None for n in names}
    lo, hi = interval(samples)
    return {n: [float(a), float(b)] for n, a, b in zip(names, lo, hi)}


def _choose(report, layouts, langs, select, tolerance, notes) -> dict[str, str]:
    """Chosen form per language: one for all (pooled CV) or each language its own."""
    n_params = {name: len(layouts[name][0].names) for name in layouts}
    with_cv = [n for n in layouts if report[n]["cv_rmse"]["pooled"] is not None]
    if not with_cv:
        name = min(layouts, key=lambda n: n_params[n])
        notes.append(f"no form could be cross-validated; chose the simplest fitted form, {name}")
        return {lang: name for lang in langs}
    if select == "pooled":
        best = choose({n: report[n]["cv_rmse"]["pooled"] for n in with_cv}, n_params, tolerance)
        return {lang: best for lang in langs}
    if select != "per-language":
        raise UserError(f"--select must be 'pooled' or 'per-language', got {select!r}")
    return {lang: choose({n: report[n]["cv_rmse"]["per_language"][lang] for n in with_cv}, n_params, tolerance)
            for lang in langs}


def _layout_for(group: list[Layout], entry: dict, lang: str) -> tuple[Layout, np.ndarray]:
    for layout, theta in zip(group, entry["theta"]):
        if lang in layout.langs:
            return layout, np.array([theta[n] for n in layout.names])
    raise KeyError(lang)


def _check_distances(langs: list[str], distances: dict[str, float]) -> None:
    missing = [l for l in langs if l not in distances]
    if missing:
        raise UserError(f"a shared fit needs a distance for every language; missing: {', '.join(missing)}",
                        hint="pass --distance zh=0.21,vi=0.22 or --distance-file")
    if len(langs) < 2 or len({distances[l] for l in langs}) < 2:
        raise UserError("a shared fit needs at least two languages with different distances",
                        hint="fit per language instead (drop --shared)")
