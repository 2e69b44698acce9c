"""Cleaning filters and their drop counts; the contamination guard."""

from __future__ import annotations

import json

import pytest

from lingalign.data.clean import Cleaner, EvalTexts, text_length
from lingalign.data.recipe import CleanConfig, EvalSet
from lingalign.errors import UserError


def test_each_filter_counts_what_it_drops():
    cleaner = Cleaner(CleanConfig(min_chars=2, max_chars=40, max_length_ratio=3.0))
    pairs = [
        ("  Hello there ", " 你好 "),        # kept, stripped
        ("Hello there", "你好"),             # duplicate of the first after stripping
        ("", "空"),                          # empty
        ("   ", "空"),                       # empty after stripping
        ("A", "一个"),                       # too short
        ("x" * 41, "长" * 10),               # too long
        ("A long English sentence here.", "短句"),  # ratio: 29 vs 6 (a wide character counts 3)
        ("Good night", "晚安"),              # kept
    ]
    kept = [cleaner.pair(s, t, ("en", "zh")) for s, t in pairs]
    assert kept[0] == ("Hello there", "你好") and kept[-1] == ("Good night", "晚安")
    assert sum(k is not None for k in kept) == 2
    assert dict(cleaner.dropped) == {"duplicate": 1, "empty": 2, "too_short": 1, "too_long": 1, "length_ratio": 1}


def test_length_ratio_keeps_faithful_translations_in_every_script(flores):
    """FLORES pairs are professional translations of one sentence: none is misaligned, whatever the script."""
    english = flores["eng"]
    for unit in ("characters", "utf8-bytes"):
        dropped = {}
        for code, sentences in flores.items():
            cleaner = Cleaner(CleanConfig(max_length_ratio=3.0, length_unit=unit, dedup=False, max_chars=10_000))
            for en, other in zip(english, sentences):
                cleaner.pair(en, other, ("en", code))
            if cleaner.dropped:
                dropped[code] = dict(cleaner.dropped)
        if unit == "characters":
            assert len(flores) > 100 and dropped == {}  # Han, kana, Hangul, Devanagari, Thai, Myanmar... all kept
        else:
            # the old rule, which recipes may still pin: a byte count makes most Indic and SE Asian scripts "too long"
            assert {"hin", "tha", "tam", "mya", "khm"} <= set(dropped) and "cmn_Hans" not in dropped


def test_the_old_length_unit_fingerprints_as_before():
    """A recipe pinning utf8-bytes dumps exactly as recipes did before the option existed (same cache keys)."""
    old = CleanConfig(length_unit="utf8-bytes").model_dump(mode="json")
    assert "length_unit" not in old and CleanConfig().model_dump(mode="json")["length_unit"] == "characters"
    assert text_length("नमस्ते") == 6 and text_length("नमस्ते", "utf8-bytes") == 18
    assert text_length("你好。") == 9 and text_length("Hello") == 5


def test_dedup_can_be_turned_off():
    cleaner = Cleaner(CleanConfig(dedup=False))
    assert all(cleaner.pair("Same", "同", ("en", "zh")) for _ in range(3))
    assert not cleaner.dropped


def test_langid_filter_drops_sides_in_the_wrong_language():
    cleaner = Cleaner(CleanConfig(langid=True, max_length_ratio=None))
    assert cleaner.pair("The weather is lovely today.", "今天天气很好。", ("en", "zh"))
    assert cleaner.pair("The weather is lovely today!", "The weather is lovely today!", ("en", "zh")) is None
    assert cleaner.dropped == {"wrong_language": 1}


def test_langid_filter_uses_the_identifiers_own_labels_and_refuses_unknown_languages():
    cleaner = Cleaner(CleanConfig(langid=True, max_length_ratio=None))
    # py3langid labels Tagalog "tgl"; the recipe says "tl": the pair must be kept, not dropped
    assert cleaner.pair("Good morning to all of you, my friends.",
                        "Magandang umaga sa inyong lahat, mga kaibigan ko.", ("en", "tl"))
    with pytest.raises(UserError, match="cannot recognise 'ceb'"):
        cleaner.pair("Good morning to all of you.", "Maayong buntag kaninyong tanan.", ("en", "ceb"))


def test_contamination_guard_drops_texts_from_flores_and_squad(tmp_path, samples_dir):
    flores = (samples_dir / "flores101" / "dev" / "eng.dev").read_text(encoding="utf-8").splitlines()
    squad = json.loads((samples_dir / "xquad" / "xquad.zh.json").read_text(encoding="utf-8"))
    paragraph = squad["data"][0]["paragraphs"][0]
    guard = EvalTexts([EvalSet(path="sample:flores101/dev"), EvalSet(path="sample:xquad/xquad.zh.json")], None)
    cleaner = Cleaner(CleanConfig(max_chars=5000, max_length_ratio=None), guard)
    # planted: an eval sentence with extra spaces as a source, an XQuAD question as a target
    assert cleaner.pair("  " + flores[7].replace(" ", "  ") + " ", "某个翻译", ("en", "zh")) is None
    assert cleaner.pair("Some question", paragraph["qas"][0]["question"], ("en", "zh")) is None
    assert cleaner.instruction("Summarise.", paragraph["context"], "摘要", "zh") is None
    assert cleaner.pair("A sentence no evaluation set holds.", "没有评测集包含这句话。", ("en", "zh"))
    assert cleaner.dropped == {"contaminated": 3}
    # letter-free answers such as numbers are not treated as contamination
    assert cleaner.instruction("How many legs does a spider have?", "", "8", "en")
