"""The hf backend on the tiny model: batching does not change answers; answers come from generated ids, cut at stops."""

from __future__ import annotations

from lingalign.generation.batching import length_sorted_batches
from lingalign.generation.hf_generator import HFGenerator
from lingalign.generation.stops import cut_at_stop


def test_batched_left_padded_generation_equals_one_by_one(tiny_model_dir):
    gen = HFGenerator(str(tiny_model_dir), dtype="float32")
    prompts = ["Translate: hello world, this is a longer prompt", "Hi", "The news today is"]
    batched = dict(pair for batch in gen.generate(prompts, max_new_tokens=8, batch_size=3) for pair in batch)
    single = dict(pair for batch in gen.generate(prompts, max_new_tokens=8, batch_size=1) for pair in batch)
    assert batched == single


def test_prediction_is_cut_from_generated_ids_and_stop_strings(tiny_model_dir):
    gen = HFGenerator(str(tiny_model_dir), dtype="float32")
    prompt = "### Instruction:\nSay hi\n\n### Response:"
    [[(_, text)]] = list(gen.generate([prompt], max_new_tokens=10, batch_size=1))
    assert not text.startswith("### Instruction")  # the prompt is never part of the prediction
    assert cut_at_stop(" Paris.\n### Instruction: more", ["### Instruction:", "\n### "]) == "Paris."
    assert length_sorted_batches([3, 9, 5, 9], 2) == [[1, 3], [2, 0]]
