"""Streaming readers for parallel text and instruction sets.

Each reader yields one item at a time (``(line, source_text, target_text)`` for bitext,
``(line, instruction, input, output)`` for instructions), so memory does not grow with the corpus.
Every problem in a file is a ``UserError`` naming the file and line. A leading UTF-8 byte-order mark
(Windows editors write one) is dropped, as by every reader of lingalign (``artifacts.open_text``).
"""

from __future__ import annotations

import codecs
import gzip
import json
from itertools import zip_longest
from pathlib import Path
from typing import Iterator

from lingalign.artifacts import iter_jsonl, strip_bom
from lingalign.errors import UserError, where
from lingalign.languages import normalize_code


def _require(path: Path) -> Path:
    if not path.exists():
        hint = None
        if path.parent.exists():
            near = sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name.split(".")[0]))[:5]
            hint = f"files there: {', '.join(near)}" if near else None
        raise UserError(f"{path}: file not found", hint=hint)
    return path


def _open_bytes(path: Path):
    """A file for reading bytes; ``.gz`` files (WikiMatrix ships as ``WikiMatrix.en-el.tsv.gz``) are unpacked
    on the fly."""
    if path.suffix == ".gz":
        return gzip.open(_require(path), "rb")
    return open(_require(path), "rb")


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` for each line, without its line ending or a leading byte-order mark;
    invalid UTF-8 is an error."""
    with _open_bytes(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = (strip_bom(raw) if number == 1 else raw).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UserError(f"{where(path, number)}: not valid UTF-8 (byte {exc.start} of the line)") from None
            yield number, text.rstrip("\r\n")


def read_line_pairs(src_path: Path, tgt_path: Path) -> Iterator[tuple[int, str, str]]:
    """Line-aligned files read in step. Different line counts are an error naming both files.

    The check happens while streaming: when one file ends first, the rest of the other is counted
    (not kept) so the message can give both counts.
    """
    missing = object()
    number = 0
    src_lines, tgt_lines = iter_lines(src_path), iter_lines(tgt_path)
    for number, (src, tgt) in enumerate(zip_longest(src_lines, tgt_lines, fillvalue=missing), start=1):
        if src is missing or tgt is missing:
            rest = tgt_lines if src is missing else src_lines
            longer = number + sum(1 for _ in rest)
            counts = (number - 1, longer) if src is missing else (longer, number - 1)
            raise UserError(
                f"parallel files differ in length: {src_path} has {counts[0]} lines, {tgt_path} has {counts[1]}",
                hint="each line of one file must translate the same line of the other",
            )
        yield number, src[1], tgt[1]


def moses_paths(prefix: Path, codes: tuple[str, str]) -> tuple[Path, Path]:
    """``corpus.en-zh`` + (en, zh) -> ``corpus.en-zh.en``, ``corpus.en-zh.zh``."""
    return tuple(prefix.with_name(f"{prefix.name}.{code}") for code in codes)  # type: ignore[return-value]


def flores_paths(folder: Path, codes: tuple[str, str]) -> tuple[Path, Path]:
    """A FLORES-style folder holds one file per language: ``eng.dev``, ``cmn_Hans.dev``."""
    if not _require(folder).is_dir():
        raise UserError(f"{folder}: expected a folder of per-language files (format: flores)")
    found = []
    for code in codes:
        matches = sorted(folder.glob(f"{code}.*"))
        if len(matches) != 1:
            have = ", ".join(sorted(p.name for p in folder.iterdir())[:8])
            problem = "no file" if not matches else f"{len(matches)} files"
            raise UserError(f"{folder}: {problem} named {code}.* (expected exactly one)", hint=f"files there: {have}")
        found.append(matches[0])
    return found[0], found[1]


def read_tsv(path: Path) -> Iterator[tuple[int, str, str]]:
    """Two tab-separated columns per line: source, then target (extra columns are ignored).

    News Commentary's ``news-commentary-v16.en-zh.tsv`` is this layout; its lines with one side
    empty (``text<TAB>``) come through as empty sides, which cleaning drops and counts.
    """
    for number, line in iter_lines(path):
        if not line.strip():
            yield number, "", ""
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise UserError(f"{where(path, number)}: expected two tab-separated columns, found one")
        yield number, parts[0], parts[1]


def read_wikimatrix(path: Path, min_score: float | None = None) -> Iterator[tuple[int, str, str]]:
    """WikiMatrix TSV: ``margin score<TAB>source<TAB>target``, best scores first (``.tsv`` or ``.tsv.gz``).

    The score is the LASER margin of the mined pair; the WikiMatrix authors suggest keeping pairs of
    1.04 or more. Pairs under ``min_score`` are skipped (not counted as read or dropped).
    """
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            raise UserError(f"{where(path, number)}: expected three tab-separated columns "
                            f"(score, source, target), found {len(parts)}", hint="for two columns use format: tsv")
        try:
            score = float(parts[0])
        except ValueError:
            raise UserError(f"{where(path, number)}: the first column should be a margin score, got {parts[0][:30]!r}",
                            hint="for two columns use format: tsv") from None
        if min_score is not None and score < min_score:
            continue
        yield number, parts[1], parts[2]


def read_translation_jsonl(path: Path, codes: tuple[str, str]) -> Iterator[tuple[int, str, str]]:
    """JSONL lines ``{"translation": {"en": ..., "zh": ...}}`` (the Hugging Face translation layout)."""
    for number, record in iter_jsonl(_require(path)):
        pair = record.get("translation")
        if not isinstance(pair, dict):
            raise UserError(f"{where(path, number, 'translation')}: expected an object {{\"en\": ..., \"zh\": ...}}")
        yield number, *(_translation_side(pair, code, path, number) for code in codes)


def _translation_side(pair: dict, code: str, path: Path, number: int) -> str:
    if code in pair:
        value = pair[code]
    else:
        same = [key for key in pair if _same_language(key, code)]
        if not same:
            raise UserError(f"{where(path, number, 'translation.' + code)}: missing; keys are {', '.join(pair)}")
        value = pair[same[0]]
    if not isinstance(value, str):
        raise UserError(f"{where(path, number, 'translation.' + code)}: expected text, got {type(value).__name__}")
    return value


def _same_language(key: str, code: str) -> bool:
    try:
        return normalize_code(key) == normalize_code(code)
    except UserError:
        return False


def read_pairs(fmt: str, paths: list[Path], codes: tuple[str, str],
               min_score: float | None = None) -> Iterator[tuple[int, str, str]]:
    """``(line, side_0, side_1)`` of a parallel source in any bitext format, sides in ``codes`` order."""
    if fmt == "tsv":
        return read_tsv(paths[0])
    if fmt == "wikimatrix":
        return read_wikimatrix(paths[0], min_score)
    if fmt == "jsonl":
        return read_translation_jsonl(paths[0], codes)
    return read_line_pairs(paths[0], paths[1])


# ---- instruction sets -------------------------------------------------------------------------

class _JsonText:
    """A JSON file read in chunks: a text buffer, a cursor, and the line number at the cursor."""

    def __init__(self, path: Path, handle, chunk_chars: int):
        self.path, self.handle, self.chunk = path, handle, chunk_chars
        self.utf8 = codecs.getincrementaldecoder("utf-8-sig")()  # drops a leading byte-order mark
        self.buffer, self.pos, self.first_line, self.raw_lines = "", 0, 1, 1

    def more(self) -> bool:
        """Append the next chunk, dropping what was consumed. False at the end of the file."""
        raw = self.handle.read(self.chunk)
        try:
            text = self.utf8.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            line = self.raw_lines + raw.count(b"\n", 0, max(exc.start, 0))
            raise UserError(f"{where(self.path, line)}: not valid UTF-8") from None
        self.raw_lines += raw.count(b"\n")
        self.first_line += self.buffer.count("\n", 0, self.pos)
        self.buffer, self.pos = self.buffer[self.pos:] + text, 0
        return bool(raw)

    def peek(self) -> str:
        """The next non-space character ('' at the end of the file), without consuming it."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self.more():
                return ""

    def line(self) -> int:
        return self.first_line + self.buffer.count("\n", 0, self.pos)


def iter_json_array(path: Path, chunk_chars: int = 1 << 20) -> Iterator[tuple[int, object]]:
    """Items of a top-level JSON list, parsed one at a time from a buffered read.

    A 52k-record Alpaca file is ~40 MB on disk and several times that as Python objects; this keeps
    only the current chunk in memory. Yields ``(line_where_the_item_starts, item)``.
    """
    decoder = json.JSONDecoder()
    with open(_require(path), "rb") as handle:
        text = _JsonText(path, handle, chunk_chars)
        if text.peek() != "[":
            raise UserError(f"{where(path, text.line())}: expected a JSON list of records (starting with '[')",
                            hint="for one JSON object per line use format: jsonl")
        text.pos += 1
        first = True
        while (char := text.peek()) != "]":
            if not first:
                if char != ",":
                    raise UserError(f"{where(path, text.line())}: malformed JSON (expected ',' or ']' after a record)")
                text.pos += 1
                text.peek()
            while True:
                try:
                    item, end = decoder.raw_decode(text.buffer, text.pos)
                    break
                except json.JSONDecodeError as exc:
                    if not text.more():
                        raise UserError(f"{where(path, text.line())}: malformed JSON record ({exc.msg})") from None
            yield text.line(), item
            text.pos, first = end, False


def read_instructions(path: Path, fmt: str, fields: dict[str, str]) -> Iterator[tuple[int, str, str, str]]:
    """``(line, instruction, input, output)`` from an Alpaca JSON list or a JSONL file.

    ``fields`` maps our names to the file's keys, e.g. ``{"instruction": "prompt", "output":
    "response"}``. ``instruction`` and ``output`` must be present; a missing ``input`` is empty.
    """
    for number, values in read_fields(path, fmt, {"fields": fields}, ("instruction", "input", "output")):
        yield number, values["fields"]["instruction"], values["fields"]["input"], values["fields"]["output"]


def read_fields(path: Path, fmt: str, sides: dict[str, dict[str, str]],
                names: tuple[str, ...]) -> Iterator[tuple[int, dict[str, dict[str, str]]]]:
    """``(line, {side: {name: text}})``: the fields ``names`` of each record, once per side's key mapping.

    A parallel instruction set holds both languages in one record (``en_instruction`` beside
    ``zh_instruction``); each side (named by its recipe key: ``fields``, ``english_fields``) maps our
    names to the file's keys (a name it does not map is looked up as itself). Every name but
    ``input`` must be present (a missing ``input`` is empty).
    """
    records = iter_json_array(path) if fmt == "json" else iter_jsonl(_require(path))
    for number, record in records:
        if not isinstance(record, dict):
            raise UserError(f"{where(path, number)}: expected a JSON object, got {type(record).__name__}")
        yield number, {side: {ours: _field(record, mapping.get(ours, ours), ours, side, path, number)
                              for ours in names}
                       for side, mapping in sides.items()}


def _field(record: dict, key: str, ours: str, side: str, path: Path, number: int) -> str:
    value = record.get(key, "" if ours == "input" else None)
    if value is None:
        keys = ", ".join(list(record)[:8])
        raise UserError(f"{where(path, number, key)}: missing field (record has {keys})",
                        hint=f"map it in the recipe: {side}: {{{ours}: <key in the file>}}")
    if not isinstance(value, str):
        raise UserError(f"{where(path, number, key)}: expected text, got {type(value).__name__}")
    return value
