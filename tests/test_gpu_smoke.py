"""bench/gpu_smoke.py: without CUDA it stops at once with one line naming CUDA; its steps run (on
a CPU, with the tiny model, ``--allow-cpu``) so the script does not rot between GPU runs."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_smoke.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_smoke", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_no_cuda
def test_without_cuda_it_exits_at_once_naming_cuda():
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(SCRIPT)], env=ENV, capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - start
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "CUDA" in lines[0], done.stderr
    assert seconds < 10


@needs_no_cuda
def test_a_driver_without_a_cuda_torch_is_named_too(monkeypatch):
    smoke = load_script()
    monkeypatch.setattr(smoke, "DRIVER_MARKERS", (str(SCRIPT),))  # pretend a driver is there
    reason = smoke.why_no_cuda()
    assert "sees no CUDA device" in reason and torch.__version__ in reason


def test_the_steps_run_on_a_cpu(tiny_model_dir, tmp_path):
    out = tmp_path / "smoke"
    command = [sys.executable, str(SCRIPT), "--allow-cpu", "--model", str(tiny_model_dir), "--steps", "2",
               "--items", "2", "--micro-batch", "2", "--batch-size", "2", "--out", str(out)]
    done = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "model FLOP/s" in done.stdout and "eval hf: 4 items" in done.stdout
    summary = json.loads((out / "smoke.json").read_text())
    assert summary["train"]["steps"] == 2 and summary["train"]["attention"] == "sdpa"
    assert summary["eval"]["hf"]["items"] == 4
