"""Task loading from the shipped samples and from a --data-root; bad inputs are one clear UserError."""

import json

import pytest

from lingalign.errors import UserError
from lingalign.tasks.choice import choice_task, xcopa_task
from lingalign.tasks.math_problems import read_math
from lingalign.tasks.qa import read_squad
from lingalign.tasks.registry import available_tasks, load_builtin
from lingalign.tasks.user_sets import UserSet, load_user_set


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
        load_builtin("xqaud-zh", samples_dir)
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
    spec = UserSet(name="news", type="translation", prefix="news", src_lang="en", tgt_lang="vi")
    task = load_user_set(spec, tmp_path)
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


# ---- MGSM, XCOPA and user math sets ----------------------------------------------------------------

def test_mgsm_and_xcopa_load_from_samples_in_every_shipped_language(samples_dir):
    langs = available_tasks(samples_dir)
    assert "mgsm-zh" in langs["mgsm"] and "xcopa-zh" in langs["xcopa"]
    assert len(langs["mgsm"]) == 9 and len(langs["xcopa"]) == 9
    for name in langs["mgsm"] + langs["xcopa"]:
        assert len(load_builtin(name, samples_dir).examples) == 25

    direct = load_builtin("mgsm-zh", samples_dir)
    assert (direct.kind, direct.lang, direct.prompt_variant, direct.max_new_tokens) == ("math", "zh", "direct", 64)
    first = direct.examples[0]
    assert first.id == "1" and first.references == ["18"] and first.input.startswith("珍妮特的鸭子")
    assert "只给出最终答案" in first.instruction  # the instruction is in the question's language
    cot = load_builtin("mgsm-de-cot", samples_dir)
    assert "Schritt für Schritt" in cot.examples[0].instruction and cot.max_new_tokens == 512
    pivot = load_builtin("mgsm-zh-cot-en", samples_dir)
    assert pivot.examples[0].instruction.startswith("Solve the math problem. Think step by step in English")
    assert (pivot.lang, pivot.question_lang, pivot.instruction_lang) == ("en", "zh", "en")
    assert pivot.examples[0].input == first.input

    xcopa = load_builtin("xcopa-zh", samples_dir)
    assert (xcopa.kind, xcopa.lang, xcopa.reduce) == ("choice", "zh", "sum")
    ex = xcopa.examples[0]  # premise 该物品用气泡包装纸包着。, question cause
    assert ex.instruction == "该物品用气泡包装纸包着，因为"
    assert ex.options == ["它很易碎。", "它很小。"] and ex.label == 0
    it = load_builtin("xcopa-it", samples_dir).examples[1]  # an effect question, Latin script
    assert it.instruction.endswith(" quindi") and not it.instruction.endswith(". quindi")
    assert all(option[0].islower() for option in it.options)


@pytest.mark.parametrize("name, message", [
    ("mgsm-xx", "unknown MGSM language 'xx'"),
    ("xcopa-fi", "unknown XCOPA language 'fi'"),
    ("mgsm-zh-steps", "unknown MGSM prompt variant 'steps'"),
    ("mgsm-zh-direct", "plain mgsm-zh"),
])
def test_unknown_language_or_variant_names_what_exists(samples_dir, name, message):
    with pytest.raises(UserError, match=message) as info:
        load_builtin(name, samples_dir)
    if "language" in message:
        assert "this data root has" in str(info.value) and "zh" in str(info.value)


def test_user_math_sets_tsv_and_jsonl(tmp_path):
    (tmp_path / "m.tsv").write_text("Two plus two?\t4\nHow many in a dozen?\t1,200\n", encoding="utf-8")
    task = load_user_set(UserSet(name="m", type="math", path="m.tsv", lang="vi", prompt_variant="cot"), tmp_path)
    assert task.kind == "math" and [e.references for e in task.examples] == [["4"], ["1,200"]]
    assert task.instruction_lang == "en" and "step by step" in task.examples[0].instruction  # no vi wording: English
    (tmp_path / "m.jsonl").write_text('{"question": "2+2?", "answer": 4, "id": "a"}\n', encoding="utf-8")
    task = load_user_set(UserSet(name="j", type="math", path="m.jsonl", lang="en"), tmp_path)
    assert task.examples[0].id == "a" and task.examples[0].references == ["4"] and task.prompt_variant == "direct"


@pytest.mark.parametrize("name, text, message", [
    ("bad.tsv", "Two plus two?\t4\nHow many?\tfour\n", r"bad.tsv:2: answer 'four' is not a number"),
    ("bad.tsv", "Two plus two? 4\n", r"bad.tsv:1: expected question<TAB>number"),
    ("bad.jsonl", '{"question": "q", "answer": 4}\n{"question": "q"}\n', r"bad.jsonl:2: missing key 'answer'"),
    ("bad.jsonl", '{"question": "q", "answer": "many"}\n', r"bad.jsonl:1: answer 'many' is not a number"),
])
def test_bad_math_rows_name_file_and_line(tmp_path, name, text, message):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        load_user_set(UserSet(name="m", type="math", path=name, lang="en"), tmp_path)


@pytest.mark.parametrize("record, message", [
    ({"premise": "P.", "choice1": "a", "choice2": "b", "question": "cause", "label": 2}, "'label' must be 0"),
    ({"premise": "P.", "choice1": "a", "choice2": "b", "question": "why", "label": 0}, "'question' must be"),
    ({"premise": "P.", "choice1": "a", "question": "cause", "label": 0}, "needs a 'choice2' string"),
])
def test_bad_xcopa_records_name_file_and_line(tmp_path, record, message):
    good = {"premise": "P.", "choice1": "a", "choice2": "b", "question": "effect", "label": 1}
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="x.jsonl:2: " + message):
        xcopa_task("x", path, "it")


# ---- MSVAMP, and XCOPA's own format as a user choice set ----------------------------------------------

def test_msvamp_loads_from_samples_with_mgsm_prompt_variants(samples_dir):
    names = available_tasks(samples_dir)["msvamp"]
    assert names == [f"msvamp-{lang}" for lang in ("de", "en", "es", "fr", "ja", "ru", "sw", "zh")]
    for name in names:
        task = load_builtin(name, samples_dir)
        assert len(task.examples) == 50 and [e.id for e in task.examples[:3]] == ["1", "2", "3"]
    zh = load_builtin("msvamp-zh", samples_dir)
    first = zh.examples[0]  # m_query in Chinese; the answer as MSVAMP writes it
    assert first.input.startswith("朱莉娅星期一和18个孩子") and first.references == ["8.0"]
    assert (zh.kind, zh.lang, zh.prompt_variant, zh.max_new_tokens) == ("math", "zh", "direct", 64)
    assert first.instruction == load_builtin("mgsm-zh", samples_dir).examples[0].instruction
    en = load_builtin("msvamp-en", samples_dir).examples[0]  # the English file has only m_query
    assert en.input.startswith("julia played tag with 18 kids on monday")
    cot = load_builtin("msvamp-de-cot", samples_dir)
    assert "Schritt für Schritt" in cot.examples[0].instruction and cot.max_new_tokens == 512
    pivot = load_builtin("msvamp-ja-cot-en", samples_dir)
    assert (pivot.lang, pivot.question_lang, pivot.instruction_lang) == ("en", "ja", "en")
    for name, message in (("msvamp-bn", "unknown MSVAMP language 'bn'"), ("msvamp-zh-steps", "variant 'steps'"),
                          ("msvamp-zh-direct", "plain msvamp-zh")):
        with pytest.raises(UserError, match=message):
            load_builtin(name, samples_dir)


def test_msvamp_records_read_as_math_jsonl(tmp_path):
    path = tmp_path / "test.is.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"query": "english", "m_query": "Hversu margir?", "response": "8.0", "equation": "- a b"},
        {"query": "only the English query", "response": "1,250"},
        {"m_query": "  ", "query": "blank m_query falls back", "response": "-3"},
        {"question": "the plain form still works", "answer": 12.5},
    ]) + "\n", encoding="utf-8")
    assert read_math(path) == [("1", "Hversu margir?", "8.0"), ("2", "only the English query", "1,250"),
                               ("3", "blank m_query falls back", "-3"), ("4", "the plain form still works", "12.5")]
    path.write_text(json.dumps({"m_query": "q", "answer": 3}) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"test.is.jsonl:1: missing key 'response'"):
        read_math(path)
    path.write_text(json.dumps({"m_query": "q", "response": "many"}) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"test.is.jsonl:1: answer 'many' is not a number"):
        read_math(path)
    path.write_text(json.dumps({"text": "q", "response": "3"}) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"test.is.jsonl:1: needs a 'question' string .*m_query"):
        read_math(path)


def test_xcopa_records_are_a_user_choice_set_worded_as_the_builtin(samples_dir, tmp_path):
    builtin = load_builtin("xcopa-zh", samples_dir)
    spec = UserSet(name="my-copa", type="choice", path="sample:xcopa/zh/test.zh.jsonl", lang="zh")
    user = load_user_set(spec, tmp_path)
    assert [(e.id, e.instruction, e.input, e.options, e.label) for e in user.examples] == \
        [(e.id, e.instruction, e.input, e.options, e.label) for e in builtin.examples]
    assert user.examples[0].instruction == "该物品用气泡包装纸包着，因为" and user.reduce == builtin.reduce == "sum"
    mean = load_user_set(UserSet(name="my-copa", type="choice", path="sample:xcopa/zh/test.zh.jsonl", lang="zh",
                                 reduce="mean"), tmp_path)
    assert mean.reduce == "mean"  # a set that says reduce keeps it
    generic = tmp_path / "mc.jsonl"
    generic.write_text(json.dumps({"prompt": "Sky is", "options": ["blue", "green"], "label": 0}) + "\n")
    assert load_user_set(UserSet(name="mc", type="choice", path="mc.jsonl", lang="en"), tmp_path).reduce == "mean"


def test_xcopa_records_in_a_language_without_connectives_name_file_and_line(tmp_path):
    path = tmp_path / "test.fi.jsonl"
    record = {"premise": "P.", "choice1": "a", "choice2": "b", "question": "cause", "label": 0}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"test.fi.jsonl:1: an XCOPA record needs the cause/effect connectives"):
        choice_task("fi", path, "fi")
    path.write_text(json.dumps({"premise": "P.", "label": 0}) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"'options' must be a list .* \(or give XCOPA's premise, choice1"):
        choice_task("x", path, "it")
