"""Task loading from the shipped samples and from a --data-root; bad inputs are one clear UserError."""

import json

import pytest

from lingalign.errors import UserError
from lingalign.evaluate.recipe import UserSet, choice_task, load_user_set
from lingalign.evaluate.runner import resolve_tasks
from lingalign.evaluate.tasks import available_tasks, load_builtin, read_squad


def test_builtin_tasks_load_from_samples(samples_dir):
    flores = load_builtin("flores-en-zh", samples_dir)
    assert (flores.kind, flores.lang, flores.split, flores.src_lang) == ("translation", "zh", "devtest", "en")
    eng = (samples_dir / "flores101/devtest/eng.devtest").read_text(encoding="utf-8").splitlines()
    assert len(flores.examples) == len(eng) and flores.examples[3].input == eng[3]
    assert flores.examples[0].instruction == "Translate the following sentences from English to Chinese."
    backwards = load_builtin("flores-zh-en", samples_dir, split="dev")
    assert backwards.lang == "en" and backwards.files[0].name == "cmn_Hans.dev"

    xquad = load_builtin("xquad-zh", samples_dir)
    assert xquad.kind == "qa" and xquad.lang == "zh"
    assert xquad.examples[0].references == ["308"]
    assert xquad.examples[0].input.startswith("段落：") and "问题：" in xquad.examples[0].input
    assert "阅读" in xquad.examples[0].instruction  # the instruction is in the question's language
    vi = load_builtin("mlqa-vi", samples_dir)
    assert vi.examples[0].instruction.startswith("Đọc")
    assert len(load_builtin("ntrex-en-zh", samples_dir).examples) == 100


def test_data_root_layout_with_three_letter_codes(tmp_path):
    for split in ("dev",):
        (tmp_path / "flores101" / split).mkdir(parents=True)
        (tmp_path / "flores101" / split / f"eng.{split}").write_text("Hello.\nBye.\n", encoding="utf-8")
        (tmp_path / "flores101" / split / f"ell.{split}").write_text("Γεια.\nΑντίο.\n", encoding="utf-8")
    task = load_builtin("flores-en-el", tmp_path, split="dev")
    assert [e.references[0] for e in task.examples] == ["Γεια.", "Αντίο."]
    assert "flores-en-el" in available_tasks(tmp_path, "dev")["flores"]


def test_cross_language_mlqa(tmp_path, samples_dir):
    (tmp_path / "mlqa").mkdir()
    data = (samples_dir / "mlqa-dev/zh.json").read_text(encoding="utf-8")
    (tmp_path / "mlqa" / "dev-context-zh-question-en.json").write_text(data, encoding="utf-8")
    task = load_builtin("mlqa-zh-en", tmp_path)
    assert task.lang == "zh" and task.question_lang == "en"  # answers come from the Chinese context
    assert task.examples[0].instruction.startswith("Read the passage")
    assert "mlqa-zh-en" in available_tasks(tmp_path)["mlqa"]


def test_unknown_task_lists_valid_ones_and_suggests(samples_dir):
    with pytest.raises(UserError) as info:
        resolve_tasks(["xqaud-zh"], samples_dir, "devtest", {})
    assert "xquad-zh" in str(info.value) and "did you mean xquad-zh" in str(info.value)
    with pytest.raises(UserError, match="no data at"):
        load_builtin("xquad-ar", samples_dir)  # a valid form, but not in the samples


def test_malformed_squad(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [{"paragraphs": [{"context": "x", "qas": [{"id": "1", "answers": []}]}]}]}')
    with pytest.raises(UserError, match=r"qas\[0\]"):
        read_squad(bad)
    bad.write_text('{"data": [{"paragraphs": [{"context": "x", "qas": [{"id": "1", "question": "q"}]}]}]}')
    with pytest.raises(UserError, match="missing key 'answers'"):
        read_squad(bad)
    bad.write_text('{"data": [')
    with pytest.raises(UserError, match="invalid JSON"):
        read_squad(bad)
    bad.write_text('[1, 2]')
    with pytest.raises(UserError, match="not SQuAD-style"):
        read_squad(bad)


def test_unequal_bitext(tmp_path):
    (tmp_path / "flores101" / "devtest").mkdir(parents=True)
    (tmp_path / "flores101/devtest/eng.devtest").write_text("a\nb\nc\n")
    (tmp_path / "flores101/devtest/vie.devtest").write_text("a\nb\n")
    with pytest.raises(UserError, match="has 3 lines but"):
        load_builtin("flores-en-vi", tmp_path)


def test_user_sets(tmp_path, samples_dir):
    (tmp_path / "news.en").write_text("Hello.\nGood night.\n", encoding="utf-8")
    (tmp_path / "news.vi").write_text("Xin chào.\nChúc ngủ ngon.\n", encoding="utf-8")
    task = load_user_set(UserSet(name="news", type="translation", prefix="news", src_lang="en", tgt_lang="vi"), tmp_path)
    assert task.lang == "vi" and task.examples[1].references == ["Chúc ngủ ngon."]
    qa = load_user_set(UserSet(name="myqa", type="qa", path="sample:xquad/xquad.en.json", lang="en"), tmp_path)
    assert qa.examples[0].instruction.startswith("Read the passage")

    rows = [{"premise": "Sky is", "options": ["blue", "green"], "label": 0},
            {"prompt": "Grass is", "options": ["blue", "green"], "label": "green"}]
    path = tmp_path / "mc.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    mc = choice_task("mc", path, "en")
    assert [e.label for e in mc.examples] == [0, 1]
    path.write_text(json.dumps({"prompt": "x", "options": ["a", "b"], "label": 5}) + "\n")
    with pytest.raises(UserError, match="mc.jsonl:1"):
        choice_task("mc", path, "en")
