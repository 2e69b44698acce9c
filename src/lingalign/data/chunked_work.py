"""The work folder of a long data job: output appended chunk by chunk, so a killed run resumes to the same bytes.

``data translate`` and ``data pairs`` decode with models, and a model's output can depend on which
texts share a batch (padding), so their batches must not depend on where a run stopped. Both cut
their input into fixed chunks (items 0-7, 8-15, ...), process each chunk as one unit, and append
its records to files in ``DIR/.partial/``, followed by one line in ``progress.jsonl`` that holds
the files' sizes after the chunk. ``settings.json`` holds the fingerprint of the settings the
work was made with.

A re-run cuts the files back to the sizes of the last progress line (a kill between a chunk's
records and its progress line leaves a torn tail) and goes on with the next chunk. When every
chunk is done the job publishes the files: hard-linked (or copied) under their final names in
``DIR``, so the work folder stays whole until the job has written its manifest; a kill at any
point before that only repeats the publishing.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Sequence

from lingalign.artifacts import append_jsonl, dumps_jsonl, read_json, read_jsonl_tolerant, write_json

log = logging.getLogger(__name__)

SETTINGS = "settings.json"
PROGRESS = "progress.jsonl"


class ChunkedWork:
    """``folder`` (``DIR/.partial``) holding the output ``files`` of a job with ``fingerprint``."""

    def __init__(self, folder: str | Path, fingerprint: str, files: Sequence[str]):
        self.folder, self.fingerprint, self.files = Path(folder), fingerprint, tuple(files)
        self.progress: list[dict] = []

    @staticmethod
    def fingerprint_in(folder: str | Path) -> str | None:
        """The fingerprint of the work in ``folder`` (None when there is none, or it is unreadable)."""
        settings = Path(folder) / SETTINGS
        if not settings.exists():
            return None
        try:
            return read_json(settings).get("fingerprint")
        except Exception:  # a torn settings file counts as no work
            return None

    def open(self, restart: bool = False) -> list[dict]:
        """Create the folder, or reuse it; returns the progress entries of the finished chunks.

        Work made with other settings (or any work, with ``restart``) is deleted first, with a
        warning; callers that must not delete another job's work check :meth:`fingerprint_in` before.
        """
        if self.folder.exists() and (restart or self.fingerprint_in(self.folder) != self.fingerprint):
            log.warning("%s: unfinished work with other settings; starting over", self.folder)
            shutil.rmtree(self.folder)
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            write_json(self.folder / SETTINGS, {"fingerprint": self.fingerprint})
        self.progress = self._cut_to_progress()
        return self.progress

    def path(self, name: str) -> Path:
        return self.folder / name

    def append(self, outputs: dict[str, list[dict]], entry: dict) -> dict:
        """Append one chunk's records to each file, then its progress line (``chunk`` number and ``sizes``)."""
        for name in self.files:
            append_jsonl(self.folder / name, outputs.get(name, []))
        entry = {"chunk": len(self.progress), **entry,
                 "sizes": [(self.folder / name).stat().st_size for name in self.files]}
        append_jsonl(self.folder / PROGRESS, [entry])
        self.progress.append(entry)
        return entry

    def publish(self, out_dir: str | Path, names: Sequence[str] | None = None) -> None:
        """Put finished files under their final names in ``out_dir`` (hard link, else copy; atomic)."""
        for name in names or self.files:
            source, target = self.folder / name, Path(out_dir) / name
            temporary = target.with_name(f".{name}.publish")
            temporary.unlink(missing_ok=True)
            try:
                os.link(source, temporary)
            except OSError:  # a file system without hard links
                shutil.copyfile(source, temporary)
            os.replace(temporary, target)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _cut_to_progress(self) -> list[dict]:
        """Finished chunks, with the files cut back to where the last one ended (a torn tail goes)."""
        log_path = self.folder / PROGRESS
        progress = []
        for entry in read_jsonl_tolerant(log_path):
            if entry.get("chunk") != len(progress) or len(entry.get("sizes", ())) != len(self.files):
                break
            progress.append(entry)
        _truncate(log_path, sum(len(dumps_jsonl(p).encode("utf-8")) for p in progress))
        sizes = progress[-1]["sizes"] if progress else [0] * len(self.files)
        for name, size in zip(self.files, sizes):
            path = self.folder / name
            if (path.stat().st_size if path.exists() else 0) < size:  # a file shorter than its log: start over
                log.warning("%s: shorter than its progress log says; starting the work over", path)
                for other in (*self.files, PROGRESS):
                    _truncate(self.folder / other, 0)
                return []
        for name, size in zip(self.files, sizes):
            _truncate(self.folder / name, size)
        return progress


def _truncate(path: Path, size: int) -> None:
    if not path.exists():
        path.touch()
    if path.stat().st_size != size:
        with open(path, "r+b") as handle:
            handle.truncate(size)
