"""The max_tokens filter counts tokens exactly as the transformers tokenizer does, and drops in builds."""

from __future__ import annotations

from collections import Counter

import pytest

from lingalign.data import build_dataset
from lingalign.data.instructions import translation_record
from lingalign.data.tokens import TokenFilter
from lingalign.prompting import build_prompt


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    from conftest import make_tiny_tokenizer

    folder = tmp_path_factory.mktemp("tiny-tokenizer")
    make_tiny_tokenizer().save_pretrained(folder)
    return folder


RECORDS = [
    {"instruction": "Translate the following sentences from English to Chinese.", "input": "Hello there.",
     "output": "你好。"},
    {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well. " * 30},
]


@pytest.mark.parametrize("fmt", ["alpaca", "chat"])
def test_lengths_equal_the_transformers_tokenizer_plus_eos(tokenizer_dir, fmt):
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(tokenizer_dir)
    expected = [
        len(reference(build_prompt(r["instruction"], r["input"], fmt, reference) + r["output"],
                      add_special_tokens=False)["input_ids"]) + 1
        for r in RECORDS
    ]
    assert TokenFilter(str(tokenizer_dir), 10_000, fmt).lengths(RECORDS) == expected


def test_over_long_examples_are_dropped_and_counted(tokenizer_dir):
    token_filter = TokenFilter(str(tokenizer_dir), 10_000)
    short, long = token_filter.lengths(RECORDS)
    dropped = Counter()
    kept = list(TokenFilter(str(tokenizer_dir), (short + long) // 2).keep(iter(RECORDS * 3), dropped))
    assert kept == [RECORDS[0]] * 3 and dropped == {"too_many_tokens": 3}


def test_build_with_max_tokens_reports_drops(tmp_path, tokenizer_dir):
    from data.test_build import bitext, corpus, read, recipe  # tests/ is on pythonpath (pyproject)

    prefix = corpus(tmp_path, n=50)
    with open(f"{prefix}.en", "a", encoding="utf-8") as en, open(f"{prefix}.zh", "a", encoding="utf-8") as zh:
        en.write("A very long sentence, " * 20 + "\n")
        zh.write("一个非常长的句子，" * 20 + "\n")
    manifest = build_dataset(recipe(tmp_path, max_tokens=400, tokenizer=str(tokenizer_dir), sources=[bitext()]),
                             tmp_path / "out")
    assert manifest["dropped"]["news"] == {"too_many_tokens": 1}
    assert len(read(tmp_path / "out")) == 50


def test_byte_bound_skips_tokenizing_but_never_changes_the_decision(tokenizer_dir, samples_dir):
    en = (samples_dir / "bitext" / "newstest2017.en-zh.en").read_text(encoding="utf-8").splitlines()[:300]
    zh = (samples_dir / "bitext" / "newstest2017.en-zh.zh").read_text(encoding="utf-8").splitlines()[:300]
    records = [translation_record("en", "zh", e, z, seed=0) for e, z in zip(en, zh)]
    records += [{"instruction": "Quote it.", "input": "", "output": "“(ok)” — :::"}]
    exact = TokenFilter(str(tokenizer_dir), 10_000).lengths(records)
    for limit in (200, 400, 700):
        token_filter = TokenFilter(str(tokenizer_dir), limit)
        assert token_filter.template_cost is not None  # byte-level BPE without normalizer
        assert all(token_filter.bound(r) >= n for r, n in zip(records, exact))
        token_filter.fits(records[:5])  # first batch: counted in full, bound confirmed
        assert token_filter.fits(records) == [n <= limit for n in exact]
