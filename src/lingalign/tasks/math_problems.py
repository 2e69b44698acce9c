"""Math word problems (MGSM and user ``math`` sets): reading them, and the three prompt variants.

* ``mgsm-<lang>[-cot|-cot-en]`` ``mgsm/mgsm_<lang>.tsv``

A math task is a question and a numeric gold answer; the model generates greedily and is scored
on the last number of its response (``metrics.math_answers``). Three prompt variants, recorded in
results.json (``prompt_variant``) and in the prediction fingerprint:

* ``direct``: solve it and give only the final answer, as a number (instruction in the question's language);
* ``cot``: think step by step, then give the final answer (instruction in the question's language);
* ``cot-en``: the same in **English**, asking for English reasoning, whatever the question's
  language: the English-pivot setting of follow-up work on multilingual reasoning, which asks
  whether a model reasons better through English than in the question's own language.

The question is the prompt's input and the instruction its instruction, so the Alpaca and chat
formats both apply. The wordings are ours, one sentence or two per language (MGSM's eleven; other
languages fall back to English, and ``instruction_lang`` in results.json says so). The bn, sw, te
and th sentences are our translations and deserve a native speaker's check. Bump
``PROMPT_VERSION`` when a wording changes (the wording is part of each example, so stored
predictions made with an old wording are not reused either way).

``max_new_tokens``: 64 for ``direct`` (a number and a few words, with room for a model that
restates the question), 512 for the step-by-step variants: GSM8K's reference solutions run to
about 50-150 English words, and a non-Latin script costs an English-centric tokenizer two to four
times as many tokens per word, so 512 leaves a full solution room without letting a model that
never stops run for long (a response cut short loses its final number and is scored wrong).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from lingalign.artifacts import iter_jsonl
from lingalign.errors import UserError, where
from lingalign.metrics.math_answers import parse_number
from lingalign.tasks.base import Example, Task, read_lines
from lingalign.tasks.registry import Family, register

PROMPT_VERSION = 1
VARIANTS = ("direct", "cot", "cot-en")
MAX_NEW_TOKENS = {"direct": 64, "cot": 512, "cot-en": 512}
MGSM_LANGS = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")

# lang -> (direct, step by step); our wordings.
MATH_PROMPTS: dict[str, tuple[str, str]] = {
    "en": ("Solve the math problem. Give only the final answer, as a number.",
           "Solve the math problem. Think step by step, then give the final answer as a number."),
    "zh": ("解答这道数学题。只给出最终答案（一个数字）。",
           "解答这道数学题。请一步一步地思考，最后给出最终答案（一个数字）。"),
    "de": ("Löse die Mathematikaufgabe. Gib nur das Endergebnis als Zahl an.",
           "Löse die Mathematikaufgabe. Denke Schritt für Schritt und gib dann das Endergebnis als Zahl an."),
    "es": ("Resuelve el problema de matemáticas. Da solo la respuesta final, como un número.",
           "Resuelve el problema de matemáticas. Piensa paso a paso y luego da la respuesta final como un número."),
    "fr": ("Résous le problème de mathématiques. Donne uniquement la réponse finale, sous forme de nombre.",
           "Résous le problème de mathématiques. Réfléchis étape par étape, puis donne la réponse finale "
           "sous forme de nombre."),
    "ru": ("Реши математическую задачу. Дай только окончательный ответ в виде числа.",
           "Реши математическую задачу. Рассуждай шаг за шагом, затем дай окончательный ответ в виде числа."),
    "ja": ("次の算数の問題を解いてください。最終的な答えを数字だけで答えてください。",
           "次の算数の問題を解いてください。ステップごとに考えてから、最終的な答えを数字で答えてください。"),
    "sw": ("Tatua swali hili la hesabu. Toa jibu la mwisho tu, kama namba.",
           "Tatua swali hili la hesabu. Fikiri hatua kwa hatua, kisha toa jibu la mwisho kama namba."),
    "bn": ("গণিতের সমস্যাটি সমাধান করুন। শুধু চূড়ান্ত উত্তরটি একটি সংখ্যা হিসেবে দিন।",
           "গণিতের সমস্যাটি সমাধান করুন। ধাপে ধাপে চিন্তা করুন, তারপর চূড়ান্ত উত্তরটি একটি সংখ্যা হিসেবে দিন।"),
    "te": ("ఈ గణిత సమస్యను పరిష్కరించండి. చివరి సమాధానాన్ని ఒక సంఖ్యగా మాత్రమే ఇవ్వండి.",
           "ఈ గణిత సమస్యను పరిష్కరించండి. దశలవారీగా ఆలోచించి, చివరి సమాధానాన్ని ఒక సంఖ్యగా ఇవ్వండి."),
    "th": ("จงแก้โจทย์คณิตศาสตร์ข้อนี้ ตอบเฉพาะคำตอบสุดท้ายเป็นตัวเลข",
           "จงแก้โจทย์คณิตศาสตร์ข้อนี้ คิดทีละขั้นตอน แล้วตอบคำตอบสุดท้ายเป็นตัวเลข"),
}
COT_IN_ENGLISH = "Solve the math problem. Think step by step in English, then give the final answer as a number."


def math_instruction(lang: str, variant: str) -> tuple[str, str]:
    """(instruction, the language it is written in) for a question in ``lang``."""
    if variant not in VARIANTS:
        raise UserError(f"unknown math prompt variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    if variant == "cot-en":
        return COT_IN_ENGLISH, "en"
    written = lang if lang in MATH_PROMPTS else "en"
    return MATH_PROMPTS[written][VARIANTS.index(variant)], written


# ---- readers -------------------------------------------------------------------------------------

def _gold(raw, path: Path, line: int, expected: str) -> str:
    text = str(raw).strip() if isinstance(raw, (str, int, float)) and not isinstance(raw, bool) else ""
    if parse_number(text) is None:
        raise UserError(f"{where(path, line)}: answer {raw!r} is not a number (expected {expected})")
    return text


def read_math_tsv(path: Path) -> list[tuple[str, str, str]]:
    """(id, question, answer) from MGSM's TSV: ``question<TAB>answer``, no header; id = line number."""
    rows = []
    expected = "question<TAB>number, one problem per line"
    for line, text in enumerate(read_lines(path), 1):
        if not text.strip():
            continue
        fields = next(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
        if len(fields) != 2 or not fields[0].strip():
            raise UserError(f"{where(path, line)}: expected {expected}, got {len(fields)} field(s)")
        rows.append((str(line), fields[0].strip(), _gold(fields[1], path, line, expected)))
    if not rows:
        raise UserError(f"{path}: no problems (expected {expected})")
    return rows


JSONL_FORMS = '{"question": "...", "answer": 42} or MSVAMP\'s {"m_query": "...", "response": "8.0"}'


def _question_and_answer(record: dict, path: Path, line: int) -> tuple[str, str]:
    """The question and gold answer of one JSONL record, in either form (``JSONL_FORMS``).

    MSVAMP's records hold the problem in the file's language as ``m_query`` and in English as
    ``query`` (its English file has only ``m_query``); the answer is ``response``, a number as text
    (``"8.0"``)."""
    if "question" in record or not ("m_query" in record or "query" in record):
        question, key = record.get("question"), "answer"
        if not isinstance(question, str) or not question.strip():
            raise UserError(f"{where(path, line)}: needs a 'question' string (expected {JSONL_FORMS})")
    else:
        question, key = record.get("m_query"), "response"
        if not isinstance(question, str) or not question.strip():
            question = record.get("query")
        if not isinstance(question, str) or not question.strip():
            raise UserError(f"{where(path, line)}: needs an 'm_query' (or 'query') string (MSVAMP JSONL: "
                            '{"m_query": "...", "response": "8.0"})')
    if key not in record:
        raise UserError(f"{where(path, line)}: missing key '{key}' (expected {JSONL_FORMS})")
    return question.strip(), _gold(record[key], path, line, JSONL_FORMS)


def read_math_jsonl(path: Path) -> list[tuple[str, str, str]]:
    """(id, question, answer) from JSONL: ``{"question", "answer", "id"?}``, or MSVAMP's ``{"m_query"
    (or "query"), "response"}``; id = the record's ``id``, else its line number."""
    rows = []
    for line, record in iter_jsonl(path):
        question, answer = _question_and_answer(record, path, line)
        rows.append((str(record.get("id", line)), question, answer))
    if not rows:
        raise UserError(f"{path}: no problems (expected JSON lines {JSONL_FORMS})")
    return rows


def read_math(path: Path) -> list[tuple[str, str, str]]:
    """A math set by its file name: ``.jsonl`` (or ``.json`` lines), else TSV."""
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    return read_math_jsonl(path) if path.suffix in (".jsonl", ".json") else read_math_tsv(path)


def math_task(name: str, path: Path, lang: str, variant: str = "direct") -> Task:
    """A ``math`` task: one example per problem, the prompt per ``variant``."""
    instruction, written = math_instruction(lang, variant)
    examples = [Example(id=qid, instruction=instruction, input=question, references=[answer])
                for qid, question, answer in read_math(path)]
    answer_lang = "en" if variant == "cot-en" else lang  # cot-en asks for English reasoning
    return Task(name, "math", answer_lang, examples, [path], MAX_NEW_TOKENS[variant], question_lang=lang,
                prompt_variant=variant, instruction_lang=written)


# ---- the built-in family ---------------------------------------------------------------------------

def mgsm_file(root: Path, lang: str) -> Path:
    return root / "mgsm" / f"mgsm_{lang}.tsv"


def mgsm_langs(root: Path) -> list[str]:
    return sorted(p.stem.removeprefix("mgsm_") for p in (root / "mgsm").glob("mgsm_*.tsv"))


def variant_of(name: str, family: str, parts: list[str]) -> str:
    """The prompt variant a math task name asks for: ``<family>-<lang>[-cot|-cot-en]``."""
    lang, variant = parts[0], "-".join(parts[1:]) or "direct"
    if variant == "direct" and len(parts) > 1:
        raise UserError(f"task {name}: the direct variant is plain {family}-{lang}")
    if variant not in VARIANTS:
        raise UserError(f"task {name}: unknown {family.upper()} prompt variant {variant!r}",
                        hint=f"{family}-{lang} (direct answer), {family}-{lang}-cot, {family}-{lang}-cot-en")
    return variant


def mgsm_task(name: str, root: Path, parts: list[str]) -> Task:
    """``mgsm-<lang>`` (direct), ``mgsm-<lang>-cot``, ``mgsm-<lang>-cot-en`` from ``mgsm/mgsm_<lang>.tsv``."""
    lang, variant = parts[0], variant_of(name, "mgsm", parts)
    path = mgsm_file(root, lang)
    if not path.is_file():
        have = mgsm_langs(root)
        raise UserError(f"task {name}: unknown MGSM language {lang!r}: no {path}; "
                        f"this data root has MGSM for {', '.join(have) or 'no language'}",
                        hint="pass --data-root with a full MGSM copy (mgsm/mgsm_<lang>.tsv)")
    return math_task(name, path, lang, variant)


def _load_mgsm(name: str, parts: list[str], root: Path, split: str) -> Task:
    return mgsm_task(name, root, parts)  # MGSM has one split


def _mgsm_names(root: Path, split: str) -> list[str]:
    return [f"mgsm-{lang}" for lang in mgsm_langs(root)]  # each also as -cot and -cot-en


register(Family("mgsm", ("mgsm-<lang>[-cot|-cot-en]",), (1, 2, 3), _load_mgsm, _mgsm_names, parallel=(1, 2, 3)))
