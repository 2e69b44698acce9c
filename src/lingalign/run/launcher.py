"""Training under ``accelerate launch``: one process per GPU (DDP, FSDP, DeepSpeed), started as a child.

The resolved train recipe is written to ``DIR/launch/<model>.yaml`` and ``lingalign train`` runs on it
under ``accelerate launch``; its output streams through. Stopping ``lingalign run`` (SIGTERM, SIGHUP,
Ctrl+C) stops accelerate launch and every worker (``lingalign.launching``). Data building, evaluation and analysis stay
in the main process.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path
from typing import Optional

from lingalign.artifacts import write_text
from lingalign.config import dump_yaml, read_yaml
from lingalign.errors import UserError
from lingalign.launching import run_launcher
from lingalign.run.plan import Plan

log = logging.getLogger("lingalign.run")


def launch_train(plan: Plan, name: str, config, data_dir: Path, folder: Path, *, force: bool,
                 stop_after: Optional[int] = None, start: Optional[str] = None) -> None:
    """Run ``lingalign train`` under ``accelerate launch`` (one process per GPU); its output streams through.

    ``stop_after`` is passed on as ``--stop-after`` (a checkpoint, then exit), as ``train`` takes it;
    ``start`` (a staged model's upstream fingerprint) as ``--start-fingerprint``.
    """
    recipe = plan.out / "launch" / f"{name}.yaml"
    write_text(recipe, dump_yaml(config))
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(plan.launch_config)]
    if plan.experiment.launch.num_processes:
        command += ["--num_processes", str(plan.experiment.launch.num_processes)]
    settings = read_yaml(plan.launch_config) or {}
    if int(settings.get("num_machines") or 1) == 1 and not settings.get("main_process_port"):
        # one machine: a free port, so two runs (or a run and a test) on one host do not meet on 29500
        command += ["--main_process_port", str(_free_port())]
    command += ["-m", "lingalign.cli", "train", str(recipe), "--data", str(data_dir), "-o", str(folder), "--resume"]
    command += ["--force"] if force else []
    command += ["--stop-after", str(stop_after)] if stop_after else []
    command += ["--start-fingerprint", start] if start else []
    log.info("launch: %s", " ".join(command))
    # a signal to this command stops accelerate launch and its workers too, then raises launching.Stopped
    returncode = run_launcher(command, {**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    if returncode != 0:
        raise UserError(f"accelerate launch exited with code {returncode} (the training messages above say why)",
                        hint="fix it and run the same command again: training resumes from its last checkpoint")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
