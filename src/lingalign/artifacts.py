"""Files every stage writes: atomic writes, JSONL streams, fingerprints and manifests.

Each stage output folder holds plain files plus ``manifest.json`` (inputs, config, fingerprint,
counts, versions). The fingerprint is a hash of the stage's inputs and settings, so a stage whose
fingerprint matches an existing manifest can be skipped, and a changed input forces a re-run.
Writes go to a temporary file in the same folder and are renamed into place, so a killed job
never leaves a half-written file under the final name.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Iterator

from lingalign.errors import UserError, where

MANIFEST = "manifest.json"

# Packages whose versions change results; recorded in every manifest.
_TRACKED_PACKAGES = (
    "lingalign", "torch", "transformers", "tokenizers", "datasets", "peft", "accelerate",
    "sacrebleu", "py3langid", "langcodes", "numpy", "scipy",
)


def _file_mode() -> int:
    """The mode ``open()`` would give a new file: 0o666 less the umask (mkstemp's 0o600 would hide
    results from the rest of a group on a shared cluster)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` on success.

    On any exception the temporary file is removed and ``path`` keeps its old content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _file_mode())
        kwargs = {"encoding": encoding, "newline": "\n"} if "b" not in mode else {}
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def removed_on_failure(folder: str | os.PathLike):
    """Run the block; when it fails and ``folder`` did not exist before it, remove ``folder`` (and the
    parents the block made for it) again if it holds no files (its empty subfolders go with it).

    A command that fails before producing anything leaves no folder behind, while work a re-run
    resumes (any file) stays, and a folder that existed before (a previous complete output, or
    anything the command did not create) is never touched.
    """
    top = Path(folder).absolute()  # the outermost folder that does not exist yet (mkdir -p makes them all)
    existed = top.exists()
    while not top.parent.exists():
        top = top.parent
    try:
        yield
    except BaseException:
        if not existed:
            remove_empty_tree(top)
        raise


def remove_empty_tree(folder: str | os.PathLike) -> bool:
    """Remove ``folder`` and its subfolders, deepest first, as long as they hold no files; True when it went."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return False
    empty = all([remove_empty_tree(child) if child.is_dir() and not child.is_symlink() else False
                 for child in folder.iterdir()])
    if empty:
        with contextlib.suppress(OSError):
            folder.rmdir()
            return True
    return False


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path) as handle:
        handle.write(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write pretty, key-sorted JSON atomically (sorted so diffs and hashes are stable)."""
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


# ---- reading: UTF-8, one leading byte-order mark dropped -----------------------------------------
# Editors on Windows (Notepad, Excel's "CSV UTF-8") start files with U+FEFF. Every reader of a user
# file goes through these, so the mark never reaches a record's text and JSON parsers never see it.
# Fingerprints (hash_file) still hash the bytes as they are.

def open_text(path: str | os.PathLike, newline: str | None = None):
    """Open a UTF-8 text file for reading, dropping one leading byte-order mark (``utf-8-sig``)."""
    return open(path, encoding="utf-8-sig", newline=newline)


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file's content without a leading byte-order mark."""
    with open_text(path) as handle:
        return handle.read()


def strip_bom(first_line: bytes) -> bytes:
    """The first line of a file read as bytes, without a leading UTF-8 byte-order mark."""
    return first_line[len(codecs.BOM_UTF8):] if first_line.startswith(codecs.BOM_UTF8) else first_line


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    try:
        return json.loads(read_text(path))
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{where(path, exc.lineno)}: invalid JSON ({exc.msg}, column {exc.colno})") from None


def dumps_jsonl(record: dict) -> str:
    """One JSONL line. Keys keep insertion order; non-ASCII text stays readable."""
    return json.dumps(record, ensure_ascii=False) + "\n"


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, record)`` from a JSONL file, streaming, with clear errors.

    Blank lines are skipped and a leading byte-order mark is dropped. A line that is not valid UTF-8
    or not a JSON object raises a ``UserError`` naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = (strip_bom(raw) if number == 1 else raw).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UserError(f"{where(path, number)}: not valid UTF-8 (byte {exc.start} of the line)") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(
                    f"{where(path, number)}: malformed JSON line ({exc.msg} at column {exc.colno})"
                ) from None
            if not isinstance(record, dict):
                raise UserError(f"{where(path, number)}: expected a JSON object, got {type(record).__name__}")
            yield number, record


def append_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> None:
    """Append records and flush, so a crash loses at most the line being written."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(dumps_jsonl(record))
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl_tolerant(path: str | os.PathLike) -> list[dict]:
    """Read an append-only log, ignoring a torn last line left by a killed writer."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break  # torn final write
            with contextlib.suppress(json.JSONDecodeError):
                records.append(json.loads(line))
    return records


def hash_obj(obj: Any) -> str:
    """Stable short hash of a JSON-able object (a config, a list of fingerprints)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def hash_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (first 16 hex digits), read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:16]


def hash_path(path: str | os.PathLike) -> str:
    """Fingerprint a file, or a folder as the hash of its files' relative names and hashes."""
    path = Path(path)
    if path.is_file():
        return hash_file(path)
    if path.is_dir():
        items = sorted(
            (str(p.relative_to(path)), hash_file(p))
            for p in path.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        return hash_obj(items)
    raise UserError(f"{path}: file not found")


def versions() -> dict[str, str]:
    """Versions of the packages that affect results, plus Python and the platform."""
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for name in _TRACKED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_manifest(
    folder: str | os.PathLike,
    *,
    stage: str,
    fingerprint: str,
    inputs: dict[str, str] | None = None,
    config: Any = None,
    counts: dict | None = None,
    **extra: Any,
) -> dict:
    """Write ``folder/manifest.json``; the last file a stage writes, marking it complete."""
    manifest = {
        "stage": stage,
        "fingerprint": fingerprint,
        "inputs": inputs or {},
        "config": config,
        "counts": counts or {},
        "versions": versions(),
        "created": now(),
        **extra,
    }
    write_json(Path(folder) / MANIFEST, manifest)
    return manifest


def read_manifest(folder: str | os.PathLike) -> dict | None:
    """The manifest of a finished stage output, or None when the folder holds none."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(read_text(path))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def is_complete(folder: str | os.PathLike, fingerprint: str) -> bool:
    """True when ``folder`` holds a finished output made from exactly these inputs and settings."""
    manifest = read_manifest(folder)
    return manifest is not None and manifest.get("fingerprint") == fingerprint
