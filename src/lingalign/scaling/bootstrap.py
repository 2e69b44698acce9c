"""Residual bootstrap of a fitted law.

Why residuals and not points: the sizes of a sweep are fixed by design (a handful of nested
subsets), so resampling points would often drop whole sizes and leave a curve that cannot be
identified (three parameters from two sizes). The residual bootstrap keeps the design, adds
resampled residuals to the fitted values, and refits; the spread of the refits is the
uncertainty of the parameters and of the fitted curve. Residuals are centred and inflated by
sqrt(n / (n - p)) because least-squares residuals are smaller than the true noise.

The intervals are for the mean curve (what the law predicts), not for one new run, whose own
noise would add roughly the residual standard deviation.
"""

from __future__ import annotations

import numpy as np

from lingalign.scaling.least_squares import Data, Layout, TooFewPoints, fit

LEVELS = (2.5, 97.5)


def residual_bootstrap(layout: Layout, data: Data, theta: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """``draws`` refitted parameter vectors (rows), each from fitted values + resampled residuals."""
    rng = np.random.default_rng(seed)
    fitted = {l: data[l][1] + r for l, r in split_by_language(layout, data, layout.residuals(theta, data)).items()}
    resid = layout.residuals(theta, data)
    n, p = resid.size, len(theta)
    scaled = (resid - resid.mean()) * np.sqrt(n / max(n - p, 1))
    samples = []
    for _ in range(draws):
        noise = split_by_language(layout, data, rng.choice(scaled, size=n, replace=True))
        resampled = {l: (data[l][0], fitted[l] + noise[l]) for l in layout.langs}
        try:
            samples.append(fit(layout, resampled, starts=[theta]))
        except TooFewPoints:
            continue
    return np.array(samples)


def split_by_language(layout: Layout, data: Data, flat: np.ndarray) -> dict[str, np.ndarray]:
    """Cut a vector laid out like ``layout.residuals`` back into per-language pieces."""
    out, start = {}, 0
    for lang in layout.langs:
        n = data[lang][0].size
        out[lang] = flat[start:start + n]
        start += n
    return out


def interval(samples: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """2.5 and 97.5 percentiles; ``inverted_cdf`` returns observed values, so infinities stay infinite."""
    lo, hi = np.percentile(samples, LEVELS, axis=axis, method="inverted_cdf")
    return lo, hi
