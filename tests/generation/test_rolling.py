"""The rolling batch decodes exactly what ``model.generate`` decodes, prompt by prompt."""

from __future__ import annotations

import pytest

from lingalign.generation.hf_generator import HFGenerator
from lingalign.generation.rolling import RollingDecoder, prefix_runs, rolling_order, supports_rolling

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


PASSAGE_A = ("Passage: The river rises in the northern hills, runs through three market towns and the old "
             "capital, and reaches the sea after four hundred kilometres.\nQuestion: ")
PASSAGE_B = ("Passage: The library opened in 1850 with two thousand books; a fire in 1901 destroyed half of "
             "them, and the new building was finished in 1910.\nQuestion: ")
QA_PROMPTS = [PASSAGE_A + "Where does the river rise?", PASSAGE_B + "When did the library open?",
              PASSAGE_A + "How long is it?", PASSAGE_B + "What happened in 1901?", "Hi",
              PASSAGE_A + "What does it run through before it reaches the sea?"]


def test_questions_on_one_passage_prefill_it_once_and_answer_as_generate_does(generator):
    expected = dict(pair for batch in generator.generate(QA_PROMPTS, max_new_tokens=8, batch_size=1, rolling=False)
                    for pair in batch)
    rolled = dict(pair for batch in generator.generate(QA_PROMPTS, max_new_tokens=8, batch_size=6, rolling=True)
                  for pair in batch)
    assert rolled == expected
    total = sum(generator.token_lengths(QA_PROMPTS))
    passage = len(generator.tokenizer(PASSAGE_A)["input_ids"])
    # each passage is run once, not three (or two) times
    assert generator.last_decoder.prefill_tokens <= total - passage


def test_prefix_runs_keep_passages_apart():
    template = [1] * 20
    a, b, c = template + [5] * 100, template + [6] * 100, template + [7] * 100
    prompts = [a + [1], a + [2], a + [3], c, b + [1], b + [2], [9, 9], [8, 8, 8], template + [4]]
    assert prefix_runs(prompts, 16) == [(0, 3, 120), (3, 4, 0), (4, 6, 120), (6, 9, 0)]
    assert prefix_runs([template + [i] for i in range(5)], 16) == [(0, 5, 20)]  # one template for all
    assert prefix_runs([template, template], 16) == [(0, 2, 19)]  # each row keeps a token of its own
    assert prefix_runs([[1], [2]], 16) == [(0, 2, 0)]


def test_rolling_order_keeps_passages_together_and_goes_longest_first():
    template = [1] * 20
    a, b = template + [5] * 100, template + [6] * 50
    prompts = [b + [1], [9, 9], a + [2, 2, 2], b + [2, 2], a + [1], template + [3] * 300, [8] * 5]
    order = rolling_order(prompts, 16)
    assert sorted(order) == list(range(len(prompts)))
    assert order[0] == 5  # the longest prompt first
    assert order[1:3] == [2, 4] and order[3:5] == [3, 0]  # each passage together, its longest question first
    assert order[5:] == [6, 1]  # prompts that share nothing, by length
    # with a template common to all prompts, passages still bind their questions, the template alone does not
    shared_template = [b + [1], a + [2, 2, 2], b + [2, 2], a + [1], template + [3] * 300, template + [4] * 10]
    assert rolling_order(shared_template, 16) == [4, 1, 3, 2, 0, 5]
    # prompts that share only a template (MLQA: no shared passages) are ordered by length alone
    lengths = [7, 30, 2, 19, 55, 3]
    assert rolling_order([template + [i] * n for i, n in enumerate(lengths, start=2)], 16) == [4, 1, 3, 0, 5, 2]


@pytest.mark.parametrize("budget", [1, 40])
def test_a_prefill_split_by_its_token_budget_decodes_the_same(generator, budget):
    expected = dict(pair for batch in generator.generate(QA_PROMPTS, max_new_tokens=8, batch_size=1, rolling=False)
                    for pair in batch)
    ids = generator.tokenizer(QA_PROMPTS)["input_ids"]
    decoder = RollingDecoder(generator.model, generator.tokenizer, generator.eos_ids, generator.eos_ids[0],
                            prefill_budget=budget)
    forwards = []
    real_forward = decoder._forward
    decoder._forward = lambda cache, **inputs: (forwards.append(inputs["input_ids"].shape)
                                                or real_forward(cache, **inputs))
    rolled = {i: generator.tokenizer.decode(t, skip_special_tokens=True)
              for i, t in decoder.run(ids, rolling_order(ids), max_new_tokens=8, batch_size=6)}
    assert rolled == expected
    assert all(rows == 1 or rows * width <= budget for rows, width in forwards)  # a longer row runs alone
    assert any(rows * width > budget for rows, width in forwards)  # the test has rows longer than the budget
    unsplit = RollingDecoder(generator.model, generator.tokenizer, generator.eos_ids, generator.eos_ids[0])
    list(unsplit.run(ids, rolling_order(ids), max_new_tokens=8, batch_size=6))
    assert unsplit.prefill_tokens <= decoder.prefill_tokens  # splitting repeats shared prefixes, never skips work
