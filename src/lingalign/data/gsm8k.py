"""GSM8K's answer conventions: calculator annotations, the ``#### <number>`` last line, lookup by question.

GSM8K's step-by-step answers (``gsm8kinstruct/en/train.txt``: JSONL ``{question, answer}``) write
each computation with a calculator annotation, ``48/2 = <<48/2=24>>24``, and end with a line
``#### 72``. The annotations were the dataset authors' tool calls; they are kept by default (GSM8K
as distributed, QAlign's stage-2 data, lm-evaluation-harness's targets all keep them, and recipes
built before the option existed must keep their bytes) and removed with a source's
``strip_calculator: true``: a model tuned on them learns to write them, which costs tokens and
matches no evaluation set (MGSM's and MSVAMP's references have none).
"""

from __future__ import annotations

import re
from pathlib import Path

from lingalign.data import readers
from lingalign.data.hashing import normalize_text

# "<<48/2=24>>", also "<<10*x>>" or "<<40%>>": anything between << and >> on one line, no nested brackets.
# A malformed, unclosed one ("<<69/3=23=23 kg", in two GSM8K train answers) is left alone: where it should
# end is not known. The option is for GSM8K-style sources: it would also cut a C++ shift "a << b >> c".
_CALCULATOR = re.compile(r"<<[^<>\n]*>>")
_FINAL_MARK = "####"


def strip_calculator(text: str) -> str:
    """``text`` without calculator annotations: ``48/2 = <<48/2=24>>24.`` -> ``48/2 = 24.``."""
    return _CALCULATOR.sub("", text)


def final_answer(answer: str) -> str | None:
    """What follows the last ``####`` of a GSM8K answer (``"72"``, ``"150,000"``), or None (14 of the
    7,476 records of QAlign's GSM8K copy are cut off before it)."""
    if _FINAL_MARK not in answer:
        return None
    return answer.rsplit(_FINAL_MARK, 1)[1].strip() or None


class AnswerIndex:
    """English problems and their answers, looked up by the problem's text (whitespace collapsed).

    GSM8K train has three questions written twice with different answers; the first is kept
    (``duplicates`` counts the others). 7,476 records take a few MB, so the index is held in memory.
    """

    def __init__(self, path: Path, fmt: str, fields: dict[str, str]):
        self.answers: dict[str, str] = {}
        self.duplicates = 0
        for _, values in readers.read_fields(path, fmt, {"pivot.answer_fields": fields}, ("question", "answer")):
            key = normalize_text(values["pivot.answer_fields"]["question"])
            if key in self.answers:
                self.duplicates += 1
                continue
            self.answers[key] = values["pivot.answer_fields"]["answer"]

    def get(self, question: str) -> str | None:
        return self.answers.get(normalize_text(question))

    def __len__(self) -> int:
        return len(self.answers)
