"""Language codes, names and the translation instructions built from them."""

from __future__ import annotations

import pytest

from lingalign.data.instructions import TRAIN_TEMPLATES, oriented, train_instruction, translation_record
from lingalign.errors import UserError
from lingalign.languages import language_name, normalize_code
from lingalign.prompting import eval_instruction


@pytest.mark.parametrize("code,name", [("el", "Greek"), ("zh", "Chinese"), ("cmn_Hans", "Chinese"),
                                       ("zho_simpl", "Chinese"), ("vi", "Vietnamese"), ("vie", "Vietnamese"),
                                       ("eng", "English"), ("ar", "Arabic")])
def test_language_names_as_users_write_them(code, name):
    assert language_name(code) == name


def test_codes_normalise_to_iso_639_1():
    assert [normalize_code(c) for c in ("cmn_Hans", "zho_simpl", "zh-Hans", "vie", "ell", "tur")] == \
        ["zh", "zh", "zh", "vi", "el", "tr"]


def test_unknown_code_is_a_user_error_with_a_suggestion():
    with pytest.raises(UserError) as err:
        normalize_code("Chinese")
    assert "unknown language code 'Chinese'" in str(err.value) and "'zh'" in str(err.value)
    with pytest.raises(UserError, match="unknown language code 'xx'"):
        language_name("xx")


def test_eval_instruction_is_fixed_and_first_in_the_pool():
    assert eval_instruction("en", "cmn_Hans") == "Translate the following sentences from English to Chinese."
    assert eval_instruction("en", "el") == "Translate the following sentences from English to Greek."
    assert TRAIN_TEMPLATES[0].format(src="English", tgt="Chinese") == eval_instruction("en", "zh")


def test_pool_is_large_varied_and_often_names_only_the_target():
    assert len(set(TRAIN_TEMPLATES)) == len(TRAIN_TEMPLATES) >= 30
    assert sum("{src}" not in t for t in TRAIN_TEMPLATES) >= 10
    assert all("{tgt}" in t for t in TRAIN_TEMPLATES)


def test_training_instruction_depends_on_pair_and_seed_only():
    pairs = [(f"sentence {i}", f"句子 {i}") for i in range(200)]
    chosen = [train_instruction("en", "zh", s, t, seed=0) for s, t in pairs]
    assert chosen == [train_instruction("en", "zh", s, t, seed=0) for s, t in pairs]
    assert len(set(chosen)) >= 25  # rotates through the pool
    assert chosen != [train_instruction("en", "zh", s, t, seed=1) for s, t in pairs]


def test_directions_put_the_right_side_in_the_output():
    assert oriented(("en", "zh"), "en-x") == [(0, 1)]
    assert oriented(("zh", "en"), "en-x") == [(1, 0)]
    assert oriented(("en", "zh"), "x-en") == [(1, 0)]
    assert oriented(("en", "zh"), "both") == [(0, 1), (1, 0)]
    record = translation_record("eng", "cmn_Hans", "Hello", "你好", seed=0)
    assert (record["input"], record["output"], record["lang"], record["direction"]) == \
        ("Hello", "你好", "zh", "en-zh")
    back = translation_record("zh", "en", "你好", "Hello", seed=0)
    assert (back["lang"], back["direction"], back["output"]) == ("zh", "zh-en", "Hello")
