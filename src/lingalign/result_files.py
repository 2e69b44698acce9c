"""Result files: a run's ``results.json`` (finding, reading, merging) and lm-eval results files read alike.

The evaluate stage writes ``DIR/results.json`` and ``DIR/predictions/<task>.jsonl``; ``eval
--compare``, the bootstrap, ``lingalign report`` and ``lingalign serve`` read them back through
this module. Shape (readers use ``tasks[task]["metrics"][metric]["value"]``; every value is 0-100)::

    {"model": ..., "prompt_format": "alpaca", "generation": {...}, "versions": {...}, "date": ...,
     "tasks": {"flores-en-zh": {"n": 20, "split": "devtest",
                                "metrics": {"chrf++": {"value": 12.3, "signature": "..."}, ...}}}}

**lm-evaluation-harness results files** (``lm_eval --output_path``) are read as one more model's
results, so ``--compare`` and ``report`` take them beside lingalign's own and match tasks **by
name**: an exported lingalign task (``--export-lm-eval``) keeps its name, so its lm-eval score
lands in the same row; lm-eval's own tasks (``xcopa_zh``) get rows of their own. The file's
per-task entries (``"acc,none": 0.62``) become lingalign's shape: ``acc`` is read as lingalign's
``accuracy``; a metric under another filter than ``none`` is named ``metric/filter``
(``exact_match/flexible-extract``); stderr entries are dropped. lm-eval's per-item means are on
0-1 and are multiplied by 100; its corpus bleu/chrf/ter are already on 0-100.

Paired bootstrap intervals need each item's result. lm-eval writes them only with
``--log_samples`` (``samples_<task>_<date>.jsonl`` beside ``results_<date>.json``);
``read_lm_eval_predictions`` turns those into lingalign prediction records (joined on the exported
example id). Without them a results file gives point values only, and ``--compare`` says so.
"""

from __future__ import annotations

from pathlib import Path

from lingalign import artifacts
from lingalign.errors import UserError, where
from lingalign.provenance import differences, key_facts

# ---- a run's results.json ------------------------------------------------------------------------

def results_path(path: str | Path) -> Path:
    """``DIR`` or ``DIR/results.json`` -> ``DIR/results.json`` (an eval run folder or its results).

    A folder without results.json that holds lm-eval's ``results_*.json`` (in it or one level
    down, as ``lm_eval --output_path DIR`` leaves it) gives the newest of those.
    """
    path = Path(path)
    if not path.is_dir():
        return path
    if not (path / "results.json").exists():
        return find_lm_eval_results(path) or path / "results.json"
    return path / "results.json"


def load_results(path: str | Path) -> dict:
    """A run's results as lingalign's dict: its results.json, or an lm-eval results file converted.

    ``path`` is an eval folder, its results.json, an lm-eval ``results_*.json``, or the folder
    lm-eval wrote it in.
    """
    path = results_path(path)
    data = artifacts.read_json(path)
    if isinstance(data, dict) and isinstance(data.get("tasks"), dict):
        return data
    if is_lm_eval(data):
        return lm_eval_to_results(data, path)
    raise UserError(f"{path}: neither a lingalign results.json (no 'tasks') nor an lm-evaluation-harness results "
                    "file (no 'results' beside 'configs'/'versions', as `lm_eval --output_path` writes)")


def merge_results(path: Path, new: dict) -> dict:
    """Keep earlier tasks of ``path`` when it holds results of the same model and prompt format."""
    if not path.exists():
        return new
    try:
        old = artifacts.read_json(path)
    except UserError:
        return new
    same = all(old.get(k) == new.get(k) for k in ("model_path", "prompt_format"))
    if not same or not isinstance(old.get("tasks"), dict):
        return new
    merged = dict(new)
    merged["tasks"] = {**_old_tasks(old, new), **new["tasks"]}
    old_max = (old.get("generation") or {}).get("max_new_tokens") or {}
    merged["generation"] = {**new["generation"], "max_new_tokens": {**old_max, **new["generation"]["max_new_tokens"]}}
    return merged


def _old_tasks(old: dict, new: dict) -> dict:
    """``old``'s tasks; when ``old`` was made with another precision, CPU kind, device or library
    version, each task the new run does not redo carries ``old``'s ``provenance`` in its own entry
    (the top-level block describes the latest run)."""
    block = old.get("provenance")
    facts = key_facts(block, (old.get("generation") or {}).get("dtype"))
    if not differences(facts, key_facts(new.get("provenance"))):
        return old["tasks"]
    tag = block or {"precision": facts["precision"]}
    return {name: {**entry, "provenance": entry.get("provenance", tag)} if isinstance(entry, dict) else entry
            for name, entry in old["tasks"].items()}


def read_task_entry(run: str | Path, task: str) -> dict:
    """The task's entry in the run's results (its kind, language and metric values)."""
    path = results_path(run)
    tasks = load_results(path)["tasks"]
    if task not in tasks:
        raise UserError(f"{path}: no task {task!r}; it has {', '.join(sorted(tasks)) or 'none'}")
    return tasks[task]


def read_predictions(run: str | Path, task: str, kind: str | None = None) -> dict[str, dict]:
    """Stored predictions by example id, as the runner keeps them (later lines win, torn tail ignored).

    For an lm-eval results file: its logged samples (``read_lm_eval_predictions``)."""
    results_file = results_path(run)
    if results_file.name != "results.json" and is_lm_eval(artifacts.read_json(results_file)):
        return read_lm_eval_predictions(results_file, task, kind)
    path = results_file.parent / "predictions" / f"{task}.jsonl"
    if not path.is_file():
        raise UserError(f"{path}: predictions file not found",
                        hint=f"run `lingalign eval --task {task}` into that folder first")
    records = {str(r["id"]): r for r in artifacts.read_jsonl_tolerant(path) if "id" in r and "prediction" in r}
    if not records:
        raise UserError(f"{path}: no predictions (expected JSON lines with 'id' and 'prediction')")
    return records


# ---- lm-evaluation-harness results files ---------------------------------------------------------

_ALREADY_PERCENT = ("bleu", "chrf", "chrf++", "ter", "spbleu")
_METRIC_NAMES = {"acc": "accuracy"}


def is_lm_eval(data) -> bool:
    """Whether a loaded JSON object is an lm-evaluation-harness results file."""
    return (isinstance(data, dict) and isinstance(data.get("results"), dict) and "tasks" not in data
            and any(k in data for k in ("configs", "versions", "n-samples", "config", "lm_eval_version")))


def find_lm_eval_results(folder: Path) -> Path | None:
    """The newest lm-eval ``results_*.json`` in ``folder`` or one level down (``--output_path DIR``)."""
    found = sorted(list(folder.glob("results_*.json")) + list(folder.glob("*/results_*.json")),
                   key=lambda p: p.name)
    return found[-1] if found else None


def lm_eval_model_label(data: dict, path: Path) -> str:
    args = (data.get("config") or {}).get("model_args")
    pretrained = args.get("pretrained") if isinstance(args, dict) else None
    if isinstance(args, str):
        pretrained = dict(kv.split("=", 1) for kv in args.split(",") if "=" in kv).get("pretrained")
    name = pretrained or data.get("model_name") or path.parent.name
    return Path(str(name).rstrip("/")).name or str(name)


def _metrics(entry: dict, path: Path, task: str) -> dict:
    metrics = {}
    for key, value in entry.items():
        if "," not in key or "_stderr" in key:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue  # "N/A" and other non-numbers
        name, filt = key.split(",", 1)
        name = _METRIC_NAMES.get(name, name)
        if filt != "none":
            name = f"{name}/{filt}"
        scale = 1.0 if name.split("/")[0] in _ALREADY_PERCENT else 100.0
        metrics[name] = {"value": round(scale * float(value), 4), "source": f"lm-eval {key}"}
    if not metrics:
        raise UserError(f"{where(path, key=f'results.{task}')}: no metric values (expected entries such as "
                        "\"acc,none\": 0.5, as lm_eval writes them)")
    return metrics


def lm_eval_to_results(data: dict, path: Path) -> dict:
    """lm-eval's results as a lingalign results dict (``source: lm-eval``)."""
    configs = data.get("configs") if isinstance(data.get("configs"), dict) else {}
    counts = data.get("n-samples") if isinstance(data.get("n-samples"), dict) else {}
    groups = set(data.get("groups") or {}) | {g for g, subs in (data.get("group_subtasks") or {}).items() if subs}
    tasks, formats = {}, set()
    for task, entry in data["results"].items():
        if task in groups:
            continue  # a group's aggregate; its subtasks are listed on their own
        if not isinstance(entry, dict):
            raise UserError(f"{where(path, key=f'results.{task}')}: expected an object of metric values, "
                            f"got {type(entry).__name__}")
        meta = ((configs.get(task) or {}).get("metadata") or {}).get("lingalign") or {}
        n = (counts.get(task) or {}).get("effective") or entry.get("sample_len")
        item = {"n": n, "metrics": _metrics(entry, path, task), "source": "lm-eval"}
        if "answer_lang" in item["metrics"] and meta.get("lang"):
            item["metrics"]["answer_lang"]["expected"] = meta["lang"]
        for key in ("kind", "lang", "prompt_variant", "question_lang", "src_lang", "split"):
            if meta.get(key):
                item[key] = meta[key]
        formats.add(meta.get("prompt_format") or "lm-eval")  # lm-eval's own tasks: its own prompts
        tasks[task] = item
    if not tasks:
        raise UserError(f"{path}: an lm-eval results file with no task results")
    return {"model": lm_eval_model_label(data, path), "source": "lm-eval",
            "lm_eval_version": data.get("lm_eval_version"),
            "prompt_format": formats.pop() if len(formats) == 1 else "lm-eval", "date": data.get("date"),
            "per_item_samples": sorted(t for t in tasks if lm_eval_samples_file(path, t)), "tasks": tasks}


def lm_eval_samples_file(results_file: Path, task: str) -> Path | None:
    """``samples_<task>_<date>.jsonl`` written with ``results_<date>.json`` (``--log_samples``)."""
    stem = results_file.stem
    if stem.startswith("results_"):
        exact = results_file.with_name(f"samples_{task}_{stem.removeprefix('results_')}.jsonl")
        if exact.is_file():
            return exact
    return None


def read_lm_eval_predictions(results_file: Path, task: str, kind: str | None) -> dict[str, dict]:
    """lm-eval's logged samples of an exported task as lingalign prediction records, by example id."""
    path = lm_eval_samples_file(results_file, task)
    if path is None:
        raise UserError(f"{results_file}: no per-item samples for {task}, so point values only and no paired "
                        "intervals", hint="run lm_eval with --log_samples")
    records = {}
    for line, sample in artifacts.iter_jsonl(path):
        doc = sample.get("doc") if isinstance(sample.get("doc"), dict) else {}
        if "id" not in doc or "references" not in doc:
            raise UserError(f"{where(path, line)}: the sample's doc has no lingalign 'id'/'references' "
                            "(only tasks written by `lingalign eval --export-lm-eval` can be paired)")
        record = {"id": str(doc["id"]), "references": doc["references"]}
        responses = sample.get("filtered_resps") or []
        if kind == "choice":
            scores = [float(r[0] if isinstance(r, (list, tuple)) else r) for r in responses]
            if len(scores) != len(doc.get("options") or []):
                raise UserError(f"{where(path, line)}: {len(scores)} log-likelihoods for "
                                f"{len(doc.get('options') or [])} options")
            record.update(prediction=max(range(len(scores)), key=scores.__getitem__), scores=scores,
                          label=doc.get("label"))
        else:
            first = responses[0] if responses else ""
            record["prediction"] = (first[0] if isinstance(first, list) and first else first or "").strip()
        records[record["id"]] = record
    if not records:
        raise UserError(f"{path}: no samples")
    return records
