"""Extractive QA tasks (XQuAD, MLQA and user SQuAD-style sets), with prompts written per language.

* ``xquad-<lang>``            ``xquad/xquad.<lang>.json``
* ``mlqa-<lang>``             ``mlqa-dev/<lang>.json`` (context and question in one language)
* ``mlqa-<ctx>-<q>``          any ``*context-<ctx>-question-<q>.json`` under ``mlqa-dev/`` or ``mlqa/``

The paper prompts each XQuAD/MLQA language in that language (an English instruction pulls answers
towards English): the instruction and labels are in the question's language. These wordings are
ours. Each asks for a short answer taken from the passage, which suits EM/F1 as well as the
paper's inclusion match. Languages without an entry fall back to English. Bump ``PROMPT_VERSION``
whenever a wording changes: it is part of the settings fingerprint, so stored predictions made
with an old wording are not reused.
"""

from __future__ import annotations

import re
from pathlib import Path

from lingalign.artifacts import read_json
from lingalign.errors import UserError, where
from lingalign.tasks.base import QA_MAX_NEW_TOKENS, Example, Task, iso1, need_file
from lingalign.tasks.registry import Family, register

PROMPT_VERSION = 1

# lang -> (instruction, passage label, question label)
QA_PROMPTS: dict[str, tuple[str, str, str]] = {
    "en": ("Read the passage and answer the question. Answer briefly, using words from the passage.",
           "Passage:", "Question:"),
    "zh": ("阅读下面的段落并回答问题。请用段落中的原词简短作答。", "段落：", "问题："),
    "vi": ("Đọc đoạn văn và trả lời câu hỏi. Hãy trả lời ngắn gọn bằng từ ngữ trong đoạn văn.",
           "Đoạn văn:", "Câu hỏi:"),
    "ar": ("اقرأ النص ثم أجب عن السؤال. أجب باختصار مستخدمًا كلمات من النص.", "النص:", "السؤال:"),
    "el": ("Διάβασε το κείμενο και απάντησε στην ερώτηση. Απάντησε σύντομα, με λέξεις από το κείμενο.",
           "Κείμενο:", "Ερώτηση:"),
    "hi": ("अनुच्छेद पढ़िए और प्रश्न का उत्तर दीजिए। अनुच्छेद के शब्दों में संक्षेप में उत्तर दीजिए।",
           "अनुच्छेद:", "प्रश्न:"),
    "tr": ("Metni okuyun ve soruyu yanıtlayın. Metindeki sözcükleri kullanarak kısaca yanıt verin.",
           "Metin:", "Soru:"),
    "es": ("Lee el texto y responde a la pregunta. Responde brevemente con palabras del texto.",
           "Texto:", "Pregunta:"),
    "de": ("Lies den Text und beantworte die Frage. Antworte kurz mit Wörtern aus dem Text.",
           "Text:", "Frage:"),
}


def qa_instruction_and_input(context: str, question: str, lang: str) -> tuple[str, str]:
    """(instruction, input) for one QA example; ``lang`` is the question's language."""
    instruction, passage_label, question_label = QA_PROMPTS.get(lang, QA_PROMPTS["en"])
    sep = "" if passage_label.endswith("：") else " "  # no space after a full-width colon
    return instruction, f"{passage_label}{sep}{context}\n{question_label}{sep}{question}"


# ---- reading SQuAD-style JSON --------------------------------------------------------------------

def read_squad(path: Path, *, id_prefix: str = "") -> list[tuple[str, str, str, list[str]]]:
    """(id, context, question, answers) from a SQuAD-style file, with errors naming the key."""
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


def qa_task(name: str, path: Path, lang: str, question_lang: str | None = None) -> Task:
    question_lang = question_lang or lang
    examples = []
    for qid, context, question, answers in read_squad(path):
        instruction, text = qa_instruction_and_input(context, question, question_lang)
        examples.append(Example(id=qid, instruction=instruction, input=text, references=answers))
    return Task(name, "qa", lang, examples, [path], QA_MAX_NEW_TOKENS, question_lang=question_lang)


# ---- the built-in families -------------------------------------------------------------------------

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


def _load_xquad(name: str, parts: list[str], root: Path, split: str) -> Task:
    path = root / "xquad" / f"xquad.{parts[0]}.json"
    return qa_task(name, need_file(path if path.is_file() else None, name, path), iso1(parts[0]))


def _load_mlqa(name: str, parts: list[str], root: Path, split: str) -> Task:
    ctx, q = parts[0], parts[-1]
    path = mlqa_file(root, ctx, q)
    return qa_task(name, need_file(path, name, root / "mlqa-dev" / f"{ctx}.json"), iso1(ctx), iso1(q))


def _xquad_names(root: Path, split: str) -> list[str]:
    return sorted(f"xquad-{p.name.split('.')[1]}" for p in (root / "xquad").glob("xquad.*.json"))


_CODE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]+)?$")


def _mlqa_names(root: Path, split: str) -> list[str]:
    found = [f"mlqa-{p.stem}" for p in (root / "mlqa-dev").glob("*.json") if _CODE.match(p.stem)]
    for folder in (root / "mlqa-dev", root / "mlqa"):
        for p in folder.rglob("*context-*-question-*.json") if folder.is_dir() else ():
            m = re.search(r"context-(\w+)-question-(\w+)\.json$", p.name)
            if m and m.group(1) != m.group(2):
                found.append(f"mlqa-{m.group(1)}-{m.group(2)}")
    return sorted(set(found))


# XQuAD's questions are the same in every language (same ids); MLQA's same-language sets share the ids of
# their parallel questions (a part of each), its cross-language ones are left out.
register(Family("xquad", ("xquad-<lang>",), (1,), _load_xquad, _xquad_names, parallel=(1,)))
register(Family("mlqa", ("mlqa-<lang>", "mlqa-<ctx>-<q>"), (1, 2), _load_mlqa, _mlqa_names, parallel=(1,)))
