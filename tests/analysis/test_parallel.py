"""Reading parallel sentences: shipped FLORES sample, folders, Moses prefixes, and bad input."""

from __future__ import annotations

import pytest

from lingalign.analysis.parallel import find_file, load_parallel
from lingalign.errors import UserError


def test_default_is_the_shipped_flores_dev_sample():
    data = load_parallel(["en", "zh", "vi"])
    assert data.size == 200
    assert data.files["zh"].endswith("cmn_Hans.dev") and data.files["vi"].endswith("vie.dev")
    assert data.texts["en"][0].startswith("On Monday")


def test_limit_and_fingerprint():
    small = load_parallel(["en", "zh"], limit=10)
    assert small.size == 10
    assert small.fingerprint() != load_parallel(["en", "zh"], limit=11).fingerprint()


def test_folder_of_code_files_and_moses_prefix(tmp_path):
    (tmp_path / "eng.txt").write_text("one\ntwo\n", encoding="utf-8")
    (tmp_path / "vie.txt").write_text("một\nhai\n", encoding="utf-8")
    assert load_parallel(["en", "vi"], data=tmp_path).texts["vi"] == ["một", "hai"]
    (tmp_path / "corpus.en-zh.en").write_text("one\ntwo\n", encoding="utf-8")
    (tmp_path / "corpus.en-zh.zh").write_text("一\n二\n", encoding="utf-8")
    assert load_parallel(["en", "zh"], data=tmp_path / "corpus.en-zh").texts["zh"] == ["一", "二"]


def test_flores_spelling_wins_over_other_matches(tmp_path):
    for name in ("cmn_Hans.dev", "cmn_Hant.dev"):
        (tmp_path / name).write_text("x\n", encoding="utf-8")
    assert find_file("zh", tmp_path).name == "cmn_Hans.dev"
    (tmp_path / "cmn_Hans.dev").unlink()
    (tmp_path / "zho.dev").write_text("x\n", encoding="utf-8")
    with pytest.raises(UserError, match="several files could hold 'zh'"):
        find_file("zh", tmp_path)


def test_unequal_lengths_are_refused(tmp_path):
    (tmp_path / "en.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
    (tmp_path / "zh.txt").write_text("一\n二\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"different line counts .*en.txt: 3.*zh.txt: 2"):
        load_parallel(["en", "zh"], data=tmp_path)


def test_missing_language_lists_what_is_there():
    with pytest.raises(UserError, match=r"no data for language 'el' \(available: cmn_Hans, eng, vie\)"):
        load_parallel(["en", "el"])


def test_empty_lines_and_single_sentences_are_refused(tmp_path):
    (tmp_path / "en.txt").write_text("one\n\nthree\n", encoding="utf-8")
    (tmp_path / "zh.txt").write_text("一\n二\n三\n", encoding="utf-8")
    with pytest.raises(UserError, match="empty line 2"):
        load_parallel(["en", "zh"], data=tmp_path)
    with pytest.raises(UserError, match="at least 2 parallel sentences"):
        load_parallel(["en", "zh"], limit=1)
