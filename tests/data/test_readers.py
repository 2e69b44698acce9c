"""Readers: every input format, and a clear file:line message for every kind of bad input."""

from __future__ import annotations

import gzip
import json

import pytest

from lingalign.data import readers
from lingalign.errors import UserError


def write(path, text: str | bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_moses_prefix_pairs_lines_in_step(tmp_path):
    write(tmp_path / "c.en-zh.en", "Hello\nGood night\n")
    write(tmp_path / "c.en-zh.zh", "你好\n晚安\n")
    src, tgt = readers.moses_paths(tmp_path / "c.en-zh", ("en", "zh"))
    assert (src.name, tgt.name) == ("c.en-zh.en", "c.en-zh.zh")
    assert list(readers.read_line_pairs(src, tgt)) == [(1, "Hello", "你好"), (2, "Good night", "晚安")]


def test_unequal_line_counts_name_both_files_and_counts(tmp_path):
    a = write(tmp_path / "a.en", "1\n2\n3\n4\n")
    b = write(tmp_path / "a.zh", "一\n二\n")
    with pytest.raises(UserError) as err:
        list(readers.read_line_pairs(a, b))
    assert f"{a} has 4 lines" in str(err.value) and f"{b} has 2" in str(err.value)
    with pytest.raises(UserError) as err:  # the other way round
        list(readers.read_line_pairs(b, a))
    assert f"{b} has 2 lines" in str(err.value) and f"{a} has 4" in str(err.value)


def test_invalid_utf8_names_file_and_line(tmp_path):
    a = write(tmp_path / "a.en", "ok\nfine\n")
    b = write(tmp_path / "a.zh", b"ok\n\xff\xfe bad\n")
    with pytest.raises(UserError, match=rf"{b}:2: not valid UTF-8"):
        list(readers.read_line_pairs(a, b))


def test_tsv_and_its_missing_column(tmp_path):
    good = write(tmp_path / "p.tsv", "Hello\t你好\textra\n")
    assert list(readers.read_tsv(good)) == [(1, "Hello", "你好")]
    bad = write(tmp_path / "q.tsv", "Hello\t你好\nno tab here\n")
    with pytest.raises(UserError, match=rf"{bad}:2: expected two tab-separated columns"):
        list(readers.read_tsv(bad))


def test_translation_jsonl_accepts_equivalent_codes_and_reports_missing_side(tmp_path):
    path = write(tmp_path / "t.jsonl", json.dumps({"translation": {"en": "Hi", "zh": "嗨"}}) + "\n")
    assert list(readers.read_translation_jsonl(path, ("eng", "cmn_Hans"))) == [(1, "Hi", "嗨")]
    bad = write(tmp_path / "u.jsonl", json.dumps({"translation": {"en": "Hi"}}) + "\n")
    with pytest.raises(UserError, match=r"u.jsonl:1 \[translation.zh\]: missing"):
        list(readers.read_translation_jsonl(bad, ("en", "zh")))


def test_malformed_json_line_names_file_and_line(tmp_path):
    path = write(tmp_path / "t.jsonl", '{"translation": {"en": "a", "zh": "b"}}\n{"translation": \n')
    with pytest.raises(UserError, match=rf"{path}:2: malformed JSON line"):
        list(readers.read_translation_jsonl(path, ("en", "zh")))


def test_flores_folder_finds_one_file_per_language(tmp_path, samples_dir):
    src, tgt = readers.flores_paths(samples_dir / "flores101" / "dev", ("eng", "cmn_Hans"))
    assert (src.name, tgt.name) == ("eng.dev", "cmn_Hans.dev")
    with pytest.raises(UserError, match="no file named vie_Latn"):
        readers.flores_paths(samples_dir / "flores101" / "dev", ("eng", "vie_Latn"))


def test_alpaca_json_list_streams_with_field_mapping(samples_dir):
    path = samples_dir / "alpaca" / "alpaca_en_zh.json"
    fields = {"instruction": "zh_instruction", "input": "zh_input", "output": "zh_output"}
    records = list(readers.read_instructions(path, "json", fields))
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert len(records) == len(expected)
    assert records[5][1:] == (expected[5]["zh_instruction"], expected[5]["zh_input"], expected[5]["zh_output"])
    # a small chunk size forces records to straddle chunk ends; result and line numbers are unchanged
    small = [(line, item) for line, item in readers.iter_json_array(path, chunk_chars=97)]
    assert [item for _, item in small] == expected
    assert [line for line, _ in small][:2] == [2, 14]


def test_prompt_response_jsonl_maps_to_instruction_and_output(samples_dir):
    path = samples_dir / "alpaca" / "alpaca_vi.jsonl"
    first = next(readers.read_instructions(path, "jsonl", {"instruction": "prompt", "output": "response"}))
    raw = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first == (1, raw["prompt"], "", raw["response"])


def test_missing_field_names_file_line_and_key(tmp_path):
    path = write(tmp_path / "a.json", json.dumps([{"instruction": "x", "output": "y"}, {"instruction": "z"}], indent=1))
    with pytest.raises(UserError) as err:
        list(readers.read_instructions(path, "json", {}))
    assert f"{path}:6 [output]: missing field" in str(err.value)


def test_malformed_record_in_json_list(tmp_path):
    path = write(tmp_path / "a.json", '[\n {"instruction": "x", "output": "y"},\n {"instruction": "z", "output": }\n]')
    with pytest.raises(UserError, match=rf"{path}:3: malformed JSON record"):
        list(readers.read_instructions(path, "json", {}))


def test_invalid_utf8_in_json_list(tmp_path):
    path = write(tmp_path / "a.json",
                 b'[\n {"instruction": "x", "output": "y"},\n {"instruction": "\xc3(", "output": "y"}\n]')
    with pytest.raises(UserError, match=rf"{path}:3: not valid UTF-8"):
        list(readers.read_instructions(path, "json", {}))


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        list(readers.read_line_pairs(tmp_path / "x.en", tmp_path / "x.zh"))


def test_news_commentary_tsv_with_empty_sides(tmp_path):
    path = write(tmp_path / "news-commentary-v16.en-el.tsv",
                 "Prices rose.\tΟι τιμές αυξήθηκαν.\nOnly English.\t\n\tΜόνο ελληνικά.\n")
    assert list(readers.read_tsv(path)) == [(1, "Prices rose.", "Οι τιμές αυξήθηκαν."), (2, "Only English.", ""),
                                            (3, "", "Μόνο ελληνικά.")]


def test_wikimatrix_scores_min_score_and_gzip(tmp_path):
    text = "1.2\tGood pair.\tΚαλό ζεύγος.\n1.05\tFair pair.\tΜέτριο ζεύγος.\n1.01\tWeak pair.\tΑδύναμο.\n"
    path = tmp_path / "WikiMatrix.en-el.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    assert [p[1] for p in readers.read_wikimatrix(path)] == ["Good pair.", "Fair pair.", "Weak pair."]
    assert [p[1] for p in readers.read_wikimatrix(path, min_score=1.04)] == ["Good pair.", "Fair pair."]
    two = write(tmp_path / "two.tsv", "Hello\tΓεια\n")
    with pytest.raises(UserError, match=r"two.tsv:1: expected three tab-separated columns"):
        list(readers.read_wikimatrix(two))
    no_score = write(tmp_path / "x.tsv", "Hello\tΓεια\tagain\n")
    with pytest.raises(UserError, match="should be a margin score"):
        list(readers.read_wikimatrix(no_score))
