"""Find the live processes of one command by a marker in their command lines (tests of stopping)."""

from __future__ import annotations

import os
import time

import psutil


def processes_with(marker: str) -> list[psutil.Process]:
    """Live processes (zombies excluded) other than this one whose command line contains ``marker``."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if process.pid == os.getpid() or process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(marker in part for part in process.info["cmdline"] or []):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def survivors(marker: str, within: float) -> list[str]:
    """Wait up to ``within`` seconds for every process with ``marker`` to end; describe those still alive."""
    deadline = time.monotonic() + within
    while True:
        alive = processes_with(marker)
        if not alive or time.monotonic() > deadline:
            described = []
            for process in alive:
                try:
                    described.append(f"{process.pid} (parent {process.ppid()}): {' '.join(process.cmdline())[:120]}")
                except psutil.NoSuchProcess:
                    continue
            return described
        time.sleep(0.1)


def wait_for_text(path, text: str, process, timeout: float = 180) -> str:
    """Poll the log file ``path`` until it holds ``text``; fail early if ``process`` ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        if text in content:
            return content
        if process.poll() is not None:
            raise AssertionError(f"the command ended (code {process.returncode}) before logging {text!r}:\n"
                                 f"{content[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} in {path} after {timeout} s")
