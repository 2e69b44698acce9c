"""Filters that decide which pairs and records are kept, each with a drop counter.

Filters run cheapest first: empty sides, character-length bounds, length ratio, the
contamination guard, exact duplicates, then (optional, slowest) language identification.
De-duplication keeps an 8-byte hash per kept item, not the texts, so its memory stays small.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

from lingalign import langid
from lingalign.artifacts import read_text
from lingalign.config import resolve_path
from lingalign.data.hashing import normalize_text, text_key
from lingalign.data.readers import iter_lines
from lingalign.data.recipe import CleanConfig, EvalSet
from lingalign.errors import UserError

# Sentence ends in Latin, CJK and Devanagari scripts: contexts are also checked sentence by sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？।])\s*")


def text_length(text: str, unit: str = "characters") -> int:
    """The length the length-ratio filters compare: characters, an East Asian wide character counting 3.

    Why not UTF-8 bytes (the rule until 2026-12): a byte count makes every script outside Latin look
    longer than its English: on FLORES devtest, where both sides are professional translations of the
    same sentence, 10% of the en-hi pairs, 27% of en-th, 66% of en-ta and 83% of en-my are over 3x in
    bytes. Plain characters fail the other way: Chinese takes about a third of the characters of
    English (63% of en-zh pairs over 3x). Counting a wide or full-width character (Han, kana, Hangul,
    CJK punctuation) as 3 puts the median FLORES ratio between 0.66 and 1.27 for all 16 scripts
    measured (docs/data.md, bench/length_ratio.py) and leaves no FLORES pair over 3x but one in a
    thousand. ``unit="utf8-bytes"`` is the old rule, kept so recipes that pin it build the same data.
    """
    if unit == "utf8-bytes":
        return len(text.encode("utf-8"))
    if text.isascii():
        return len(text)
    return len(text) + 2 * sum(unicodedata.east_asian_width(ch) in "WF" for ch in text if ord(ch) >= 0x1100)


class Cleaner:
    """Applies one ``CleanConfig`` and counts what each filter dropped."""

    def __init__(self, config: CleanConfig, contamination: "EvalTexts | None" = None):
        self.config = config
        self.contamination = contamination
        self.seen: set[bytes] = set()
        self.dropped: Counter[str] = Counter()

    @staticmethod
    def _in_language(text: str, code: str) -> bool:
        """The langid filter; a language the identifier does not know is an error, not a silent drop of everything."""
        if not langid.supported(code):
            raise UserError(f"clean.langid: the language identifier (py3langid) cannot recognise {code!r}",
                            hint="set clean: {langid: false} for this source")
        return langid.in_language(text, code)

    def _drop(self, reason: str) -> None:
        self.dropped[reason] += 1

    def pair(self, src: str, tgt: str, codes: tuple[str, str]) -> tuple[str, str] | None:
        """The stripped pair, or None (counted) when a filter rejects it."""
        src, tgt = src.strip(), tgt.strip()
        cfg = self.config
        if not src or not tgt:
            return self._drop("empty")
        if min(len(src), len(tgt)) < cfg.min_chars:
            return self._drop("too_short")
        if max(len(src), len(tgt)) > cfg.max_chars:
            return self._drop("too_long")
        if cfg.max_length_ratio is not None:
            sizes = sorted((text_length(src, cfg.length_unit), text_length(tgt, cfg.length_unit)))
            if sizes[1] > cfg.max_length_ratio * sizes[0]:
                return self._drop("length_ratio")
        if self.contamination is not None and self.contamination.contains(src, tgt):
            return self._drop("contaminated")
        if not self._first_time(src, tgt):
            return self._drop("duplicate")
        if cfg.langid and not all(self._in_language(t, c) for t, c in zip((src, tgt), codes)):
            return self._drop("wrong_language")
        return src, tgt

    def instruction(self, instruction: str, input: str, output: str, code: str) -> tuple[str, str, str] | None:
        """Stripped fields, or None. Length bounds are not applied: long answers are normal here
        (use ``max_tokens`` to drop examples the model cannot take)."""
        instruction, input, output = instruction.strip(), input.strip(), output.strip()
        if not instruction or not output:
            return self._drop("empty")
        if self.contamination is not None and self.contamination.contains(instruction, input, output):
            return self._drop("contaminated")
        if not self._first_time(instruction, input, output):
            return self._drop("duplicate")
        if self.config.langid and not self._in_language(output, code):
            return self._drop("wrong_language")
        return instruction, input, output

    def parallel_instruction(self, x: tuple[str, str, str], en: tuple[str, str, str],
                             code: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """Both sides of a parallel instruction record ((instruction, input, output) in ``code`` and in
        English), stripped, or None: as :meth:`instruction`, on both sides (langid checks both answers)."""
        x, en = tuple(t.strip() for t in x), tuple(t.strip() for t in en)
        if not (x[0] and x[2] and en[0] and en[2]):
            return self._drop("empty")
        if self.contamination is not None and self.contamination.contains(*x, *en):
            return self._drop("contaminated")
        if not self._first_time(*x, *en):
            return self._drop("duplicate")
        if self.config.langid and not (self._in_language(x[2], code) and self._in_language(en[2], "en")):
            return self._drop("wrong_language")
        return x, en

    def count(self, reason: str) -> None:
        """Count a drop decided outside these filters (a pivot record without an answer, ...)."""
        self._drop(reason)

    def _first_time(self, *texts: str) -> bool:
        if not self.config.dedup:
            return True
        key = text_key(*texts)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class EvalTexts:
    """Normalised texts of the declared evaluation sets; training text equal to one is contaminated."""

    def __init__(self, sets: list[EvalSet], base: Path | None):
        self.keys: set[bytes] = set()
        self.files: list[Path] = []
        for spec in sets:
            path = resolve_path(spec.path, base)
            if not path.exists():
                raise UserError(f"{path}: evaluation set not found (recipe key eval_sets)")
            files = sorted(p for p in path.iterdir() if p.is_file() and not _is_meta(p)) if path.is_dir() else [path]
            for file in files:
                fmt = spec.format if spec.format != "auto" else ("squad" if file.suffix == ".json" else "lines")
                texts = _squad_texts(file) if fmt == "squad" else (text for _, text in iter_lines(file))
                for text in texts:
                    self._add(text)
                self.files.append(file)

    def _add(self, text: str) -> None:
        # Texts without a letter (answers such as "8" or "1990") would flag innocent short answers.
        text = normalize_text(text)
        if any(ch.isalpha() for ch in text):
            self.keys.add(text_key(text))

    def contains(self, *texts: str) -> bool:
        return any(text and text_key(normalize_text(text)) in self.keys for text in texts)

    def __len__(self) -> int:
        return len(self.keys)


def _is_meta(path: Path) -> bool:
    return path.name.startswith((".", "LICENSE", "README"))


def _squad_texts(path: Path):
    """Contexts (whole and sentence by sentence), questions and answers of a SQuAD-format file."""
    try:
        data = json.loads(read_text(path))["data"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a SQuAD-format JSON file ({type(exc).__name__}: {exc})",
                        hint="give format: lines for one text per line") from None
    for article in data:
        for paragraph in article.get("paragraphs", []):
            context = paragraph.get("context", "")
            yield context
            yield from _SENTENCE_END.split(context)
            for qa in paragraph.get("qas", []):
                yield qa.get("question", "")
                yield from (answer.get("text", "") for answer in qa.get("answers", []))
