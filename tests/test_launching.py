"""Workers end with whoever started them; a launching command stops everything below it on a signal.

The processes here stand in for torchrun and its workers: a "launcher" that starts two workers in
sessions of their own (as torchrun does) and waits. Each process carries a marker in its command
line, so the test finds every one that is still alive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from lingalign.launching import LAUNCHER_ENV, start_time
from running_processes import processes_with, survivors

WORKER = textwrap.dedent("""
    import sys, time
    from lingalign.launching import die_with_parent
    die_with_parent(use_prctl=sys.argv[2] == "prctl", interval=0.2)
    print("ready", flush=True)
    time.sleep(120)
""")

LAUNCHER = textwrap.dedent("""
    import subprocess, sys, time
    marker, mode = sys.argv[1], sys.argv[2]
    workers = [subprocess.Popen([sys.executable, "-c", sys.argv[3], marker, mode], start_new_session=True,
                                stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    print("started", flush=True)
    time.sleep(120)
""")

STUBBORN = textwrap.dedent("""
    import signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a worker that ignores SIGTERM: killed after the grace period
    print("ready", flush=True)
    time.sleep(120)
""")


def start_launcher(marker: str, mode: str, worker: str = WORKER, env=None) -> subprocess.Popen:
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, marker, mode, worker], stdout=subprocess.PIPE,
                                text=True, start_new_session=True, env=env)
    assert launcher.stdout.readline().strip() == "started"
    assert len(processes_with(marker)) == 3
    return launcher


@pytest.mark.parametrize("mode", ["prctl", "thread"])
def test_workers_in_sessions_of_their_own_end_when_the_launcher_is_killed(mode):
    """prctl(PR_SET_PDEATHSIG) on Linux; the watching thread alone where there is no prctl."""
    marker = f"marker-{uuid.uuid4().hex}"
    launcher = start_launcher(marker, mode)
    launcher.kill()
    launcher.wait()
    assert survivors(marker, within=5) == []


def test_workers_end_when_the_lingalign_command_that_launched_them_ends():
    """The launching command killed alone (its launcher lives on): the workers watch its PID and start time."""
    marker = f"marker-{uuid.uuid4().hex}"
    command = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    env = {**os.environ, LAUNCHER_ENV: f"{command.pid}:{start_time(command.pid)}"}
    launcher = start_launcher(marker, "prctl", env=env)
    try:
        command.kill()
        command.wait()
        deadline = time.monotonic() + 5
        while len(processes_with(marker)) > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p.pid for p in processes_with(marker)] == [launcher.pid]  # only the launcher is left
    finally:
        launcher.kill()
        launcher.wait()


RUN = textwrap.dedent("""
    import sys
    from lingalign.launching import Stopped, run_launcher
    try:
        run_launcher([sys.executable, "-c", sys.argv[1], sys.argv[2], "none", sys.argv[3]], grace=float(sys.argv[4]))
    except Stopped as stopped:
        print(stopped, flush=True)
        sys.exit(128 + stopped.signum)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_to_the_launching_command_stops_the_launcher_and_its_workers(sig):
    """No prctl and no watching thread in these workers: only the launching command stops them."""
    marker = f"marker-{uuid.uuid4().hex}"
    bare = "import time; print('ready', flush=True); time.sleep(120)"
    command = subprocess.Popen([sys.executable, "-c", RUN, LAUNCHER, marker, bare, "10"], stdout=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 30
    while len(processes_with(marker)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    command.send_signal(sig)
    assert command.wait(timeout=15) == 128 + sig
    assert command.stdout.read().splitlines()[-1] == f"stopped by {signal.Signals(sig).name}"
    assert survivors(marker, within=3) == []


def test_a_worker_that_ignores_sigterm_is_killed_after_the_grace_period():
    marker = f"marker-{uuid.uuid4().hex}"
    command = subprocess.Popen([sys.executable, "-c", RUN, LAUNCHER, marker, STUBBORN, "1"], stdout=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 30
    while len(processes_with(marker)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    began = time.monotonic()
    command.send_signal(signal.SIGTERM)
    assert command.wait(timeout=15) == 128 + signal.SIGTERM
    assert 0.9 < time.monotonic() - began < 8
    assert survivors(marker, within=3) == []
