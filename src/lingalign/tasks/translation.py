"""Translation tasks (FLORES-101, NTREX-128 and user bitext), prompted with the evaluation instruction.

* ``flores-<src>-<tgt>``      ``flores101/<split>/<code>.<split>`` for both sides (``--split dev|devtest``)
* ``ntrex-en-<tgt>``          ``ntrex128/newstest2019-src.eng.txt`` -> ``newstest2019-ref.<code>.txt``

Every example's instruction is the one fixed sentence of the paper's evaluation template
("Translate the following sentences from English to Chinese."), the source sentence its input.
"""

from __future__ import annotations

from pathlib import Path

import langcodes

from lingalign.errors import UserError
from lingalign.prompting import eval_instruction
from lingalign.tasks.base import Example, Task, iso1, need_file, read_lines
from lingalign.tasks.registry import Family, register

TRANSLATION_MAX_NEW_TOKENS = 256
PAPER_LANGS = ("ar", "el", "hi", "tr", "vi", "zh", "en")
# FLORES-101 and NTREX file codes where they differ from the ISO 639-3 code langcodes gives.
_FLORES_CODES = {"zh": ("cmn_Hans", "zho_simpl"), "ar": ("ara", "arb")}
_NTREX_CODES = {"zh": ("zho_Hans",), "ar": ("arb",)}


def _alpha3(lang: str) -> str:
    try:
        return langcodes.Language.get(lang).to_alpha3()
    except (LookupError, ValueError):
        return lang


def _first_existing(folder: Path, names: list[str]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def flores_file(root: Path, lang: str, split: str) -> Path | None:
    candidates = [lang] if len(lang) > 2 else [*_FLORES_CODES.get(lang, ()), _alpha3(lang)]
    return _first_existing(root / "flores101" / split, [f"{c}.{split}" for c in candidates])


def ntrex_ref_file(root: Path, lang: str) -> Path | None:
    candidates = [lang] if len(lang) > 2 else [*_NTREX_CODES.get(lang, ()), _alpha3(lang)]
    return _first_existing(root / "ntrex128", [f"newstest2019-ref.{c}.txt" for c in candidates])


def read_bitext(src: Path, tgt: Path) -> list[tuple[str, str]]:
    sources, targets = read_lines(src), read_lines(tgt)
    if len(sources) != len(targets):
        raise UserError(f"{src} has {len(sources)} lines but {tgt} has {len(targets)}: "
                        "a parallel test set needs one line per sentence on both sides")
    return list(zip(sources, targets))


def translation_task(name: str, src_path: Path, tgt_path: Path, src: str, tgt: str,
                     split: str | None = None) -> Task:
    instruction = eval_instruction(src, tgt)
    examples = [Example(id=str(i), instruction=instruction, input=s, references=[t], source=s)
                for i, (s, t) in enumerate(read_bitext(src_path, tgt_path))]
    return Task(name, "translation", iso1(tgt), examples, [src_path, tgt_path],
                TRANSLATION_MAX_NEW_TOKENS, split=split, src_lang=iso1(src))


# ---- the built-in families -------------------------------------------------------------------------

def _load_flores(name: str, parts: list[str], root: Path, split: str) -> Task:
    if split not in ("dev", "devtest"):
        raise UserError(f"unknown FLORES split {split!r}; expected dev or devtest")
    src, tgt = parts
    src_path = need_file(flores_file(root, src, split), name, root / "flores101" / split / f"{src}.{split}")
    tgt_path = need_file(flores_file(root, tgt, split), name, root / "flores101" / split / f"{tgt}.{split}")
    return translation_task(name, src_path, tgt_path, src, tgt, split)


def _load_ntrex(name: str, parts: list[str], root: Path, split: str) -> Task:
    src, tgt = parts
    if iso1(src) != "en":
        raise UserError(f"{name}: NTREX-128 has English sources only; use ntrex-en-{tgt}")
    src_path = root / "ntrex128" / "newstest2019-src.eng.txt"
    ref = need_file(ntrex_ref_file(root, tgt), name, root / "ntrex128" / f"newstest2019-ref.{tgt}.txt")
    return translation_task(name, need_file(src_path if src_path.is_file() else None, name, src_path), ref, src, tgt)


def _flores_names(root: Path, split: str) -> list[str]:
    langs = [lang for lang in PAPER_LANGS if flores_file(root, lang, split)]
    return [f"flores-{a}-{b}" for a in langs for b in langs if a != b]


def _ntrex_names(root: Path, split: str) -> list[str]:
    if not (root / "ntrex128" / "newstest2019-src.eng.txt").is_file():
        return []
    return [f"ntrex-en-{lang}" for lang in PAPER_LANGS if lang != "en" and ntrex_ref_file(root, lang)]


register(Family("flores", ("flores-<src>-<tgt>",), (2,), _load_flores, _flores_names))
register(Family("ntrex", ("ntrex-en-<tgt>",), (2,), _load_ntrex, _ntrex_names))
