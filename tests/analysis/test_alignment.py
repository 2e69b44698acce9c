"""Alignment metrics checked on vectors whose answers are known by hand."""

from __future__ import annotations

import math

import pytest
import torch

from lingalign.analysis.alignment import (
    cosine_matrix,
    layer_metrics,
    linear_cka,
    pair_cosines,
    paired_difference,
    retrieval_accuracy,
    retrieval_interval,
)


def test_pair_cosines_by_hand():
    english = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    other = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    # cosines: e0-o0 = 1, e0-o1 = 1/sqrt2, e1-o0 = 0, e1-o1 = 1/sqrt2
    matched, mismatched = pair_cosines(cosine_matrix(english, other))
    assert matched == pytest.approx((1 + 1 / math.sqrt(2)) / 2)
    assert mismatched == pytest.approx((1 / math.sqrt(2) + 0) / 2)
    metrics = layer_metrics(english, other)
    assert metrics["cos_gap"] == pytest.approx(matched - mismatched)


def test_retrieval_by_hand():
    sim = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.7, 0.0], [0.0, 0.1, 0.5]])
    assert retrieval_accuracy(sim) == pytest.approx(2 / 3)  # row 1 picks column 0
    assert retrieval_accuracy(sim.T) == pytest.approx(1.0)


def test_retrieval_interval_is_wilsons():
    low, high = retrieval_interval(0.09, 200)  # 18 of 200: Wilson 95% is [5.8%, 13.8%]
    assert (round(100 * low, 1), round(100 * high, 1)) == (5.8, 13.8)
    low, high = retrieval_interval(0.0, 50)
    assert low == 0.0 and 0.05 < high < 0.1  # none found still bounds the accuracy above


def test_retrieval_is_perfect_when_the_translation_is_the_sentence_itself():
    vectors = torch.randn(50, 16, generator=torch.Generator().manual_seed(0))
    metrics = layer_metrics(vectors, vectors.clone(), cka=True)
    assert metrics["retrieval_en_x"] == 1.0 and metrics["retrieval_x_en"] == 1.0
    assert metrics["cos_matched"] == pytest.approx(1.0)
    assert metrics["cka"] == pytest.approx(1.0)


def test_retrieval_is_near_chance_on_unrelated_pairs():
    generator = torch.Generator().manual_seed(1)
    n = 100
    english, other = torch.randn(n, 64, generator=generator), torch.randn(n, 64, generator=generator)
    metrics = layer_metrics(english, other)
    assert metrics["retrieval_en_x"] <= 3 / n + 0.02
    assert metrics["retrieval_x_en"] <= 3 / n + 0.02
    assert abs(metrics["cos_gap"]) < 0.05


def test_cka_is_invariant_to_rotation_and_scale_but_not_to_unrelated_data():
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(80, 10, generator=generator)
    rotation, _ = torch.linalg.qr(torch.randn(10, 10, generator=generator))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 3.0 * x @ rotation + 5.0) == pytest.approx(1.0)
    assert linear_cka(x, torch.randn(80, 10, generator=generator)) < 0.5


def test_centering_removes_a_shared_offset_that_hides_the_pairs():
    generator = torch.Generator().manual_seed(3)
    meaning = torch.randn(40, 32, generator=generator)
    offset = torch.zeros(32)
    offset[0] = 1000.0  # one huge dimension shared by every sentence ("massive activation")
    english = meaning + offset
    other = meaning + 0.5 * torch.randn(40, 32, generator=generator) + offset + 3.0  # noisy, shifted language
    raw, centred = layer_metrics(english, other), layer_metrics(english, other, center=True)
    assert raw["cos_mismatched"] > 0.99 and raw["cos_gap"] < 0.01
    assert centred["retrieval_en_x"] == 1.0 and centred["cos_gap"] > 0.5
    assert abs(centred["cos_mismatched"]) < 0.1


def test_paired_difference_counts_the_sentences_only_one_model_gets():
    from scipy.stats import binomtest

    reference = [True] * 10 + [False] * 90
    model = [True] * 10 + [True] * 14 + [False] * 76  # the same ten, plus fourteen more
    result = paired_difference(model, reference)
    assert result["delta"] == pytest.approx(0.14)
    assert (result["only_model"], result["only_reference"]) == (14, 0)
    assert result["p"] == pytest.approx(binomtest(14, 14, 0.5).pvalue)  # 2 * 0.5**14
    assert 0 < result["low"] < 0.14 < result["high"] < 0.3
    flipped = paired_difference(reference, model)
    assert flipped["delta"] == pytest.approx(-0.14) and flipped["p"] == result["p"]


def test_paired_difference_of_equal_accuracies_by_different_sentences_is_not_significant():
    model = [True, False] * 50
    reference = [False, True] * 50  # same accuracy, disjoint sentences: delta 0, p = 1
    result = paired_difference(model, reference)
    assert result["delta"] == 0.0 and result["p"] == pytest.approx(1.0)
    assert result["low"] < 0 < result["high"]
    same = paired_difference(model, model)
    assert same == {"delta": 0.0, "low": 0.0, "high": 0.0, "only_model": 0, "only_reference": 0, "p": 1.0}
    with pytest.raises(ValueError, match="same sentences"):
        paired_difference(model, model[:-1])
