"""Multiple-choice tasks, scored by the log-likelihood of each option: XCOPA and user choice sets.

* ``xcopa-<lang>``            ``xcopa/<lang>/test.<lang>.jsonl``

A user ``choice`` set is JSONL ``{"prompt" (or "premise"), "options": [...], "label": int|str}``
(``choice_task``); the model chooses the option it finds most likely after the prompt. XCOPA's own
records (``premise, choice1, choice2, question, label``) are accepted too, and read as below.

**XCOPA** (causal commonsense, two alternatives). Each record is a premise, two alternatives and
whether the question asks for the **cause** or the **effect** of the premise. The premise (its
final full stop dropped) is joined to the connective word for that question in the task's
language ("because" / "therefore"), and the model chooses the alternative whose own tokens it
finds more likely after it, with its first letter lowercased so that it continues the sentence:
``The item was wrapped in bubble wrap because`` -> ``it was fragile.`` / ``it was small.``.
Scores are the **sum** of the option's token log-probabilities, lm-evaluation-harness's ``acc``;
an exported task therefore reproduces the same choice there (``evaluate.lm_eval_export``).

**Where the connectives come from.** The words below are those of lm-evaluation-harness's own
XCOPA task (EleutherAI/lm-evaluation-harness, ``lm_eval/tasks/xcopa/utils.py``, checked in release
0.4.13), which fills the same premise-connective-alternative template; English is its SuperGLUE
COPA task's "because" / "therefore". They are facts taken from there, not code. Chinese is joined
with a full-width comma (``…包着，因为``), since Chinese does not put a space between words; every
other language with a space, as lm-evaluation-harness does.

Like every lingalign task, the text goes through the run's prompt format (the Alpaca template by
default: the premise and connective are the instruction, the alternative is the response), so a
model is scored in the format it was tuned in. Numbers are therefore not those of
lm-evaluation-harness's own ``xcopa_*`` tasks, which score the bare sentence; the exported tasks
(``lingalign eval --export-lm-eval``) are the like-for-like comparison.
"""

from __future__ import annotations

from pathlib import Path

from lingalign.artifacts import iter_jsonl
from lingalign.errors import UserError, where
from lingalign.tasks.base import Example, Task
from lingalign.tasks.registry import Family, register


def choice_task(name: str, path: Path, lang: str) -> Task:
    """A multiple-choice JSONL: ``{"prompt" (or "premise"), "options": [...], "label": int|str}``.

    A record in XCOPA's own form (``premise, choice1, choice2, question: cause|effect, label``, no
    ``options``) is read as the built-in XCOPA tasks read it (``xcopa_example``: the premise joined to
    the cause/effect connective of ``lang``); a file of such records is scored by the summed option
    log-probability, as they are, unless the set says ``reduce``.
    """
    examples, xcopa_form = [], 0
    for line, record in iter_jsonl(path):
        if "options" not in record and "choice1" in record:
            examples.append(xcopa_example(record, path, line, lang))
            xcopa_form += 1
            continue
        text = record.get("prompt", record.get("premise"))
        options = record.get("options")
        label = record.get("label")
        if not isinstance(text, str):
            raise UserError(f"{where(path, line)}: needs a 'prompt' (or 'premise') string")
        if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
            raise UserError(f"{where(path, line)}: 'options' must be a list of at least two strings "
                            "(or give XCOPA's premise, choice1, choice2, question, label)")
        if isinstance(label, str) and label in options:
            label = options.index(label)
        if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < len(options):
            raise UserError(f"{where(path, line)}: 'label' must be an option index (0..{len(options) - 1}) "
                            "or one of the options")
        instruction = record.get("instruction", "")
        examples.append(Example(id=str(record.get("id", line)), instruction=instruction or text,
                                input=text if instruction else "", options=options, label=label,
                                references=[options[label]]))
    if not examples:
        raise UserError(f"{path}: no multiple-choice records")
    reduce = "sum" if xcopa_form == len(examples) else "mean"
    return Task(name, "choice", lang, examples, [path], 0, reduce=reduce)


# ---- XCOPA -----------------------------------------------------------------------------------------

# lang -> (cause, effect), from lm-evaluation-harness (see the module docstring).
CONNECTIVES: dict[str, tuple[str, str]] = {
    "en": ("because", "therefore"),
    "et": ("sest", "seetõttu"),
    "ht": ("poukisa", "donk sa"),
    "id": ("karena", "maka"),
    "it": ("perché", "quindi"),
    "qu": ("imataq", "chaymi"),
    "sw": ("kwa sababu", "kwa hiyo"),
    "ta": ("காரணமாக", "எனவே"),
    "th": ("เพราะ", "ดังนั้น"),
    "tr": ("çünkü", "bu yüzden"),
    "vi": ("bởi vì", "vì vậy"),
    "zh": ("因为", "所以"),
}
_NO_SPACE = {"zh": "，"}  # joiner before the connective where words are not separated by spaces
_FINAL_STOPS = ".。!！?？"


def xcopa_file(root: Path, lang: str, split: str = "test") -> Path:
    return root / "xcopa" / lang / f"{split}.{lang}.jsonl"


def xcopa_langs(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "xcopa").glob("*/test.*.jsonl") if p.stem == f"test.{p.parent.name}")


def stem_and_connective(premise: str, question: str, lang: str) -> str:
    """``premise`` without its final full stop, joined to the cause/effect connective of ``lang``."""
    cause, effect = CONNECTIVES[lang]
    stem = premise.strip()
    if stem and stem[-1] in _FINAL_STOPS:
        stem = stem[:-1]
    return stem + _NO_SPACE.get(lang, " ") + (cause if question == "cause" else effect)


def continuation(choice: str) -> str:
    """An alternative as the rest of the premise's sentence: its first letter lowercased."""
    choice = choice.strip()
    return choice[:1].lower() + choice[1:]


def xcopa_example(record: dict, path: Path, line: int, lang: str) -> Example:
    """One XCOPA record ``{premise, choice1, choice2, question: cause|effect, label, idx?}`` as an example."""
    if lang not in CONNECTIVES:
        raise UserError(f"{where(path, line)}: an XCOPA record needs the cause/effect connectives of its "
                        f"language, and there are none for {lang!r}; known: {', '.join(sorted(CONNECTIVES))}")
    for key in ("premise", "choice1", "choice2"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise UserError(f"{where(path, line)}: needs a '{key}' string (XCOPA JSONL: premise, choice1, "
                            "choice2, question, label)")
    question, label = record.get("question"), record.get("label")
    if question not in ("cause", "effect"):
        raise UserError(f"{where(path, line)}: 'question' must be 'cause' or 'effect', got {question!r}")
    if not isinstance(label, int) or isinstance(label, bool) or label not in (0, 1):
        raise UserError(f"{where(path, line)}: 'label' must be 0 (choice1) or 1 (choice2), got {label!r}")
    options = [continuation(record["choice1"]), continuation(record["choice2"])]
    return Example(id=str(record.get("idx", line)), instruction=stem_and_connective(record["premise"], question, lang),
                   options=options, label=label, references=[options[label]])


def xcopa_task(name: str, path: Path, lang: str) -> Task:
    """A choice task from XCOPA JSONL ``{premise, choice1, choice2, question: cause|effect, label, idx}``."""
    if lang not in CONNECTIVES:
        raise UserError(f"task {name}: no cause/effect connectives for language {lang!r}; "
                        f"known: {', '.join(sorted(CONNECTIVES))}")
    examples = [xcopa_example(record, path, line, lang) for line, record in iter_jsonl(path)]
    if not examples:
        raise UserError(f"{path}: no XCOPA records")
    return Task(name, "choice", lang, examples, [path], 0, reduce="sum")


def xcopa_builtin(name: str, root: Path, lang: str) -> Task:
    path = xcopa_file(root, lang)
    if not path.is_file():
        have = xcopa_langs(root)
        raise UserError(f"task {name}: unknown XCOPA language {lang!r}: no {path}; "
                        f"this data root has XCOPA for {', '.join(have) or 'no language'}",
                        hint="pass --data-root with a full XCOPA copy (xcopa/<lang>/test.<lang>.jsonl)")
    return xcopa_task(name, path, lang)


def _load_xcopa(name: str, parts: list[str], root: Path, split: str) -> Task:
    return xcopa_builtin(name, root, parts[0])  # XCOPA's test split, whatever --split says (FLORES only)


def _xcopa_names(root: Path, split: str) -> list[str]:
    return [f"xcopa-{lang}" for lang in xcopa_langs(root)]


register(Family("xcopa", ("xcopa-<lang>",), (1,), _load_xcopa, _xcopa_names, parallel=(1,)))
