"""Packing keeps examples apart: a packed batch gives the same loss and gradients as unpacked."""

from __future__ import annotations

import pytest
import torch

from lingalign.models import load_model, load_tokenizer
from lingalign.train.batching import collate, plan_epoch
from lingalign.train.examples import Example
from lingalign.train.loss import ResponseLoss, reference_loss_sum


@pytest.fixture(scope="module")
def setup(tiny_model_dir):
    tok = load_tokenizer(str(tiny_model_dir))
    model = load_model(str(tiny_model_dir), dtype="float32")
    gen = torch.Generator().manual_seed(0)
    examples = [Example(torch.randint(5, len(tok), (n,), generator=gen).tolist(), n // 2) for n in (9, 17, 6, 25, 12)]
    return tok, model, examples


def loss_and_grads(wrapper, batches):
    wrapper.zero_grad()
    total = sum(wrapper(**b) for b in batches)
    total.backward()
    return total.detach(), {n: p.grad.clone() for n, p in wrapper.named_parameters()}


def test_packed_equals_unpacked(setup):
    tok, model, examples = setup
    wrapper = ResponseLoss(model)
    packed, grads_packed = loss_and_grads(wrapper, [collate([[0, 1, 2], [3, 4]], examples, tok.pad_token_id)])
    single, grads_single = loss_and_grads(wrapper, [collate([[i]], examples, tok.pad_token_id) for i in range(5)])
    assert torch.allclose(packed, single, atol=1e-5, rtol=1e-6)
    for name in grads_single:
        assert torch.allclose(grads_packed[name], grads_single[name], atol=1e-6, rtol=1e-4), name


def test_naive_packing_would_differ(setup):
    """Without restarting positions (plain causal attention over the row) the loss changes: the test can fail."""
    tok, model, examples = setup
    wrapper = ResponseLoss(model)
    batch = collate([[0, 1, 2]], examples, tok.pad_token_id)
    isolated = wrapper(**batch)
    batch["position_ids"] = torch.arange(batch["input_ids"].shape[1])[None]
    assert not torch.allclose(wrapper(**batch), isolated, atol=1e-3)


def test_response_only_head_matches_full_logits(setup):
    tok, model, examples = setup
    batch = collate([[0, 1], [2, 3, 4]], examples, tok.pad_token_id)
    with torch.no_grad():
        assert torch.allclose(ResponseLoss(model)(**batch), reference_loss_sum(model, batch), atol=1e-4)


@pytest.mark.parametrize("packing", [True, False])
def test_plan_is_a_pure_function_of_seed_and_epoch(packing):
    lengths = [((i * 37) % 50) + 5 for i in range(200)]
    kwargs = dict(packing=packing, max_length=128, micro_batch_size=3)
    a = plan_epoch(lengths, seed=1, epoch=0, **kwargs)
    assert a == plan_epoch(lengths, seed=1, epoch=0, **kwargs)
    assert a != plan_epoch(lengths, seed=1, epoch=1, **kwargs)
    used = sorted(i for mb in a for row in mb for i in row)
    assert used == list(range(200))  # every example exactly once
    assert all(sum(lengths[i] for i in row) <= 128 for mb in a for row in mb)
    assert all(len(mb) <= 3 for mb in a)
    if not packing:  # length grouping: rows of a micro-batch have similar lengths
        spread = sum(max(lengths[r[0]] for r in mb) - min(lengths[r[0]] for r in mb) for mb in a) / len(a)
        assert spread < 10
