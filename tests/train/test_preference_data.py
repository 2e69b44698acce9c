"""Preference records -> token pairs: both layouts, the prompt masked, one prompt per pair, bad input
as one line naming the file and line (exit 2, nothing written), and the shipped sample."""

from __future__ import annotations

import json

import pytest

from lingalign.cli import main as cli_main
from lingalign.errors import UserError
from lingalign.models import load_tokenizer
from lingalign.prompting import build_prompt
from lingalign.train.examples import IGNORE, prompt_ids, response_ids
from lingalign.train.preference_data import load_pairs, pair_lengths


@pytest.fixture()
def tok(tiny_model_dir):
    return load_tokenizer(str(tiny_model_dir))


@pytest.mark.parametrize("fmt", ["alpaca", "chat"])
@pytest.mark.parametrize("alpaca_layout", [False, True])
def test_pairs_share_the_prompt_and_labels_cover_only_each_answer(tok, tmp_path, make_pref, fmt, alpaca_layout):
    folder = make_pref(tmp_path / "p", 6, alpaca=alpaca_layout)
    records = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
    examples, counts = load_pairs(folder / "train.jsonl", tok, fmt, 256, "drop")
    assert counts["records"] == counts["kept"] == counts["pairs"] == 6 and len(examples) == 12
    for record, chosen, rejected in zip(records, examples[0::2], examples[1::2]):
        instruction, text = (record["instruction"], record["input"]) if alpaca_layout else (record["prompt"], "")
        prompt = prompt_ids(tok, build_prompt(instruction, text, fmt, tok), fmt)
        for example, answer in ((chosen, record["chosen"]), (rejected, record["rejected"])):
            assert example.ids[:example.n_prompt] == prompt
            assert example.labels == [IGNORE] * len(prompt) + response_ids(tok, answer)
            assert example.ids[-1] == tok.eos_token_id
    assert pair_lengths(examples) == [max(len(c), len(r)) for c, r in zip(examples[0::2], examples[1::2])]


def test_truncation_cuts_the_input_once_for_both_answers(tok, tmp_path):
    path = tmp_path / "train.jsonl"
    record = {"instruction": "Translate into Chinese.", "input": "word " * 80,
              "chosen": "这是一个很长的回答" * 3, "rejected": "短"}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n")
    with pytest.raises(UserError, match="all 1 pairs were dropped"):
        load_pairs(path, tok, "alpaca", 200, "drop")
    (chosen, rejected), counts = load_pairs(path, tok, "alpaca", 200, "truncate")
    assert counts["truncated"] == 1 and len(chosen) <= 200
    assert chosen.ids[:chosen.n_prompt] == rejected.ids[:rejected.n_prompt]  # the same (cut) prompt
    assert chosen.labels[chosen.n_prompt:] == response_ids(tok, record["chosen"])  # answers never cut


def test_the_shipped_sample_reads_as_pairs_in_the_users_language(tok, samples_dir):
    path = samples_dir / "preferences" / "alpaca_zh_answer_language.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert 32 <= len(records) <= 64
    assert all(r["chosen"] != r["rejected"] and any("\u4e00" <= ch <= "\u9fff" for ch in r["chosen"])
               for r in records)
    _, counts = load_pairs(path, tok, "alpaca", 1024, "drop")
    assert counts["pairs"] == len(records)


BAD = {
    "missing_key": ({"prompt": "hi", "chosen": "a"}, "missing 'rejected'"),
    "empty_chosen": ({"prompt": "hi", "chosen": "  ", "rejected": "b"}, r"\[chosen\]: empty chosen"),
    "not_text": ({"prompt": "hi", "chosen": ["a"], "rejected": "b"}, r"\[chosen\]: expected a string"),
    "sft_data": ({"instruction": "hi", "input": "", "output": "a"}, "a supervised record .* method: dpo expects"),
}


@pytest.mark.parametrize("case", [*BAD, "all_identical"])
def test_bad_preference_data_exits_2_naming_file_and_line_and_writes_nothing(case, tiny_model_dir, pref_dir,
                                                                             tmp_path, capsys):
    data = pref_dir / "train.jsonl"
    lines = data.read_text().splitlines()
    if case == "all_identical":
        records = [json.loads(line) for line in lines]
        lines = [json.dumps({**r, "rejected": r["chosen"]}, ensure_ascii=False) for r in records]
        line_no, message = 1, f"chosen == rejected in every one of the {len(lines)} records"
    else:
        record, message = BAD[case]
        lines.insert(2, json.dumps(record))
        line_no = 3
    data.write_text("\n".join(lines) + "\n")
    recipe = tmp_path / "dpo.yaml"
    recipe.write_text(f"model: {tiny_model_dir}\nmethod: dpo\nmax_length: 128\nprecision: fp32\n")
    out = tmp_path / "out"
    assert cli_main(["train", str(recipe), "--data", str(pref_dir), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    first = err.strip().splitlines()[0]
    assert f"{data}:{line_no}" in first and first.startswith("lingalign train: error:")
    import re

    assert re.search(message, first), first
    assert not out.exists() and not out.with_name("out.work").exists()


def test_supervised_recipe_on_preference_data_says_use_dpo(tiny_model_dir, pref_dir, tmp_path, capsys):
    recipe = tmp_path / "sft.yaml"
    recipe.write_text(f"model: {tiny_model_dir}\nprecision: fp32\n")
    assert cli_main(["train", str(recipe), "--data", str(pref_dir), "-o", str(tmp_path / "out")]) == 2
    assert "method: dpo" in capsys.readouterr().err


def test_data_may_be_a_jsonl_file_or_a_shipped_sample(tiny_model_dir, tmp_path, capsys):
    recipe = tmp_path / "dpo.yaml"
    recipe.write_text(f"model: {tiny_model_dir}\nmethod: dpo\nmax_length: 256\nprecision: fp32\nmicro_batch_size: 2\n")
    sample = "sample:preferences/alpaca_zh_answer_language.jsonl"
    out = tmp_path / "out"
    assert cli_main(["train", str(recipe), "--data", sample, "-o", str(out), "--max-steps", "1"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"]["data"].endswith("samples/preferences/alpaca_zh_answer_language.jsonl")
    assert manifest["config"]["method"] == "dpo" and manifest["inputs"]["reference_model"] == str(tiny_model_dir)
