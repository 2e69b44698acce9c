"""``build_dataset``: one recipe in, ``train.jsonl`` + ``manifest.json`` out.

Steps, each streaming: read every source, clean it, turn pairs into instruction records (and drop
over-long examples if ``max_tokens`` is set), spool them; decide how many each source gives; pick
them by seeded rank; write all records sorted by a seeded hash of their ids. ``train.jsonl``
appears only when complete (temp file + rename); ``manifest.json`` is written last and marks the
build as done, so an identical rebuild is skipped.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from lingalign.artifacts import (
    MANIFEST,
    atomic_open,
    hash_file,
    hash_obj,
    hash_path,
    is_complete,
    read_manifest,
    removed_on_failure,
    write_manifest,
)
from lingalign.config import resolve_path
from lingalign.data import readers
from lingalign.data.clean import Cleaner, EvalTexts
from lingalign.data.gsm8k import strip_calculator
from lingalign.data.instructions import general_record, oriented, translation_record
from lingalign.data.mixture import Pool, ShuffledWriter, plan_counts
from lingalign.data.pivot import pivot_records
from lingalign.data.question_alignment import question_alignment_records
from lingalign.data.recipe import DataRecipe, Source, TranslateSpec, load_data_recipe
from lingalign.data.tokens import TokenFilter
from lingalign.data.translate import TRANSLATED_FILE, source_translation, translate_set, translation_folder
from lingalign.errors import UserError

log = logging.getLogger(__name__)

TRAIN_FILE = "train.jsonl"
FORMAT_VERSION = 1  # bump when the same recipe would give different bytes


def build_dataset(recipe: DataRecipe | str | Path, out_dir: str | Path, recipe_dir: str | Path | None = None,
                  force: bool = False, translate_root: str | Path | None = None) -> dict:
    """Build the training set of ``recipe`` into ``out_dir``; returns the manifest.

    ``recipe`` is a ``DataRecipe`` or a YAML path; relative paths in it are resolved against
    ``recipe_dir`` (default: the YAML file's folder). An existing complete build with the same
    fingerprint is kept unless ``force``. Sources with a ``translate:`` block are translated first
    (resumably) into ``translate_root`` (default ``out_dir/translations``), one folder per
    translation fingerprint, and the build reads the translation.
    """
    source_name = "recipe"
    if not isinstance(recipe, DataRecipe):
        source_name = str(recipe)
        recipe_dir = recipe_dir if recipe_dir is not None else Path(recipe).parent
        recipe = load_data_recipe(recipe)
    out_dir = Path(out_dir)
    key = build_key(recipe, recipe_dir)
    if not force and is_complete(out_dir, key.fingerprint) and (out_dir / TRAIN_FILE).exists():
        log.info("%s already holds this build (fingerprint %s); skipping. Use --force to rebuild.",
                 out_dir, key.fingerprint)
        return read_manifest(out_dir)

    with removed_on_failure(out_dir):  # a failed first build leaves no folder (resumable translations stay)
        return _build(recipe, recipe_dir, out_dir, key, translate_root, source_name)


def _build(recipe: DataRecipe, recipe_dir, out_dir: Path, key: BuildKey, translate_root, source_name: str) -> dict:
    fingerprint, inputs, config, translations = key.fingerprint, key.inputs, key.config, key.translations
    files = dict(key.files)  # a translated source is read from its translation, below
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # an interrupted rebuild must not look complete
    contamination = EvalTexts(recipe.eval_set_list(), recipe_dir) if recipe.eval_sets else None
    token_filter = TokenFilter(recipe.tokenizer, recipe.max_tokens, recipe.prompt_format) if recipe.max_tokens else None
    translated = {}  # source name -> what its translation kept and dropped (for the manifest)
    for name, (spec, fp) in translations.items():
        source = next(s for s in recipe.sources if s.name == name)
        folder = translation_folder(translate_root or out_dir / "translations", name, fp)
        done = translate_set(files[name][1][0], folder, source.lang, spec, fmt=files[name][0], fields=source.fields)
        translated[name] = {"folder": str(folder), "direction": done["direction"], **done["counts"]}
        files[name] = ("jsonl", [folder / TRANSLATED_FILE])  # read the translation, in our field names
    dropped, available = {}, {}
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build-") as tmp:
        pools = []
        for source in recipe.sources:
            cleaner = Cleaner(source.clean or recipe.clean, contamination)
            pool = Pool(source.name, Path(tmp), recipe.seed)
            fields = {} if source.name in translations else source.fields
            records = source_records(source.model_copy(update={"fields": fields}), *files[source.name], cleaner, recipe)
            if token_filter is not None:
                records = token_filter.keep(records, cleaner.dropped)
            for record in records:
                pool.add(record)
            pool.close()
            pools.append(pool)
            available[source.name] = len(pool)
            dropped[source.name] = dict(sorted(cleaner.dropped.items()))
            log.info("%s: %d records after cleaning (dropped %s)",
                     source.name, len(pool), dropped[source.name] or "none")
        if not sum(available.values()):
            raise UserError(f"{source_name}: the build would have no records: " + "; ".join(
                f"source '{name}' {_why_empty(dropped[name])}" for name in available),
                hint="check the paths, field mapping (fields:) and languages of those sources")
        for name, n in available.items():
            if n == 0:
                log.warning("source '%s' came out empty (%s)", name, _why_empty(dropped[name]))
        plan = plan_counts(recipe, available, source_name)
        writer = ShuffledWriter(Path(tmp))
        for pool in pools:
            for line in pool.select(plan[pool.name]):
                writer.add(line, pool.name)
        with atomic_open(out_dir / TRAIN_FILE) as handle:
            counts = writer.write_to(handle)
    log.info("wrote %d records to %s", counts["records"], out_dir / TRAIN_FILE)
    return write_manifest(
        out_dir, stage="data", fingerprint=fingerprint, inputs=inputs, config=config, counts=counts,
        seed=recipe.seed, available=available, selected=plan, dropped=dropped,
        contamination_texts=len(contamination) if contamination else 0, translated=translated,
        outputs={TRAIN_FILE: hash_file(out_dir / TRAIN_FILE)}, recipe=source_name,
    )


@dataclass(frozen=True)
class BuildKey:
    """What decides the bytes of a build, known before building: its fingerprint and what it was made from.

    The fingerprint hashes the recipe's settings, the content of every input file and, for a source
    with a ``translate:`` block, the translation's fingerprint (input bytes, settings, model files),
    not the translation's output, so it is known before anything is translated. ``build_dataset``
    writes it to the manifest; ``lingalign run --dry-run`` computes it to show the fingerprints of
    the steps downstream of a dataset that is not built yet.
    """

    files: dict[str, tuple[str, list[Path]]]  # source name -> (format, the files it reads)
    translations: dict[str, tuple[TranslateSpec, str]]  # source name -> (spec with the model resolved, fingerprint)
    inputs: dict[str, str]  # "<source>:<file name>", "<source>:translation", "eval:<path>" -> content hash
    config: dict
    fingerprint: str


def build_key(recipe: DataRecipe, recipe_dir: str | Path | None) -> BuildKey:
    """The :class:`BuildKey` of ``recipe``; a missing input, evaluation set or translation model is a UserError."""
    files = {s.name: resolve_source(s, recipe_dir) for s in recipe.sources}
    inputs = {f"{name}:{p.name}": hash_path(p) for name, (_, paths) in files.items() for p in paths}
    translations = {}
    for source in recipe.sources:
        if source.translate:
            fmt, paths = files[source.name]
            translations[source.name] = source_translation(source, fmt, paths[0], recipe_dir)
            inputs[f"{source.name}:translation"] = translations[source.name][1]
    for spec in recipe.eval_set_list():
        path = resolve_path(spec.path, recipe_dir)
        if not path.exists():
            raise UserError(f"{path}: evaluation set not found (recipe key eval_sets)")
        inputs[f"eval:{spec.path}"] = hash_path(path)
    config = recipe.model_dump(mode="json")
    fingerprint = hash_obj({"config": config, "inputs": inputs, "format": FORMAT_VERSION})
    return BuildKey(files, translations, inputs, config, fingerprint)


def content_fingerprint(recipe: DataRecipe, recipe_dir: str | Path | None) -> str:
    """The fingerprint ``build_dataset`` would write for ``recipe``, computed without building (hashes the inputs)."""
    return build_key(recipe, recipe_dir).fingerprint


def _why_empty(drops: dict) -> str:
    if not drops:
        return "has no records"
    reasons = ", ".join(f"{k} {v}" for k, v in drops.items())
    return f"lost all {sum(drops.values())} records to cleaning ({reasons})"


def resolve_source(source: Source, base: str | Path | None) -> tuple[str, list[Path]]:
    """A source's format and the files it reads, checked to exist (so errors come before any work).

    A pivot source on parallel questions reads its English answers too: that file comes last."""
    fmt = source_format(source, base)
    if source.paths:
        paths = [resolve_path(p, base) for p in source.paths]
    else:
        path = resolve_path(source.path, base)
        if fmt == "moses":
            paths = list(readers.moses_paths(path, tuple(source.languages)))
        elif fmt == "flores":
            paths = list(readers.flores_paths(path, tuple(source.languages)))
        else:
            paths = [path]
    if source.pivot is not None and source.pivot.answers is not None:
        paths = [*paths, resolve_path(source.pivot.answers, base)]
    for path in paths:
        if not path.is_file():
            raise UserError(f"{path}: file not found (source '{source.name}', format {fmt})",
                            hint="a Moses pair is given as the prefix before .<lang>, "
                                 "e.g. sample:bitext/newstest2017.en-zh"
                            if fmt == "moses" else None)
    return fmt, paths


def source_format(source: Source, base: str | Path | None = None) -> str:
    """The format a source was declared with, or the one its path implies."""
    if source.format != "auto":
        return source.format
    if source.paths:
        return "moses"
    path = source.path or ""
    if source.kind == "instructions" or source.english_fields is not None:  # one record holds both sides
        if path.endswith(".json"):
            return "json"
        if path.endswith(".jsonl"):
            return "jsonl"
        raise UserError(f"source '{source.name}': cannot tell the format of {path}", hint="set format: json or jsonl")
    if resolve_path(path, base).is_dir():
        return "flores"
    if "wikimatrix" in Path(path).name.lower() and path.endswith((".tsv", ".tsv.gz")):
        return "wikimatrix"
    if path.endswith((".tsv", ".tsv.gz")):
        return "tsv"
    if path.endswith(".jsonl"):
        return "jsonl"
    return "moses"


def source_records(source: Source, fmt: str, paths: list[Path], cleaner: Cleaner, recipe: DataRecipe) -> Iterator[dict]:
    """Cleaned instruction records of one source, in reading order."""
    if source.kind == "question-alignment":
        yield from question_alignment_records(source, fmt, paths, cleaner)
        return
    if source.pivot is not None:
        yield from pivot_records(source, fmt, paths, cleaner)
        return
    if source.kind == "instructions":
        for _, instruction, input, output in readers.read_instructions(paths[0], fmt, source.fields):
            if source.strip_calculator:
                output = strip_calculator(output)
            kept = cleaner.instruction(instruction, input, output, source.lang)
            if kept:
                yield general_record(*kept, source.lang)
        return
    codes = tuple(source.languages)
    pairs = readers.read_pairs(fmt, paths, codes, source.min_score)
    ways = oriented(codes, source.direction or recipe.direction)
    for _, *sides in pairs:
        kept = cleaner.pair(sides[0], sides[1], codes)
        if kept:
            for s, t in ways:
                yield translation_record(codes[s], codes[t], kept[s], kept[t], recipe.seed)
