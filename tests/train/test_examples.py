"""Tokenisation: labels exactly on the response + EOS; the over-length policy is counted."""

from __future__ import annotations

import json

import pytest

from lingalign.errors import UserError
from lingalign.models import load_tokenizer
from lingalign.prompting import build_prompt
from lingalign.train.examples import IGNORE, load_examples, tokenize_record

RECORD = {"instruction": "Translate the following sentences from English to Chinese.",
          "input": "The cat sat on the mat.", "output": "猫坐在垫子上。"}


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    return load_tokenizer(str(tiny_model_dir))


@pytest.mark.parametrize("fmt", ["alpaca", "chat"])
def test_labels_cover_exactly_response_and_eos(tok, fmt):
    example, status = tokenize_record(RECORD, tok, fmt, 512, "drop")
    assert status == "kept"
    prompt = build_prompt(RECORD["instruction"], RECORD["input"], fmt, tok)
    prompt_ids = tok(prompt, add_special_tokens=(fmt != "chat"))["input_ids"]
    assert example.ids[: example.n_prompt] == prompt_ids
    labels = example.labels
    assert labels[: len(prompt_ids)] == [IGNORE] * len(prompt_ids)
    response = [t for t in labels if t != IGNORE]
    assert response[-1] == tok.eos_token_id
    assert tok.decode(response[:-1]) == RECORD["output"]
    assert len(labels) == len(example.ids)


def test_overlength_policies(tok):
    long_input = dict(RECORD, input="The cat sat on the mat. " * 60)
    full, _ = tokenize_record(long_input, tok, "alpaca", 4096, "drop")
    limit = len(full) - 40
    dropped, status = tokenize_record(long_input, tok, "alpaca", limit, "drop")
    assert dropped is None and status == "dropped_overlength"
    cut, status = tokenize_record(long_input, tok, "alpaca", limit, "truncate")
    assert status == "truncated" and len(cut) <= limit
    assert cut.ids[-1] == tok.eos_token_id
    assert cut.ids[cut.n_prompt:] == full.ids[full.n_prompt:]  # the response is intact
    # When even the instruction + response do not fit, truncate drops rather than cut the response.
    long_output = dict(RECORD, input="short", output="猫坐在垫子上。" * 80)
    assert tokenize_record(long_output, tok, "alpaca", 128, "truncate") == (None, "dropped_overlength")


def write(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_counts_reported(tmp_path, tok):
    records = [RECORD, dict(RECORD, input="word " * 400), dict(RECORD, output="  ")]
    examples, counts = load_examples(write(tmp_path / "train.jsonl", records), tok, "alpaca", 256, "drop")
    assert len(examples) == 1
    assert counts["records"] == 3 and counts["kept"] == 1
    assert counts["dropped_overlength"] == 1 and counts["dropped_empty"] == 1


def test_empty_and_all_dropped_are_user_errors(tmp_path, tok):
    with pytest.raises(UserError, match="empty"):
        load_examples(write(tmp_path / "empty.jsonl", []), tok, "alpaca", 256, "drop")
    with pytest.raises(UserError, match="all 1 records were dropped"):
        load_examples(write(tmp_path / "long.jsonl", [dict(RECORD, input="word " * 400)]), tok, "alpaca", 64, "drop")
    with pytest.raises(UserError, match=r"bad.jsonl:1 \[output\]"):
        load_examples(write(tmp_path / "bad.jsonl", [{"instruction": "x", "output": 3}]), tok, "alpaca", 64, "drop")
