"""The last number of a math answer: every digit system of the MGSM languages, and the separators people write."""

import unicodedata
from decimal import Decimal

import pytest

from lingalign.metrics.math_answers import ascii_digits, is_correct, last_number, numbers, parse_number

# The zero of each decimal digit system an MGSM answer may be written in (and a few more the
# Unicode database covers the same way): the nine others follow it in Unicode.
ZEROS = {
    "ascii": "0", "bengali (bn)": "\u09e6", "telugu (te)": "\u0c66", "thai (th)": "\u0e50",
    "devanagari": "\u0966", "arabic-indic": "\u0660", "extended arabic-indic": "\u06f0",
    "full-width (ja, zh)": "\uff10", "tamil": "\u0be6", "myanmar": "\u1040",
}


def digits_of(zero: str, text: str) -> str:
    """``text`` with its ASCII digits written in the system whose zero is ``zero``."""
    return "".join(chr(ord(zero) + int(ch)) if ch.isdigit() else ch for ch in text)


@pytest.mark.parametrize("system", ZEROS)
def test_every_digit_system_reads_as_ascii(system):
    zero = ZEROS[system]
    assert unicodedata.category(zero) == "Nd"
    assert ascii_digits(digits_of(zero, "0123456789")) == "0123456789"
    assert last_number(digits_of(zero, "3 + 15 = 18")) == 18
    assert last_number(digits_of(zero, "1,250")) == 1250


@pytest.mark.parametrize("response, expected", [
    ("জেনেট প্রতিদিন ১৮ ডলার উপার্জন করেন।", 18),  # Bengali sentence, Bengali digits
    ("సమాధానం ౧౮", 18),  # Telugu
    ("คำตอบคือ ๑๘ ดอลลาร์", 18),  # Thai
    ("答えは１８ドルです。", 18),  # Japanese, full-width digits
    ("答案是 18。", 18),  # Chinese: no space before the next character either
    ("Ответ — 18.", 18),
    ("Jibu ni 18", 18),
])
def test_mgsm_style_sentences(response, expected):
    assert last_number(response) == expected


@pytest.mark.parametrize("text, value", [
    ("1,234", 1234), ("1,234,567", 1234567),  # comma thousands (en, zh, ja)
    ("1.234", 1234), ("1.234.567", 1234567),  # full-stop thousands (de, es)
    ("1 234", 1234), ("1\u00a0234", 1234), ("1\u202f234", 1234), ("1\u2009234", 1234),  # fr, ru
    ("1'234", 1234), ("5，000", 5000), ("1\u066c234", 1234),  # Swiss, full-width, Arabic thousands
    ("2,5", Decimal("2.5")), ("12,75", Decimal("12.75")), ("1234,567", Decimal("1234.567")),  # decimal comma
    ("2.5", Decimal("2.5")), ("0.500", Decimal("0.5")), ("3\u066b5", Decimal("3.5")),
    ("1,234.5", Decimal("1234.5")), ("1.234,5", Decimal("1234.5")), ("1 234,5", Decimal("1234.5")),
    ("-7", -7), ("\u22127", -7),
])
def test_separators(text, value):
    assert numbers(text) == [Decimal(value)]
    assert parse_number(text) == Decimal(value)


def test_what_is_not_one_number():
    assert numbers("1,2,3") == [1, 2, 3]  # a list, not 123
    assert numbers("1 2 3") == [1, 2, 3]  # spaces only group three digits
    assert numbers("3，4") == [3, 4]  # a full-width comma between items
    assert numbers("5 - 3 = 2") == [5, 3, 2] and numbers("2023-2024") == [2023, 2024]  # minus, not a sign
    assert last_number("It costs 5 m² in total.") == 5  # superscripts are not decimal digits
    assert last_number("The answer is 18.") == 18  # the sentence's full stop is not a decimal point
    assert last_number("十八") is None and last_number("no number here") is None


def test_exact_numeric_match_uses_the_last_number():
    assert is_correct("16 - 3 - 4 = 9 eggs, 9 * 2 = 18. The answer is 18.", "18")
    assert not is_correct("The answer is 18, or 16 eggs.", "18")
    assert is_correct("Die Antwort lautet 114.200 Dollar.", "114,200")  # gold written with a comma
    assert is_correct("18.0", "18") and not is_correct("", "18")
    assert parse_number("18 dollars") is None and parse_number("") is None


# ---- MSVAMP's answers: numbers written as text with a decimal part ("8.0") --------------------------

@pytest.mark.parametrize("gold, value", [
    ("8.0", Decimal(8)), ("1,250", Decimal(1250)), ("-3", Decimal(-3)), ("12.50", Decimal("12.5")),
    ("22090603.0", Decimal(22090603)), ("1,250.0", Decimal(1250)), ("-3.0", Decimal(-3)),
])
def test_msvamp_gold_answers_parse(gold, value):
    assert parse_number(gold) == value


@pytest.mark.parametrize("prediction, gold, expected", [
    ("8", "8.0", True), ("The answer is 8.", "8.0", True), ("8.00", "8.0", True),
    ("She has 1,250 apples.", "1250.0", True), ("1250", "1,250", True), ("1.250", "1,250", True),  # de thousands
    ("It is -3 degrees.", "-3", True), ("-3", "-3.0", True), ("3", "-3", False), ("−3", "-3.0", True),  # U+2212
    ("$12.50", "12.50", True), ("12,5", "12.50", True), ("12.5", "12.50", True), ("12", "12.50", False),
    ("8.5", "8.0", False), ("no number", "8.0", False),
])
def test_msvamp_answers_compare_with_the_last_number(prediction, gold, expected):
    assert is_correct(prediction, gold) is expected
