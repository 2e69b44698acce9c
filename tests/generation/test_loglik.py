"""Log-likelihood scores of answer options, checked against a token-by-token computation."""

from __future__ import annotations

import pytest
import torch

from lingalign.generation.loglik import option_logprobs
from lingalign.models import load_model, load_tokenizer


def test_loglik_scores_only_option_tokens(tiny_model_dir):
    tok, model = load_tokenizer(str(tiny_model_dir)), load_model(str(tiny_model_dir))
    prompt, options = "The sky is", [" blue", " green grass"]
    got = option_logprobs(model, tok, prompt, options, reduce="sum")
    prompt_ids = tok(prompt)["input_ids"]
    for option, value in zip(options, got):
        option_ids = tok(option, add_special_tokens=False)["input_ids"]
        by_hand = 0.0
        for j, target in enumerate(option_ids):  # one forward pass per option token
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([prompt_ids + option_ids[:j]])).logits[0, -1]
            by_hand += torch.log_softmax(logits.double(), -1)[target].item()
        assert value == pytest.approx(by_hand, abs=1e-4)
    mean = option_logprobs(model, tok, prompt, options, reduce="mean")
    assert mean[1] == pytest.approx(got[1] / len(tok(options[1], add_special_tokens=False)["input_ids"]))
