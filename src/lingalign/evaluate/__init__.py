"""Evaluation stage: XQuAD, MLQA, FLORES, NTREX and user sets with multilingual metrics.

``evaluate(model, tasks, out_dir, ...)`` is the Python entry point (used by ``lingalign run`` and
the scaling sweep); ``paired_bootstrap(run_a, run_b, task)`` gives the difference of two runs with
its 95% interval; ``lingalign eval`` is the command. See docs/evaluate.md.
"""

from __future__ import annotations

from lingalign.evaluate.runner import evaluate
from lingalign.evaluate.significance import paired_bootstrap

__all__ = ["evaluate", "paired_bootstrap"]
