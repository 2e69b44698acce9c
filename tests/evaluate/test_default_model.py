"""The real default model end to end (slow: a few minutes on 2 CPU cores)."""

import pytest

from lingalign import artifacts
from lingalign.cli import main as cli_main


@pytest.mark.slow
def test_default_model_writes_all_metrics(default_model_dir, tmp_path):
    out = tmp_path / "eval"
    code = cli_main(["eval", "--model", str(default_model_dir), "--task", "xquad-zh,flores-en-zh",
                     "--limit", "5", "-o", str(out)])
    assert code == 0
    tasks = artifacts.read_json(out / "results.json")["tasks"]
    assert tasks["xquad-zh"]["n"] == 5 and tasks["flores-en-zh"]["n"] == 5
    assert {"inclusion", "em", "f1", "answer_lang"} <= set(tasks["xquad-zh"]["metrics"])
    flores = tasks["flores-en-zh"]["metrics"]
    assert {"chrf++", "bleu", "answer_lang"} <= set(flores)
    assert flores["bleu"]["signature"].startswith("nrefs:1") and "tok:zh" in flores["bleu"]["signature"]
    assert flores["chrf++"]["value"] > 0  # a real model shares characters with the reference
    preds = artifacts.read_jsonl_tolerant(out / "predictions/flores-en-zh.jsonl")
    assert all(p["prediction"] and "### " not in p["prediction"] for p in preds)
