"""The number a math answer ends with, read the way people write numbers in any MGSM language.

MGSM (and any ``math`` set) is scored by exact numeric match of the **last number in the
response** against the gold answer. Two things stand between a response and that number:

* **Digits.** A Bengali answer may be written ``১৮``, a Thai one ``๑๘``, a Japanese one ``１８``.
  Every such character is a Unicode decimal digit (general category Nd) and carries its value in
  the Unicode Character Database, so ``unicodedata.decimal`` maps each one to 0-9: Bengali,
  Telugu, Thai, Devanagari, Arabic-Indic, Extended Arabic-Indic, full-width, and every other
  decimal script, without a table of our own. Characters that only *have* a numeric value
  (superscript ², circled ①, CJK numerals 十八) are not decimal digits and are left alone, so
  ``5 m²`` still ends with 5. Numbers written in words or in CJK numerals are not read.
* **Separators.** ``1,234`` and ``1.234`` (German, Spanish) and ``1 234`` (French, Russian, with a
  space, no-break space or narrow no-break space) are all 1234; ``2,5`` is 2.5 (decimal comma);
  ``1,234.5`` and ``1.234,5`` are both 1234.5; Arabic has its own separators (U+066C thousands,
  U+066B decimal). A single ``,`` or ``.`` followed by exactly three digits is read as a
  thousands separator (``2.500`` = 2500), because MGSM's answers are whole numbers and the
  languages that write ``2.500`` mean 2500 by it; otherwise it is the decimal separator. Spaces,
  apostrophes and full-width commas only ever group thousands (followed by exactly three digits),
  so ``1 2 3`` stays three numbers.

No library does this (``babel`` parses one locale's format at a time, and the language a model
answers in is not known in advance), which is why it is written here.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

_THOUSANDS_ONLY = " \u00a0\u202f\u2009'\u066c\uff0c"  # spaces, apostrophe, Arabic and full-width commas
_DECIMAL_ONLY = "\u066b"  # Arabic decimal separator
_EITHER = ",.\uff0e"  # comma, full stop, full-width full stop
_NUMBER = re.compile(
    r"(?P<sign>(?<![0-9])[-\u2212])?"
    r"(?P<body>[0-9]+(?:[" + re.escape(_EITHER + _DECIMAL_ONLY) + r"][0-9]+"
    r"|[" + re.escape(_THOUSANDS_ONLY) + r"][0-9]{3}(?![0-9]))*)"
)


def ascii_digits(text: str) -> str:
    """Every Unicode decimal digit (category Nd, any script) replaced by its ASCII digit."""
    return "".join(str(unicodedata.decimal(ch)) if ch > "\x7f" and unicodedata.category(ch) == "Nd" else ch
                   for ch in text)


def _value(body: str) -> Decimal:
    """The value of one matched run of digits and separators (see the module docstring)."""
    groups = re.split(r"[^0-9]", body)
    seps = re.findall(r"[^0-9]", body)
    if not seps:
        return Decimal(body)
    if _DECIMAL_ONLY in seps:
        point = len(seps) - 1 - seps[::-1].index(_DECIMAL_ONLY)
    else:
        either = [i for i, s in enumerate(seps) if s in _EITHER]
        kinds = {seps[i].replace("\uff0e", ".") for i in either}
        point = None
        if len(kinds) == 2:  # both "," and ".": the last one is the decimal separator
            point = either[-1]
        elif len(either) == 1 and not (len(groups[either[0] + 1]) == 3 and groups[0][0] != "0"
                                       and len(groups[0]) <= 3 and either[0] == 0):
            point = either[0]  # "2,5", "0.500", "12.75": decimal; "2.500": thousands
    whole = groups[:point + 1] if point is not None else groups
    # Thousand groups after the first must have three digits; otherwise the run is a list ("1,2,3").
    if any(len(g) != 3 for g in whole[1:]) or (point is not None and point != len(seps) - 1):
        raise ValueError(body)
    number = "".join(whole)
    if point is not None:
        number += "." + groups[point + 1]
    return Decimal(number)


def numbers(text: str) -> list[Decimal]:
    """Every number in ``text``, in order, with native digits and separators read."""
    found = []
    for match in _NUMBER.finditer(ascii_digits(text)):
        sign = -1 if match.group("sign") else 1
        try:
            found.append(sign * _value(match.group("body")))
        except (ValueError, InvalidOperation):  # not one number ("1,2,3"): each digit run on its own
            runs = [Decimal(run) for run in re.findall(r"[0-9]+", match.group("body"))]
            runs[0] *= sign
            found.extend(runs)
    return found


def last_number(text: str) -> Decimal | None:
    """The last number in a response (None if it has none): the answer MGSM scores."""
    found = numbers(text)
    return found[-1] if found else None


def parse_number(text: str) -> Decimal | None:
    """A gold answer: the whole (stripped) string must be one number, else None."""
    text = ascii_digits(text.strip())
    match = _NUMBER.fullmatch(text)
    if not match:
        return None
    try:
        value = _value(match.group("body"))
    except (ValueError, InvalidOperation):
        return None
    return -value if match.group("sign") else value


def is_correct(prediction: str, gold: str) -> bool:
    """Exact numeric match of the response's last number with the gold answer (18 == 18.0)."""
    answer, expected = last_number(prediction), parse_number(gold)
    return answer is not None and expected is not None and answer == expected
