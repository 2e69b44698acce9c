"""``build_pairs``: preference pairs from translation consistency (MAPO), as a resumable data job.

For each chosen prompt in language X: ``samples`` answers are sampled from the model being aligned
(each from its own seed, a hash of the recipe's seed, the prompt's id and the sample's index), the
English counterpart is answered once (greedy), and each X answer is scored by the translation
model (``pair_scoring.py``). The answer with the highest score is chosen over the one with the
lowest, if they differ by at least ``min_margin``. Unparsable answers (empty; with ``answers:
math``, no number) are not scored; a prompt left with fewer than two scored answers, whose English
answer is unusable, or whose best and worst tie, gives no pair. All of it is counted.

Resuming gives the same bytes: prompts go in fixed chunks of ``chunk_size`` (sampling, the English
answers and the scoring of a chunk are one unit, in the same batches whatever happened before), each
chunk's records are appended to ``.partial/samples.jsonl`` followed by a progress line
(:class:`~lingalign.data.chunked_work.ChunkedWork`), and a re-run cuts back to the last progress
line and goes on. Pairs are made from the finished samples at the end.

Layout of the output folder::

    train.jsonl     {"id", "prompt", "chosen", "rejected", "lang", "chosen_score", "rejected_score"}
    samples.jsonl   per prompt: both prompts, the English answer, every sample with its seed, status and score
    manifest.json   inputs, config, model, scorer, counts, fingerprints, versions (written last)
    .partial/       work in progress (removed when done)

Two fingerprints: ``samples_fingerprint`` (inputs, model and scorer files, every setting but
``min_margin``) keys the samples; ``fingerprint`` adds ``min_margin``. A finished folder re-run with
another ``min_margin`` re-pairs its samples without sampling again. A folder holding another job's
output (another stage, or other samples) is refused unless ``force``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from lingalign.artifacts import (
    MANIFEST,
    atomic_open,
    dumps_jsonl,
    hash_file,
    hash_obj,
    hash_path,
    iter_jsonl,
    read_manifest,
    write_manifest,
)
from lingalign.config import model_ref
from lingalign.data.chunked_work import ChunkedWork
from lingalign.data.hashing import seeded_hash
from lingalign.data.pair_prompts import PromptPair, choose_prompts, prompt_files, read_prompts
from lingalign.data.pair_scoring import auto_prompt_format, load_scorer
from lingalign.data.pairs_recipe import PairsRecipe, load_pairs_recipe
from lingalign.errors import UserError
from lingalign.generation.fingerprint import model_fingerprint
from lingalign.generation.sampling import Sampling
from lingalign.metrics.math_answers import last_number
from lingalign.models import resolve_model
from lingalign.prompting import build_prompt, eval_stop_strings

log = logging.getLogger(__name__)

STAGE = "pairs"
PAIRS_FILE = "train.jsonl"
SAMPLES_FILE = "samples.jsonl"
PARTIAL = ".partial"
FORMAT_VERSION = 1  # bump when the same settings would give different bytes
OUTCOMES = ("pair", "tie", "below_margin", "too_few_parsable", "english_unusable")


@dataclass(frozen=True)
class PairsKey:
    """What decides the output, known before any model runs."""

    recipe: PairsRecipe  # with model and scorer resolved against the recipe's folder
    files: tuple[str, list[Path]]  # the prompts' format and files
    inputs: dict[str, str]
    samples_fingerprint: str
    fingerprint: str


def pairs_key(recipe: PairsRecipe, recipe_dir: str | Path | None = None, model: str | None = None,
              model_identity: tuple[str, str] | None = None) -> PairsKey:
    """The :class:`PairsKey` of ``recipe`` (``model`` replaces ``recipe.model``); missing inputs are UserErrors.

    ``model_identity`` (name, fingerprint) stands for the model in the fingerprints instead of its path
    and files: ``lingalign run`` passes a model of the run as ``models/<name>`` and its train step's
    fingerprint, so the pairs' fingerprint is known before that model is trained, wherever the run folder is.
    """
    update = {"model": model_ref(model or recipe.model, recipe_dir)}
    if recipe.scorer:
        update["scorer"] = model_ref(recipe.scorer, recipe_dir)
    recipe = recipe.model_copy(update=update)
    fmt, paths = prompt_files(recipe.prompts, recipe_dir)
    inputs = {f"{recipe.prompts.name}:{p.name}": hash_path(p) for p in paths}
    models = {"model": model_identity[1] if model_identity else model_fingerprint(resolve_model(recipe.model))}
    if recipe.scorer:
        models["scorer"] = model_fingerprint(resolve_model(recipe.scorer))
    sampled = recipe.model_dump(mode="json", exclude={"min_margin"})
    if model_identity:
        sampled["model"] = model_identity[0]
    samples_fp = hash_obj({"config": sampled, "format": fmt, "inputs": inputs, "models": models,
                           "version": FORMAT_VERSION})
    fingerprint = hash_obj({"samples": samples_fp, "min_margin": recipe.min_margin})
    return PairsKey(recipe, (fmt, paths), inputs, samples_fp, fingerprint)


def build_pairs(recipe: PairsRecipe | str | Path, out_dir: str | Path, *, recipe_dir: str | Path | None = None,
                model: str | None = None, model_identity: tuple[str, str] | None = None, force: bool = False,
                stop_after_chunks: int | None = None) -> dict:
    """Sample, score and pair the prompts of ``recipe`` into ``out_dir``; returns the manifest.

    ``recipe`` is a ``PairsRecipe`` or a YAML path (relative paths resolved against ``recipe_dir``,
    default the YAML's folder); ``model`` replaces the recipe's model (``lingalign run`` passes a
    model of the run, with its ``model_identity``: see :func:`pairs_key`). A finished folder with the
    same fingerprint is kept unless ``force``; an unfinished one is resumed. ``stop_after_chunks``
    (tests) stops early, as a kill after that chunk would.
    """
    source_name = "recipe"
    if not isinstance(recipe, PairsRecipe):
        source_name = str(recipe)
        recipe_dir = recipe_dir if recipe_dir is not None else Path(recipe).parent
        recipe = load_pairs_recipe(recipe)
    key = pairs_key(recipe, recipe_dir, model, model_identity)
    recipe, out_dir = key.recipe, Path(out_dir)
    work = ChunkedWork(out_dir / PARTIAL, key.samples_fingerprint, (SAMPLES_FILE,))
    manifest = read_manifest(out_dir)
    if not force and _finished(manifest, key.fingerprint, out_dir):
        log.info("%s already holds these pairs (fingerprint %s)", out_dir, key.fingerprint)
        work.remove()  # left by a kill between the manifest and the clean-up
        return manifest
    if not force and _finished(manifest, key.samples_fingerprint, out_dir, "samples_fingerprint"):
        log.info("%s: same samples, min_margin %s: pairing them again", out_dir, recipe.min_margin)
        return _write_pairs(out_dir, out_dir / SAMPLES_FILE, key, source_name, manifest.get("model"),
                            manifest.get("scorer"), manifest.get("seconds"))
    _claim(out_dir, key.samples_fingerprint, force)

    prompts, empty = read_prompts(recipe.prompts, *key.files)
    chosen = choose_prompts(prompts, recipe.count, recipe.seed)
    if not chosen:
        raise UserError(f"{source_name}: no prompts to sample (all {empty} lines have an empty side)"
                        if empty else f"{source_name}: the prompt file is empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # a re-run with other settings must not look complete
    progress = work.open(restart=force)
    chunks = [chosen[i:i + recipe.chunk_size] for i in range(0, len(chosen), recipe.chunk_size)]
    seconds = sum(p.get("seconds", 0) for p in progress)
    engines = None
    for number in range(len(progress), len(chunks)):
        if stop_after_chunks is not None and number >= stop_after_chunks:
            return {}
        if engines is None:
            if progress:
                log.info("resuming at prompt %d of %d (%d chunks done)", number * recipe.chunk_size,
                         len(chosen), len(progress))
            engines = _Engines(recipe)
        start = time.time()
        records = sample_chunk(chunks[number], engines, recipe)
        took = round(time.time() - start, 2)
        seconds += took
        work.append({SAMPLES_FILE: records}, {"prompts": len(records), "seconds": took, "model": engines.info,
                                              "scorer": engines.scorer.info})
        done = sum(p["prompts"] for p in work.progress)
        log.info("pairs %s: %d/%d prompts sampled and scored (%.1f s per prompt)", engines.x_lang, done,
                 len(chosen), took / max(len(records), 1))
    model_info, scorer_info = work.progress[0].get("model"), work.progress[0].get("scorer")
    work.publish(out_dir)
    manifest = _write_pairs(out_dir, out_dir / SAMPLES_FILE, key, source_name, model_info, scorer_info,
                            round(seconds, 2), prompts_available=len(prompts), prompts_empty=empty)
    work.remove()
    return manifest


def _finished(manifest: dict | None, fingerprint: str, out_dir: Path, field: str = "fingerprint") -> bool:
    return (manifest is not None and manifest.get("stage") == STAGE and manifest.get(field) == fingerprint
            and (out_dir / PAIRS_FILE).exists() and (out_dir / SAMPLES_FILE).exists())


def _claim(out_dir: Path, samples_fingerprint: str, force: bool) -> None:
    """Refuse a folder that holds another job's output (unless ``force``: then our files go)."""
    problem = other_output(out_dir, samples_fingerprint)
    if problem is None:
        return
    if not force:
        raise UserError(f"{out_dir}: {problem}", hint="give another folder, or --force to replace it")
    log.warning("%s %s: replacing it (--force)", out_dir, problem)
    for name in (MANIFEST, PAIRS_FILE, SAMPLES_FILE):
        (out_dir / name).unlink(missing_ok=True)
    ChunkedWork(out_dir / PARTIAL, samples_fingerprint, ()).remove()


def other_output(out_dir: str | Path, samples_fingerprint: str) -> str | None:
    """What in ``out_dir`` another job (another stage, or other samples) wrote, or None.

    ``lingalign run`` owns its data folders: it replaces such output (``force``) where the verb refuses it.
    """
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    partial = ChunkedWork.fingerprint_in(out_dir / PARTIAL)
    problem = None
    if manifest is not None and (manifest.get("stage") != STAGE or
                                 manifest.get("samples_fingerprint") != samples_fingerprint):
        problem = (f"holds the output of another job (stage {manifest.get('stage')}, "
                   f"fingerprint {manifest.get('fingerprint')})")
    elif (out_dir / PARTIAL).exists() and partial != samples_fingerprint:
        problem = "holds unfinished pairs made with other settings"
    elif manifest is None and partial is None and any((out_dir / n).exists() for n in (PAIRS_FILE, SAMPLES_FILE)):
        problem = f"holds a {PAIRS_FILE} or {SAMPLES_FILE} that no pairs job here wrote"
    return problem


# ---- one chunk ---------------------------------------------------------------------------------

class _Engines:
    """The model being aligned (its generator and prompt format) and the scorer, loaded once per run."""

    def __init__(self, recipe: PairsRecipe):
        from lingalign.generation.backends import make_generator

        self.x_lang = recipe.prompts.x_lang()
        path = resolve_model(recipe.model)
        self.generator = make_generator(path, backend=recipe.backend, dtype=recipe.dtype)
        self.prompt_format = auto_prompt_format(path, self.generator.tokenizer, recipe.prompt_format)
        self.sampling = Sampling(recipe.temperature, recipe.top_p)
        self.scorer = load_scorer(recipe.scorer, self.x_lang, policy=self.generator, policy_format=self.prompt_format,
                                  backend=recipe.backend, dtype=recipe.dtype, batch_size=recipe.score_batch_size,
                                  target_code=recipe.scorer_target_code)
        self.info = {"path": path, "prompt_format": self.prompt_format}

    def answer(self, requests: list[str], recipe: PairsRecipe, seeds: list[int] | None = None) -> list[str]:
        """The model's answers to ``requests`` (greedy, or sampled with ``seeds``), in their order."""
        tokenizer = self.generator.tokenizer if self.prompt_format == "chat" else None
        prompts = [build_prompt(r, "", self.prompt_format, tokenizer) for r in requests]
        out = [""] * len(prompts)
        for batch in self.generator.generate(prompts, max_new_tokens=recipe.max_new_tokens,
                                             batch_size=recipe.batch_size, stop=eval_stop_strings(self.prompt_format),
                                             add_special_tokens=self.prompt_format != "chat",
                                             sampling=self.sampling if seeds is not None else None, seeds=seeds):
            for index, text in batch:
                out[index] = text
        return out


def sample_seed(seed: int, prompt_id: str, sample: int) -> int:
    """The seed of one sample: fixed by the recipe's seed, the prompt's id and the sample's index only."""
    return seeded_hash(seed, "sample", prompt_id, sample) >> 1  # 63 bits: a valid seed for every backend


def answer_status(text: str, answers: str) -> str:
    """``ok``, ``empty``, or (``answers: math``) ``no_number``."""
    if not text.strip():
        return "empty"
    if answers == "math" and last_number(text) is None:
        return "no_number"
    return "ok"


def sample_chunk(prompts: list[PromptPair], engines, recipe: PairsRecipe) -> list[dict]:
    """Sample, answer in English and score one chunk of prompts; one record per prompt."""
    k = recipe.samples
    rows = [(p, j) for p in prompts for j in range(k)]
    seeds = [sample_seed(recipe.seed, p.id, j) for p, j in rows]
    sampled = engines.answer([p.x for p, _ in rows], recipe, seeds)
    english = engines.answer([p.english for p in prompts], recipe)
    english_status = [answer_status(e, recipe.answers) for e in english]
    statuses = [answer_status(text, recipe.answers) for text in sampled]
    wanted = [r for r in range(len(rows)) if statuses[r] == "ok" and english_status[r // k] == "ok"]
    scores = dict(zip(wanted, engines.scorer.score([(sampled[r], english[r // k]) for r in wanted]))) \
        if wanted else {}
    records = []
    for i, prompt in enumerate(prompts):
        samples = []
        for j in range(k):
            r = i * k + j
            sample = {"sample": j, "seed": seeds[r], "answer": sampled[r], "status": statuses[r],
                      "score": scores.get(r)}
            if recipe.answers == "math":
                sample["number"] = _number(sampled[r])
            samples.append(sample)
        record = {"id": prompt.id, "lang": engines.x_lang, "prompt": prompt.x, "english_prompt": prompt.english,
                  "english_answer": english[i], "english_status": english_status[i]}
        if recipe.answers == "math":
            record["english_number"] = _number(english[i])
        records.append({**record, "samples": samples})
    return records


def _number(text: str) -> str | None:
    value = last_number(text)
    return None if value is None else str(value)


# ---- pairs from samples ------------------------------------------------------------------------

def pair_outcome(record: dict, min_margin: float) -> tuple[str, dict | None]:
    """What one prompt's samples give: ``("pair", best-vs-worst record)`` or the reason there is none."""
    if record["english_status"] != "ok":
        return "english_unusable", None
    scored = [s for s in record["samples"] if s["status"] == "ok" and s["score"] is not None]
    if len(scored) < 2:
        return "too_few_parsable", None
    best = max(scored, key=lambda s: (s["score"], -s["sample"]))  # a tie goes to the earlier sample
    worst = min(scored, key=lambda s: (s["score"], s["sample"]))
    margin = best["score"] - worst["score"]
    if margin <= 0 or best["answer"].strip() == worst["answer"].strip():
        return "tie", None
    if margin < min_margin:
        return "below_margin", None
    return "pair", {"id": record["id"], "prompt": record["prompt"], "chosen": best["answer"],
                    "rejected": worst["answer"], "lang": record["lang"], "chosen_score": best["score"],
                    "rejected_score": worst["score"]}


def _write_pairs(out_dir: Path, samples_path: Path, key: PairsKey, source_name: str, model_info, scorer_info,
                 seconds, **extra_counts) -> dict:
    """``train.jsonl`` from the samples, then the manifest (last)."""
    recipe = key.recipe
    counts = {"prompts": 0, "samples": 0, "unparsable": {}, **{o: 0 for o in OUTCOMES}}
    with atomic_open(out_dir / PAIRS_FILE) as handle:
        for _, record in iter_jsonl(samples_path):
            counts["prompts"] += 1
            counts["samples"] += len(record["samples"])
            for sample in record["samples"]:
                if sample["status"] != "ok":
                    counts["unparsable"][sample["status"]] = counts["unparsable"].get(sample["status"], 0) + 1
            outcome, pair = pair_outcome(record, recipe.min_margin)
            counts[outcome] += 1
            if pair is not None:
                handle.write(dumps_jsonl(pair))
    counts["pairs"] = counts.pop("pair")
    counts["unparsable"] = dict(sorted(counts["unparsable"].items()))
    previous = read_manifest(out_dir) or {}
    for name in ("prompts_available", "prompts_empty"):
        counts[name] = extra_counts.get(name, previous.get("counts", {}).get(name))
    log.info("%d pairs from %d prompts (%s)", counts["pairs"], counts["prompts"],
             ", ".join(f"{o} {counts[o]}" for o in OUTCOMES[1:] if counts[o]) or "every prompt gave a pair")
    return write_manifest(
        out_dir, stage=STAGE, fingerprint=key.fingerprint, samples_fingerprint=key.samples_fingerprint,
        inputs=key.inputs, config=recipe.model_dump(mode="json"), counts=counts, lang=recipe.prompts.x_lang(),
        model=model_info, scorer=scorer_info, seconds=seconds, recipe=source_name,
        prompts={"format": key.files[0], "files": [str(p) for p in key.files[1]]},
        outputs={name: hash_file(out_dir / name) for name in (PAIRS_FILE, SAMPLES_FILE)},
    )
