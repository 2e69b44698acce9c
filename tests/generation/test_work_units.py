"""Data-parallel evaluation: 2 CPU processes write the same prediction files, byte for byte, as 1
process, also when they resume a killed 2-process run; the work units do not depend on the count."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch

from lingalign import artifacts
from lingalign.cli import main as cli_main
from lingalign.evaluate import evaluate
from lingalign.generation.work_units import Processes, unit_batches, work_units

TASKS = "xquad-zh,flores-en-zh"
LIMIT, BATCH = 24, 4  # 6 batches: units of one batch, three per process and task
SETTINGS = dict(limit=LIMIT, batch_size=BATCH, max_new_tokens=6, dtype="float32")


def test_units_are_blocks_of_whole_batches_dealt_round_robin():
    units = work_units(40, 2)  # 20 batches: units of 20 // 8 = 2 batches
    assert [(u.start, u.stop) for u in units] == [(s, s + 4) for s in range(0, 40, 4)]
    procs = Processes()  # no launcher here: one process takes every unit
    assert (procs.rank, procs.world) == (0, 1) and procs.mine(units) == units
    procs.rank, procs.world = 1, 2
    assert procs.mine(units) == units[1::2]


@pytest.mark.parametrize("batch_size", [1, 2, 8, 16, 24])
def test_every_process_up_to_eight_gets_work_when_there_are_as_many_batches(batch_size):
    """The issue's case: 32 items at the default batch size 16 were one unit of 8 batches."""
    for n_items in range(1, 70 * batch_size, max(1, batch_size // 3)):
        units = work_units(n_items, batch_size)
        batches = -(-n_items // batch_size)
        assert [i for u in units for i in u] == list(range(n_items))  # every item once, in order
        assert all(len(u) % batch_size == 0 for u in units[:-1])  # whole batches
        assert len(units) >= min(batches, 8), (n_items, batch_size)
        assert 1 <= unit_batches(n_items, batch_size) <= 8
    assert [len(u) for u in work_units(32, 16)] == [16, 16]
    assert [len(u) for u in work_units(2000, 16)] == [128] * 15 + [80]  # long tasks keep units of 8 batches


@pytest.fixture(scope="module")
def one_process(tiny_model_dir, tmp_path_factory):
    """The 1-process reference, with one thread like each of the launched processes (the thread
    count can change how a matrix product sums, so it is kept equal)."""
    out = tmp_path_factory.mktemp("one-process")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = evaluate(str(tiny_model_dir), TASKS, out, **SETTINGS)
    finally:
        torch.set_num_threads(threads)
    return out, results


def test_two_processes_resume_a_killed_run_and_equal_one_process(one_process, tiny_model_dir, tmp_path):
    reference, results = one_process
    out = tmp_path / "two"
    # what a killed 2-process run leaves: process 1 had written 2 predictions of an xquad unit
    # (items 17-20) and half of a third; nothing merged yet; flores not started
    parts = out / "predictions" / ".parts"
    parts.mkdir(parents=True)
    lines = (reference / "predictions" / "xquad-zh.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (parts / "xquad-zh.rank1.jsonl").write_text("".join(lines[16:18]) + lines[18][:25], encoding="utf-8")
    shutil.copy(reference / "predictions" / "xquad-zh.settings.json", out / "predictions")

    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "lingalign.cli", "eval", "--model", str(tiny_model_dir), "--task", TASKS,
               "-o", str(out), "--limit", str(LIMIT), "--batch-size", str(BATCH), "--max-new-tokens", "6",
               "--dtype", "float32", "--processes", "2"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    # resumed: 2 of that unit's 4 were stored; it is unit 4, process 0's in this run (units do not
    # depend on which process wrote them), decoded again whole for its 2 missing predictions
    assert "xquad-zh (process 0 of 2): 10 to generate: 12 items in 3 unit(s) of up to 4" in done.stderr
    assert "xquad-zh (process 1 of 2): 12 to generate: 12 items in 3 unit(s)" in done.stderr
    assert "flores-en-zh (process 0 of 2): 12 to generate" in done.stderr
    assert "flores-en-zh (process 1 of 2): 12 to generate" in done.stderr
    for task in ("xquad-zh", "flores-en-zh"):
        ours = (out / "predictions" / f"{task}.jsonl").read_bytes()
        assert ours == (reference / "predictions" / f"{task}.jsonl").read_bytes(), task
    assert not any(parts.iterdir())  # merged into the task files
    assert artifacts.read_json(out / "results.json")["tasks"] == results["tasks"]


def test_processes_refuse_the_vllm_backend(tiny_model_dir, tmp_path, capsys):
    code = cli_main(["eval", "--model", str(tiny_model_dir), "--task", "flores-en-zh", "-o", str(tmp_path / "x"),
                     "--backend", "vllm", "--processes", "2"])
    assert code == 2 and "vllm runs in one process" in capsys.readouterr().err
