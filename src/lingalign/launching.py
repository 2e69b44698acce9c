"""Worker processes that stop when the command that started them stops, however it is stopped.

``lingalign eval --processes N`` starts ``torchrun`` and ``lingalign run`` starts ``accelerate
launch``; both start each worker **in a session of its own** (torch's elastic agent does), so a
signal to the command's process group, a terminal's hang-up or a scheduler's ``SIGTERM`` to the
command alone never reached the workers: they decoded on with parent PID 1, writing into the
output folder next to the user's resumed run. Two sides close that:

* **The launching command** (:func:`run_launcher`) catches ``SIGTERM``, ``SIGHUP`` and ``SIGINT``,
  passes ``SIGTERM`` on to every worker below the launcher (found with psutil before they can be
  orphaned), waits up to ``GRACE_SECONDS`` for them to end, then kills whatever is left; a second
  signal kills at once. The launcher itself (torchrun, accelerate launch) only supervises, so it is
  killed at once: sent a signal of its own, torchrun prints a traceback and reports each worker's
  SIGTERM as a failure.
* **Each worker** (:func:`die_with_parent`, called by ``lingalign.cli`` when it runs under a
  launcher) ends when its parent ends. On Linux the kernel does it: ``prctl(PR_SET_PDEATHSIG,
  SIGTERM)`` through ctypes, which fires even when the parent is SIGKILLed and the worker is deep
  in a matrix product. Everywhere (macOS has no prctl) a daemon thread also checks once a second
  that the parent is still the one it started with and, under ``lingalign``'s own launching
  command, that this command is still alive (its PID and start time are in ``LINGALIGN_LAUNCHER``):
  that covers the launching command killed alone while the launcher survives it, and (under
  lingalign's launching command) a launcher that died before the worker reached its prctl call;
  ``lingalign.cli`` makes the call before anything else. The thread sends the worker ``SIGTERM``,
  then exits it outright 5 s later if a handler kept it alive.

Stopping a worker mid-unit is safe: predictions are appended one whole unit at a time (a torn last
line is dropped on resume), so the next run redoes at most the units that were being decoded.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import psutil

log = logging.getLogger(__name__)

LAUNCHER_ENV = "LINGALIGN_LAUNCHER"  # "<pid>:<start time>" of the lingalign command that started the launcher
GRACE_SECONDS = 10.0
WATCH_SECONDS = 1.0
FORWARDED = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None), signal.SIGINT) if s)
_PR_SET_PDEATHSIG = 1


class Stopped(KeyboardInterrupt):
    """The launching command was told to stop (SIGTERM, SIGHUP, SIGINT) and its processes have ended.

    A KeyboardInterrupt, so that what handles Ctrl+C (``lingalign run`` logs the step as interrupted,
    the CLI says finished work is kept) handles it too; the CLI exits with 128 + the signal number.
    """

    def __init__(self, signum: int):
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"stopped by {self.signal_name}")


def start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None when there is no such process."""
    try:
        return round(psutil.Process(pid).create_time(), 2)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def is_alive(pid: int, started: float | None) -> bool:
    """True when ``pid`` runs and is the process that started at ``started`` (not a reused PID)."""
    now = start_time(pid)
    if now is None:
        return False
    try:
        if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return False
    except psutil.NoSuchProcess:
        return False
    return started is None or abs(now - started) < 0.05


def launcher() -> tuple[int, float | None] | None:
    """``(pid, start time)`` of the lingalign command that launched this process group, from the environment."""
    value = os.environ.get(LAUNCHER_ENV, "")
    pid, _, started = value.partition(":")
    if not pid.isdigit():
        return None
    try:
        return int(pid), float(started) if started else None
    except ValueError:
        return int(pid), None


def run_launcher(command: list[str], env: dict[str, str] | None = None, grace: float = GRACE_SECONDS) -> int:
    """Run ``command`` (torchrun, accelerate launch) as a child, wait, and return its exit code.

    The child's environment names this process in ``LINGALIGN_LAUNCHER`` (workers watch it). On
    SIGTERM, SIGHUP or SIGINT, stops the child and everything below it and raises :class:`Stopped`
    once they have all ended.
    """
    env = dict(os.environ if env is None else env)
    env[LAUNCHER_ENV] = f"{os.getpid()}:{start_time(os.getpid()) or ''}"
    child = subprocess.Popen(command, env=env)
    received: list[int] = []
    below: dict[int, psutil.Process] = {}
    deadline = [float("inf")]

    def stop(signum, _frame):
        received.append(signum)
        below.update((p.pid, p) for p in _descendants(child.pid))
        first = len(received) == 1
        log.warning("%s: stopping the %d launched process(es)%s", signal.Signals(signum).name, len(below) + 1,
                    "" if first else " now")
        # the launcher only supervises: killed at once, it cannot report its workers' SIGTERM as their
        # failure (torchrun prints a traceback for a signal of its own, and waits 30 s for its workers)
        _send([child.pid], signal.SIGKILL)
        _send(below, signal.SIGTERM if first else signal.SIGKILL)
        deadline[0] = min(deadline[0], time.monotonic() + grace)

    previous = {}
    if threading.current_thread() is threading.main_thread():  # signal handlers can only be set there
        previous = {s: signal.signal(s, stop) for s in FORWARDED}
    try:
        code = child.wait()
        if received:  # the workers got SIGTERM: wait for them until the deadline, then kill what is left
            below.update((p.pid, p) for p in _descendants(child.pid))
            _, alive = psutil.wait_procs(list(below.values()), timeout=max(0.1, deadline[0] - time.monotonic()))
            if alive:
                log.warning("%d launched process(es) did not stop within %.0f s: killing them", len(alive), grace)
                _send([p.pid for p in alive], signal.SIGKILL)
                psutil.wait_procs(alive, timeout=5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise Stopped(received[0])
    return code


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _send(pids, sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def under_launcher() -> bool:
    """True in a process started by torchrun / accelerate launch (or by lingalign's launching command)."""
    return "LOCAL_RANK" in os.environ or LAUNCHER_ENV in os.environ


def die_with_parent(signum: int = signal.SIGTERM, interval: float = WATCH_SECONDS, use_prctl: bool = True) -> None:
    """End this process when its parent ends (prctl on Linux, plus a watching thread everywhere).

    ``use_prctl=False`` leaves only the thread (what runs where there is no prctl; tests use it).
    """
    parent = os.getppid()
    if use_prctl and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
                log.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        except (OSError, AttributeError) as exc:  # no libc prctl: the thread below still watches
            log.debug("prctl unavailable: %s", exc)
    started_by = launcher()
    if started_by and not is_alive(*started_by):  # gone before we started to watch
        _end(signum, f"the lingalign command that launched it (process {started_by[0]}) had already ended")
    # (a parent PID of 1 proves nothing: in a container torchrun itself can be PID 1)
    threading.Thread(target=_watch, args=(parent, started_by, signum, interval), daemon=True,
                     name="lingalign-parent-watch").start()


def _watch(parent: int, started_by: tuple[int, float | None] | None, signum: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            _end(signum, f"its parent process {parent} ended")
        if started_by and not is_alive(*started_by):
            _end(signum, f"the lingalign command that launched it (process {started_by[0]}) ended")


def _end(signum: int, why: str) -> None:
    print(f"lingalign: process {os.getpid()} stops: {why}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signum)
    time.sleep(5)  # a handler kept it alive: end it without cleanup
    os._exit(128 + signum)
