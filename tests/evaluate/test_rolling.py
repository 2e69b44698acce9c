"""The rolling batch decodes exactly what ``model.generate`` decodes, prompt by prompt."""

from __future__ import annotations

import pytest

from lingalign.evaluate.generate import HFGenerator
from lingalign.evaluate.rolling import supports_rolling

PROMPTS = [
    "Translate: hello world, this is a much longer prompt than the others",
    "Hi",
    "The news today is",
    "A list of fruit: apple, pear,",
    "Numbers 1 2 3",
    "### Instruction:\nSay something long about the weather in spring\n\n### Response:",
    "ok",
]


@pytest.fixture(scope="module")
def generator(tiny_model_dir):
    return HFGenerator(str(tiny_model_dir), dtype="float32")


def _run(generator, rolling, **kwargs):
    batches = list(generator.generate(PROMPTS, rolling=rolling, **kwargs))
    predictions = dict(pair for batch in batches for pair in batch)
    assert sorted(predictions) == list(range(len(PROMPTS)))  # every prompt answered exactly once
    return predictions, batches


def test_the_tiny_llama_takes_the_rolling_path(generator, monkeypatch):
    assert supports_rolling(generator.model)

    def refuse(*args, **kwargs):
        raise AssertionError("model.generate must not be called on the rolling path")

    monkeypatch.setattr(generator.model, "generate", refuse)
    _run(generator, None, max_new_tokens=3, batch_size=2)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 16])
def test_rolling_equals_generate_when_rows_finish_at_different_steps(generator, batch_size, monkeypatch):
    reference, _ = _run(generator, False, max_new_tokens=10, batch_size=1)
    # make one token that some rows produce early an end token, so rows leave the batch at different steps
    ids = [generator.tokenizer(reference[i], add_special_tokens=False)["input_ids"] for i in range(len(PROMPTS))]
    early = next(row[2] for row in ids if len(row) > 4)
    monkeypatch.setattr(generator, "eos_ids", generator.eos_ids + [early])
    expected, _ = _run(generator, False, max_new_tokens=10, batch_size=1)
    lengths = {len(generator.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in expected.values()}
    assert len(lengths) > 1, "the test needs rows that end at different steps"
    rolled, batches = _run(generator, True, max_new_tokens=10, batch_size=batch_size)
    assert rolled == expected
    assert all(len(batch) <= batch_size for batch in batches)


def test_stop_strings_end_a_row_and_are_cut(generator):
    reference, _ = _run(generator, False, max_new_tokens=12, batch_size=1)
    text = next(t for t in reference.values() if len(t) > 8)
    stop = text[3:6]
    expected, _ = _run(generator, False, max_new_tokens=12, batch_size=4, stop=[stop])
    rolled, _ = _run(generator, True, max_new_tokens=12, batch_size=4, stop=[stop])
    assert rolled == expected
    assert all(stop not in t for t in rolled.values())


def test_dataset_order_without_sorting(generator):
    expected, _ = _run(generator, False, max_new_tokens=6, batch_size=3, sort_by_length=False)
    rolled, _ = _run(generator, True, max_new_tokens=6, batch_size=3, sort_by_length=False)
    assert rolled == expected
