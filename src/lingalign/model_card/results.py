"""Scores in a model card: from an evaluation's ``results.json`` to a results table and a ``model-index``.

``record_results(model_path, results)`` is what ``lingalign eval`` calls after scoring a model. It
changes only ``README.md``, and only in a folder that ``lingalign train`` made (a ``train``
manifest and ``lingalign_model.json``): a card lingalign wrote gets the new scores (a task scored
again replaces its old scores), a folder trained before cards existed gets its card now, and a
``README.md`` that lingalign did not write (no marker line) is left alone. The scores are kept in
the card itself, as JSON inside the results markers, so nothing else in the folder changes and the
weights' fingerprints stay what they were. The file is replaced atomically.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from lingalign.artifacts import read_manifest, write_text
from lingalign.model_card import facts
from lingalign.model_card.render import MARKER, RESULTS_END, RESULTS_START, render

log = logging.getLogger(__name__)

# results.json metric -> (model-index metric type, display name); other metrics keep their own name
METRICS = {"chrf++": ("chrf", "chrF++"), "bleu": ("bleu", "BLEU"), "spbleu": ("bleu", "spBLEU"),
           "em": ("exact_match", "exact match"), "f1": ("f1", "F1"), "inclusion": ("inclusion", "inclusion"),
           "accuracy": ("accuracy", "accuracy"), "answer_lang": ("answer_language", "answers in the target language")}
TASK_TYPES = {"translation": "translation", "qa": "question-answering", "choice": "multiple-choice",
              "math": "text-generation"}


def is_lingalign_model(path: str | Path) -> bool:
    """A folder ``lingalign train`` wrote: a ``train`` manifest and ``lingalign_model.json``."""
    folder = Path(path)
    if not folder.is_dir() or not (folder / "lingalign_model.json").exists():
        return False
    manifest = read_manifest(folder)
    return bool(manifest) and manifest.get("stage") == "train"


def entries_of(results: dict) -> list[dict]:
    """One entry per task of a ``results.json``: its numeric metrics (0-100), items, split and date."""
    found = []
    for task, entry in (results.get("tasks") or {}).items():
        metrics = {name: m["value"] for name, m in (entry.get("metrics") or {}).items()
                   if isinstance(m, dict) and isinstance(m.get("value"), (int, float))}
        if metrics:
            found.append({"task": task, "kind": entry.get("kind"), "lang": entry.get("lang"), "n": entry.get("n"),
                          "split": entry.get("split"), "metrics": metrics, "date": results.get("date"),
                          "dtype": (results.get("generation") or {}).get("dtype")})
    return found


def stored_entries(text: str) -> list[dict]:
    """The scores a card holds (the JSON inside its results markers)."""
    start = text.find(RESULTS_START)
    if start < 0:
        return []
    block = text[start + len(RESULTS_START):].split("-->", 1)[0]
    try:
        return list(json.loads(block))
    except ValueError:
        return []


def results_section(entries: list[dict]) -> str:
    """The card's results section: the stored scores as JSON (in a comment) and as a table."""
    stored = json.dumps(entries, ensure_ascii=False, sort_keys=True)
    lines = [f"{RESULTS_START} {stored} -->", "## Results", ""]
    if not entries:
        lines.append("Not scored yet: `lingalign eval --model THIS_FOLDER ...` or `lingalign run` adds the scores "
                     "here.")
    else:
        lines += ["| task | metric | value | items | split | scored | eval precision |",
                  "|---|---|---:|---:|---|---|---|"]
        for entry in entries:
            for name, value in entry["metrics"].items():
                shown = METRICS.get(name, (name, name))[1]
                cells = [entry["task"], shown, f"{value:.2f}", entry.get("n"), entry.get("split") or "",
                         (entry.get("date") or "")[:10], entry.get("dtype") or ""]
                lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        lines += ["", "Values are percentages (0-100), scored by `lingalign eval` (greedy decoding); a task scored "
                  "on its first N items says so in the items column."]
    lines.append(RESULTS_END)
    return "\n".join(lines)


def eval_results(entries: list[dict]) -> list:
    """The scores as ``huggingface_hub.EvalResult`` objects (the card's ``model-index``)."""
    from huggingface_hub import EvalResult

    found = []
    for entry in entries:
        for name, value in entry["metrics"].items():
            metric_type, metric_name = METRICS.get(name, (name, name))
            found.append(EvalResult(
                task_type=TASK_TYPES.get(entry.get("kind"), "text-generation"),
                dataset_type=facts.hub_dataset(entry["task"]) or entry["task"], dataset_name=entry["task"],
                dataset_config=entry.get("lang"), dataset_split=entry.get("split"),
                metric_type=metric_type, metric_name=metric_name, metric_value=float(value)))
    return found


def write_card(folder: str | Path, entries: list[dict] | None = None, name: str | None = None) -> Path:
    """(Re)write the card of a lingalign model folder with these scores; returns the README path.

    ``name``: the model's name, when ``folder`` is training's ``final/`` (renamed to the model's folder next)."""
    folder = Path(folder)
    entries = entries or []
    text = render(folder, results_section(entries), eval_results(entries) if entries else None, name=name)
    write_text(folder / "README.md", text)
    return folder / "README.md"


def record_results(model_path: str | Path, results: dict) -> Path | None:
    """Add an evaluation's scores to the card of the lingalign model folder it scored (see the module doc)."""
    folder = Path(model_path)
    if not is_lingalign_model(folder):
        return None
    readme = folder / "README.md"
    new = entries_of(results)
    scored = {e["task"] for e in new}
    if not readme.exists():  # trained before cards existed: write the whole card now
        write_card(folder, new)
    else:
        text = readme.read_text(encoding="utf-8")
        if MARKER not in text or RESULTS_END not in text:
            log.info("%s: not a card lingalign wrote; left as it is", readme)
            return None
        merged = [e for e in stored_entries(text) if e["task"] not in scored] + new
        write_text(readme, with_results(text, merged, folder.name))
    log.info("%s: scores of %s added to the model card", readme, ", ".join(sorted(scored)) or "no task")
    return readme


def with_results(text: str, entries: list[dict], model_name: str) -> str:
    """A card's text with its results section and ``model-index`` replaced; everything else as it was."""
    from huggingface_hub import ModelCard

    card = ModelCard(text)
    card.data.model_name = model_name if entries else None
    card.data.eval_results = eval_results(entries) or None
    before, rest = card.text.split(RESULTS_START, 1)
    after = rest.split(RESULTS_END, 1)[1]
    card.text = before + results_section(entries) + after
    return card.content
