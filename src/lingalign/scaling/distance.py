"""Language distance to English from URIEL typology (optional; needs the ``lang2vec`` package).

``lang2vec`` 1.1.2 ships the URIEL feature tables inside the wheel, so it works offline; it
imports ``pkg_resources``, so it also needs ``setuptools<81``. Its distance tables (an extra
download) are not in that release, so the distance here is computed from the shipped features:
the share of the 103 KNN-imputed syntactic features (``syntax_knn``) on which the language
differs from English (0 = same syntax as English). Anything else (genetic distance, model
representation similarity) can be given per language with ``--distance`` instead.
"""

from __future__ import annotations

import langcodes
import numpy as np

from lingalign.errors import UserError


def uriel_distances(langs: list[str]) -> dict[str, float]:
    try:
        import lang2vec.lang2vec as l2v
    except ImportError as exc:
        raise UserError(f"--distance-from uriel needs lang2vec ({exc})",
                        hint="pip install lang2vec 'setuptools<81', or give --distance zh=0.21,...") from None
    codes = {lang: _alpha3(lang) for lang in langs}
    known = set(l2v.available_uriel_languages())
    missing = [f"{l} ({c})" for l, c in codes.items() if c not in known]
    if missing:
        raise UserError(f"URIEL has no entry for {', '.join(missing)}", hint="give --distance for these languages")
    features = l2v.get_features(["eng", *codes.values()], "syntax_knn")
    english = np.array(features["eng"], float)
    return {lang: float(np.mean(np.array(features[code], float) != english)) for lang, code in codes.items()}


def _alpha3(lang: str) -> str:
    try:
        return langcodes.Language.get(lang).to_alpha3()
    except (LookupError, ValueError):
        raise UserError(f"'{lang}' is not a language code langcodes knows") from None
