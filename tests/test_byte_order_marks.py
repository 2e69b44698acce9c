"""Every reader drops one leading UTF-8 byte-order mark (what Notepad and Excel's "CSV UTF-8" write).

Before issue 27 a bitext file with a BOM put ``"\\ufeffhello"`` into train.jsonl and a JSONL file
with one was refused ("Unexpected UTF-8 BOM"). Each reader here reads the same content twice,
without and with the mark, and must give the same result. Fingerprints still hash the bytes.
"""

from __future__ import annotations

import codecs
import gzip
import json
from pathlib import Path

import yaml

from lingalign import artifacts
from lingalign.analysis.parallel import load_parallel
from lingalign.data import build_dataset
from lingalign.data.build import TRAIN_FILE
from lingalign.data.clean import EvalTexts
from lingalign.data.readers import (
    iter_json_array,
    read_instructions,
    read_line_pairs,
    read_translation_jsonl,
    read_tsv,
    read_wikimatrix,
)
from lingalign.data.recipe import EvalSet
from lingalign.evaluate.recipe import EvalRecipe
from lingalign.prompting import read_model_prompt_format
from lingalign.scaling.points import read_mapping_file, read_points
from lingalign.tasks.base import read_lines
from lingalign.tasks.choice import choice_task, xcopa_task
from lingalign.tasks.math_problems import read_math_jsonl, read_math_tsv
from lingalign.tasks.qa import qa_task
from lingalign.tasks.translation import translation_task
from lingalign.tasks.user_sets import load_user_set

BOM = codecs.BOM_UTF8


def pair(folder: Path, name: str, text: str) -> tuple[Path, Path]:
    """The same UTF-8 text as ``plain/name`` and, after a byte-order mark, ``bom/name``."""
    plain, marked = folder / "plain" / name, folder / "bom" / name
    for path, prefix in ((plain, b""), (marked, BOM)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(prefix + text.encode("utf-8"))
    return plain, marked


def same(read, plain: Path, marked: Path):
    """``read`` gives the same for both files, and no U+FEFF anywhere in what it gives."""
    a, b = read(plain), read(marked)
    assert a == b
    assert "\ufeff" not in repr(b)
    return b


def jsonl(*records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


# ---- artifacts: the one place --------------------------------------------------------------------

def test_artifacts_readers_drop_one_leading_mark_and_hashes_stay_on_bytes(tmp_path):
    plain, marked = pair(tmp_path, "a.jsonl", jsonl({"text": "hello"}, {"text": "world"}))
    same(lambda p: list(artifacts.iter_jsonl(p)), plain, marked)
    same(artifacts.read_jsonl_tolerant, plain, marked)
    same(artifacts.read_text, plain, marked)
    plain_json, marked_json = pair(tmp_path, "a.json", '{"text": "hello"}')
    assert same(artifacts.read_json, plain_json, marked_json) == {"text": "hello"}
    with artifacts.open_text(marked) as handle:
        assert handle.readline() == '{"text": "hello"}\n'
    assert artifacts.hash_file(plain) != artifacts.hash_file(marked)  # fingerprints: the bytes as they are
    double = tmp_path / "double.txt"
    double.write_bytes(BOM + BOM + b"x")
    assert artifacts.read_text(double) == "\ufeffx"  # only one mark is a mark; a second one is text


# ---- data: bitext and instruction readers --------------------------------------------------------

def test_bitext_readers(tmp_path):
    en, en_bom = pair(tmp_path, "c.en-zh.en", "hello\nworld\n")
    zh, zh_bom = pair(tmp_path, "c.en-zh.zh", "你好\n世界\n")
    assert list(read_line_pairs(en_bom, zh_bom)) == list(read_line_pairs(en, zh)) == [
        (1, "hello", "你好"), (2, "world", "世界")]
    same(lambda p: list(read_tsv(p)), *pair(tmp_path, "n.tsv", "hello\t你好\nworld\t世界\n"))
    same(lambda p: list(read_wikimatrix(p)), *pair(tmp_path, "w.tsv", "1.1\thello\t你好\n"))
    gz = tmp_path / "bom" / "WikiMatrix.en-zh.tsv.gz"
    gz.write_bytes(gzip.compress(BOM + "1.1\thello\t你好\n".encode("utf-8")))
    assert list(read_wikimatrix(gz)) == [(1, "hello", "你好")]
    same(lambda p: list(read_translation_jsonl(p, ("en", "zh"))),
         *pair(tmp_path, "t.jsonl", jsonl({"translation": {"en": "hello", "zh": "你好"}})))


def test_instruction_readers(tmp_path):
    record = {"instruction": "Say hi.", "input": "", "output": "Hi."}
    got = same(lambda p: list(read_instructions(p, "jsonl", {})), *pair(tmp_path, "i.jsonl", jsonl(record)))
    assert got == [(1, "Say hi.", "", "Hi.")]
    same(lambda p: list(read_instructions(p, "json", {})), *pair(tmp_path, "i.json", json.dumps([record])))
    same(lambda p: list(iter_json_array(p, chunk_chars=2)), *pair(tmp_path, "small.json", json.dumps([record])))


def test_contamination_texts_from_lines_and_squad_files(tmp_path):
    qas = [{"question": "What is the capital?", "answers": [{"text": "Paris"}]}]
    squad = {"data": [{"paragraphs": [{"context": "Paris is the capital of France.", "qas": qas}]}]}
    for name, text in (("dev.txt", "Paris is the capital of France.\n"), ("squad.json", json.dumps(squad))):
        plain, marked = pair(tmp_path, name, text)
        a, b = EvalTexts([EvalSet(path=str(plain))], None), EvalTexts([EvalSet(path=str(marked))], None)
        assert a.keys == b.keys and b.contains("Paris is the capital of France.")


def test_the_bar_a_bom_bitext_and_a_bom_jsonl_build_without_the_mark(tmp_path):
    """The same build from files with and without marks: the same train.jsonl, byte for byte."""
    pair(tmp_path, "c.en-zh.en", "Hello there, my friend.\nThe weather is fine today.\n")
    pair(tmp_path, "c.en-zh.zh", "你好，我的朋友。\n今天天气很好。\n")
    pair(tmp_path, "alpaca.jsonl", jsonl({"instruction": "Say hello to my friend.", "input": "",
                                          "output": "Hello, my dear friend!"}))
    pair(tmp_path, "pairs.jsonl", jsonl({"translation": {"en": "Good morning to you.", "zh": "早上好。"}}))
    recipe = {"data": {"clean": {"langid": False}, "sources": [
        {"name": "news", "kind": "bitext", "path": "c.en-zh", "languages": ["en", "zh"]},
        {"name": "pairs", "kind": "bitext", "path": "pairs.jsonl", "languages": ["en", "zh"]},
        {"name": "alpaca", "kind": "instructions", "path": "alpaca.jsonl", "lang": "en"}]}}
    pair(tmp_path, "recipe.yaml", yaml.safe_dump(recipe, allow_unicode=True))
    built = {}
    for folder in ("plain", "bom"):
        manifest = build_dataset(tmp_path / folder / "recipe.yaml", tmp_path / f"out-{folder}")
        assert manifest["counts"]["records"] == 4  # two news pairs, one JSONL pair, one instruction
        built[folder] = (tmp_path / f"out-{folder}" / TRAIN_FILE).read_bytes()
    assert built["bom"] == built["plain"]
    text = built["bom"].decode("utf-8")
    assert "\ufeff" not in text and "\\ufeff" not in text and '"Hello there, my friend.' in text


# ---- evaluation sets ------------------------------------------------------------------------------

def test_flores_lines_squad_mgsm_xcopa_and_user_sets(tmp_path):
    same(read_lines, *pair(tmp_path, "eng.devtest", "Hello.\nWorld.\n"))
    squad = {"data": [{"paragraphs": [{"context": "Paris is in France.", "qas": [
        {"id": "q1", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}]}]}]}]}
    same(lambda p: qa_task("my-qa", p, "en").examples, *pair(tmp_path, "qa.json", json.dumps(squad)))
    assert same(read_math_tsv, *pair(tmp_path, "mgsm_en.tsv", "How many?\t18\n"))[0][1] == "How many?"
    same(read_math_jsonl, *pair(tmp_path, "math.jsonl", jsonl({"question": "How many?", "answer": 18})))
    xcopa = {"premise": "该物品用气泡包装纸包着。", "choice1": "它很易碎。", "choice2": "它很小。",
             "question": "cause", "label": 0, "idx": 0}
    same(lambda p: xcopa_task("xcopa-zh", p, "zh").examples, *pair(tmp_path, "test.zh.jsonl", jsonl(xcopa)))
    same(lambda p: choice_task("my-mc", p, "en").examples,
         *pair(tmp_path, "mc.jsonl", jsonl({"prompt": "Sky is", "options": ["blue", "green"], "label": 0})))
    src, src_bom = pair(tmp_path, "news.en", "Hello.\n")
    tgt, tgt_bom = pair(tmp_path, "news.zh", "你好。\n")
    a = translation_task("my-news", src, tgt, "en", "zh").examples
    b = translation_task("my-news", src_bom, tgt_bom, "en", "zh").examples
    assert a == b and "\ufeff" not in repr(b)


def test_eval_recipe_with_a_bom_and_its_user_set(tmp_path):
    from lingalign.config import load_recipe

    pair(tmp_path, "math.tsv", "How many?\t18\n")
    text = "eval:\n  sets:\n    - {name: my-math, type: math, path: math.tsv, lang: en}\n"
    plain, marked = pair(tmp_path, "recipe.yaml", text)
    recipe = same(lambda p: load_recipe(p, EvalRecipe, section="eval"), plain, marked)
    task = load_user_set(recipe.sets[0], marked.parent)
    assert task.examples[0].input == "How many?" and task.examples[0].references == ["18"]


# ---- training data, analysis, scaling, model folders ---------------------------------------------

def test_training_records_and_preference_pairs(tmp_path, tiny_model_dir):
    from lingalign.models import load_tokenizer
    from lingalign.train.examples import load_examples
    from lingalign.train.preference_data import load_pairs

    tokenizer = load_tokenizer(str(tiny_model_dir))
    record = {"instruction": "Say hi.", "input": "", "output": "Hi."}
    plain, marked = pair(tmp_path, "train.jsonl", jsonl(record))
    (a, _), (b, _) = (load_examples(p, tokenizer, "alpaca", 128, "drop") for p in (plain, marked))
    assert [e.ids for e in a] == [e.ids for e in b]
    plain, marked = pair(tmp_path, "pref.jsonl", jsonl({"prompt": "Say hi.", "chosen": "Hi.", "rejected": "No."}))
    (a, _), (b, _) = (load_pairs(p, tokenizer, "alpaca", 128, "drop") for p in (plain, marked))
    assert [e.ids for e in a] == [e.ids for e in b]


def test_parallel_sentences_scaling_points_and_model_info(tmp_path):
    for folder in ("plain", "bom"):
        (tmp_path / folder).mkdir()
    pair(tmp_path, "eng.dev", "Hello.\nWorld.\n")
    pair(tmp_path, "cmn_Hans.dev", "你好。\n世界。\n")
    a = load_parallel(["en", "zh"], data=tmp_path / "plain")
    b = load_parallel(["en", "zh"], data=tmp_path / "bom")
    assert a.texts == b.texts and b.texts["en"][0] == "Hello."
    header = "language,size,metric,value,model,seed\n"
    rows = "zh,1000,chrf,20.0,m,0\nzh,2000,chrf,25.0,m,0\nel,1000,chrf,10.0,m,0\nel,2000,chrf,12.0,m,0\n"
    # the header's first column must read 'language', not '\ufefflanguage'
    same(lambda p: repr(read_points(p)), *pair(tmp_path, "points.csv", header + rows))
    for name, text in (("w.csv", "language,value\nzh,2\n"), ("w.json", '{"zh": 2}'), ("w.yaml", "zh: 2\n")):
        assert same(lambda p: read_mapping_file(p, "weight"), *pair(tmp_path, name, text)) == {"zh": 2.0}
    pair(tmp_path, "model/lingalign_model.json", '{"prompt_format": "chat"}')
    assert read_model_prompt_format(str(tmp_path / "bom" / "model")) == "chat"


def test_run_recipes_with_a_bom(tmp_path, tiny_model_dir, capsys):
    from lingalign.cli import main

    recipe = {"name": "tiny", "base_model": str(tiny_model_dir), "datasets": {"en": {"sources": [
        {"name": "a", "kind": "instructions", "path": "sample:alpaca/alpaca_en_zh.json", "lang": "en", "count": 4,
         "fields": {"instruction": "en_instruction", "input": "en_input", "output": "en_output"}}]}},
        "models": [{"name": "m", "data": "en"}]}
    path = tmp_path / "recipe.yaml"
    path.write_bytes(BOM + yaml.safe_dump(recipe).encode("utf-8"))
    assert main(["run", str(path), "-o", str(tmp_path / "out"), "--dry-run"]) == 0
    assert "train:m" in capsys.readouterr().out
