"""Write lingalign's tasks as lm-evaluation-harness tasks, with the same prompts, offline.

``lingalign eval --export-lm-eval DIR --task xcopa-zh,mgsm-zh`` writes, for each task:

* ``DIR/data/<task>.jsonl``: one line per example with the **fully rendered prompt** (prompt
  format applied, exactly the text lingalign feeds the model), its id, references, and the
  options and label of a choice task;
* ``DIR/<task>.yaml``: an lm-eval task reading that file with the packaged ``json`` loader
  (absolute path: no hub, no network), the prompt as ``doc_to_text``, lingalign's stop strings
  and ``max_new_tokens`` for generation, and ``metadata.lingalign`` (kind, language, prompt
  format and variant) that ``lingalign.result_files`` reads back;
* ``DIR/lingalign_lm_eval.py``: two lines importing the functions below, which lm-eval calls to
  score a generated answer with lingalign's own metrics (so lingalign must be importable where
  lm-eval runs).

Then ``lm_eval --model hf --model_args pretrained=FOLDER --include_path DIR --tasks xcopa-zh``
runs them. Choice tasks use lm-eval's own ``multiple_choice`` scoring: its ``acc`` is the argmax
of each option's summed token log-probability after the prompt, which is lingalign's
``reduce: sum`` (XCOPA's). lm-eval tokenizes prompt + option together and splits at the prompt's
length, lingalign tokenizes them apart; the two agree whenever the option starts a new pre-token
(the Alpaca prompt ends with ``### Response:``, so a letter after the colon always does).
Do not pass ``--apply_chat_template``: the prompt is already formatted.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import yaml

from lingalign import artifacts
from lingalign.errors import UserError
from lingalign.langid import base_code, detect
from lingalign.metrics import qa as qa_metrics
from lingalign.metrics.math_answers import is_correct
from lingalign.metrics.translation import score_translation
from lingalign.prompting import build_prompt, eval_stop_strings

log = logging.getLogger(__name__)

HELPER_MODULE = "lingalign_lm_eval"
EXPORT_VERSION = 1
CORPUS_METRICS = ("chrf++", "bleu")  # on 0-100 like lm-eval's own bleu/chrf; per-item ones are 0-1 means


# ---- the functions lm-eval calls (through DIR/lingalign_lm_eval.py) -------------------------------

def process_math(doc: dict, results: list[str]) -> dict:
    response = results[0].strip()
    out = {"accuracy": float(is_correct(response, doc["references"][0]))}
    if doc.get("prompt_variant") != "direct":
        out["answer_lang"] = _in_language(response, doc["lang"])
    return out


def process_qa(doc: dict, results: list[str]) -> dict:
    response, gold, lang = results[0].strip(), doc["references"], doc["lang"]
    return {"inclusion": float(qa_metrics.inclusion(response, gold)),
            "em": float(qa_metrics.exact_match(response, gold, lang)),
            "f1": float(qa_metrics.f1(response, gold, lang)),
            "answer_lang": _in_language(response, lang)}


def process_translation(doc: dict, results: list[str]) -> dict:
    response = results[0].strip()
    item = (response, doc["references"][0], doc["lang"])
    return {"chrf++": item, "bleu": item, "answer_lang": _in_language(response, doc["lang"])}


def corpus_chrf(items: Sequence[tuple[str, str, str]]) -> float:
    return _corpus(items, "chrf++")


def corpus_bleu(items: Sequence[tuple[str, str, str]]) -> float:
    return _corpus(items, "bleu")


def _corpus(items, metric: str) -> float:
    """The corpus score lingalign's evaluate stage gives (metrics.translation, same sacrebleu settings)."""
    hypotheses, references, langs = zip(*items)
    return score_translation(list(hypotheses), list(references), langs[0], None)[metric]["value"]


def _in_language(text: str, lang: str) -> float:
    return float(detect(text) == base_code(lang))


# ---- writing the tasks -----------------------------------------------------------------------------

class _Function(str):
    """A YAML value written as lm-eval's ``!function module.name`` tag."""


def _dumper():
    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(_Function, lambda d, value: d.represent_scalar("!function", str(value)))
    Dumper.add_representer(str, lambda d, value: d.represent_scalar(  # stop strings such as "\n\n\n" on one line
        "tag:yaml.org,2002:str", value, style='"' if "\n" in value else None))
    return Dumper


def _rows(task, prompts: list[str], examples) -> list[dict]:
    rows = []
    for example, prompt in zip(examples, prompts):
        row = {"id": example.id, "prompt": prompt, "references": example.references, "lang": task.lang}
        if task.kind == "choice":
            row.update(options=example.options, label=example.label)
        if task.kind == "math":
            row["prompt_variant"] = task.prompt_variant
        rows.append(row)
    return rows


def task_config(task, data_file: Path, *, fmt: str, stops: list[str], max_new_tokens: int) -> dict:
    """The lm-eval task dict for one lingalign task (see the module docstring)."""
    config = {
        "task": task.name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data_file.resolve())}},
        "test_split": "test",
        "doc_to_text": "prompt",
    }
    meta = {"kind": task.kind, "lang": task.lang, "prompt_format": fmt, "export_version": EXPORT_VERSION}
    for key in ("prompt_variant", "question_lang", "src_lang", "split"):
        if getattr(task, key, None):
            meta[key] = getattr(task, key)
    if task.kind == "choice":
        meta["reduce"] = task.reduce
        config.update(output_type="multiple_choice", doc_to_choice="options", doc_to_target="label",
                      target_delimiter="",  # lingalign's options carry any leading space they need
                      metric_list=[{"metric": "acc", "aggregation": "mean", "higher_is_better": True}])
    else:
        per_kind = {"math": ["accuracy"] + (["answer_lang"] if task.prompt_variant != "direct" else []),
                    "qa": ["inclusion", "em", "f1", "answer_lang"],
                    "translation": ["chrf++", "bleu", "answer_lang"]}
        if task.kind not in per_kind:
            raise UserError(f"task {task.name}: kind {task.kind!r} cannot be exported to lm-eval")
        metrics = []
        for name in per_kind[task.kind]:
            aggregation = (_Function(f"{HELPER_MODULE}.corpus_{'chrf' if name == 'chrf++' else name}")
                           if name in CORPUS_METRICS else "mean")
            metrics.append({"metric": name, "aggregation": aggregation, "higher_is_better": True})
        config.update(output_type="generate_until", doc_to_target="{{references[0]}}",
                      generation_kwargs={"until": list(stops), "do_sample": False, "max_gen_toks": max_new_tokens},
                      process_results=_Function(f"{HELPER_MODULE}.process_{task.kind}"), metric_list=metrics)
    config["metadata"] = {"version": float(EXPORT_VERSION), "lingalign": meta}
    return config


def export_tasks(tasks, out_dir: str | Path, *, fmt: str, tokenizer=None, limit: int | None = None,
                 max_new_tokens: int | None = None) -> list[Path]:
    """Write ``out_dir/<task>.yaml`` and ``out_dir/data/<task>.jsonl`` for each task; returns the YAML paths."""
    out = Path(out_dir)
    stops = eval_stop_strings(fmt)
    written, notes = [], []
    for task in tasks:
        examples = task.examples[:limit] if limit else task.examples
        prompts = [build_prompt(e.instruction, e.input, fmt, tokenizer) for e in examples]
        data_file = out / "data" / f"{task.name}.jsonl"
        artifacts.write_text(data_file, "".join(map(artifacts.dumps_jsonl, _rows(task, prompts, examples))))
        config = task_config(task, data_file, fmt=fmt, stops=stops,
                             max_new_tokens=max_new_tokens or task.max_new_tokens)
        target = out / f"{task.name}.yaml"
        header = (f"# lm-eval task written by `lingalign eval --export-lm-eval` ({len(examples)} examples, "
                  f"prompt format {fmt})\n")
        artifacts.write_text(target, header + yaml.dump(config, Dumper=_dumper(), allow_unicode=True, sort_keys=False))
        written.append(target)
        if task.kind == "choice" and task.reduce != "sum":
            notes.append(f"{task.name}: lingalign scores it by the per-token mean (reduce: {task.reduce}); "
                         "lm-eval's acc uses the sum, so the two can choose differently")
    artifacts.write_text(out / f"{HELPER_MODULE}.py", (
        '"""Written by `lingalign eval --export-lm-eval`: the scoring functions lm-eval calls by `!function`."""\n'
        "from lingalign.evaluate.lm_eval_export import (  # noqa: F401\n"
        "    corpus_bleu, corpus_chrf, process_math, process_qa, process_translation)\n"))
    names = ",".join(t.name for t in tasks)
    artifacts.write_text(out / "README.md", (
        "# lm-evaluation-harness tasks exported by lingalign\n\n"
        f"Prompt format: {fmt}. Run offline (lingalign must be importable in the same environment):\n\n"
        f"    HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 lm_eval --model hf --model_args pretrained=MODEL_FOLDER "
        f"--include_path {out.resolve()} --tasks {names} --output_path OUT --log_samples\n\n"
        "Do not add --apply_chat_template (the prompts are already formatted) or --num_fewshot.\n"
        "`lingalign eval --compare RUN OUT/<model>/results_*.json` puts the result beside lingalign's; "
        "with --log_samples the samples give paired bootstrap intervals too.\n"
        "The YAML files name their data files by absolute path: export again after moving this folder.\n"
        + "".join(f"\nNote: {n}\n" for n in notes)))
    for note in notes:
        log.warning(note)
    return written
