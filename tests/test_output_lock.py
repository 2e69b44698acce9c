"""``output_lock``: one writer per output folder, naming the process that holds it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from lingalign.errors import UserError
from lingalign.launching import LAUNCHER_ENV, start_time
from lingalign.output_lock import LOCK_FILE, holder, output_lock

HOLD = textwrap.dedent("""
    import sys, time
    from lingalign.output_lock import output_lock
    with output_lock(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.readline()
""")


@pytest.fixture
def held(tmp_path):
    """Another process holding the lock of tmp_path/out until the test ends."""
    folder = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield folder, process
    process.stdin.close()
    process.wait(timeout=10)


def test_a_held_folder_is_refused_with_the_holders_pid_and_released_when_it_ends(held):
    folder, process = held
    record = holder(folder)
    assert record["pid"] == process.pid and record["started"] == start_time(process.pid)
    assert record["command"].startswith("python -c ")
    with pytest.raises(UserError) as refused:
        with output_lock(folder):
            pytest.fail("entered a folder another process holds")
    assert f"process {process.pid} (python -c" in str(refused.value) and refused.value.hint is None
    process.stdin.close()
    process.wait(timeout=10)
    assert not (folder / LOCK_FILE).exists()
    with output_lock(folder):
        assert holder(folder)["pid"] == os.getpid()


def test_the_workers_of_a_launching_command_share_its_lock(held, monkeypatch):
    folder, process = held
    monkeypatch.setenv(LAUNCHER_ENV, f"{process.pid}:{start_time(process.pid)}")
    with output_lock(folder):  # started by the holder: shares its lock, takes nothing
        assert holder(folder)["pid"] == process.pid
    assert holder(folder)["pid"] == process.pid  # and leaves it to the holder
    monkeypatch.setenv(LAUNCHER_ENV, f"{process.pid}:{start_time(process.pid) - 100}")  # a reused PID
    with pytest.raises(UserError):
        with output_lock(folder):
            pass


def test_the_same_process_may_enter_twice_and_other_ranks_take_nothing(tmp_path):
    folder = tmp_path / "out"
    with output_lock(folder):
        with output_lock(folder):
            assert holder(folder)["pid"] == os.getpid()
        assert (folder / LOCK_FILE).exists()  # the inner block does not release the outer one's lock
    with output_lock(tmp_path / "rank1", take=False):
        assert not (tmp_path / "rank1").exists()


def test_a_folder_the_lock_created_goes_when_left_empty_and_stays_with_content(tmp_path):
    with output_lock(tmp_path / "empty"):
        pass
    assert not (tmp_path / "empty").exists()
    with output_lock(tmp_path / "full"):
        (tmp_path / "full" / "results.json").write_text("{}")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["results.json"]
    (tmp_path / "existing").mkdir()
    with output_lock(tmp_path / "existing"):
        pass
    assert (tmp_path / "existing").is_dir()  # not created by the lock: kept


def test_a_lock_file_left_by_a_dead_process_is_taken_over_with_a_log_line(tmp_path, caplog):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": pid, "started": 1.0, "command": "lingalign run x"}))
    with output_lock(tmp_path):
        assert holder(tmp_path)["pid"] == os.getpid()
    assert f"taking over the lock left by process {pid} (lingalign run x, started 1970-01-01" in caplog.text
