"""``import_pairs``: an existing preference file in, a checked data folder with a manifest out.

Preference data made elsewhere (TRL's ``{prompt, chosen, rejected}``, LLaMA-Factory's
``{instruction, input, chosen, rejected}``; JSONL, or a JSON list) becomes a folder like the ones
``build_pairs`` writes, so ``lingalign train --data DIR`` and ``lingalign run`` treat both alike.
The records are checked by the same rules ``lingalign train`` applies
(:mod:`lingalign.preference_records`): the whole file is read first, and a bad record stops the
import with one line naming the file and line before anything is written. Pairs whose chosen and
rejected answers are the same text are dropped and counted; the other records are written as they
are (every key kept), in file order.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Iterator

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
from lingalign.config import resolve_path
from lingalign.data import readers
from lingalign.data.pairs import PAIRS_FILE, STAGE
from lingalign.errors import UserError, where
from lingalign.preference_records import check_record, nothing_to_prefer, same_answers

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def import_pairs(path: str | Path, out_dir: str | Path, *, force: bool = False) -> dict:
    """Check the preference file at ``path`` and write it into ``out_dir`` as ``train.jsonl``; returns the manifest."""
    path, out_dir = resolve_path(path), Path(out_dir)
    if not path.is_file():
        raise UserError(f"{path}: file not found (a preference file: .jsonl or a .json list)")
    counts = Counter()
    first_line = None
    for line_no, record in _records(path):  # the whole file is checked before anything is written
        first_line = first_line or line_no
        check_record(record, path, line_no)
        counts["records"] += 1
        counts["layout_prompt" if "prompt" in record else "layout_instruction"] += 1
        counts["dropped_identical"] += same_answers(record)
    if not counts["records"]:
        raise UserError(f"{path}: the preference data is empty")
    if counts["dropped_identical"] == counts["records"]:
        raise nothing_to_prefer(path, first_line, counts["records"])
    fingerprint = hash_obj({"import": hash_path(path), "version": FORMAT_VERSION})
    manifest = read_manifest(out_dir)
    if manifest is not None and manifest.get("fingerprint") == fingerprint and (out_dir / PAIRS_FILE).exists():
        log.info("%s already holds this import (fingerprint %s)", out_dir, fingerprint)
        return manifest
    if not force and (manifest is not None or (out_dir / PAIRS_FILE).exists()):
        held = (f"stage {manifest.get('stage')}, fingerprint {manifest.get('fingerprint')}" if manifest
                else "no manifest")
        raise UserError(f"{out_dir}: holds the output of another job ({held})",
                        hint="give another folder, or --force to replace it")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    with atomic_open(out_dir / PAIRS_FILE) as handle:
        for _, record in _records(path):
            if not same_answers(record):
                handle.write(dumps_jsonl(record))
    counts = {"records": counts["records"], "pairs": counts["records"] - counts["dropped_identical"],
              "dropped_identical": counts["dropped_identical"],
              "layouts": {"prompt": counts["layout_prompt"], "instruction": counts["layout_instruction"]}}
    log.info("imported %d pairs from %s (%d with chosen == rejected dropped)", counts["pairs"], path,
             counts["dropped_identical"])
    return write_manifest(out_dir, stage=STAGE, fingerprint=fingerprint, inputs={path.name: hash_path(path)},
                          config={"import": str(path)}, counts=counts,
                          outputs={PAIRS_FILE: hash_file(out_dir / PAIRS_FILE)})


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    """``(line, record)`` from a JSONL file or a JSON list (LLaMA-Factory's datasets are often lists)."""
    if path.suffix == ".json":
        for number, record in readers.iter_json_array(path):
            if not isinstance(record, dict):
                raise UserError(f"{where(path, number)}: expected a JSON object, got {type(record).__name__}")
            yield number, record
    else:
        yield from iter_jsonl(path)
