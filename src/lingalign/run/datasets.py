"""The data step of each kind of dataset entry: the one place that maps an entry of ``datasets:`` to its step.

Every kind writes ``DIR/data/<name>/train.jsonl`` and a manifest (last) whose fingerprint is the
*content* fingerprint its models key on, and gives the plan what it needs without building: a cheap
step fingerprint (settings plus the size and time of every input), the content fingerprint (settings
plus the bytes of the inputs), the missing inputs, and a line for ``--dry-run``. Which records a
step writes (instructions or preference pairs) is known from the recipe alone:
:func:`lingalign.run.schema.records_of`.

- :class:`RecipeDataset`: a data-stage recipe (``sources:``), built by ``lingalign data build``;
- :class:`PreferenceFileDataset`: ``preference_file: PATH``, pairs checked and copied as they are;
- :class:`SampledPairsDataset`: ``pairs: {...}``, preference pairs sampled from a model and scored by
  translation consistency (MAPO), built by ``lingalign data pairs``; its model may be a model of the run.

A new kind is a schema class in :mod:`lingalign.run.schema` (a tag in ``DATASET_TAGS``, its records
in ``records_of``) and a class here, registered in ``KINDS``.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Optional

from lingalign.artifacts import MANIFEST, atomic_open, hash_file, hash_obj, iter_jsonl, write_manifest
from lingalign.config import model_ref, resolve_path
from lingalign.data.build import TRAIN_FILE, build_dataset, content_fingerprint, resolve_source
from lingalign.data.pair_prompts import prompt_files
from lingalign.data.pairs import build_pairs, other_output, pairs_key
from lingalign.data.recipe import DataRecipe
from lingalign.errors import UserError
from lingalign.generation.fingerprint import model_fingerprint
from lingalign.run.plan import Plan, looks_like_path
from lingalign.run.schema import PreferenceFile, SampledPairs
from lingalign.train.preference_data import check_record

log = logging.getLogger("lingalign.run")


class DatasetKind:
    """The data step of one dataset entry (subclasses per kind of entry).

    ``models``: the train fingerprints of the run's models known so far (a kind whose data a model of
    the run makes keys on its model's)."""

    def __init__(self, plan: Plan, name: str, entry, models: Optional[dict[str, Optional[str]]] = None):
        self.plan, self.name, self.entry, self.models = plan, name, entry, models or {}

    def step_fingerprint(self) -> str:
        """The step's key: settings plus the size and modification time of every input (UserError if one is missing)."""
        raise NotImplementedError

    def content_fingerprint(self) -> str:
        """The fingerprint the built manifest will hold (settings plus input bytes), computed without building."""
        raise NotImplementedError

    def build(self, folder: Path) -> None:
        raise NotImplementedError

    def missing(self) -> list[str]:
        """One ``not found: datasets.<name>...`` line per missing input."""
        raise NotImplementedError

    def summary(self, built: Optional[dict]) -> tuple[Optional[int], str]:
        """The record count the plan expects (None = known after the build) and the text of its ``--dry-run`` line."""
        raise NotImplementedError


def _stats(paths: list[Path]) -> list[tuple[str, int, int]]:
    stats = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        stats += [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return stats


class RecipeDataset(DatasetKind):
    """A data-stage recipe: sources cleaned, mixed and written as instruction records (``lingalign data build``)."""

    def step_fingerprint(self) -> str:
        recipe, base = self.entry, self.plan.recipe_dir
        paths = [p for s in recipe.sources for p in resolve_source(s, base)[1]]
        paths += [resolve_path(e.path, base) for e in recipe.eval_set_list()]
        # a translation also depends on its model's files
        models = [model_fingerprint(model_ref(s.translate.model, base)) for s in recipe.sources if s.translate]
        return hash_obj({"data": recipe.model_dump(mode="json"), "inputs": _stats(paths),
                         **({"models": models} if models else {})})

    def content_fingerprint(self) -> str:
        return content_fingerprint(self.entry, self.plan.recipe_dir)

    def build(self, folder: Path) -> None:
        build_dataset(self.entry, folder, recipe_dir=self.plan.recipe_dir,
                      translate_root=self.plan.out / "translations")

    def missing(self) -> list[str]:
        problems = []
        for source in self.entry.sources:
            try:
                resolve_source(source, self.plan.recipe_dir)
            except UserError as exc:
                problems.append(f"not found: datasets.{self.name} source {source.name!r}: {exc.message}")
            if source.translate:
                model = model_ref(source.translate.model, self.plan.recipe_dir)
                if looks_like_path(model) and not Path(model).exists():
                    problems.append(f"not found: datasets.{self.name} source {source.name!r} translate.model {model}")
        for spec in self.entry.eval_set_list():
            path = resolve_path(spec.path, self.plan.recipe_dir)
            if not path.exists():
                problems.append(f"not found: datasets.{self.name}.eval_sets {path}")
        return problems

    def summary(self, built: Optional[dict]) -> tuple[Optional[int], str]:
        recipe = self.entry
        if built:
            count = built.get("counts", {}).get("records")
            detail = f"{count} records (built)"
        else:
            explicit = [s.count for s in recipe.sources]
            count = sum(explicit) if all(c is not None for c in explicit) else recipe.total
            detail = f"{count} records" if count else "all records of its sources (counted when built)"
        sources = ", ".join(f"{s.name}={s.count if s.count is not None else 'all'}" for s in recipe.sources)
        return count, f"{detail}; sources {sources}"


class PreferenceFileDataset(DatasetKind):
    """``preference_file: PATH``: a JSONL of preference pairs, checked record by record with the train
    stage's reader rules (one line naming the file and line) and copied byte for byte."""

    FORMAT = 1  # bump when the same file would give other bytes in train.jsonl

    def path(self) -> Path:
        return resolve_path(self.entry.preference_file, self.plan.recipe_dir)

    def _existing(self) -> Path:
        path = self.path()
        if not path.is_file():
            raise UserError(f"{path}: file not found (datasets.{self.name}.preference_file)")
        return path

    def step_fingerprint(self) -> str:
        return hash_obj({"preference_file": self.entry.model_dump(mode="json"), "inputs": _stats([self._existing()])})

    def content_fingerprint(self) -> str:
        return hash_obj({"preference_file": hash_file(self._existing()), "format": self.FORMAT})

    def build(self, folder: Path) -> None:
        path = self._existing()
        records = identical = 0
        for line_no, record in _records(path):
            check_record(record, path, line_no)
            records += 1
            identical += record["chosen"].strip() == record["rejected"].strip()
        if not records:
            raise UserError(f"{path}: the preference data is empty (datasets.{self.name}.preference_file)")
        if identical == records:
            raise UserError(f"{path}: chosen == rejected in every one of the {records} records: nothing to prefer")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).unlink(missing_ok=True)  # an interrupted rebuild must not look complete
        with open(path, "rb") as source, atomic_open(folder / TRAIN_FILE, "wb", encoding=None) as target:
            shutil.copyfileobj(source, target)
        write_manifest(folder, stage="data", fingerprint=self.content_fingerprint(),
                       inputs={"preference_file": hash_file(path)}, config=self.entry.model_dump(mode="json"),
                       counts={"records": records, "identical": identical}, kind="preference_file",
                       outputs={TRAIN_FILE: hash_file(folder / TRAIN_FILE)}, recipe=str(path))

    def missing(self) -> list[str]:
        path = self.path()
        return [] if path.is_file() else [f"not found: datasets.{self.name}.preference_file {path}"]

    def summary(self, built: Optional[dict]) -> tuple[Optional[int], str]:
        if built:
            count = built.get("counts", {}).get("records")
            return count, f"{count} preference pairs (built) from {self.entry.preference_file}"
        path = self.path()
        if not path.is_file():
            return None, f"preference pairs from {self.entry.preference_file} (counted when built)"
        count = sum(1 for _ in _records(path, check=False))
        return count, f"{count} preference pairs from {self.entry.preference_file}"


class SampledPairsDataset(DatasetKind):
    """``pairs: {...}``: MAPO preference pairs, made by the data stage's pairs builder (``lingalign data
    pairs``) into ``data/<name>/``, resumable from its chunked work folder like the verb.

    When ``pairs.model`` names a model of the run, that model's folder samples (after its training
    step) and its train fingerprint stands for it in both fingerprints, so they are known before it is
    trained and a change upstream re-makes the pairs (and so retrains what trains on them)."""

    def _upstream(self) -> Optional[str]:
        return self.plan.pairs_models[self.name]

    def _identity(self) -> tuple[str, str]:
        """(name, fingerprint) of the sampling model: ``models/<name>`` and its train step's, or its own."""
        upstream = self._upstream()
        if upstream is None:
            model = self.plan.pairs_model(self.name)
            return model, model_fingerprint(model)
        fingerprint = self.models.get(upstream)
        if fingerprint is None:
            raise UserError(f"needs the fingerprint of train:{upstream}, not known yet")
        return f"models/{upstream}", fingerprint

    def _key(self):
        return pairs_key(self.entry.pairs, self.plan.recipe_dir, self.plan.pairs_model(self.name), self._identity())

    def step_fingerprint(self) -> str:
        recipe = self.entry.pairs
        label, identity = self._identity()
        _, paths = prompt_files(recipe.prompts, self.plan.recipe_dir)
        scorer = model_fingerprint(model_ref(recipe.scorer, self.plan.recipe_dir)) if recipe.scorer else None
        return hash_obj({"pairs": {**recipe.model_dump(mode="json"), "model": label}, "model": identity,
                         "scorer": scorer, "inputs": _stats(paths)})

    def content_fingerprint(self) -> str:
        return self._key().fingerprint

    def build(self, folder: Path) -> None:
        key = self._key()
        stale = other_output(folder, key.samples_fingerprint)  # the run owns its data folders: replaced
        if stale:
            log.info("data/%s %s: making it again", self.name, stale)
        manifest = build_pairs(self.entry.pairs, folder, recipe_dir=self.plan.recipe_dir,
                               model=self.plan.pairs_model(self.name), model_identity=self._identity(),
                               force=stale is not None)
        counts = manifest.get("counts", {})
        if not counts.get("pairs"):
            raise UserError(f"datasets.{self.name}: no preference pairs from {counts.get('prompts')} prompts "
                            f"({', '.join(f'{k} {v}' for k, v in counts.items() if k in _NO_PAIR and v)})",
                            hint="raise pairs.count, pairs.samples or pairs.max_new_tokens (data/"
                                 f"{self.name}/samples.jsonl shows every answer)")

    def missing(self) -> list[str]:
        recipe, problems = self.entry.pairs, []
        try:
            prompt_files(recipe.prompts, self.plan.recipe_dir)
        except UserError as exc:
            problems.append(f"not found: datasets.{self.name}.pairs.prompts: {exc.message}")
        named = [] if self._upstream() else [("model", self.plan.pairs_model(self.name))]
        named += [("scorer", model_ref(recipe.scorer, self.plan.recipe_dir))] if recipe.scorer else []
        for key, model in named:
            if looks_like_path(model) and not Path(model).exists():
                problems.append(f"not found: datasets.{self.name}.pairs.{key} {model}")
        return problems

    def summary(self, built: Optional[dict]) -> tuple[Optional[int], str]:
        recipe = self.entry.pairs
        prompts = f"{recipe.count} prompts" if recipe.count else "all prompts"
        scorer = f"scored by {recipe.scorer}" if recipe.scorer else "scored by the model itself"
        text = f"pairs from model {recipe.model}: {prompts} x {recipe.samples} samples, {scorer}"
        if built and built.get("stage") == "pairs":
            count = built.get("counts", {}).get("pairs")
            return count, f"{text}: {count} preference pairs (built)"
        return None, f"{text} (pairs counted when built)"


_NO_PAIR = ("tie", "below_margin", "too_few_parsable", "english_unusable")


def _records(path: Path, check: bool = True):
    """(line number, record) of a JSONL file; ``check=False`` only counts non-blank lines (for the plan)."""
    if check:
        yield from iter_jsonl(path)
        return
    with open(path, "rb") as handle:
        yield from ((n, None) for n, line in enumerate(handle, start=1) if line.strip())


KINDS: dict[type, type[DatasetKind]] = {DataRecipe: RecipeDataset, PreferenceFile: PreferenceFileDataset,
                                        SampledPairs: SampledPairsDataset}


def dataset_kind(plan: Plan, name: str, models: Optional[dict[str, Optional[str]]] = None) -> DatasetKind:
    """The data step of ``datasets.<name>``; ``models``: the train fingerprints known so far."""
    entry = plan.datasets[name]
    return KINDS[type(entry)](plan, name, entry, models)
