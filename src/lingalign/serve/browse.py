"""The predictions browser: every item of a task with each model's answer, per-item score and language.

Reads what ``lingalign eval`` stored in the run folder (``eval/<model>/predictions/<task>.jsonl``
and the task's entry in ``eval/<model>/results.json``). Per-item scores come from the evaluate
stage's own metric functions (``lingalign.metrics``), so an item's numbers agree with the run's
averages:

* QA: inclusion, exact match and F1 (``metrics.per_item.item_scores`` over ``metrics.qa``);
* translation: sentence-level chrF++ with the stage's sacrebleu settings (``metrics.per_item.corpus_metric``);
  the mean of sentence scores is not the corpus chrF++ of results.json, which pools statistics;
* multiple choice: correct or not (``metrics.per_item.item_scores``).

The answer language is py3langid's (``lingalign.langid``), compared with the task's language.
The question, source and passage come from the task data the evaluation read (``data_root`` in
results.json); when that is gone, the stored prompt is shown instead.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from lingalign.artifacts import read_jsonl_tolerant, read_text
from lingalign.errors import UserError
from lingalign.langid import base_code, detect
from lingalign.metrics.per_item import corpus_metric
from lingalign.metrics.per_item import item_scores as stage_item_scores
from lingalign.prompting import model_pivot_separator, read_model_prompt_format, scored_answer
from lingalign.serve.runfolder import BASE, RunFolder
from lingalign.tasks.base import default_data_root
from lingalign.tasks.registry import expected_from_task, load_builtin

log = logging.getLogger(__name__)

METRICS = {"qa": ("f1", "inclusion", "em"), "translation": ("chrf++",), "choice": ("accuracy",)}
MAX_PAGE = 200


class Predictions:
    """The stored predictions of a run folder, scored per item once per version of the files."""

    def __init__(self, run: RunFolder):
        self.run = run
        self._cache: dict[str, tuple[tuple, dict]] = {}

    def _files(self, task: str) -> dict[str, Path]:
        """Model label -> its prediction file for ``task``, base first, then the recipe's order."""
        found = {p.parent.parent.name: p for p in self.run.root.glob(f"eval/*/predictions/{task}.jsonl")}
        order = [BASE, *self.run.model_names()]
        return {label: found[label]
                for label in sorted(found, key=lambda m: (order.index(m) if m in order else len(order), m))}

    def tasks(self) -> list[dict]:
        names = sorted({p.stem for p in self.run.root.glob("eval/*/predictions/*.jsonl")})
        out = []
        for name in names:
            files = self._files(name)
            kind, lang = self._kind_and_lang(name, files)
            out.append({"task": name, "kind": kind, "lang": lang, "models": list(files),
                        "metrics": list(METRICS.get(kind, ()))})
        return out

    def _results_entry(self, label: str, task: str) -> dict:
        try:
            data = json.loads(read_text(self.run.root / "eval" / label / "results.json"))
        except (OSError, ValueError):
            return {}
        entry = (data.get("tasks") or {}).get(task) if isinstance(data, dict) else None
        return {**entry, "_data_root": data.get("data_root")} if isinstance(entry, dict) else {}

    def _pivot_separator(self, label: str, task: str) -> str | None:
        """Where a pivot model's answers split (results.json's, else its model folder's); None for other models."""
        entry = self._results_entry(label, task)
        if entry:
            return entry.get("pivot_separator")
        folder = self.run.root / "models" / label
        return model_pivot_separator(folder, read_model_prompt_format(folder) or "alpaca")

    def _kind_and_lang(self, task: str, files: dict[str, Path]) -> tuple[str, str | None]:
        """From results.json when written; while an evaluation runs, from the task's name."""
        for label in files:
            entry = self._results_entry(label, task)
            if entry.get("kind"):
                return entry["kind"], entry.get("lang")
        family = task.split("-")[0]
        kind = "qa" if family in ("xquad", "mlqa") else "translation" if family in ("flores", "ntrex") else "unknown"
        return kind, expected_from_task(task)

    # ---- one task, scored ----------------------------------------------------------------------

    def table(self, task: str) -> dict:
        """Items of ``task`` with every model's prediction and scores (cached until a file changes)."""
        files = self._files(task)
        if not files:
            known = ", ".join(t["task"] for t in self.tasks()) or "none yet"
            raise UserError(f"unknown task {task!r}; tasks with predictions: {known}")
        stamp = tuple((label, p.stat().st_mtime_ns, p.stat().st_size) for label, p in files.items())
        cached = self._cache.get(task)
        if cached and cached[0] == stamp:
            return cached[1]
        table = self._score(task, files)
        self._cache[task] = (stamp, table)
        return table

    def _score(self, task: str, files: dict[str, Path]) -> dict:
        kind, lang = self._kind_and_lang(task, files)
        want = base_code(lang) if lang else None
        examples = self._examples(task, files)
        items: dict[str, dict] = {}
        for label, path in files.items():
            records = [r for r in read_jsonl_tolerant(path) if isinstance(r, dict) and "id" in r and "prediction" in r]
            records = list({str(r["id"]): r for r in records}.values())  # a re-written id: the last line wins
            separator = self._pivot_separator(label, task) if kind != "choice" else None
            scored = [{**r, "prediction": scored_answer(r["prediction"], separator)} for r in records] \
                if separator else records  # a pivot model is scored on its final part, as evaluation does
            scores = item_scores(kind, lang, scored)
            for i, record in enumerate(records):
                key = str(record["id"])
                item = items.setdefault(key, _item(key, record, examples.get(key), kind))
                text = record["prediction"]
                answer_lang = detect(scored[i]["prediction"]) if kind in ("qa", "translation") else None
                item["preds"][label] = {
                    "text": text if isinstance(text, str) else str(text),
                    "scores": {m: round(float(v[i]), 2) for m, v in scores.items()},
                    "lang": answer_lang,
                    "wrong_lang": bool(want and answer_lang != want),
                }
        # Dataset order (prediction files are in decoding order, which sorts prompts by length).
        rank = {key: i for i, key in enumerate(examples)}
        ordered = sorted(items.values(), key=lambda item: rank.get(item["id"], len(rank)))
        return {"task": task, "kind": kind, "lang": lang, "models": list(files),
                "metrics": list(METRICS.get(kind, ())), "items": ordered}

    def _examples(self, task: str, files: dict[str, Path]) -> dict:
        """The task's examples by id, read from the data root the evaluation used ({} if gone)."""
        entry = next((e for e in (self._results_entry(label, task) for label in files) if e), {})
        root = Path(entry["_data_root"]) if entry.get("_data_root") else default_data_root()
        try:
            loaded = load_builtin(task, root, entry.get("split") or "devtest")
        except (UserError, OSError, ValueError) as exc:
            log.info("%s: task data not readable (%s); showing stored prompts", task, exc)
            return {}
        return {e.id: e for e in loaded.examples}

    # ---- filters -------------------------------------------------------------------------------

    def query(self, task: str, *, metric: str | None = None, disagree: bool = False, gap: float = 50.0,
              wrong_lang: str = "", score_model: str = "", low: float = 0.0, high: float = 100.0,
              text: str = "", offset: int = 0, limit: int = 50) -> dict:
        """The items of ``task`` that pass every filter given, one page of them.

        disagree     the models' ``metric`` scores on the item differ by at least ``gap`` points;
        wrong_lang   "any": some model answered in another language than the task's; or a model label;
        score_model  a model label, "any" or "all": its (their) ``metric`` within [low, high];
        text         a case-insensitive substring of the question, source, gold or an answer.
        """
        table = self.table(task)
        models, metrics = table["models"], table["metrics"]
        metric = metric or (metrics[0] if metrics else None)
        if metric is not None and metric not in metrics:
            raise UserError(f"{task}: no per-item {metric!r}; available: {', '.join(metrics) or 'none'}")
        for name, value in (("wrong_lang", wrong_lang), ("score_model", score_model)):
            if value and value not in ("any", "all", *models):
                raise UserError(f"{name}: unknown model {value!r}; models with predictions: {', '.join(models)}")
        if low > high:
            raise UserError(f"score range: min {low:g} is above max {high:g}")
        needle = text.strip().lower()

        def score(item, label):
            pred = item["preds"].get(label)
            return pred["scores"].get(metric) if pred and metric else None

        def keep(item) -> bool:
            values = [v for v in (score(item, m) for m in models) if v is not None]
            if disagree and (len(values) < 2 or max(values) - min(values) < gap):
                return False
            if wrong_lang:
                labels = models if wrong_lang in ("any", "all") else [wrong_lang]
                flags = [item["preds"][m]["wrong_lang"] for m in labels if m in item["preds"]]
                if not flags or not (all(flags) if wrong_lang == "all" else any(flags)):
                    return False
            if score_model:
                labels = models if score_model in ("any", "all") else [score_model]
                inside = [low <= v <= high for v in (score(item, m) for m in labels) if v is not None]
                if not inside or not (all(inside) if score_model == "all" else any(inside)):
                    return False
            if needle:
                haystack = [item["question"], item["source"], *item["gold"],
                            *(p["text"] for p in item["preds"].values())]
                if not any(needle in str(h).lower() for h in haystack):
                    return False
            return True

        matched = [item for item in table["items"] if keep(item)]
        limit = max(1, min(limit, MAX_PAGE))
        summary = {m: {"items": sum(m in i["preds"] for i in matched),
                       "wrong_lang": sum(i["preds"][m]["wrong_lang"] for i in matched if m in i["preds"]),
                       "mean": _mean([score(i, m) for i in matched])} for m in models}
        return {"task": task, "kind": table["kind"], "lang": table["lang"], "models": models, "metrics": metrics,
                "metric": metric, "total": len(table["items"]), "matched": len(matched), "offset": offset,
                "summary": summary, "items": matched[offset:offset + limit]}


def item_scores(kind: str, lang: str | None, records: list[dict]) -> dict[str, list[float]]:
    """Per-item scores (0-100) of one model's records, with the evaluate stage's metric functions."""
    if not records:
        return {}
    if kind == "qa":
        return {m: list(stage_item_scores(m, records, lang or "en")) for m in METRICS["qa"]}
    if kind == "choice":
        return {"accuracy": list(stage_item_scores("accuracy", records, lang or "en"))}
    if kind == "translation":
        chrf = corpus_metric("chrf++", lang or "en")
        return {"chrf++": [chrf.sentence_score(str(r["prediction"]), [(r.get("references") or [""])[0]]).score
                           for r in records]}
    return {}


def _item(key: str, record: dict, example, kind: str) -> dict:
    """The model-independent part of an item: question or source, passage, gold answers."""
    gold = record.get("references") or []
    if kind == "choice" and example is not None and example.options:
        label = record.get("label", example.label)
        gold = [example.options[label]] if isinstance(label, int) and 0 <= label < len(example.options) else gold
    question, source, context = "", "", ""
    if example is not None:
        if kind == "translation":
            source = example.source or example.input
        elif kind == "qa":
            lines = example.input.split("\n")
            question, context = lines[-1], "\n".join(lines[:-1])
        else:
            question, context = example.instruction, example.input
    else:
        context = record.get("prompt", "")
    return {"id": key, "question": question, "source": source, "context": context,
            "gold": [str(g) for g in gold], "preds": {}}


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 2) if values else None
