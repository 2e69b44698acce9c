"""Fixtures of the data stage's tests."""

from __future__ import annotations

import pytest

from conftest import make_tiny_tokenizer


@pytest.fixture(scope="session")
def tiny_seq2seq_dir(tmp_path_factory):
    """A random 1-layer Marian model on the tests' tiny BPE tokenizer."""
    import torch
    from transformers import MarianConfig, MarianMTModel

    folder = tmp_path_factory.mktemp("tiny-marian")
    tokenizer = make_tiny_tokenizer()
    torch.manual_seed(0)
    config = MarianConfig(vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                          decoder_ffn_dim=64, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id,
                          eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id,
                          forced_eos_token_id=tokenizer.eos_token_id)
    MarianMTModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
