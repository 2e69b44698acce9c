"""Evaluation stage: XQuAD, MLQA, FLORES, NTREX and user sets with multilingual metrics.

``evaluate(model, tasks, out_dir, ...)`` is the Python entry point (used by ``lingalign run`` and
the scaling sweep); ``paired_bootstrap(run_a, run_b, task)`` gives the difference of two runs with
its 95% interval; ``lingalign eval`` is the command. See docs/evaluate.md.
"""

from __future__ import annotations


def evaluate(*args, **kwargs) -> dict:
    from lingalign.evaluate.runner import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


evaluate.__doc__ = """Score ``model`` on ``tasks``; write ``out_dir/results.json``; return the results dict.

evaluate(model, tasks, out_dir, *, limit=None, data_root=None, prompt_format=None, batch_size=16,
         dtype="auto", backend="hf", split="devtest", max_new_tokens=None, new_tokens_cap=None, user_sets=None,
         spm_model=None, comet_model=None, trust_remote_code=False) -> dict
"""


def paired_bootstrap(*args, **kwargs) -> dict:
    from lingalign.evaluate.significance import paired_bootstrap as _paired_bootstrap

    return _paired_bootstrap(*args, **kwargs)


paired_bootstrap.__doc__ = (
    "Paired bootstrap of run B minus run A on one task: ``{metric: {a, b, delta, low, high, p, n, ...}}``.\n"
    "\n"
    "paired_bootstrap(run_a_dir, run_b_dir, task, metrics=None, resamples=1000, seed=0, *, spm_model=None) -> dict\n"
    "(see lingalign.evaluate.significance)\n"
)
