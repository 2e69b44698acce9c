"""Fixtures for training tests: small train.jsonl files written here (independent of the data stage)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lingalign.train.recipe import TrainConfig


def read_lines(path: Path, n: int) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for _, line in zip(range(n), handle)]


def write_train_jsonl(folder: Path, samples: Path, n: int = 24) -> Path:
    """A CoIT-like mix: en->zh translation records and general records with and without input."""
    folder.mkdir(parents=True, exist_ok=True)
    en = read_lines(samples / "bitext/newstest2017.en-zh.en", n)
    zh = read_lines(samples / "bitext/newstest2017.en-zh.zh", n)
    records = []
    for i, (src, tgt) in enumerate(zip(en, zh)):
        if i % 3 == 0:
            rec = {"instruction": "Translate the following sentences from English to Chinese.", "input": src[:60],
                   "output": tgt[:16], "lang": "zh", "task": "translation", "direction": "en-zh"}
        else:
            rec = {"instruction": src[:40], "input": "", "output": tgt[: 6 + 3 * (i % 5)],
                   "lang": "zh", "task": "general", "direction": None}
        records.append({"id": f"r{i}", **rec, "source": "test"})
    with open(folder / "train.jsonl", "w", encoding="utf-8") as handle:
        for rec in records:
            handle.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return folder


@pytest.fixture()
def data_dir(tmp_path, samples_dir) -> Path:
    return write_train_jsonl(tmp_path / "data", samples_dir)


@pytest.fixture()
def tiny_config(tiny_model_dir) -> TrainConfig:
    return TrainConfig(model=str(tiny_model_dir), max_length=512, micro_batch_size=1, gradient_accumulation_steps=2,
                       learning_rate=1e-3, warmup_ratio=0.1, precision="fp32", seed=7)


@pytest.fixture()
def make_data(samples_dir):
    """``make_data(folder, n)`` writes a train.jsonl of n records into folder."""
    return lambda folder, n=24: write_train_jsonl(folder, samples_dir, n)


def write_preference_jsonl(folder: Path, samples: Path, n: int = 16, *, alpaca: bool = False) -> Path:
    """Preference pairs for an English request: the Chinese reference translation is chosen over a
    shorter cut of it (a stand-in for a worse answer); ``alpaca`` writes LLaMA-Factory's
    ``{instruction, input, chosen, rejected}`` layout, else ``{prompt, chosen, rejected}``."""
    folder.mkdir(parents=True, exist_ok=True)
    en = read_lines(samples / "bitext/newstest2017.en-zh.en", n)
    zh = read_lines(samples / "bitext/newstest2017.en-zh.zh", n)
    records = []
    for i, (src, tgt) in enumerate(zip(en, zh)):
        chosen, rejected = tgt[: 8 + 2 * (i % 4)], tgt[: 3 + (i % 3)]
        if alpaca:
            records.append({"instruction": "Translate into Chinese.", "input": src[:50], "chosen": chosen,
                            "rejected": rejected})
        else:
            records.append({"prompt": src[:40], "chosen": chosen, "rejected": rejected, "id": f"p{i}"})
    with open(folder / "train.jsonl", "w", encoding="utf-8") as handle:
        for rec in records:
            handle.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return folder


@pytest.fixture()
def pref_dir(tmp_path, samples_dir) -> Path:
    return write_preference_jsonl(tmp_path / "pref", samples_dir)


@pytest.fixture()
def dpo_config(tiny_config) -> TrainConfig:
    """DPO on the tiny model: 2 pairs per micro-batch, 2 micro-batches per step (4 pairs)."""
    return TrainConfig.model_validate({**tiny_config.model_dump(), "method": "dpo", "packing": False,
                                       "micro_batch_size": 2, "max_length": 256})


@pytest.fixture()
def make_pref(samples_dir):
    """``make_pref(folder, n, alpaca=False)`` writes a preference train.jsonl of n records into folder."""
    return lambda folder, n=16, alpaca=False: write_preference_jsonl(folder, samples_dir, n, alpaca=alpaca)
