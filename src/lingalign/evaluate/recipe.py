"""The ``eval:`` section of a recipe: which tasks, and the user's own test sets.

Example::

    eval:
      tasks: [xquad-zh, flores-en-zh, my-news]   # built-in names and names of sets below
      limit: 100                                 # first N examples of each task (quick runs)
      sets:
        - {name: my-qa, type: qa, path: data/qa.zh.json, lang: zh}            # SQuAD-style JSON
        - {name: my-news, type: translation, prefix: data/news, src_lang: en, tgt_lang: zh}
        - {name: my-news2, type: translation, src: data/a.en, tgt: data/a.zh, src_lang: en, tgt_lang: zh}
        - {name: my-mc, type: choice, path: data/mc.zh.jsonl, lang: zh}      # {prompt, options, label}
        - {name: my-math, type: math, path: data/math.zh.tsv, lang: zh, prompt_variant: cot}  # question<TAB>number

Paths are relative to the recipe's folder (``sample:...`` points into the shipped samples). A
Moses ``prefix`` means the files ``<prefix>.<src_lang>`` and ``<prefix>.<tgt_lang>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lingalign.config import Strict, resolve_path
from lingalign.errors import UserError, where
from lingalign.evaluate.tasks import Example, Task, iso1, qa_task, translation_task


class UserSet(Strict):
    name: str
    type: Literal["qa", "translation", "choice", "math"]
    path: str | None = None  # qa: SQuAD-style JSON; choice: JSONL; math: TSV or JSONL
    src: str | None = None  # translation: two line-aligned files ...
    tgt: str | None = None
    prefix: str | None = None  # ... or a Moses prefix
    lang: str | None = None  # qa/choice/math: the language of questions and answers
    src_lang: str | None = None
    tgt_lang: str | None = None
    max_new_tokens: int | None = None
    reduce: Literal["sum", "mean"] = "mean"  # choice: sum or per-token mean of option log-probs
    prompt_variant: Literal["direct", "cot", "cot-en"] = "direct"  # math: see evaluate/math_tasks.py


class EvalRecipe(Strict):
    model: str | None = None
    tasks: list[str] = []
    sets: list[UserSet] = []
    limit: int | None = None
    split: Literal["dev", "devtest"] = "devtest"
    data_root: str | None = None
    prompt_format: Literal["alpaca", "chat"] | None = None
    batch_size: int | None = None
    dtype: str | None = None


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
        from lingalign.evaluate.math_tasks import math_task

        task = math_task(spec.name, resolve_path(need(spec.path, "path"), base), iso1(need(spec.lang, "lang")),
                         spec.prompt_variant)
    else:
        task = choice_task(spec.name, resolve_path(need(spec.path, "path"), base), iso1(need(spec.lang, "lang")))
        task.reduce = spec.reduce
    if spec.max_new_tokens:
        task.max_new_tokens = spec.max_new_tokens
    return task


def choice_task(name: str, path: Path, lang: str) -> Task:
    """A multiple-choice JSONL: ``{"prompt" (or "premise"), "options": [...], "label": int|str}``."""
    from lingalign.artifacts import iter_jsonl

    examples = []
    for line, record in iter_jsonl(path):
        text = record.get("prompt", record.get("premise"))
        options = record.get("options")
        label = record.get("label")
        if not isinstance(text, str):
            raise UserError(f"{where(path, line)}: needs a 'prompt' (or 'premise') string")
        if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
            raise UserError(f"{where(path, line)}: 'options' must be a list of at least two strings")
        if isinstance(label, str) and label in options:
            label = options.index(label)
        if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < len(options):
            raise UserError(f"{where(path, line)}: 'label' must be an option index (0..{len(options) - 1}) or one of the options")
        instruction = record.get("instruction", "")
        examples.append(Example(id=str(record.get("id", line)), instruction=instruction or text,
                                input=text if instruction else "", options=options, label=label,
                                references=[options[label]]))
    return Task(name, "choice", lang, examples, [path], 0)
