"""One writer per output folder: ``DIR/.lingalign.lock`` names the process that is writing it.

A resumed evaluation started while the workers of a stopped one still decoded appended to the
same prediction files; two ``lingalign run`` on one folder would train into the same checkpoints.
So ``eval``, ``train`` and ``run`` hold a lock on their output folder while they write, and a
second command refuses to start there with one line naming the process that holds it (exit 2).

**How.** The holder keeps an exclusive ``flock`` on the lock file and writes its PID, start time,
host and command line into it. The kernel takes the creation and the lock in one step (two
commands starting together cannot both get it) and releases it when the holder ends, however it
ends (SIGKILL, a crash, a power cut of a process on this machine), so a lock file left behind by a
dead process is never taken for a live one, even when its PID has been given to another process
since. Such a file is taken over with a log line naming the process that left it. The PID and
start time are what the refusal names. The lock works between processes of one machine and over
file systems whose flock is shared between machines (NFSv4, Lustre and GPFS with their usual
mount options); on others it guards each machine on its own.

**Process groups.** Processes started by a lingalign launching command (``eval --processes N``,
``run`` with ``launch:``) share the lock their launching command holds (its PID is in
``LINGALIGN_LAUNCHER``); under a launcher the user started, rank 0 takes it for the group.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

from lingalign import launching
from lingalign.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no flock; the folder is not locked there
    fcntl = None

log = logging.getLogger(__name__)

LOCK_FILE = ".lingalign.lock"


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike, *, take: bool = True):
    """Hold the lock of ``folder`` (created if missing) while the block runs.

    Raises ``UserError`` when another live process holds it. ``take=False`` does nothing (the
    non-zero ranks of a process group: rank 0 holds the lock for the group). A folder this call
    created is removed again when the block leaves it empty.
    """
    if not take or fcntl is None:
        yield
        return
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    try:
        fd = _acquire(path)
    except BaseException:
        if created:
            _remove_if_empty(folder)
        raise
    try:
        yield
    finally:
        if fd is not None:
            _release(path, fd)
            if created:  # a command that failed before writing anything leaves no folder behind
                _remove_if_empty(folder)


def holder(folder: str | os.PathLike) -> dict | None:
    """What the lock file of ``folder`` says (pid, started, host, command), or None when there is none."""
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return _read(fd) or None
    finally:
        os.close(fd)


def _acquire(path: Path) -> int | None:
    """An fd holding the lock on ``path``, or None when this process shares its launcher's (or its own) lock."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            record = _read(fd, wait=1.0)  # the holder writes its record right after locking
            os.close(fd)
            if _is_ours(record):
                return None
            raise UserError(_refusal(path.parent, record)) from None
        try:  # the holder may have removed the file between our open and our lock: lock the new one
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current != os.fstat(fd).st_ino:
            os.close(fd)
            continue
        left = _read(fd)
        if left.get("pid"):
            log.warning("%s: taking over the lock left by process %s (%s, started %s), which is no longer running",
                        path.parent, left["pid"], left.get("command", "?"), _when(left.get("started")))
        record = {"pid": os.getpid(), "started": launching.start_time(os.getpid()), "host": socket.gethostname(),
                  "command": _command()}
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        return fd


def _command() -> str:
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program in ("cli.py", "__main__.py") or program.startswith("lingalign"):
        program = "lingalign"
    elif program == "-c":
        program = "python -c"
    text = " ".join([program, *sys.argv[1:]])
    return text if len(text) <= 160 else text[:157] + "..."


def _release(path: Path, fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            path.unlink()
    os.close(fd)  # closing releases the flock


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def _read(fd: int, wait: float = 0.0) -> dict:
    deadline = time.monotonic() + wait
    while True:
        raw = os.pread(fd, 4096, 0)
        try:
            record = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            record = {}
        if record or time.monotonic() >= deadline:
            return record if isinstance(record, dict) else {}
        time.sleep(0.05)


def _is_ours(record: dict) -> bool:
    """The holder is this process, or the lingalign command that launched this process group."""
    if record.get("host") not in (None, socket.gethostname()):
        return False
    if record.get("pid") == os.getpid():
        return True
    started_by = launching.launcher()
    return bool(started_by) and record.get("pid") == started_by[0] and (
        started_by[1] is None or record.get("started") is None or abs(record["started"] - started_by[1]) < 0.05)


def _refusal(folder: Path, record: dict) -> str:
    pid = record.get("pid", "?")
    where = f" on {record['host']}" if record.get("host") not in (None, socket.gethostname()) else ""
    return (f"{folder}: another process is writing this folder: process {pid}{where} "
            f"({record.get('command', 'unknown command')}, started {_when(record.get('started'))}); "
            f"wait for it to end or stop it (kill {pid}), or choose another output folder")


def _when(started) -> str:
    if not isinstance(started, (int, float)):
        return "at an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
