"""The item bootstrap shared by ``eval --compare`` and the report: draws as item counts, and their summaries.

Resampling items with replacement ``resamples`` times is done by drawing, for each draw, how often
each item occurs (a row of counts): a per-item metric of a draw is then ``counts @ scores / n``, and
a corpus metric sums its per-item statistics with the same counts. Both systems of a paired test
use the same rows. The evaluate stage's ``significance`` builds the paired tests on these; the
report uses them for the intervals of cross-lingual consistency. Deterministic under ``seed``.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

_CELLS_PER_CHUNK = 2_000_000  # resamples x items held in memory at once (16 MB of float64)


def resample_counts(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Chunks of draws: row r holds how often each of the ``n`` items occurs in draw r."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, _CELLS_PER_CHUNK // max(n, 1)))
    done = 0
    while done < resamples:
        rows = min(chunk, resamples - done)
        draws = rng.integers(0, n, size=(rows, n))
        flat = (np.arange(rows)[:, None] * n + draws).ravel()
        yield np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)
        done += rows


def paired_summary(a: float, b: float, boot_a: np.ndarray, boot_b: np.ndarray, n: int, n_a: int, n_b: int) -> dict:
    """B - A with its 95% percentile interval, two-sided p and relative change, from per-draw scores."""
    delta = b - a
    diffs = boot_b - boot_a
    low, high = np.percentile(diffs, [2.5, 97.5])
    # Two-sided p: how often a null-centred difference is at least as far from 0 as the observed one.
    extreme = np.abs(diffs - diffs.mean()) >= abs(delta) - 1e-9
    p = (int(extreme.sum()) + 1) / (len(diffs) + 1)
    entry = {"a": round(a, 4), "b": round(b, 4), "delta": round(delta, 4), "low": round(float(low), 4),
             "high": round(float(high), 4), "p": round(p, 6), "n": n, "n_a": n_a, "n_b": n_b,
             "rel": None, "rel_low": None, "rel_high": None}
    if a != 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(boot_a != 0, 100 * diffs / boot_a, np.nan)
        entry["rel"] = round(100 * delta / a, 4)
        if np.isfinite(rel).sum() >= 0.95 * len(rel):  # a baseline at 0 in many draws has no stable ratio
            rel_low, rel_high = np.nanpercentile(rel, [2.5, 97.5])
            entry["rel_low"], entry["rel_high"] = round(float(rel_low), 4), round(float(rel_high), 4)
    return entry


def mean_interval(scores: np.ndarray, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """The 95% percentile interval of the mean of per-item ``scores`` over ``resamples`` draws."""
    n = len(scores)
    means = np.concatenate([counts @ scores / n for counts in resample_counts(n, resamples, seed)])
    low, high = np.percentile(means, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def paired_difference(scores_a: np.ndarray, scores_b: np.ndarray, resamples: int = 1000, seed: int = 0) -> dict:
    """``paired_summary`` of the per-item scores of two systems on the same items (B - A)."""
    n = len(scores_a)
    boot_a, boot_b = [], []
    for counts in resample_counts(n, resamples, seed):
        boot_a.append(counts @ scores_a / n)
        boot_b.append(counts @ scores_b / n)
    return paired_summary(float(scores_a.mean()), float(scores_b.mean()), np.concatenate(boot_a),
                          np.concatenate(boot_b), n, n, n)
