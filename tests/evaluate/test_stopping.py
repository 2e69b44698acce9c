"""Stopping ``lingalign eval --processes 2`` stops all of it; a folder being written refuses a second command.

torchrun starts each worker in a session of its own, so before issue 27 a SIGTERM to the command
(what a scheduler or ``timeout`` sends) or a SIGKILL of its process group left the workers decoding
into the output folder. Every process of a run is found by the output folder's path, which is in
the command lines of the command, torchrun and both workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from lingalign.cli import main as cli_main
from lingalign.evaluate import evaluate
from lingalign.output_lock import LOCK_FILE, holder
from running_processes import processes_with, survivors, wait_for_text

TASK = "flores-en-zh"
LIMIT, BATCH, NEW = 48, 2, 128  # 24 batches: 8 units of 3 batches; a few seconds of decoding per process
SETTINGS = dict(limit=LIMIT, batch_size=BATCH, max_new_tokens=NEW, dtype="float32")


def command(model, out, processes: int = 2) -> list[str]:
    return [sys.executable, "-m", "lingalign.cli", "eval", "--model", str(model), "--task", TASK, "-o", str(out),
            "--limit", str(LIMIT), "--batch-size", str(BATCH), "--max-new-tokens", str(NEW), "--dtype", "float32",
            "--processes", str(processes)]


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def start(model, out, log):
    """The command in a process group of its own (as a shell job is), its output in ``log``."""
    with open(log, "w") as handle:
        return subprocess.Popen(command(model, out), env=ENV, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


@pytest.fixture(scope="module")
def one_process(tiny_model_dir, tmp_path_factory):
    """The 1-process predictions, with one thread like each launched process."""
    out = tmp_path_factory.mktemp("one-process")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        evaluate(str(tiny_model_dir), TASK, out, **SETTINGS)
    finally:
        torch.set_num_threads(threads)
    return (out / "predictions" / f"{TASK}.jsonl").read_bytes()


def test_sigterm_and_sigkill_of_the_group_leave_no_process_and_resume_equals_one_process(
        one_process, tiny_model_dir, tmp_path):
    out = tmp_path / "stopped-eval"
    marker = str(out)

    # 1. SIGTERM to the command alone, once a unit is stored
    first = start(tiny_model_dir, out, tmp_path / "first.log")
    wait_for_text(tmp_path / "first.log", "unit 1/", first)
    assert len(processes_with(marker)) == 4  # the command, torchrun and two workers
    workers = [p.pid for p in processes_with(marker) if "-u" in p.cmdline()]
    assert len(workers) == 2 and all(os.getsid(pid) == pid for pid in workers)  # sessions of their own
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 128 + signal.SIGTERM
    assert survivors(marker, within=5) == []
    log = (tmp_path / "first.log").read_text()
    assert "lingalign eval: stopped by SIGTERM; finished work is kept, re-run to resume" in log
    assert "Traceback" not in log  # torchrun is killed, not signalled: it has nothing to print
    assert not (out / LOCK_FILE).exists()  # released on the way out

    # 2. SIGKILL to the command's process group (kill -9 -PGID): the workers die with torchrun
    second = start(tiny_model_dir, out, tmp_path / "second.log")
    wait_for_text(tmp_path / "second.log", "unit 1/", second)
    os.killpg(second.pid, signal.SIGKILL)
    assert second.wait(timeout=30) == -signal.SIGKILL
    assert survivors(marker, within=5) == []
    assert holder(out)["pid"] == second.pid  # the killed command's lock file is still there

    # 3. the same command resumes (taking over the dead command's lock) and ends as one process would
    done = subprocess.run(command(tiny_model_dir, out), env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"taking over the lock left by process {second.pid}" in done.stderr
    assert (out / "predictions" / f"{TASK}.jsonl").read_bytes() == one_process
    assert not (out / LOCK_FILE).exists()


def test_a_folder_being_written_refuses_a_second_command_naming_the_process(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "busy"
    holding = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from lingalign.output_lock import output_lock\n"
        f"with output_lock({str(out)!r}):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holding.stdout.readline().strip() == "held"
        for argv in (command(tiny_model_dir, out)[3:], command(tiny_model_dir, out, processes=1)[3:]):
            assert cli_main(argv) == 2
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1, err
            assert f"another process is writing this folder: process {holding.pid} (" in err
            assert f"kill {holding.pid}" in err
        assert not (out / "predictions").exists()  # nothing was written
    finally:
        holding.kill()
        holding.wait()


def test_a_lock_left_by_a_dead_process_is_taken_over(tiny_model_dir, tmp_path, caplog):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    out = tmp_path / "stale"
    out.mkdir()
    (out / LOCK_FILE).write_text(json.dumps({"pid": dead, "started": 1.0, "command": "lingalign eval ..."}))
    evaluate(str(tiny_model_dir), TASK, out, limit=2, batch_size=2, max_new_tokens=2, dtype="float32")
    assert f"taking over the lock left by process {dead} (lingalign eval ..., started" in caplog.text
    assert (out / "results.json").exists() and not (out / LOCK_FILE).exists()
