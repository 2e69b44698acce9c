"""Parallel sentences for the alignment analysis: line i of every language says the same thing.

Three ways to point at them:

* nothing: the FLORES-101 dev sample shipped in the package (en, zh, vi; 200 lines each);
* ``data_root``: a folder laid out like FLORES-101 (``<root>/<split>/<code>.<split>``, with the
  3-letter codes ``eng cmn_Hans vie ara ell hin tur``...);
* ``data``: any bitext, either a folder of ``<code>.*`` files (``en.txt``, ``vie.dev``) or a
  Moses-style prefix (``corpus.en-zh`` for ``corpus.en-zh.en`` + ``corpus.en-zh.zh``).

Language codes are matched in whatever form the files use (``zh`` = ``cmn_Hans`` = ``zho``), via
``lingalign.langid.base_code``; the FLORES spelling is preferred when several files match (FLORES has
both ``cmn_Hans`` and ``cmn_Hant``, which both reduce to ``zh``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lingalign.artifacts import hash_obj, read_text
from lingalign.config import samples_dir
from lingalign.errors import UserError
from lingalign.langid import base_code

# ISO 639-1 code -> FLORES-101 file code, for the languages of the paper.
FLORES_CODES = {"en": "eng", "zh": "cmn_Hans", "vi": "vie", "ar": "ara", "el": "ell", "hi": "hin", "tr": "tur"}


@dataclass
class ParallelSet:
    """Line-aligned sentences per language (``texts[lang][i]`` are translations of each other)."""

    texts: dict[str, list[str]]
    files: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(next(iter(self.texts.values())))

    def fingerprint(self) -> str:
        return hash_obj({lang: self.texts[lang] for lang in sorted(self.texts)})


def default_root() -> Path:
    return samples_dir() / "flores101"


def _candidates(data: Path) -> dict[str, Path]:
    """Map each file's language code (as written in its name) to the file."""
    if data.is_dir():
        return {p.name.split(".")[0]: p for p in sorted(data.iterdir()) if p.is_file() and not p.name.startswith(".")}
    parent, prefix = data.parent, data.name + "."
    if not parent.is_dir():
        raise UserError(f"{data}: no such folder or file prefix")
    return {p.name[len(prefix):]: p for p in sorted(parent.iterdir()) if p.is_file() and p.name.startswith(prefix)}


def find_file(lang: str, data: Path) -> Path:
    """The file holding ``lang`` in a folder or under a Moses-style prefix; a clear error otherwise."""
    found = _candidates(data)
    for exact in (FLORES_CODES.get(lang), lang):
        if exact in found:
            return found[exact]
    matches = [code for code in found if base_code(code) == base_code(lang)]
    if len(matches) == 1:
        return found[matches[0]]
    if len(matches) > 1:
        raise UserError(f"{data}: several files could hold {lang!r}: {', '.join(matches)}",
                        hint="point --data at a folder or prefix with one file per language")
    available = ", ".join(sorted(found)) or "none"
    raise UserError(f"{data}: no data for language {lang!r} (available: {available})")


def _read_lines(path: Path) -> list[str]:
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    return [line.strip() for line in text.splitlines()]


def load_parallel(
    langs: list[str],
    *,
    data: str | Path | None = None,
    data_root: str | Path | None = None,
    split: str = "dev",
    limit: int | None = None,
) -> ParallelSet:
    """Read line-aligned sentences for ``langs``; files must have equal line counts."""
    if len(langs) < 2 or len(set(langs)) != len(langs):
        raise UserError(f"--langs needs at least two different languages, got {','.join(langs)}")
    if data is not None:
        source = Path(data).expanduser()
    else:
        source = Path(data_root).expanduser() / split if data_root else default_root() / split
        if not source.is_dir():
            raise UserError(f"{source}: no such folder (expected <data-root>/{split}/<code>.{split} files)")
    files = {lang: find_file(lang, source) for lang in langs}
    texts = {lang: _read_lines(path) for lang, path in files.items()}
    counts = {lang: len(lines) for lang, lines in texts.items()}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{files[lang]}: {n}" for lang, n in counts.items())
        raise UserError(f"parallel files have different line counts ({detail})",
                        hint="line i of each file must be a translation of line i of the others")
    empty = [i + 1 for i in range(counts[langs[0]]) if any(not texts[lang][i] for lang in langs)]
    if empty:
        raise UserError(f"{source}: empty line {empty[0]} in at least one language ({len(empty)} such lines)")
    if limit is not None:
        texts = {lang: lines[:limit] for lang, lines in texts.items()}
    n = len(texts[langs[0]])
    if n < 2:
        raise UserError(f"{source}: need at least 2 parallel sentences, found {n}")
    return ParallelSet(texts=texts, files={lang: str(path) for lang, path in files.items()})
