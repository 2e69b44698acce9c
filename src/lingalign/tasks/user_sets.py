"""User test sets named in a recipe's ``eval: sets:``: their schema, and loading each as a task.

Example::

    eval:
      sets:
        - {name: my-qa, type: qa, path: data/qa.zh.json, lang: zh}            # SQuAD-style JSON
        - {name: my-news, type: translation, prefix: data/news, src_lang: en, tgt_lang: zh}
        - {name: my-news2, type: translation, src: data/a.en, tgt: data/a.zh, src_lang: en, tgt_lang: zh}
        - {name: my-mc, type: choice, path: data/mc.zh.jsonl, lang: zh}      # {prompt, options, label}
        - {name: my-copa, type: choice, path: data/test.et.jsonl, lang: et}  # XCOPA's {premise, choice1, ...}
        - {name: my-math, type: math, path: data/math.zh.tsv, lang: zh, prompt_variant: cot}  # question<TAB>number
        - {name: my-msvamp, type: math, path: data/test.is.jsonl, lang: is,   # MSVAMP's {m_query, response}
           english_task: msvamp-en}  # the same problems in English: adds cross-lingual consistency

Paths are relative to the recipe's folder (``sample:...`` points into the shipped samples). A
Moses ``prefix`` means the files ``<prefix>.<src_lang>`` and ``<prefix>.<tgt_lang>``. Each set
becomes a task under its own name, built by the family of its type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lingalign.config import Strict, resolve_path
from lingalign.errors import UserError
from lingalign.tasks.base import Task, iso1
from lingalign.tasks.choice import choice_task
from lingalign.tasks.math_problems import math_task
from lingalign.tasks.qa import qa_task
from lingalign.tasks.translation import translation_task


class UserSet(Strict):
    name: str
    type: Literal["qa", "translation", "choice", "math"]
    path: str | None = None  # qa: SQuAD-style JSON; choice: JSONL (or XCOPA's); math: TSV or JSONL (or MSVAMP's)
    src: str | None = None  # translation: two line-aligned files ...
    tgt: str | None = None
    prefix: str | None = None  # ... or a Moses prefix
    lang: str | None = None  # qa/choice/math: the language of questions and answers
    src_lang: str | None = None
    tgt_lang: str | None = None
    max_new_tokens: int | None = None
    # choice: sum or per-token mean of option log-probs (unset: mean, or sum for XCOPA's records as built in)
    reduce: Literal["sum", "mean"] = "mean"
    prompt_variant: Literal["direct", "cot", "cot-en"] = "direct"  # math: see tasks/math_problems.py
    # qa/choice/math: the task asking the same items (same ids) in English, scored in the same eval:
    # the set then gets cross-lingual consistency against it (metrics/consistency.py)
    english_task: str | None = None


def load_user_set(spec: UserSet, base: Path | None) -> Task:
    def need(value, key):
        if not value:
            raise UserError(f"eval set {spec.name!r} of type {spec.type}: key '{key}' is required")
        return value

    if spec.type == "qa":
        task = qa_task(spec.name, resolve_path(need(spec.path, "path"), base), iso1(need(spec.lang, "lang")))
    elif spec.type == "translation":
        src_lang, tgt_lang = need(spec.src_lang, "src_lang"), need(spec.tgt_lang, "tgt_lang")
        if spec.prefix:
            prefix = str(resolve_path(spec.prefix, base))
            src, tgt = Path(f"{prefix}.{src_lang}"), Path(f"{prefix}.{tgt_lang}")
        else:
            src, tgt = resolve_path(need(spec.src, "src"), base), resolve_path(need(spec.tgt, "tgt"), base)
        task = translation_task(spec.name, src, tgt, src_lang, tgt_lang)
    elif spec.type == "math":
        task = math_task(spec.name, resolve_path(need(spec.path, "path"), base), iso1(need(spec.lang, "lang")),
                         spec.prompt_variant)
    else:
        task = choice_task(spec.name, resolve_path(need(spec.path, "path"), base), iso1(need(spec.lang, "lang")))
        if "reduce" in spec.model_fields_set:  # else the file's form decides: XCOPA's records sum, as built in
            task.reduce = spec.reduce
    if spec.max_new_tokens:
        task.max_new_tokens = spec.max_new_tokens
    if spec.english_task:
        if spec.type == "translation":
            raise UserError(f"eval set {spec.name!r}: english_task is for qa, choice and math sets "
                            "(consistency compares answers to the same item)")
        task.english_task = spec.english_task
    return task
