"""How close a sentence and its translation sit in one layer: cosine, retrieval and CKA.

All metrics take two ``[n, dim]`` matrices whose row i are translations of each other (English
first). They are a few lines of linear algebra each, kept small so they can be checked by hand:

* ``cos_matched``: mean cosine of the n translation pairs; ``cos_mismatched``: mean cosine over all
  n(n-1) non-translation pairs. Hidden states of LLMs share a large common direction, so both are
  high; their difference ``cos_gap`` is what shows alignment.
* ``retrieval_en_x`` / ``retrieval_x_en``: top-1 accuracy of finding the translation among all n
  candidates by cosine (chance = 1/n), with a Wilson 95% interval (:func:`retrieval_interval`).
* ``cka``: linear centred kernel alignment (Kornblith et al., 2019) between the two sets; 1 means
  the two languages' representations are the same up to rotation and scale.

Two models measured on the same sentences are compared sentence by sentence
(:func:`paired_difference`): which sentences each one retrieves, an exact McNemar test on the
sentences only one of them gets, and a bootstrap interval of the difference.

``center=True`` first subtracts each language's mean vector (per layer). Middle layers of LLMs carry
a few huge "massive activation" dimensions shared by every sentence, which push all raw cosines
towards 1 and retrieval towards chance; centring removes that common part and the language's own
offset, leaving what distinguishes sentences. CKA centres by definition and is unaffected.
"""

from __future__ import annotations

import numpy as np
import torch

METRICS = ("cos_matched", "cos_mismatched", "cos_gap", "retrieval_en_x", "retrieval_x_en", "cka")

LABELS = {
    "cos_matched": "cosine of translation pairs",
    "cos_mismatched": "cosine of non-translation pairs",
    "cos_gap": "cosine gap (translations - others)",
    "retrieval_en_x": "top-1 retrieval En->X",
    "retrieval_x_en": "top-1 retrieval X->En",
    "cka": "linear CKA",
}


def cosine_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``[n, m]`` cosines between the rows of ``a`` and of ``b`` (computed in float64)."""
    a = torch.nn.functional.normalize(a.double(), dim=-1)
    b = torch.nn.functional.normalize(b.double(), dim=-1)
    return a @ b.T


def pair_cosines(sim: torch.Tensor) -> tuple[float, float]:
    """Mean cosine on the diagonal (translations) and off it (every other pair)."""
    n = sim.shape[0]
    matched = sim.diagonal().sum()
    mismatched = (sim.sum() - matched) / (n * n - n)
    return float(matched / n), float(mismatched)


def similarity(english: torch.Tensor, other: torch.Tensor, center: bool = False) -> torch.Tensor:
    """The ``[n, n]`` cosine matrix of one layer, after removing each language's mean if ``center``."""
    if center:
        english, other = english - english.mean(dim=0), other - other.mean(dim=0)
    return cosine_matrix(english, other)


def retrieval_hits(sim: torch.Tensor) -> torch.Tensor:
    """Per row, whether its most similar column is its own translation (row i -> column i)."""
    return sim.argmax(dim=1) == torch.arange(sim.shape[0])


def retrieval_accuracy(sim: torch.Tensor) -> float:
    """Share of rows whose most similar column is their own translation."""
    return float(retrieval_hits(sim).double().mean())


def retrieval_interval(accuracy: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson interval of a top-1 retrieval accuracy over ``n`` sentences (a binomial share)."""
    from scipy.stats import binomtest

    interval = binomtest(round(accuracy * n), n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def paired_difference(hits, reference_hits, *, resamples: int = 1000, seed: int = 0,
                      confidence: float = 0.95) -> dict:
    """Retrieval accuracy of one model minus a reference model's, on the same sentences.

    Two accuracies measured on the same 200 sentences are strongly correlated, so their separate
    Wilson intervals overlap even when one model is reliably better. Pairing uses that: the exact
    McNemar test asks whether the sentences only the model retrieves outnumber those only the
    reference retrieves more than chance allows, and the percentile bootstrap (scipy) resamples
    sentences, each keeping its two hit/miss outcomes, like ``eval --compare`` does for tasks.
    """
    from scipy.stats import binomtest, bootstrap

    model = np.asarray(hits, dtype=bool)
    reference = np.asarray(reference_hits, dtype=bool)
    if model.shape != reference.shape:
        raise ValueError(f"paired_difference needs hits on the same sentences, got {model.shape} and {reference.shape}")
    only_model = int((model & ~reference).sum())
    only_reference = int((reference & ~model).sum())
    discordant = only_model + only_reference
    diff = model.astype(float) - reference.astype(float)
    if discordant == 0:
        low = high = 0.0
        p_value = 1.0
    else:
        interval = bootstrap((diff,), np.mean, n_resamples=resamples, confidence_level=confidence,
                             method="percentile", vectorized=True, rng=np.random.default_rng(seed)).confidence_interval
        low, high = float(interval.low), float(interval.high)
        p_value = float(binomtest(only_model, discordant, 0.5).pvalue)
    return {"delta": float(diff.mean()), "low": low, "high": high, "only_model": only_model,
            "only_reference": only_reference, "p": p_value}


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of two ``[n, d]`` representations of the same n items."""
    x = x.double() - x.double().mean(dim=0)
    y = y.double() - y.double().mean(dim=0)
    cross = torch.linalg.matrix_norm(y.T @ x) ** 2
    return float(cross / (torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)))


def layer_metrics(english: torch.Tensor, other: torch.Tensor, *, cka: bool = False,
                  center: bool = False) -> dict[str, float]:
    """All metrics for one layer; ``english[i]`` and ``other[i]`` are translations."""
    return similarity_metrics(similarity(english, other, center), english, other, cka=cka)


def similarity_metrics(sim: torch.Tensor, english: torch.Tensor, other: torch.Tensor, *,
                       cka: bool = False) -> dict[str, float]:
    """:func:`layer_metrics` from an already computed cosine matrix (CKA centres on its own)."""
    matched, mismatched = pair_cosines(sim)
    result = {
        "cos_matched": matched,
        "cos_mismatched": mismatched,
        "cos_gap": matched - mismatched,
        "retrieval_en_x": retrieval_accuracy(sim),
        "retrieval_x_en": retrieval_accuracy(sim.T),
    }
    if cka:
        result["cka"] = linear_cka(english, other)
    return result
