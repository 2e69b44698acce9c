"""A field cut into what a translation model sees and what is kept byte for byte.

Machine translation garbles what is not prose: a model "translates" code, rewrites URLs, drops list
numbers and loses the line structure of a long answer. So a field is cut into segments before
translation:

* **kept verbatim, never sent to the model**: fenced code blocks, inline code, URLs, e-mail
  addresses, line breaks (with the indentation after them), list markers at the start of a line
  (``1.``, ``-``, ``*``), the spaces around each piece, and pieces with no letter at all (``3.5``,
  ``--``);
* **translated**: the prose between them, one line at a time (so the answer keeps its lines), a
  line longer than the model's limit cut at sentence ends (or, failing that, at spaces) and its
  pieces translated separately.

Numbers and placeholders (``{name}``, ``%s``, ``<b>``) inside prose go to the model with their
sentence, since cutting a sentence at them would ruin it; :func:`missing_tokens` then checks that
each one came back, and the data stage drops a record whose translation lost one.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

# What is kept verbatim, most specific first (a URL inside inline code stays inside the code).
_VERBATIM = re.compile(
    r"```.*?(?:```|\Z)"                          # fenced code block (to its end, or the end of the field)
    r"|`[^`\n]+`"                                # inline code
    r"|(?:https?|ftp)://[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]]"  # URL, without the sentence's last punctuation
    r"|www\.[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]]"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"             # e-mail address
    r"|\n[ \t]*(?:(?:[-*•+]|\d{1,3}[.)](?!\d))[ \t]*)?"  # line break, indentation, list marker
    r"|\A[ \t]*(?:[-*•+]|\d{1,3}[.)](?!\d))[ \t]*",     # list marker on the first line
    re.S,
)
# Placeholders that must come back unchanged: {name}, {0}, {{x}}, %s, %(name)d, %.2f, $VAR, <tag>.
_PLACEHOLDER = re.compile(
    r"\{\{?[\w.]*\}?\}|%(?:\(\w+\))?[-+#0]*\d*(?:\.\d+)?[sdifgxXeEcr]|\$\{?[A-Za-z_]\w*\}?|</?[A-Za-z][^<>\n]*>")
_DIGITS = re.compile(r"\d+")  # any script's decimal digits; compared as ASCII
# A sentence ends at . ! ? ; (Latin), 。！？； (CJK) or । (Devanagari), before spaces or a CJK sentence
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；।])\s*")


@dataclass(frozen=True)
class Segment:
    text: str
    translate: bool  # False: kept byte for byte


def split_field(text: str, measure: Callable[[str], int], limit: int) -> list[Segment]:
    """``text`` as segments; every translated one measures at most ``limit`` (where it can be cut).

    ``"".join(s.text for s in segments) == text`` always holds.
    """
    segments: list[Segment] = []
    start = 0
    for match in _VERBATIM.finditer(text):
        segments += _prose(text[start:match.start()], measure, limit)
        segments.append(Segment(match.group(), False))
        start = match.end()
    segments += _prose(text[start:], measure, limit)
    return _merge_kept(segments)


def join_field(segments: Sequence[Segment], translations: Sequence[str]) -> str:
    """Put the field back together: kept segments as they were, each translated one replaced in turn."""
    pieces = iter(translations)
    return "".join(next(pieces) if s.translate else s.text for s in segments)


def pieces(segments: Sequence[Segment]) -> list[str]:
    """The texts to translate, in order."""
    return [s.text for s in segments if s.translate]


def _prose(text: str, measure, limit: int) -> list[Segment]:
    """Text between verbatim spans: its surrounding spaces kept, letter-free text kept, the rest cut to the limit."""
    if not text:
        return []
    core = text.strip()
    if not any(ch.isalpha() for ch in core):
        return [Segment(text, False)]
    lead, trail = text[:len(text) - len(text.lstrip())], text[len(text.rstrip()):]
    out = [Segment(lead, False)] if lead else []
    out += _cut(core, measure, limit)
    return out + ([Segment(trail, False)] if trail else [])


def _cut(text: str, measure, limit: int) -> list[Segment]:
    """Sentences packed greedily up to ``limit``; an over-long sentence is cut at spaces, then anywhere."""
    if measure(text) <= limit:
        return [Segment(text, True)]
    for splitter in (_SENTENCE_END, re.compile(r"\s+")):
        parts = _split_keeping(text, splitter)
        if len(parts) > 1:
            break
    else:  # no sentence end and no space (a long run of CJK, say): cut in halves
        half = len(text) // 2
        return _cut(text[:half], measure, limit) + _cut(text[half:], measure, limit)
    out: list[Segment] = []
    current, gap = "", ""
    for part, sep in parts:
        candidate = current + gap + part if current else part
        if current and measure(candidate) > limit:
            out += _cut(current, measure, limit)
            out.append(Segment(gap, False))
            candidate = part
        current, gap = candidate, sep
    out += _cut(current, measure, limit)
    return out


def _split_keeping(text: str, splitter: re.Pattern) -> list[tuple[str, str]]:
    """``[(part, separator after it), ...]``; empty parts are folded into their neighbour."""
    parts, start = [], 0
    for match in splitter.finditer(text):
        if match.start() == start or match.end() == len(text):
            continue
        parts.append((text[start:match.start()], match.group()))
        start = match.end()
    parts.append((text[start:], ""))
    return parts


def _merge_kept(segments: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for segment in segments:
        if not segment.text:
            continue
        if merged and not segment.translate and not merged[-1].translate:
            merged[-1] = Segment(merged[-1].text + segment.text, False)
        else:
            merged.append(segment)
    return merged


def _ascii_digits(run: str) -> str:
    return "".join(str(unicodedata.decimal(ch)) for ch in run)


def protected_tokens(text: str) -> Counter:
    """Numbers (as ASCII digit runs, so ٣ and ३ count as 3 and 3,5 as 3.5) and placeholders of a text."""
    found = Counter(f"number {_ascii_digits(m)}" for m in _DIGITS.findall(_PLACEHOLDER.sub(" ", text)))
    found.update(f"placeholder {m}" for m in _PLACEHOLDER.findall(text))
    return found


def missing_tokens(source: str, translation: str) -> list[str]:
    """Numbers and placeholders of ``source`` that ``translation`` lost (each as often as it occurs)."""
    return sorted((protected_tokens(source) - protected_tokens(translation)).elements())
