"""End to end: recipe -> train.jsonl + manifest.json, on small corpora written by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lingalign import cli
from lingalign.data import build_dataset, load_data_recipe, mixture
from lingalign.data.build import TRAIN_FILE
from lingalign.data.recipe import DataRecipe
from lingalign.errors import UserError

KEYS = ["id", "instruction", "input", "output", "lang", "task", "source", "direction"]


def corpus(folder: Path, n: int = 300) -> Path:
    """A Moses pair ``folder/c.en-zh.{en,zh}`` with n distinct lines; returns the prefix."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "c.en-zh.en").write_text("".join(f"English sentence number {i}.\n" for i in range(n)), encoding="utf-8")
    (folder / "c.en-zh.zh").write_text("".join(f"第{i}个中文句子。\n" for i in range(n)), encoding="utf-8")
    return folder / "c.en-zh"


def recipe(folder: Path, **data) -> Path:
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump({"data": data}, allow_unicode=True), encoding="utf-8")
    return path


def bitext(count=None, **extra) -> dict:
    source = {"name": "news", "kind": "bitext", "path": "c.en-zh", "languages": ["en", "zh"], **extra}
    if count is not None:
        source["count"] = count
    return source


def read(folder: Path) -> list[dict]:
    with open(folder / TRAIN_FILE, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_build_writes_contract_records_with_non_english_output(tmp_path):
    corpus(tmp_path)
    manifest = build_dataset(recipe(tmp_path, sources=[bitext(50)]), tmp_path / "out")
    records = read(tmp_path / "out")
    assert len(records) == 50 == manifest["counts"]["records"]
    assert all(list(r) == KEYS for r in records)
    for r in records:
        assert r["task"] == "translation" and r["direction"] == "en-zh" and r["lang"] == "zh"
        assert r["input"].startswith("English sentence") and "中文句子" in r["output"]
        assert r["id"].startswith("news:") and r["source"] == "news"
    assert len({r["instruction"] for r in records}) > 10  # paraphrases rotate


def test_rebuild_is_byte_identical_and_skips_when_complete(tmp_path, caplog):
    corpus(tmp_path)
    path = recipe(tmp_path, seed=3, sources=[bitext(120)])
    build_dataset(path, tmp_path / "a")
    build_dataset(path, tmp_path / "b")
    first = (tmp_path / "a" / TRAIN_FILE).read_bytes()
    assert first == (tmp_path / "b" / TRAIN_FILE).read_bytes()
    build_dataset(path, tmp_path / "a", force=True)
    assert (tmp_path / "a" / TRAIN_FILE).read_bytes() == first
    mtime = (tmp_path / "a" / TRAIN_FILE).stat().st_mtime_ns
    with caplog.at_level("INFO"):
        build_dataset(path, tmp_path / "a")
    assert "skipping" in caplog.text and (tmp_path / "a" / TRAIN_FILE).stat().st_mtime_ns == mtime
    # a changed input changes the fingerprint, so the build runs again
    with open(tmp_path / "c.en-zh.en", "a", encoding="utf-8") as h:
        h.write("One more.\n")
    with open(tmp_path / "c.en-zh.zh", "a", encoding="utf-8") as h:
        h.write("再来一句。\n")
    assert build_dataset(path, tmp_path / "a")["available"]["news"] == 301


def test_manifest_counts_match_the_file(tmp_path, samples_dir):
    manifest = build_dataset(Path("recipes/data/muit-zh-vi.yaml").resolve(), tmp_path / "out")
    records = read(tmp_path / "out")
    counts = manifest["counts"]
    assert counts["records"] == len(records) == 600
    for key, field in (("by_source", "source"), ("by_lang", "lang"), ("by_task", "task")):
        tally: dict[str, int] = {}
        for r in records:
            tally[r[field]] = tally.get(r[field], 0) + 1
        assert counts[key] == tally
    assert counts["by_source"] == {name: 120 for name in ("alpaca-en", "alpaca-vi", "alpaca-zh", "news-en-zh",
                                                          "tatoeba-en-vi")}
    assert set(manifest["inputs"]) >= {"news-en-zh:newstest2017.en-zh.en", "tatoeba-en-vi:tatoeba.eng-vie.vie"}
    assert manifest["seed"] == 0 and manifest["stage"] == "data" and "transformers" in manifest["versions"]
    vi = [r for r in records if r["direction"] == "en-vi"]
    assert vi and all(r["lang"] == "vi" for r in vi)


def test_counts_nest_and_order_is_kept(tmp_path):
    corpus(tmp_path)
    small = build_dataset(recipe(tmp_path, sources=[bitext(40)]), tmp_path / "small")
    large = build_dataset(recipe(tmp_path, sources=[bitext(200)]), tmp_path / "large")
    assert small["fingerprint"] != large["fingerprint"]
    small_ids = [r["id"] for r in read(tmp_path / "small")]
    large_ids = [r["id"] for r in read(tmp_path / "large")]
    assert set(small_ids) < set(large_ids)
    assert [i for i in large_ids if i in set(small_ids)] == small_ids  # same relative order
    other_seed = build_dataset(recipe(tmp_path, seed=1, sources=[bitext(40)]), tmp_path / "seed1")
    assert {r["id"] for r in read(tmp_path / "seed1")} != set(small_ids) and other_seed["seed"] == 1


def test_instruction_of_a_pair_does_not_move_when_other_lines_are_filtered(tmp_path):
    corpus(tmp_path)
    build_dataset(recipe(tmp_path, sources=[bitext()]), tmp_path / "all")
    lines = (tmp_path / "c.en-zh.en").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0] = "\n"  # an empty line is dropped: every later line number shifts
    (tmp_path / "c.en-zh.en").write_text("".join(lines), encoding="utf-8")
    build_dataset(recipe(tmp_path, sources=[bitext()]), tmp_path / "filtered")
    before = {r["input"]: r["instruction"] for r in read(tmp_path / "all")}
    after = {r["input"]: r["instruction"] for r in read(tmp_path / "filtered")}
    assert len(after) == len(before) - 1
    assert all(before[text] == instruction for text, instruction in after.items())


def test_upsampling_only_when_asked(tmp_path):
    corpus(tmp_path, n=30)
    with pytest.raises(UserError, match="asks for 70 records but only 30 are available"):
        build_dataset(recipe(tmp_path, sources=[bitext(70)]), tmp_path / "out")
    assert not (tmp_path / "out" / TRAIN_FILE).exists()
    manifest = build_dataset(recipe(tmp_path, sources=[bitext(70, upsample=True)]), tmp_path / "out")
    records = read(tmp_path / "out")
    assert len(records) == 70 == manifest["counts"]["records"] and len({r["id"] for r in records}) == 70
    inputs = [r["input"] for r in records]
    assert sorted(inputs.count(text) for text in set(inputs)) == [2] * 20 + [3] * 10


def test_weights_share_the_total_and_directions(tmp_path, samples_dir):
    corpus(tmp_path)
    instructions = {"name": "alpaca", "kind": "instructions", "path": str(samples_dir / "alpaca" / "alpaca_vi.jsonl"),
                    "lang": "vi", "fields": {"instruction": "prompt", "output": "response"}, "weight": 1}
    manifest = build_dataset(
        recipe(tmp_path, total=100, direction="x-en", sources=[bitext(weight=3), instructions]), tmp_path / "out")
    assert manifest["counts"]["by_source"] == {"alpaca": 25, "news": 75}
    news = [r for r in read(tmp_path / "out") if r["source"] == "news"]
    assert all(r["direction"] == "zh-en" and r["output"].startswith("English") for r in news)
    both = build_dataset(recipe(tmp_path, sources=[bitext(direction="both")]), tmp_path / "both")
    assert both["counts"]["by_direction"] == {"en-zh": 300, "zh-en": 300}


def test_unequal_files_fail_without_a_partial_output(tmp_path):
    corpus(tmp_path)
    with open(tmp_path / "c.en-zh.zh", "a", encoding="utf-8") as h:
        h.write("多余的一行。\n")
    with pytest.raises(UserError, match=r"c.en-zh.en has 300 lines, .*c.en-zh.zh has 301"):
        build_dataset(recipe(tmp_path, sources=[bitext()]), tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing left: not even the folder the build made


def test_contamination_guard_in_a_build(tmp_path):
    corpus(tmp_path)
    eval_file = tmp_path / "eval.zh"
    eval_file.write_text("第7个中文句子。\n第8个中文句子。\n", encoding="utf-8")
    manifest = build_dataset(recipe(tmp_path, eval_sets=["eval.zh"], sources=[bitext()]), tmp_path / "out")
    assert manifest["dropped"]["news"] == {"contaminated": 2}
    assert manifest["counts"]["records"] == 298
    assert not any(r["output"] in ("第7个中文句子。", "第8个中文句子。") for r in read(tmp_path / "out"))


def test_unknown_recipe_key_names_file_and_suggests(tmp_path):
    path = recipe(tmp_path, sources=[{**bitext(), "langauges": ["en", "zh"]}])
    with pytest.raises(UserError) as err:
        load_data_recipe(path)
    assert str(path) in str(err.value) and "sources.0.langauges" in str(err.value)
    assert "Did you mean 'languages'?" in str(err.value)


def test_cli_build_show_and_clean_errors(tmp_path, capsys):
    corpus(tmp_path)
    path = recipe(tmp_path, sources=[bitext(20)])
    assert cli.main(["data", "build", str(path), "-o", str(tmp_path / "out")]) == 0
    assert "20 records" in capsys.readouterr().out
    assert cli.main(["data", "show", str(tmp_path / "out")]) == 0
    assert '"id": "news:' in capsys.readouterr().out
    bad = recipe(tmp_path, sources=[{**bitext(), "languages": ["en", "xx"]}])
    assert cli.main(["data", "build", str(bad), "-o", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "unknown language code 'xx'" in err and str(bad) in err and "Traceback" not in err
    assert cli.main(["data", "show", str(tmp_path)]) == 2
    assert "no finished data build" in capsys.readouterr().err


def test_formats_are_inferred_from_paths(tmp_path, samples_dir):
    prefix = corpus(tmp_path, n=20)
    en = Path(f"{prefix}.en").read_text(encoding="utf-8").splitlines()
    zh = Path(f"{prefix}.zh").read_text(encoding="utf-8").splitlines()
    (tmp_path / "p.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in zip(en, zh)), encoding="utf-8")
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"translation": {"en": a, "zh": b}}, ensure_ascii=False) + "\n"
                                              for a, b in zip(en, zh)), encoding="utf-8")
    flores = tmp_path / "flores"
    flores.mkdir()
    (flores / "eng.dev").write_text("\n".join(en) + "\n", encoding="utf-8")
    (flores / "cmn_Hans.dev").write_text("\n".join(zh) + "\n", encoding="utf-8")
    sources = [
        {"name": "moses", "kind": "bitext", "path": "c.en-zh", "languages": ["en", "zh"]},
        {"name": "two", "kind": "bitext", "paths": ["c.en-zh.en", "c.en-zh.zh"], "languages": ["en", "zh"]},
        {"name": "tsv", "kind": "bitext", "path": "p.tsv", "languages": ["en", "zh"]},
        {"name": "jsonl", "kind": "bitext", "path": "p.jsonl", "languages": ["en", "zh"]},
        {"name": "flores", "kind": "bitext", "path": "flores", "languages": ["eng", "cmn_Hans"]},
    ]
    build_dataset(recipe(tmp_path, sources=sources), tmp_path / "out")
    by_source: dict[str, set] = {}
    for r in read(tmp_path / "out"):
        by_source.setdefault(r["source"], set()).add((r["input"], r["output"], r["lang"]))
    assert len(by_source) == 5 and all(pairs == by_source["moses"] for pairs in by_source.values())
    assert len(by_source["moses"]) == 20


def test_source_keys_must_fit_the_kind(tmp_path):
    path = recipe(tmp_path, sources=[{**bitext(), "format": "json"}])
    with pytest.raises(UserError, match="format json is not for bitext"):
        load_data_recipe(path)
    path = recipe(tmp_path, sources=[{"name": "a", "kind": "instructions", "path": "a.json",
                                      "languages": ["en", "zh"]}])
    with pytest.raises(UserError, match="languages and direction are for bitext"):
        load_data_recipe(path)


def test_interrupted_rebuild_leaves_no_half_file_and_is_not_complete(tmp_path, monkeypatch):
    corpus(tmp_path)
    path = recipe(tmp_path, sources=[bitext(100)])
    build_dataset(path, tmp_path / "out")
    before = (tmp_path / "out" / TRAIN_FILE).read_bytes()

    def killed(self, out):
        out.write('{"id": "half a file')
        raise KeyboardInterrupt

    monkeypatch.setattr(mixture.ShuffledWriter, "write_to", killed)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(path, tmp_path / "out", force=True)
    assert (tmp_path / "out" / TRAIN_FILE).read_bytes() == before  # never replaced by the half file
    assert not (tmp_path / "out" / "manifest.json").exists()         # so the next build runs again
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [TRAIN_FILE]
    monkeypatch.undo()
    assert build_dataset(path, tmp_path / "out")["counts"]["records"] == 100


def test_a_build_with_no_records_names_the_empty_sources(tmp_path):
    corpus(tmp_path)
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "same.en").write_text("a\n", encoding="utf-8")
    (tmp_path / "same.el").write_text("\n", encoding="utf-8")
    path = recipe(tmp_path, sources=[
        {"name": "nothing", "kind": "instructions", "path": "empty.jsonl", "lang": "en"},
        {"name": "blank", "kind": "bitext", "paths": ["same.en", "same.el"], "languages": ["en", "el"]}])
    with pytest.raises(UserError, match=r"no records: source 'nothing' has no records; source 'blank' lost all 1 "
                                        r"records to cleaning \(empty 1\)"):
        build_dataset(path, tmp_path / "out")
    assert not (tmp_path / "out" / TRAIN_FILE).exists() and not (tmp_path / "out" / "manifest.json").exists()


def test_wikimatrix_and_news_commentary_sources_build(tmp_path):
    (tmp_path / "WikiMatrix.en-el.tsv").write_text("1.3\tA good pair.\tΈνα καλό ζεύγος.\n1.0\tA weak one.\tΑδύναμο.\n",
                                                   encoding="utf-8")
    (tmp_path / "nc.en-el.tsv").write_text("Prices rose.\tΟι τιμές αυξήθηκαν.\nOnly English.\t\n", encoding="utf-8")
    path = recipe(tmp_path, sources=[
        {"name": "wm", "kind": "bitext", "path": "WikiMatrix.en-el.tsv", "min_score": 1.04, "format": "wikimatrix",
         "languages": ["en", "el"]},
        {"name": "nc", "kind": "bitext", "path": "nc.en-el.tsv", "languages": ["en", "el"]}])
    manifest = build_dataset(path, tmp_path / "out")
    assert manifest["counts"]["by_source"] == {"wm": 1, "nc": 1} and manifest["dropped"]["nc"] == {"empty": 1}
    with pytest.raises(UserError, match="min_score is for format: wikimatrix"):
        build_dataset(recipe(tmp_path, sources=[{**bitext(), "min_score": 1.0}]), tmp_path / "out2")


def test_a_translate_source_is_translated_once_and_read(tmp_path, tiny_model_dir):
    english = [{"instruction": f"Say number {i} twice.", "input": "", "output": f"Number {i}, number {i}."}
               for i in range(4)]
    (tmp_path / "alpaca_en.json").write_text(json.dumps(english), encoding="utf-8")
    translate = {"model": str(tiny_model_dir), "from": "en", "chunk_size": 2, "max_new_tokens": 8,
                 "prompt_format": "alpaca",
                 "filters": {"langid": False, "max_length_ratio": None, "numbers": False, "truncated": False}}
    path = recipe(tmp_path, clean={"dedup": False},  # a random model says the same thing to every record
                  sources=[{"name": "alpaca-el", "kind": "instructions", "path": "alpaca_en.json", "lang": "el",
                            "translate": translate}])
    manifest = build_dataset(path, tmp_path / "out")
    done = manifest["translated"]["alpaca-el"]
    assert done["records"] == 4 and done["direction"] == "en-el"
    assert manifest["counts"]["records"] == done["kept"] > 0 and manifest["counts"]["by_lang"] == {"el": done["kept"]}
    assert all(r["instruction"] not in {e["instruction"] for e in english} for r in read(tmp_path / "out"))
    folder = Path(done["folder"])
    assert folder.parent == tmp_path / "out" / "translations" and (folder / "manifest.json").exists()
    stamp = (folder / "manifest.json").stat().st_mtime_ns
    build_dataset(path, tmp_path / "out", force=True)  # a rebuild reads the finished translation again
    assert (folder / "manifest.json").stat().st_mtime_ns == stamp
    with pytest.raises(UserError, match="translate.from and lang are both en"):
        build_dataset(recipe(tmp_path, sources=[{"name": "x", "kind": "instructions", "path": "alpaca_en.json",
                                                 "lang": "en", "translate": translate}]), tmp_path / "out3")


def test_unset_later_keys_leave_the_recipe_dump_and_so_old_fingerprints_alone():
    """Run folders made before ``translate``/``min_score`` existed must stay cached after an upgrade:
    the data step's fingerprint is a hash of this dump."""
    recipe = DataRecipe(sources=[{"name": "a", "kind": "instructions", "path": "x.json", "lang": "en"},
                                 {"name": "b", "kind": "bitext", "path": "c", "languages": ["en", "zh"]}])
    for source in recipe.model_dump(mode="json")["sources"]:
        assert "translate" not in source and "min_score" not in source
    with_translate = DataRecipe(sources=[{"name": "a", "kind": "instructions", "path": "x.json", "lang": "el",
                                         "translate": {"model": "m"}}])
    assert with_translate.model_dump(mode="json")["sources"][0]["translate"]["model"] == "m"


def test_a_failed_build_leaves_no_folder_but_never_removes_what_it_did_not_make(tmp_path):
    corpus(tmp_path)
    with open(tmp_path / "c.en-zh.zh", "a", encoding="utf-8") as h:
        h.write("多余的一行。\n")
    path = recipe(tmp_path, sources=[bitext()])
    deep = tmp_path / "runs" / "a" / "data"
    with pytest.raises(UserError):
        build_dataset(path, deep)
    assert not (tmp_path / "runs").exists()  # nor the parents it made
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "README").write_text("the user's")
    with pytest.raises(UserError):
        build_dataset(path, tmp_path / "mine")
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["README"]
    assert cli.main(["data", "build", str(path), "-o", str(tmp_path / "cli")]) == 2
    assert not (tmp_path / "cli").exists()
