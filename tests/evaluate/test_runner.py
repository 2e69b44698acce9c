"""End to end on the tiny model: results shape, resume, prompt formats, choice sets, compare, CLI."""

import json
import logging
import shutil

import pytest

from lingalign import artifacts
from lingalign.cli import main as cli_main
from lingalign.evaluate import evaluate
from lingalign.generation.hf_generator import HFGenerator
from lingalign.metrics.math_answers import is_correct
from lingalign.prompting import write_model_info
from lingalign.result_files import merge_results

TASKS = "xquad-zh,flores-en-zh"
FAST = dict(limit=6, batch_size=3, max_new_tokens=6, dtype="float32")


@pytest.fixture(scope="module")
def fresh(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("fresh")
    return out, evaluate(str(tiny_model_dir), TASKS, out, **FAST)


def test_results_shape(fresh, tiny_model_dir):
    out, results = fresh
    on_disk = artifacts.read_json(out / "results.json")
    assert on_disk["tasks"] == results["tasks"]
    assert results["prompt_format"] == "alpaca" and results["generation"]["decoding"] == "greedy"
    assert results["generation"]["max_new_tokens"] == {"xquad-zh": 6, "flores-en-zh": 6}
    assert "torch" in results["versions"] and results["date"]
    assert results["provenance"]["precision"] == {"eval": "fp32"}  # the tiny model is no training output
    assert isinstance(results["provenance"]["native_bf16"], bool) and results["provenance"]["device"] == {"type": "cpu"}
    assert artifacts.read_json(out / "manifest.json")["provenance"] == results["provenance"]
    flores = results["tasks"]["flores-en-zh"]
    assert flores["n"] == 6 and flores["split"] == "devtest"
    assert set(flores["metrics"]) == {"chrf++", "bleu", "answer_lang"}
    assert "tok:zh" in flores["metrics"]["bleu"]["signature"]
    assert set(flores["copy_source"]) == {"chrf++", "bleu"} and 0 <= flores["copy_source"]["chrf++"] <= 100
    assert flores["metrics"]["answer_lang"]["expected"] == "zh"
    xquad = results["tasks"]["xquad-zh"]
    assert set(xquad["metrics"]) == {"inclusion", "em", "f1", "answer_lang"}
    for entry in results["tasks"].values():
        for metric in entry["metrics"].values():
            assert 0.0 <= metric["value"] <= 100.0
    preds = [json.loads(line) for line in (out / "predictions/xquad-zh.jsonl").read_text().splitlines()]
    assert len(preds) == 6 and {"id", "prompt", "prediction", "references"} <= set(preds[0])
    assert preds[0]["prompt"].endswith("### Response:")
    assert (out / "manifest.json").exists()


def _predictions(folder, task):
    return {r["id"]: r["prediction"] for r in artifacts.read_jsonl_tolerant(folder / "predictions" / f"{task}.jsonl")}


def test_resume_after_a_kill_equals_a_fresh_run(fresh, tiny_model_dir, tmp_path, monkeypatch, caplog):
    out, results = fresh
    resumed = tmp_path / "resumed"
    (resumed / "predictions").mkdir(parents=True)
    for task in ("xquad-zh", "flores-en-zh"):
        lines = (out / "predictions" / f"{task}.jsonl").read_text().splitlines(keepends=True)
        (resumed / "predictions" / f"{task}.jsonl").write_text("".join(lines[:3]) + lines[3][:20])  # torn line
        shutil.copy(out / "predictions" / f"{task}.settings.json", resumed / "predictions")
    generated = []
    original = HFGenerator.generate

    def counting(self, prompts, **kwargs):
        generated.extend(prompts)
        yield from original(self, prompts, **kwargs)

    monkeypatch.setattr(HFGenerator, "generate", counting)
    with caplog.at_level(logging.INFO, logger="lingalign.evaluate.runner"):
        again = evaluate(str(tiny_model_dir), TASKS, resumed, **FAST)
    # units are one batch of 3 here (2 batches < 8: one unit per batch); the first unit is stored
    # whole, the second has a torn line only, so only it is decoded again, from the same batch company
    assert "xquad-zh: 3 to generate: 3 items in 1 unit(s) of up to 3" in caplog.text
    assert "xquad-zh: 3/3 decoded" in caplog.text
    assert "xquad-zh: unit 1/1 done, 6 predictions stored" in caplog.text
    assert len(generated) == 6
    assert again["tasks"] == results["tasks"]
    for task in ("xquad-zh", "flores-en-zh"):
        assert _predictions(resumed, task) == _predictions(out, task)
        # rewritten in item order: the same file as the uninterrupted run's
        name = f"predictions/{task}.jsonl"
        assert (resumed / name).read_bytes() == (out / name).read_bytes()

    generated.clear()
    evaluate(str(tiny_model_dir), TASKS, resumed, **FAST)  # complete: nothing to generate
    assert generated == []
    more = evaluate(str(tiny_model_dir), "xquad-zh", resumed, **{**FAST, "limit": 8})
    assert len(generated) == 2 and more["tasks"]["xquad-zh"]["n"] == 8  # only the new unit (items 7-8)
    assert _predictions(resumed, "xquad-zh").items() >= _predictions(out, "xquad-zh").items()  # the 6 are kept
    assert "flores-en-zh" in more["tasks"]  # earlier tasks of the same model are kept


def test_changed_settings_start_over(fresh, tiny_model_dir, tmp_path, caplog):
    out, _ = fresh
    target = tmp_path / "changed"
    shutil.copytree(out / "predictions", target / "predictions")
    with caplog.at_level("WARNING"):
        evaluate(str(tiny_model_dir), "xquad-zh", target, **{**FAST, "max_new_tokens": 4})
    assert "starting over" in caplog.text
    assert len(_predictions(target, "xquad-zh")) == 6


def test_chat_format_and_model_recorded_format(tiny_model_dir, tmp_path):
    results = evaluate(str(tiny_model_dir), "xquad-en", tmp_path / "chat", prompt_format="chat",
                       **{**FAST, "limit": 2})
    assert results["prompt_format"] == "chat"
    record = artifacts.read_jsonl_tolerant(tmp_path / "chat/predictions/xquad-en.jsonl")[0]
    assert record["prompt"].startswith("<|im_start|>user") and record["prompt"].endswith("assistant\n")

    model = tmp_path / "trained"
    shutil.copytree(tiny_model_dir, model)
    write_model_info(model, "chat")
    assert evaluate(str(model), "xquad-en", tmp_path / "m", **{**FAST, "limit": 1})["prompt_format"] == "chat"


def test_recipe_sets_and_choice_task(tiny_model_dir, tmp_path, capsys):
    rows = [{"premise": "Sky is", "options": [" blue", " green"], "label": 0},
            {"prompt": "Grass is", "options": [" blue", " green"], "label": 1}]
    (tmp_path / "mc.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "t.en").write_text("Hello.\nThanks.\n")
    (tmp_path / "t.vi").write_text("Xin chào.\nCảm ơn.\n")
    (tmp_path / "eval.yaml").write_text(
        "eval:\n  sets:\n    - {name: mc, type: choice, path: mc.jsonl, lang: en}\n"
        "    - {name: hello, type: translation, prefix: t, src_lang: en, tgt_lang: vi, max_new_tokens: 4}\n")
    code = cli_main(["eval", "--model", str(tiny_model_dir), "--recipe", str(tmp_path / "eval.yaml"),
                     "-o", str(tmp_path / "out"), "--dtype", "float32"])
    assert code == 0
    results = artifacts.read_json(tmp_path / "out/results.json")
    assert results["tasks"]["mc"]["metrics"]["accuracy"]["value"] in (0.0, 50.0, 100.0)
    assert results["tasks"]["hello"]["n"] == 2 and "mc" in capsys.readouterr().out
    preds = artifacts.read_jsonl_tolerant(tmp_path / "out/predictions/mc.jsonl")
    assert all(p["prediction"] == max(range(2), key=lambda i: p["scores"][i]) for p in preds)


def test_compare_puts_results_side_by_side(fresh, tiny_model_dir, tmp_path, capsys):
    out, _ = fresh
    other = tmp_path / "other"
    evaluate(str(tiny_model_dir), "flores-en-zh", other, **{**FAST, "limit": 3})
    assert cli_main(["eval", "--compare", str(out / "results.json"), str(other / "results.json")]) == 0
    text = capsys.readouterr().out
    assert "chrf++" in text and "xquad-zh" in text and out.name in text and "other" in text
    assert "chrf++ (copy)" in text and "returning the source sentence unchanged" in text


@pytest.mark.parametrize("argv, message", [
    (["--task", "xqaud-zh"], "did you mean xquad-zh"),
    (["--task", "flores-en-zh", "--data-root", "/nonexistent"], "data root not found"),
    (["--task", "xquad-zh", "--limit", "0"], "--limit"),
    (["--task", "xquad-zh", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["--task", "xquad-zh", "--max-new-tokens", "0"], "--max-new-tokens must be at least 1"),
    (["--task", "mgsm-xx"], "unknown MGSM language 'xx'"),
    (["--task", "xcopa-zz"], "unknown XCOPA language 'zz'"),
])
def test_cli_bad_input_exits_2(tiny_model_dir, tmp_path, capsys, argv, message):
    code = cli_main(["eval", "--model", str(tiny_model_dir), "-o", str(tmp_path / "o"), *argv])
    assert code == 2 and message in capsys.readouterr().err


def test_cli_model_that_cannot_load(tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "llama"}')
    code = cli_main(["eval", "--model", str(broken), "--task", "xquad-zh", "--limit", "1", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "could not load" in err and "Traceback" not in err
    code = cli_main(["eval", "--compare", str(tmp_path / "missing.json")])
    assert code == 2


def test_cli_list(capsys):
    assert cli_main(["eval", "--list"]) == 0
    out = capsys.readouterr().out
    assert "xquad-zh" in out and "flores-en-zh" in out and "ntrex-en-vi" in out
    assert "mgsm-zh" in out and "xcopa-zh" in out and "mgsm-<lang>[-cot|-cot-en]" in out


def test_mgsm_and_xcopa_end_to_end(tiny_model_dir, tmp_path):
    out = tmp_path / "bench"
    results = evaluate(str(tiny_model_dir), "mgsm-zh,mgsm-zh-cot-en,xcopa-zh", out, **{**FAST, "limit": 4})
    mgsm, pivot, xcopa = (results["tasks"][t] for t in ("mgsm-zh", "mgsm-zh-cot-en", "xcopa-zh"))
    assert (mgsm["kind"], mgsm["prompt_variant"], mgsm["question_lang"]) == ("math", "direct", "zh")
    assert set(mgsm["metrics"]) == {"accuracy"} and mgsm["n"] == 4 and 0 <= mgsm["no_number"] <= 4
    assert (pivot["prompt_variant"], pivot["lang"], pivot["instruction_lang"]) == ("cot-en", "en", "en")
    assert set(pivot["metrics"]) == {"accuracy", "answer_lang"}
    assert set(xcopa["metrics"]) == {"accuracy"} and "(sum)" in xcopa["metrics"]["accuracy"]["scoring"]
    preds = artifacts.read_jsonl_tolerant(out / "predictions/mgsm-zh.jsonl")
    correct = sum(is_correct(p["prediction"], p["references"][0]) for p in preds)
    assert mgsm["metrics"]["accuracy"]["value"] == 25 * correct
    assert preds[0]["references"] == ["18"] and "只给出最终答案" in preds[0]["prompt"]
    choices = artifacts.read_jsonl_tolerant(out / "predictions/xcopa-zh.jsonl")
    assert all(p["prediction"] == max(range(2), key=lambda i: p["scores"][i]) for p in choices)


def test_math_prompt_variant_is_part_of_the_fingerprint(tiny_model_dir, tmp_path, caplog):
    (tmp_path / "m.tsv").write_text("Two plus two?\t4\nThree times three?\t9\n", encoding="utf-8")
    recipe = tmp_path / "eval.yaml"
    common = ["eval", "--model", str(tiny_model_dir), "--recipe", str(recipe), "-o", str(tmp_path / "o"),
              "--dtype", "float32", "--max-new-tokens", "4"]
    recipe.write_text("eval:\n  sets:\n    - {name: m, type: math, path: m.tsv, lang: en}\n")
    assert cli_main(common) == 0
    first = artifacts.read_json(tmp_path / "o/predictions/m.settings.json")["fingerprint"]
    recipe.write_text("eval:\n  sets:\n    - {name: m, type: math, path: m.tsv, lang: en, prompt_variant: cot}\n")
    with caplog.at_level("WARNING"):
        assert cli_main(common) == 0
    assert "starting over" in caplog.text
    assert artifacts.read_json(tmp_path / "o/predictions/m.settings.json")["fingerprint"] != first
    assert artifacts.read_json(tmp_path / "o/results.json")["tasks"]["m"]["prompt_variant"] == "cot"




def _other_machine(results: dict) -> dict:
    """The same results as if decoded in bf16 on a CPU with AMX."""
    block = {**results["provenance"], "precision": {"eval": "bf16"}, "native_bf16": True,
             "cpu": {**results["provenance"]["cpu"], "kind": "AMX-BF16 (native bf16)", "native_bf16": True}}
    return {**results, "provenance": block, "generation": {**results["generation"], "dtype": "bfloat16"}}


def test_compare_says_when_precision_or_cpu_kind_differ(fresh, tmp_path, capsys):
    out, results = fresh
    here, there = tmp_path / "here", tmp_path / "there"
    artifacts.write_json(here / "results.json", results)
    artifacts.write_json(there / "results.json", _other_machine(results))
    kind = results["provenance"]["cpu"]["kind"]
    assert cli_main(["eval", "--compare", str(here), str(there), "--json", str(tmp_path / "c.json")]) == 0
    text = capsys.readouterr().out
    assert f"here (alpaca): eval fp32 · {kind}" in text
    note = [line for line in text.splitlines() if line.startswith("* there (alpaca) vs here (alpaca)")]
    assert len(note) == 1 and "eval precision fp32 vs bf16" in note[0] and f"CPU kind {kind} vs AMX-BF16" in note[0]
    assert "not comparable bit for bit" in note[0]
    saved = artifacts.read_json(tmp_path / "c.json")
    assert [r["provenance"]["precision"]["eval"] for r in saved["provenance"]] == ["fp32", "bf16"]
    assert any("not comparable bit for bit" in n for n in saved["notes"])
    # The same machine and precision: no such note.
    assert cli_main(["eval", "--compare", str(here), str(out)]) == 0
    assert "bit for bit" not in capsys.readouterr().out


def test_merged_results_keep_the_provenance_of_tasks_from_another_machine(fresh, tmp_path):
    _, results = fresh
    old = _other_machine(results)
    artifacts.write_json(tmp_path / "results.json", old)
    new = {**results, "tasks": {"flores-en-zh": results["tasks"]["flores-en-zh"]}}
    merged = merge_results(tmp_path / "results.json", new)
    assert merged["provenance"] == results["provenance"]
    assert merged["tasks"]["xquad-zh"]["provenance"]["precision"] == {"eval": "bf16"}
    assert "provenance" not in merged["tasks"]["flores-en-zh"]
    # Same machine and precision: nothing is tagged.
    artifacts.write_json(tmp_path / "results.json", results)
    assert "provenance" not in merge_results(tmp_path / "results.json", new)["tasks"]["xquad-zh"]
