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

``center=True`` first subtracts each language's mean vector (per layer). Middle layers of LLMs carry
a few huge "massive activation" dimensions shared by every sentence, which push all raw cosines
towards 1 and retrieval towards chance; centring removes that common part and the language's own
offset, leaving what distinguishes sentences. CKA centres by definition and is unaffected.
"""

from __future__ import annotations

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


def retrieval_accuracy(sim: torch.Tensor) -> float:
    """Share of rows whose most similar column is their own translation (row i -> column i)."""
    best = sim.argmax(dim=1)
    return float((best == torch.arange(sim.shape[0])).double().mean())


def retrieval_interval(accuracy: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson interval of a top-1 retrieval accuracy over ``n`` sentences (a binomial share)."""
    from scipy.stats import binomtest

    interval = binomtest(round(accuracy * n), n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of two ``[n, d]`` representations of the same n items."""
    x = x.double() - x.double().mean(dim=0)
    y = y.double() - y.double().mean(dim=0)
    cross = torch.linalg.matrix_norm(y.T @ x) ** 2
    return float(cross / (torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)))


def layer_metrics(english: torch.Tensor, other: torch.Tensor, *, cka: bool = False,
                  center: bool = False) -> dict[str, float]:
    """All metrics for one layer; ``english[i]`` and ``other[i]`` are translations."""
    if center:
        english, other = english - english.mean(dim=0), other - other.mean(dim=0)
    sim = cosine_matrix(english, other)
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
