"""Seeded sampling in the generation layer: per-row seeds, the same draws in any batch and on every path,
the right distribution, greedy untouched; batched continuation scores equal token-by-token ones; vLLM's
per-request seeds and prompt log-probabilities through a stand-in."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
import torch

from lingalign.generation.hf_generator import HFGenerator
from lingalign.generation.loglik import continuation_logprobs, seq2seq_logprobs
from lingalign.generation.sampling import Sampling, sample_tokens, step_uniform
from lingalign.generation.vllm_generator import VLLMGenerator

PROMPTS = ["The cat sat on", "In September we", "Hello", "The cat sat on",
           "A much longer prompt about the weather in Detroit and the news of the day"]
SEEDS = [11, 12, 13, 14, 15]


@pytest.fixture(scope="module")
def generator(tiny_model_dir):
    return HFGenerator(str(tiny_model_dir), dtype="float32")


def decode(generator, prompts=PROMPTS, **kwargs):
    out = {}
    for batch in generator.generate(prompts, max_new_tokens=10, **kwargs):
        out.update(batch)
    return [out[i] for i in range(len(prompts))]


def test_a_sample_depends_on_its_seed_only_not_on_batch_or_path(generator):
    sampling = Sampling(temperature=1.0, top_p=0.95)
    runs = [decode(generator, batch_size=b, rolling=r, sampling=sampling, seeds=SEEDS)
            for b, r in ((1, True), (2, True), (5, True), (2, False), (1, False))]
    assert all(run == runs[0] for run in runs[1:])  # rolling batch and model.generate draw alike
    assert runs[0][0] != runs[0][3]  # the same prompt with another seed is another sample
    alone = decode(generator, prompts=[PROMPTS[3]], batch_size=1, sampling=sampling, seeds=[SEEDS[3]])
    assert alone == [runs[0][3]]  # the row's company does not matter
    greedy = decode(generator, batch_size=2)
    assert greedy[0] == greedy[3] and runs[0] != greedy  # a random model's samples are not its argmax


def test_near_zero_temperature_or_top_p_is_greedy_and_greedy_is_unchanged(generator):
    greedy = decode(generator, batch_size=2)
    assert decode(generator, batch_size=2, rolling=False) == greedy
    assert decode(generator, batch_size=2, sampling=Sampling(temperature=1e-4), seeds=SEEDS) == greedy
    assert decode(generator, batch_size=2, sampling=Sampling(top_p=1e-9), seeds=SEEDS) == greedy
    with pytest.raises(ValueError, match="one seed per prompt"):
        decode(generator, batch_size=2, sampling=Sampling(), seeds=SEEDS[:2])


def test_draws_follow_the_softmax_and_the_nucleus():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -8.0]])
    n = 4000
    draws = Counter(int(sample_tokens(logits, Sampling(), [seed], [0])[0]) for seed in range(n))
    expected = torch.softmax(logits[0], -1)
    for token in range(5):
        assert abs(draws[token] / n - float(expected[token])) < 0.03
    # top_p 0.8: the nucleus is {0, 1} (0.64 + 0.24 >= 0.8), drawn in proportion 0.64 : 0.24
    nucleus = Counter(int(sample_tokens(logits, Sampling(top_p=0.8), [seed], [0])[0]) for seed in range(n))
    assert set(nucleus) == {0, 1} and abs(nucleus[0] / n - 0.64 / 0.88) < 0.03
    # half the temperature sharpens: p0 = e^4 / (e^4 + e^2 + 1 + ...)
    cold = Counter(int(sample_tokens(logits, Sampling(temperature=0.5), [seed], [0])[0]) for seed in range(n))
    assert abs(cold[0] / n - float(torch.softmax(logits[0] / 0.5, -1)[0])) < 0.03
    assert step_uniform(1, 0) == step_uniform(1, 0) != step_uniform(1, 1)
    with pytest.raises(Exception, match="temperature"):
        Sampling(temperature=0)


def test_batched_continuation_scores_equal_token_by_token(generator):
    tok, model = generator.tokenizer, generator.model
    contexts = [tok(t)["input_ids"] for t in ("The sky is", "A much longer context about the weather in Detroit", "Hi")]
    continuations = [tok(t, add_special_tokens=False)["input_ids"] for t in (" blue", " and the news today", "")]
    got = generator.continuation_logprobs(contexts, continuations, batch_size=2)
    assert got[2] == []
    for context, continuation, values in zip(contexts, continuations, got):
        assert len(values) == len(continuation)
        for j, target in enumerate(continuation):
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([context + continuation[:j]])).logits[0, -1]
            assert values[j] == pytest.approx(torch.log_softmax(logits.double(), -1)[target].item(), abs=1e-4)
    one_by_one = continuation_logprobs(model, contexts, continuations, pad_id=tok.pad_token_id, batch_size=1)
    assert sum(one_by_one, []) == pytest.approx(sum(got, []), abs=1e-4)


def test_seq2seq_scores_equal_token_by_token(tmp_path):
    from transformers import MarianConfig, MarianMTModel

    torch.manual_seed(0)
    config = MarianConfig(vocab_size=50, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                          decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, pad_token_id=0,
                          decoder_start_token_id=0, eos_token_id=1, max_position_embeddings=64)
    model = MarianMTModel(config).eval()
    sources, targets = [[5, 6, 7, 1], [8, 9, 1]], [[10, 11, 12, 1], [13, 1]]
    got = seq2seq_logprobs(model, sources, targets, pad_id=0, decoder_start_id=0, batch_size=2)
    for source, target, values in zip(sources, targets, got):
        decoder = [0] + target[:-1]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([source]), decoder_input_ids=torch.tensor([decoder])).logits[0]
        by_hand = torch.log_softmax(logits.double(), -1)[torch.arange(len(target)), torch.tensor(target)]
        assert values == pytest.approx(by_hand.tolist(), abs=1e-5)


class FakeVLLM:
    """``LLM.generate`` records its requests and parameters; scoring requests get prompt log-probabilities
    of -0.1 x the token's position."""

    def __init__(self):
        self.calls = []
        fake = self

        class LLM:
            def __init__(self, model, **kwargs):
                pass

            def generate(self, prompts, params, use_tqdm=True, lora_request=None):
                fake.calls.append((prompts, params))
                out = []
                for p in prompts:
                    ids = p["prompt_token_ids"]
                    logprobs = [None] + [{t: SimpleNamespace(logprob=-0.1 * k)} for k, t in enumerate(ids) if k]
                    out.append(SimpleNamespace(outputs=[SimpleNamespace(text="x", finish_reason="stop")],
                                               prompt_logprobs=logprobs))
                return out

        self.LLM = LLM
        self.SamplingParams = lambda **kwargs: SimpleNamespace(**kwargs)


def test_vllm_takes_a_seed_per_request_and_scores_with_prompt_logprobs(tiny_model_dir):
    fake = FakeVLLM()
    gen = VLLMGenerator(str(tiny_model_dir), dtype="float32", vllm=fake)
    list(gen.generate(["a", "b"], max_new_tokens=5, sampling=Sampling(0.7, 0.9), seeds=[3, 4]))
    params = fake.calls[0][1]
    assert [(p.temperature, p.top_p, p.seed, p.max_tokens) for p in params] == [(0.7, 0.9, 3, 5), (0.7, 0.9, 4, 5)]
    list(gen.generate(["a"], max_new_tokens=5))
    assert fake.calls[1][1].temperature == 0.0 and not hasattr(fake.calls[1][1], "seed")  # greedy as before
    scores = gen.continuation_logprobs([[5, 6, 7], [8]], [[9, 10], []])
    assert scores == [pytest.approx([-0.3, -0.4]), []]  # the continuation's positions 3 and 4 only
    assert fake.calls[2][1].prompt_logprobs == 0 and fake.calls[2][0] == [{"prompt_token_ids": [5, 6, 7, 9, 10]}]
