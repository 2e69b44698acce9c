"""``translate_set``: an English instruction set in, the same set in another language out (Alpaca-X).

The paper (like Okapi and Bactrian-X) made its Alpaca-X by machine translation; this is that step.
Each record's instruction, input and output are cut into pieces (``segments.py``: code, URLs,
line structure and list markers kept verbatim; long lines cut at sentence ends), the pieces are
translated (``translators.py``), put back together and checked (``check_field``). A record with
any failing field is dropped whole and counted by reason, so no record is ever half-translated.

Resuming gives the same bytes. Greedy output can depend on which texts share a batch (padding), so
the batches must not depend on where a run stopped: records are taken in fixed chunks of
``chunk_size`` (records 0-15, 16-31, ...), each chunk is translated as one unit and appended whole
to ``.partial/`` (its kept and dropped records, then one progress line with the files' sizes). A
re-run cuts the files back to the last progress line (a kill between the two leaves a torn tail)
and goes on with the next chunk. When every chunk is done, the files are renamed into place and
``manifest.json`` is written last.

Layout of the output folder::

    translated.jsonl   {"instruction", "input", "output", "index"}: what `data build` reads as instructions
    dropped.jsonl      each dropped record: index, reason, failing fields with source and translation
    manifest.json      model, direction, counts, drops by reason, pass rate, fingerprint (written last)
    .partial/          work in progress (removed when done)
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from itertools import islice
from pathlib import Path
from typing import Iterator

from lingalign import artifacts, langid
from lingalign.artifacts import (
    MANIFEST,
    hash_file,
    hash_obj,
    hash_path,
    read_manifest,
    write_manifest,
)
from lingalign.config import model_ref
from lingalign.data import readers
from lingalign.data.chunked_work import ChunkedWork
from lingalign.data.clean import text_length
from lingalign.data.recipe import TranslateFilters, TranslateSpec
from lingalign.data.segments import Segment, join_field, missing_tokens, pieces, split_field
from lingalign.data.translators import load_translator
from lingalign.errors import UserError
from lingalign.generation.fingerprint import model_fingerprint
from lingalign.languages import normalize_code
from lingalign.models import resolve_model

log = logging.getLogger(__name__)

TRANSLATED_FILE = "translated.jsonl"
DROPPED_FILE = "dropped.jsonl"
PARTIAL = ".partial"
FORMAT_VERSION = 1  # bump when the same settings would give different bytes
FIELDS = ("instruction", "input", "output")
REASONS = ("empty_source", "empty", "untranslated", "length_ratio", "truncated", "numbers", "wrong_language")


def translation_fingerprint(path: Path, fmt: str, fields: dict[str, str], target: str, spec: TranslateSpec) -> str:
    """What decides the output: input bytes, field mapping, target, every setting and the model's files."""
    return hash_obj({"input": hash_path(path), "format": fmt, "fields": fields, "target": normalize_code(target),
                     "spec": spec.model_dump(mode="json"), "model": model_fingerprint(resolve_model(spec.model)),
                     "version": FORMAT_VERSION})


def source_translation(source, fmt: str, path: Path, recipe_dir) -> tuple[TranslateSpec, str]:
    """A recipe source's ``translate:`` block, its model resolved against the recipe's folder; and its fingerprint."""
    spec = source.translate.model_copy(update={"model": model_ref(source.translate.model, recipe_dir)})
    return spec, translation_fingerprint(path, fmt, source.fields, source.lang, spec)


def translation_folder(root: str | Path, source_name: str, fingerprint: str) -> Path:
    """Where a source's translation is kept: one folder per fingerprint, so changed settings never reuse it."""
    return Path(root) / f"{source_name}-{fingerprint}"


def translate_set(path: str | Path, out_dir: str | Path, target: str, spec: TranslateSpec, *,
                  fmt: str | None = None, fields: dict[str, str] | None = None, force: bool = False,
                  stop_after_chunks: int | None = None) -> dict:
    """Translate the instruction set at ``path`` into ``target``; returns the manifest.

    A finished output with the same fingerprint is kept unless ``force``; an unfinished one is
    resumed. ``stop_after_chunks`` (tests) stops early, as a kill after that chunk would.
    """
    path, out_dir, fields = Path(path), Path(out_dir), dict(fields or {})
    tgt, src = normalize_code(target), normalize_code(spec.source_lang)  # unknown codes: a UserError here
    if tgt == src:
        raise UserError(f"translate: source and target are both {tgt}")
    fmt = fmt or _format_of(path)
    records = _Records(path, fmt, fields, spec.limit)
    # the whole input is read first (parsing is cheap next to translating): a malformed line, a missing
    # field or a truncated last line fails here, before a model is loaded or a folder is made
    total = len(records)
    if not total:
        raise UserError(f"{path}: no records to translate", hint="an Alpaca JSON list or JSONL with instruction/output")
    if spec.filters.langid and not langid.supported(tgt):
        raise UserError(f"translate: the language check (py3langid) does not know {tgt!r}",
                        hint="set filters: {langid: false} (or --no-langid) to translate without it")
    fingerprint = translation_fingerprint(path, fmt, fields, tgt, spec)
    manifest = read_manifest(out_dir)
    if not force and manifest and manifest.get("fingerprint") == fingerprint and (out_dir / TRANSLATED_FILE).exists():
        log.info("%s already holds this translation (fingerprint %s)", out_dir, fingerprint)
        return manifest

    # then the model: a missing model, one that cannot generate or lacks the target's code fails
    # here, before anything is written
    translator = load_translator(spec.model, src, tgt, backend=spec.backend, dtype=spec.dtype,
                                 batch_size=spec.batch_size, max_new_tokens=spec.max_new_tokens,
                                 prompt_format=spec.prompt_format, target_code=spec.target_code)
    model_info = {"path": translator_path(spec.model), "kind": translator.kind, **translator.codes}
    with artifacts.removed_on_failure(out_dir):  # a failed first attempt leaves no folder behind
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / MANIFEST).unlink(missing_ok=True)  # a re-run with other settings must not look complete
        work = ChunkedWork(out_dir / PARTIAL, fingerprint, (TRANSLATED_FILE, DROPPED_FILE))
        progress = work.open(restart=force)
        try:
            return _translate(records, total, translator, work, progress, out_dir, path, fmt, fields, src, tgt,
                              spec, fingerprint, model_info, stop_after_chunks)
        except BaseException:
            if not work.progress:  # no chunk finished: nothing to resume
                work.remove()
            raise


def _translate(records, total: int, translator, work: ChunkedWork, progress: list[dict], out_dir: Path, path: Path,
               fmt: str, fields: dict[str, str], src: str, tgt: str, spec: TranslateSpec, fingerprint: str,
               model_info: dict, stop_after_chunks: int | None) -> dict:
    """Translate the chunks not done yet into ``work``, then publish the files and write the manifest."""
    chunks = (total + spec.chunk_size - 1) // spec.chunk_size
    if len(progress) < chunks:
        start_time = time.time()
        limit = min(spec.max_piece_tokens, translator.max_input_tokens)
        first = len(progress) * spec.chunk_size
        if progress:
            log.info("resuming at record %d of %d (%d chunks done)", first, total, len(progress))
        stream = iter(records)
        for _ in islice(stream, first):  # skip what is done (parsing is cheap next to translating)
            pass
        for number in range(len(progress), chunks):
            if stop_after_chunks is not None and number >= stop_after_chunks:
                return {}
            begin = number * spec.chunk_size
            chunk = list(islice(stream, spec.chunk_size))
            kept, dropped, cut = translate_chunk(chunk, translator, tgt, spec.filters, limit)
            work.append({TRANSLATED_FILE: kept, DROPPED_FILE: dropped},
                        {"records": len(chunk), "kept": len(kept),
                         "dropped": dict(Counter(d["reason"] for d in dropped)), "cut_characters": cut})
            done = begin + len(chunk)
            rate = (done - first) / max(time.time() - start_time, 1e-9)
            log.info("translate %s->%s: %d/%d records, %d kept so far (%.2f records/s)", src, tgt, done, total,
                     sum(p["kept"] for p in progress), rate)

    work.publish(out_dir)
    drops = Counter()
    for entry in progress:
        drops.update(entry["dropped"])
    kept = sum(p["kept"] for p in progress)
    counts = {"records": total, "kept": kept, "dropped": total - kept, "pass_rate": round(kept / total, 4),
              "by_reason": {r: drops[r] for r in REASONS if drops[r]},
              # pieces whose translation ran out of tokens inside a multi-byte character (half of it dropped)
              "cut_characters": sum(p.get("cut_characters", 0) for p in progress)}
    log.info("translated %d of %d records into %s (%s dropped: %s)", kept, total, tgt, total - kept,
             counts["by_reason"] or "none")
    manifest = write_manifest(
        out_dir, stage="translate", fingerprint=fingerprint, inputs={path.name: hash_path(path)},
        config={"spec": spec.model_dump(mode="json"), "format": fmt, "fields": fields, "input": str(path)},
        counts=counts, direction=f"{src}-{tgt}", model=model_info,
        outputs={name: hash_file(out_dir / name) for name in (TRANSLATED_FILE, DROPPED_FILE)},
    )
    work.remove()
    return manifest


def translator_path(model: str) -> str:
    return resolve_model(model)


class _Records:
    """The records to translate, read again from the file for each chunk (streaming, small memory)."""

    def __init__(self, path: Path, fmt: str, fields: dict[str, str], limit: int | None):
        self.path, self.fmt, self.fields, self.limit = path, fmt, fields, limit
        self._len = None

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        items = readers.read_instructions(self.path, self.fmt, self.fields)
        for index, (_, instruction, input, output) in enumerate(islice(items, self.limit)):
            yield index, {"instruction": instruction, "input": input, "output": output}

    def __len__(self) -> int:
        if self._len is None:
            self._len = sum(1 for _ in self)
        return self._len


def _format_of(path: Path) -> str:
    if path.suffix == ".json":
        return "json"
    if path.suffix == ".jsonl":
        return "jsonl"
    raise UserError(f"{path}: cannot tell the format (expected .json or .jsonl)", hint="give --format json or jsonl")








# ---- one chunk ---------------------------------------------------------------------------------

def translate_chunk(chunk: list[tuple[int, dict]], translator, tgt: str, filters: TranslateFilters,
                    limit: int) -> tuple[list[dict], list[dict], int]:
    """Translate every piece of every field of ``chunk`` in one call; return (kept, dropped) records and
    how many pieces lost a half character at their end (``generation.stops.finish_answer``)."""
    measure = lambda text: translator.count_tokens([text])[0]  # noqa: E731
    split = [(index, record, {f: split_field(record[f], measure, limit) for f in FIELDS}) for index, record in chunk]
    texts = [text for _, _, fields in split for f in FIELDS for text in pieces(fields[f])]
    translations = iter(translator.translate(texts) if texts else [])
    kept, dropped, cut = [], [], 0
    for index, record, fields in split:
        result, failures = {}, []
        for f in FIELDS:
            segments = fields[f]
            answers = [next(translations) for _ in pieces(segments)]
            cut += sum(1 for text, _ in answers if getattr(text, "cut_characters", 0))
            out = [text for text, _ in answers]
            result[f] = join_field(segments, out)
            reason = "truncated" if filters.truncated and any(cut for _, cut in answers) else None
            reason = check_field(record[f], segments, out, tgt, filters, required=f != "input") or reason
            if reason:
                failures.append({"field": f, "reason": reason, "source": record[f], "translation": result[f]})
        if failures:
            dropped.append({"index": index, "reason": failures[0]["reason"], "fields": failures})
        else:
            kept.append({**result, "index": index})
    return kept, dropped, cut


def check_field(source: str, segments: list[Segment], out: list[str], tgt: str, filters: TranslateFilters,
                required: bool = True) -> str | None:
    """The first reason the translation of one field fails, or None. Only translated prose is judged:
    code, URLs and the rest kept verbatim are the same on both sides."""
    if not source.strip():
        return "empty_source" if required else None
    src_text = "\n".join(pieces(segments))
    if not src_text:
        return None  # nothing was sent to the model (a code block, a number list)
    out_text = "\n".join(out)
    if any(not piece.strip() for piece in out):
        return "empty"
    if " ".join(out_text.split()).casefold() == " ".join(src_text.split()).casefold():
        return "untranslated"
    if filters.max_length_ratio is not None:
        a, b = text_length(src_text) + 8, text_length(out_text) + 8  # + 8: short texts vary more
        if max(a, b) > filters.max_length_ratio * min(a, b):
            return "length_ratio"
    if filters.numbers and missing_tokens(src_text, out_text):
        return "numbers"
    if filters.langid and sum(ch.isalpha() for ch in out_text) >= filters.langid_min_letters:
        if not langid.in_language(out_text, tgt):
            return "wrong_language"
    return None
