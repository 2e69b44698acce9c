"""What a run folder holds, read without changing it: its models, its steps, its training logs.

The layout is the one ``lingalign run`` writes (see ``lingalign.run.command``). A run still going is read
as it is: a model still training has no ``models/<name>/`` yet, only ``models/<name>.work/`` with
its ``train_log.jsonl`` growing; a step is done once ``steps/<stage>__<name>.json`` exists.

Every file the page may show goes through :meth:`RunFolder.file`, which refuses any path that
does not resolve inside the run folder (``..``, absolute paths, symlinks pointing out).
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from lingalign.artifacts import read_json, read_jsonl_tolerant, read_text
from lingalign.config import model_ref
from lingalign.errors import UserError
from lingalign.models import DEFAULT_MODEL
from lingalign.step_order import first_ready_order

BASE = "base"  # the label of the untuned base model, as in lingalign.run.schema
ACTIVE_SECONDS = 15 * 60  # a write this recent means the run is probably still going


def is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file() or (path / "adapter_config.json").is_file()


class RunFolder:
    def __init__(self, path: str | Path):
        given = Path(path)
        if not given.is_dir():
            raise UserError(f"{given}: run folder not found", hint="give the -o folder of `lingalign run`")
        self.root = given.resolve()
        if not any((self.root / name).exists() for name in ("recipe.yaml", "models", "eval", "steps")):
            raise UserError(f"{given}: not a lingalign run folder (no recipe.yaml, models/, eval/ or steps/ in it)",
                            hint="give the -o folder of `lingalign run`")
        self.name = self.root.name

    # ---- files -----------------------------------------------------------------------------------

    def file(self, relative: str) -> Path:
        """The file at ``relative`` inside the run folder; PermissionError for anything outside it."""
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root):
            raise PermissionError(f"{relative}: outside the run folder")
        return target

    def recipe(self) -> dict:
        """``recipe.yaml`` as a dictionary ({} when absent or unreadable: the page shows what it can)."""
        try:
            data = yaml.safe_load(read_text(self.root / "recipe.yaml"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return {}
        return data if isinstance(data, dict) else {}

    # ---- models ----------------------------------------------------------------------------------

    def model_names(self) -> list[str]:
        """Tuned models: the recipe's in its order, then any other ``models/<name>/`` by name."""
        listed = [m["name"] for m in self.recipe().get("models") or [] if isinstance(m, dict) and "name" in m]
        found = sorted(p.name for p in (self.root / "models").glob("*") if p.is_dir() and not p.name.endswith(".work"))
        return list(dict.fromkeys([*listed, *found]))

    def base_model(self) -> str | None:
        """What to load as the base model, or None when the folder does not say.

        The recipe's ``base_model`` when it is a name (an alias or hub id) or an absolute path; a
        relative path there was relative to the recipe's original folder, which the run folder does
        not record, so then the absolute path the evaluation or a tuned model recorded is used.
        """
        value = self.recipe().get("base_model")
        if value is None and (self.root / "recipe.yaml").exists():
            value = DEFAULT_MODEL  # the recipe schema's default
        if isinstance(value, str) and not value.startswith((".", "sample:")):
            return model_ref(value, self.root)
        recorded = self.root / "eval" / BASE / "results.json"
        if recorded.is_file():
            path = _read_json_or_empty(recorded).get("model_path")
            if path:
                return str(path)
        for name in self.model_names():
            path = _read_json_or_empty(self.root / "models" / name / "lingalign_model.json").get("base_model")
            if path:
                return str(path)
        return None

    def chat_models(self) -> dict[str, str | None]:
        """Label -> model to load, base first; None for a tuned model not trained (yet)."""
        models: dict[str, str | None] = {}
        base = self.base_model()
        if base:
            models[BASE] = base
        for name in self.model_names():
            folder = self.root / "models" / name
            models[name] = str(folder) if is_model_folder(folder) else None
        return models

    # ---- progress --------------------------------------------------------------------------------

    def planned_steps(self) -> list[str]:
        """The step keys ``lingalign run`` executes for this recipe, in order (as in run.execute)."""
        recipe = self.recipe()
        models = [m for m in recipe.get("models") or [] if isinstance(m, dict) and "name" in m]
        keys = _build_order(models, recipe.get("datasets"))
        evaluation = recipe.get("evaluate")
        if isinstance(evaluation, dict):
            if evaluation.get("include_base", True):
                keys.append(f"eval:{BASE}")
            keys += [f"eval:{m['name']}" for m in models]
        if recipe.get("analysis"):
            keys.append("analysis:align")
        return keys

    def progress(self) -> dict:
        """Each step's status (done, failed, interrupted, running, next, pending) and what is under way."""
        last_status = {}
        for entry in read_jsonl_tolerant(self.root / "run_log.jsonl"):
            if isinstance(entry, dict) and "step" in entry:
                last_status[entry["step"]] = entry
        last_write = self.last_write()
        age = None if last_write is None else max(0.0, time.time() - last_write)
        active = age is not None and age < ACTIVE_SECONDS
        steps, first_open = [], True
        keys = self.planned_steps()
        keys += [k for k in last_status if k not in keys]  # steps of an older recipe, still logged
        for key in keys:
            marker = self.root / "steps" / f"{key.replace(':', '__')}.json"
            logged = last_status.get(key, {})
            step = {"step": key, "status": "pending"}
            if marker.is_file():
                step.update(status="done", seconds=_read_json_or_empty(marker).get("seconds"))
            elif logged.get("status") in ("failed", "interrupted"):
                step.update(status=logged["status"], error=logged.get("error"))
            if step["status"] != "done" and first_open:
                first_open = False
                if step["status"] == "pending":
                    step["status"] = "running" if active else "next"
            step["detail"] = self._detail(key)
            steps.append(step)
        return {"steps": steps, "active": active, "seconds_since_write": None if age is None else round(age)}

    def _detail(self, key: str) -> str:
        """A short note on a step's output so far: the last training loss, or predictions written."""
        stage, _, name = key.partition(":")
        if stage == "train":
            rows = self.train_log(name)
            if rows:
                return f"step {rows[-1]['step']}, loss {rows[-1]['loss']:.3f}"
        if stage == "eval":
            counts = [f"{p.stem} {sum(1 for _ in open(p, 'rb'))}"
                      for p in sorted((self.root / "eval" / name / "predictions").glob("*.jsonl"))]
            if counts:
                return "predictions: " + ", ".join(counts)
        return ""

    def train_log(self, name: str) -> list[dict]:
        """A model's training log: the finished model's copy, else the one still being written."""
        for folder in (self.root / "models" / name, self.root / "models" / f"{name}.work"):
            path = folder / "train_log.jsonl"
            if path.is_file():
                return [r for r in read_jsonl_tolerant(path) if isinstance(r, dict) and "loss" in r and "step" in r]
        return []

    def train_logs(self) -> dict[str, list[dict]]:
        names = self.model_names() + sorted(p.name[:-5] for p in (self.root / "models").glob("*.work"))
        logs = {name: self.train_log(name) for name in dict.fromkeys(names)}
        return {name: rows for name, rows in logs.items() if rows}

    def train_log_stamp(self) -> tuple:
        """Changes whenever a training log does (to re-draw the loss chart only then)."""
        paths = (sorted(self.root.glob("models/*/train_log.jsonl"))
                 + sorted(self.root.glob("models/*.work/train_log.jsonl")))
        return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths if p.is_file())

    def last_write(self) -> float | None:
        """Modification time of the newest file a running ``lingalign run`` writes."""
        patterns = ("run_log.jsonl", "steps/*.json", "data/*/*", "models/*.work/*", "models/*/manifest.json",
                    "eval/*/predictions/*.jsonl", "eval/*/results.json")
        times = [p.stat().st_mtime for pattern in patterns for p in self.root.glob(pattern) if p.is_file()]
        return max(times, default=None)


def _read_json_or_empty(path: Path) -> dict:
    try:
        data = read_json(path)
    except UserError:
        return {}
    return data if isinstance(data, dict) else {}


def _build_order(models: list[dict], datasets) -> list[str]:
    """The data and train steps in the order ``lingalign run`` runs them (run.plan's rule, on the recipe as
    written): a model after its dataset and its ``init:``, a ``pairs:`` dataset after the model of the run
    it samples from; among those ready, data first. A cycle, which the run refuses, keeps the list order."""
    datasets = datasets if isinstance(datasets, dict) else {}
    needs: dict[str, list[str]] = {}
    for name in dict.fromkeys(m.get("data") for m in models):
        if name:
            entry = datasets.get(name)
            pairs = entry.get("pairs") if isinstance(entry, dict) else None
            upstream = pairs.get("model") if isinstance(pairs, dict) else None
            needs[f"data:{name}"] = [f"train:{upstream}"] if upstream else []  # a model from outside: no step
    init = {m["name"]: m.get("init") for m in models}
    data = {m["name"]: m.get("data") for m in models}
    for name in _training_order(models):
        needs[f"train:{name}"] = [f"{stage}:{need}" for stage, need in (("data", data[name]), ("train", init[name]))
                                  if need]  # a need that is no step here (a model from outside) counts as met
    order, stuck = first_ready_order(needs)
    return order + stuck


def _training_order(models: list[dict]) -> list[str]:
    """Model names in the order ``lingalign run`` trains them: each after the model it starts from
    (``init:``), else in recipe order (run.plan's rule, on the recipe as written)."""
    order, stuck = first_ready_order({m["name"]: [m["init"]] if m.get("init") else [] for m in models})
    return order + stuck
