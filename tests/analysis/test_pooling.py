"""Pooled sentence vectors: a true masked mean that padding cannot change."""

from __future__ import annotations

import pytest
import torch

from lingalign.analysis.pooling import encode, masked_mean, pooled_layers
from lingalign.models import load_model, load_tokenizer

SENTENCES = [
    "The cat sat on the mat.",
    "A much longer sentence, with several clauses, that forces the short ones in its batch to be padded a lot.",
    "今天天气很好。",
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return load_model(str(tiny_model_dir)), load_tokenizer(str(tiny_model_dir))


def test_one_vector_per_layer_and_sentence(tiny):
    model, tokenizer = tiny
    pooled = pooled_layers(model, tokenizer, SENTENCES)
    assert pooled.shape == (model.config.num_hidden_layers + 1, 3, model.config.hidden_size)
    assert pooled.dtype == torch.float32 and torch.isfinite(pooled).all()


@pytest.mark.parametrize("side", ["right", "left"])
def test_padding_does_not_change_the_vector(tiny, side):
    model, tokenizer = tiny
    alone = [pooled_layers(model, tokenizer, [s], padding_side=side) for s in SENTENCES]
    batched = pooled_layers(model, tokenizer, SENTENCES, batch_size=3, padding_side=side)
    lengths = [len(ids) for ids, _ in encode(tokenizer, SENTENCES)]
    assert len(set(lengths)) == 3  # the batch really is padded
    for i, single in enumerate(alone):
        torch.testing.assert_close(batched[:, i], single[:, 0], atol=1e-5, rtol=1e-4)


def test_differs_from_the_padded_length_mean_of_the_reference_code(tiny):
    model, tokenizer = tiny
    ours = pooled_layers(model, tokenizer, SENTENCES, batch_size=3, keep_first=True)  # all tokens, as embedding.py
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.inference_mode():
        states = model.model(**batch, output_hidden_states=True).hidden_states
    mask = batch["attention_mask"]
    width, short = mask.shape[1], int(mask[0].sum())
    for layer, hidden in enumerate(states):
        reference = (mask[..., None] * hidden).mean(dim=1)  # embedding.py: divides by the padded length
        assert not torch.allclose(reference[0], ours[layer, 0], atol=1e-3)
        torch.testing.assert_close(reference[0], ours[layer, 0] * short / width, atol=1e-5, rtol=1e-4)


def test_first_position_is_left_out_unless_asked(tiny):
    model, tokenizer = tiny
    (ids, pool), = encode(tokenizer, [SENTENCES[0]])
    assert pool[0] == 0 and all(pool[1:])
    assert encode(tokenizer, [SENTENCES[0]], keep_first=True)[0][1] == [1] * len(ids)
    (_, single), = encode(tokenizer, ["a"])  # a one-token sentence keeps its only token
    assert single == [1]
    without = pooled_layers(model, tokenizer, [SENTENCES[0]])[:, 0]
    with torch.inference_mode():
        states = model.model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
    for layer, hidden in enumerate(states):
        torch.testing.assert_close(without[layer], hidden[0, 1:].mean(dim=0), atol=1e-5, rtol=1e-4)


def test_masked_mean_ignores_nan_in_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [float("nan"), float("nan")]]])
    pool = torch.tensor([[True, True, False]])
    torch.testing.assert_close(masked_mean(hidden, pool), torch.tensor([[2.0, 3.0]]))


@pytest.mark.parametrize("template", ["alpaca", "chat"])
def test_templates_pool_only_the_sentence_tokens(tiny, template):
    _, tokenizer = tiny
    (ids, pool), = encode(tokenizer, [SENTENCES[0]], template)
    assert len(ids) > len(encode(tokenizer, [SENTENCES[0]])[0][0]) + 5  # the template adds tokens
    kept = [token for token, keep in zip(ids, pool) if keep]
    assert tokenizer.decode(kept).strip() == SENTENCES[0]
