"""Evaluation tasks: names, where their files are in a data root, and loading them into examples.

Built-in task names (``lingalign eval --list`` shows which exist in a data root):

* ``xquad-<lang>``            ``xquad/xquad.<lang>.json``
* ``mlqa-<lang>``             ``mlqa-dev/<lang>.json`` (context and question in one language)
* ``mlqa-<ctx>-<q>``          any ``*context-<ctx>-question-<q>.json`` under ``mlqa-dev/`` or ``mlqa/``
* ``flores-<src>-<tgt>``      ``flores101/<split>/<code>.<split>`` for both sides (``--split dev|devtest``)
* ``ntrex-en-<tgt>``          ``ntrex128/newstest2019-src.eng.txt`` -> ``newstest2019-ref.<code>.txt``
* ``mgsm-<lang>[-cot|-cot-en]`` ``mgsm/mgsm_<lang>.tsv`` (math; direct answer, or step by step, see math_tasks.py)
* ``xcopa-<lang>``            ``xcopa/<lang>/test.<lang>.jsonl`` (two-way choice by log-likelihood, see xcopa.py)

The default data root is the samples shipped in the package; ``--data-root`` points at a full copy
laid out the same way. User sets named in an eval recipe (any SQuAD-style JSON, bitext,
multiple-choice JSONL, or math TSV/JSONL) become tasks under their own names (see ``recipe.py``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from lingalign.config import samples_dir
from lingalign.errors import UserError, where

QA_MAX_NEW_TOKENS = 48
TRANSLATION_MAX_NEW_TOKENS = 256
PAPER_LANGS = ("ar", "el", "hi", "tr", "vi", "zh", "en")
# FLORES-101 and NTREX file codes where they differ from the ISO 639-3 code langcodes gives.
_FLORES_CODES = {"zh": ("cmn_Hans", "zho_simpl"), "ar": ("ara", "arb")}
_NTREX_CODES = {"zh": ("zho_Hans",), "ar": ("arb",)}
BUILTIN_FAMILIES = ("xquad", "mlqa", "flores", "ntrex", "mgsm", "xcopa")
FAMILY_FORMS = ("xquad-<lang>, mlqa-<lang>, mlqa-<ctx>-<q>, flores-<src>-<tgt>, ntrex-en-<tgt>, "
                "mgsm-<lang>[-cot|-cot-en], xcopa-<lang>")


@dataclass
class Example:
    id: str
    instruction: str = ""
    input: str = ""
    references: list[str] = field(default_factory=list)  # gold answers, or the reference translation
    source: str = ""  # the source sentence of a translation (for COMET)
    options: list[str] = field(default_factory=list)  # multiple-choice sets only
    label: int | None = None


@dataclass
class Task:
    name: str
    kind: str  # "qa" | "translation" | "choice" | "math"
    lang: str  # ISO 639-1 code of the expected answer (QA: the gold answer's; translation: target)
    examples: list[Example]
    files: list[Path]
    max_new_tokens: int = QA_MAX_NEW_TOKENS
    split: str | None = None
    src_lang: str | None = None
    question_lang: str | None = None
    reduce: str = "mean"  # multiple-choice sets: "sum" or "mean" of option token log-probs
    prompt_variant: str | None = None  # math: "direct", "cot" or "cot-en" (math_tasks.VARIANTS)
    instruction_lang: str | None = None  # math: the language the instruction is written in


def is_builtin(name: str) -> bool:
    """Whether ``name`` has the form of a built-in task (its data may still be missing)."""
    return name.split("-")[0] in BUILTIN_FAMILIES


def default_data_root() -> Path:
    return samples_dir()


def iso1(code: str) -> str:
    """``cmn_Hans``/``zho``/``vie`` -> ``zh``/``vi``: the code langid and the metrics use."""
    from lingalign.langid import base_code

    return base_code(code)


def _alpha3(lang: str) -> str:
    import langcodes

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


def mlqa_file(root: Path, ctx: str, q: str | None = None) -> Path | None:
    if q is None or q == ctx:
        same = root / "mlqa-dev" / f"{ctx}.json"
        if same.is_file():
            return same
    q = q or ctx
    for folder in (root / "mlqa-dev", root / "mlqa"):
        if folder.is_dir():
            found = sorted(folder.rglob(f"*context-{ctx}-question-{q}.json"))
            if found:
                return found[0]
    return None


# ---- readers -----------------------------------------------------------------------------------

def read_squad(path: Path, *, id_prefix: str = "") -> list[tuple[str, str, str, list[str]]]:
    """(id, context, question, answers) from a SQuAD-style file, with errors naming the key."""
    from lingalign.artifacts import read_json

    data = read_json(path)
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise UserError(f"{where(path, key='data')}: not SQuAD-style JSON (expected a top-level "
                        "object with a 'data' list of articles)")
    rows = []
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(_get(article, "paragraphs", list, path, f"data[{a}]")):
            at = f"data[{a}].paragraphs[{p}]"
            context = _get(paragraph, "context", str, path, at)
            for q, qa in enumerate(_get(paragraph, "qas", list, path, at)):
                qat = f"{at}.qas[{q}]"
                answers = [_get(ans, "text", str, path, f"{qat}.answers[{i}]")
                           for i, ans in enumerate(_get(qa, "answers", list, path, qat))]
                if not answers:
                    raise UserError(f"{where(path, key=qat + '.answers')}: no gold answer "
                                    "(unanswerable SQuAD 2.0 questions are not supported)")
                qid = str(_get(qa, "id", (str, int), path, qat))
                rows.append((id_prefix + qid, context, _get(qa, "question", str, path, qat), answers))
    return rows


def _get(obj, key: str, kind, path: Path, at: str):
    if not isinstance(obj, dict) or key not in obj:
        raise UserError(f"{where(path, key=at)}: missing key '{key}' (SQuAD-style JSON expected)")
    value = obj[key]
    if not isinstance(value, kind):
        raise UserError(f"{where(path, key=f'{at}.{key}')}: expected {getattr(kind, '__name__', 'a value')}, "
                        f"got {type(value).__name__}")
    return value


def read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        return path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not valid UTF-8 (byte {exc.start})") from None


def read_bitext(src: Path, tgt: Path) -> list[tuple[str, str]]:
    sources, targets = read_lines(src), read_lines(tgt)
    if len(sources) != len(targets):
        raise UserError(f"{src} has {len(sources)} lines but {tgt} has {len(targets)}: "
                        "a parallel test set needs one line per sentence on both sides")
    return list(zip(sources, targets))


# ---- building tasks ----------------------------------------------------------------------------

def qa_task(name: str, path: Path, lang: str, question_lang: str | None = None) -> Task:
    from lingalign.evaluate.qa_prompts import qa_instruction_and_input

    question_lang = question_lang or lang
    examples = []
    for qid, context, question, answers in read_squad(path):
        instruction, text = qa_instruction_and_input(context, question, question_lang)
        examples.append(Example(id=qid, instruction=instruction, input=text, references=answers))
    return Task(name, "qa", lang, examples, [path], QA_MAX_NEW_TOKENS, question_lang=question_lang)


def translation_task(name: str, src_path: Path, tgt_path: Path, src: str, tgt: str,
                     split: str | None = None) -> Task:
    from lingalign.prompting import eval_instruction

    instruction = eval_instruction(src, tgt)
    examples = [Example(id=str(i), instruction=instruction, input=s, references=[t], source=s)
                for i, (s, t) in enumerate(read_bitext(src_path, tgt_path))]
    return Task(name, "translation", iso1(tgt), examples, [src_path, tgt_path],
                TRANSLATION_MAX_NEW_TOKENS, split=split, src_lang=iso1(src))


def load_builtin(name: str, root: Path, split: str = "devtest") -> Task:
    """Load a built-in task by name from a data root (raises UserError if it is not there)."""
    parts = name.split("-")
    family, langs = parts[0], parts[1:]
    if family == "xquad" and len(langs) == 1:
        path = root / "xquad" / f"xquad.{langs[0]}.json"
        return qa_task(name, _need(path if path.is_file() else None, name, path), iso1(langs[0]))
    if family == "mlqa" and len(langs) in (1, 2):
        ctx, q = langs[0], langs[-1]
        path = mlqa_file(root, ctx, q)
        return qa_task(name, _need(path, name, root / "mlqa-dev" / f"{ctx}.json"), iso1(ctx), iso1(q))
    if family == "flores" and len(langs) == 2:
        if split not in ("dev", "devtest"):
            raise UserError(f"unknown FLORES split {split!r}; expected dev or devtest")
        src, tgt = langs
        src_path = _need(flores_file(root, src, split), name, root / "flores101" / split / f"{src}.{split}")
        tgt_path = _need(flores_file(root, tgt, split), name, root / "flores101" / split / f"{tgt}.{split}")
        return translation_task(name, src_path, tgt_path, src, tgt, split)
    if family == "ntrex" and len(langs) == 2:
        src, tgt = langs
        if iso1(src) != "en":
            raise UserError(f"{name}: NTREX-128 has English sources only; use ntrex-en-{tgt}")
        src_path = root / "ntrex128" / "newstest2019-src.eng.txt"
        ref = _need(ntrex_ref_file(root, tgt), name, root / "ntrex128" / f"newstest2019-ref.{tgt}.txt")
        return translation_task(name, _need(src_path if src_path.is_file() else None, name, src_path),
                                ref, src, tgt)
    if family == "mgsm" and 1 <= len(langs) <= 3:
        from lingalign.evaluate.math_tasks import mgsm_task

        return mgsm_task(name, root, langs)
    if family == "xcopa" and len(langs) == 1:
        from lingalign.evaluate.xcopa import xcopa_builtin

        return xcopa_builtin(name, root, langs[0])
    raise unknown_task(name, root)


def _need(path: Path | None, name: str, expected: Path) -> Path:
    if path is None:
        raise UserError(f"task {name}: no data at {expected}",
                        hint="see `lingalign eval --list` for the tasks this data root has, or pass --data-root")
    return path


# ---- listing -------------------------------------------------------------------------------------

_CODE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]+)?$")


def available_tasks(root: Path, split: str = "devtest") -> dict[str, list[str]]:
    """Task names present in a data root, by family (FLORES: pairs among the paper languages only)."""
    from lingalign.evaluate.math_tasks import mgsm_langs
    from lingalign.evaluate.xcopa import xcopa_langs

    found: dict[str, list[str]] = {"xquad": [], "mlqa": [], "flores": [], "ntrex": []}
    found["xquad"] = sorted(f"xquad-{p.name.split('.')[1]}" for p in (root / "xquad").glob("xquad.*.json"))
    found["mlqa"] = sorted(f"mlqa-{p.stem}" for p in (root / "mlqa-dev").glob("*.json") if _CODE.match(p.stem))
    for folder in (root / "mlqa-dev", root / "mlqa"):
        for p in folder.rglob("*context-*-question-*.json") if folder.is_dir() else ():
            m = re.search(r"context-(\w+)-question-(\w+)\.json$", p.name)
            if m and m.group(1) != m.group(2):
                found["mlqa"].append(f"mlqa-{m.group(1)}-{m.group(2)}")
    langs = [lang for lang in PAPER_LANGS if flores_file(root, lang, split)]
    found["flores"] = [f"flores-{a}-{b}" for a in langs for b in langs if a != b]
    if (root / "ntrex128" / "newstest2019-src.eng.txt").is_file():
        found["ntrex"] = [f"ntrex-en-{lang}" for lang in PAPER_LANGS if lang != "en" and ntrex_ref_file(root, lang)]
    found["mlqa"] = sorted(set(found["mlqa"]))
    found["mgsm"] = [f"mgsm-{lang}" for lang in mgsm_langs(root)]  # each also as -cot and -cot-en
    found["xcopa"] = [f"xcopa-{lang}" for lang in xcopa_langs(root)]
    return found


def unknown_task(name: str, root: Path, extra: list[str] = ()) -> UserError:
    valid = [t for names in available_tasks(root).values() for t in names] + list(extra)
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"did you mean {close[0]}?" if close else None
    shown = ", ".join(valid[:40]) + (" ..." if len(valid) > 40 else "")
    return UserError(f"unknown task {name!r}. Task forms: {FAMILY_FORMS}. Available here: {shown}", hint=hint)
