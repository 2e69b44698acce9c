"""How many records each source gives, which ones, and in what order they are written.

Selection and order are both seeded hashes, which makes them nest: each source's cleaned pool is
ranked by a hash of (seed, source, record), and ``count: n`` keeps the first n of that ranking,
so ``count: 100`` is a subset of ``count: 1000``. The final file is sorted by a hash of each
record's id, so adding records never reorders the ones already there: a 1k mixture is the 10k
mixture with records removed, and scaling sweeps compare like with like.

Pools are spooled to disk and the final sort runs bucket by bucket, so memory holds a few
integers per record, not the records.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np

from lingalign.artifacts import dumps_jsonl
from lingalign.data.hashing import seeded_hash
from lingalign.data.recipe import DataRecipe
from lingalign.errors import UserError


class Pool:
    """The cleaned records of one source, in reading order, spooled to a file with a rank score each.

    Each spool line is already the final JSON line, preceded by its sort key and its tags
    (``key<TAB>lang<TAB>task<TAB>direction<TAB>json``), so selected records are written without
    being parsed again; only repeats made by up-sampling are re-serialised with a new id.
    """

    def __init__(self, name: str, folder: Path, seed: int):
        self.name, self.seed = name, seed
        self.path = folder / f"pool-{seeded_hash(0, name):016x}.tsv"
        self.scores = array("Q")
        self._handle = open(self.path, "w", encoding="utf-8", newline="\n")

    def add(self, record: dict) -> None:
        """Add a record (instruction, input, output, lang, task, direction); it gets its id here."""
        self.scores.append(seeded_hash(self.seed, "select", self.name,
                                       record["instruction"], record["input"], record["output"]))
        record_id = f"{self.name}:{len(self.scores) - 1}"
        self._handle.write(self._line(record_id, record))

    def _line(self, record_id: str, record: dict) -> str:
        final = {"id": record_id, "instruction": record["instruction"], "input": record["input"],
                 "output": record["output"], "lang": record["lang"], "task": record["task"],
                 "source": self.name, "direction": record["direction"]}
        key = seeded_hash(self.seed, "order", record_id)
        return f"{key:016x}\t{record['lang']}\t{record['task']}\t{record['direction'] or ''}\t{dumps_jsonl(final)}"

    def close(self) -> None:
        self._handle.close()

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, count: int | None) -> Iterator[str]:
        """Spool lines of the first ``count`` places in the seeded ranking (all when None).

        Asking for more than the pool holds repeats it: every record ``count // n`` times, plus the
        best-ranked ``count % n`` once more; repeats get ids ``name:index.copy``.
        """
        size = len(self)
        if count is None:
            copies = np.ones(size, dtype=np.int64)
        elif size == 0:
            copies = np.zeros(0, dtype=np.int64)
        else:
            order = np.argsort(np.frombuffer(self.scores, dtype=np.uint64), kind="stable")
            rank = np.empty(size, dtype=np.int64)
            rank[order] = np.arange(size)
            full, extra = divmod(count, size)
            copies = full + (rank < extra)
        with open(self.path, encoding="utf-8") as handle:
            for index, (line, n) in enumerate(zip(handle, copies.tolist())):
                if n:
                    yield line
                for copy in range(1, n):
                    record = json.loads(line.split("\t", 4)[4])
                    yield self._line(f"{self.name}:{index}.{copy}", record)


def plan_counts(recipe: DataRecipe, available: dict[str, int], where: str = "recipe") -> dict[str, int | None]:
    """Records to take from each source: its ``count``, its share of ``total``, or all (None)."""
    plan: dict[str, int | None] = {s.name: s.count for s in recipe.sources}
    weighted = [s for s in recipe.sources if s.weight is not None]
    if weighted:
        fixed = sum(s.count if s.count is not None else available[s.name]
                    for s in recipe.sources if s.weight is None)
        remaining = recipe.total - fixed
        if remaining < 0:
            raise UserError(f"{where} [data.total]: total {recipe.total} is smaller than the {fixed} records "
                            "taken by sources with a count or no weight")
        plan.update(_share(remaining, {s.name: s.weight for s in weighted}))
    for source in recipe.sources:
        wanted, have = plan[source.name], available[source.name]
        if wanted is not None and wanted > have and not (source.upsample and have > 0):
            raise UserError(
                f"{where} [data.sources.{source.name}]: asks for {wanted} records but only {have} are available "
                "after cleaning",
                hint="lower the count/weight, add data, or set upsample: true to repeat records" if have else
                "check the source's path, languages and the cleaning filters in the manifest",
            )
    return plan


def _share(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split ``total`` in proportion to weights, rounding by largest remainder (ties: order given)."""
    scale = sum(weights.values())
    exact = {name: total * w / scale for name, w in weights.items()}
    counts = {name: int(value) for name, value in exact.items()}
    leftover = total - sum(counts.values())
    for name in sorted(exact, key=lambda n: counts[n] - exact[n])[:leftover]:
        counts[name] += 1
    return counts


class ShuffledWriter:
    """Writes records in the order of their sort key (a seeded hash of the id), bucket by bucket on disk."""

    BUCKETS = 64

    def __init__(self, folder: Path):
        self.paths = [folder / f"bucket-{b:02d}.tsv" for b in range(self.BUCKETS)]
        self.handles = [open(p, "w", encoding="utf-8", newline="\n") for p in self.paths]
        self.counts = {"records": 0, "by_source": Counter(), "by_lang": Counter(), "by_task": Counter(),
                       "by_direction": Counter()}

    def add(self, line: str, source: str) -> None:
        """Add one spool line (``key<TAB>lang<TAB>task<TAB>direction<TAB>json``) from ``Pool.select``."""
        key, lang, task, direction, rest = line.split("\t", 4)
        self.handles[int(key, 16) * self.BUCKETS >> 64].write(f"{key}\t{rest}")
        counts = self.counts
        counts["records"] += 1
        counts["by_source"][source] += 1
        counts["by_lang"][lang] += 1
        counts["by_task"][task] += 1
        if direction:
            counts["by_direction"][direction] += 1

    def write_to(self, out) -> dict:
        """Write every record to ``out`` in hash order; returns the counts."""
        for handle in self.handles:
            handle.close()
        for path in self.paths:
            with open(path, encoding="utf-8") as handle:
                lines = handle.readlines()
            lines.sort()
            out.writelines(line.split("\t", 1)[1] for line in lines)
            path.unlink()
        return {key: dict(sorted(value.items())) if isinstance(value, Counter) else value
                for key, value in self.counts.items()}
