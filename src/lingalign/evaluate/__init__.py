"""Evaluation stage: XQuAD, MLQA, FLORES, NTREX and user sets with multilingual metrics.

``evaluate(model, tasks, out_dir, ...)`` is the Python entry point (used by ``lingalign run`` and
the scaling sweep); ``lingalign eval`` is the command. See docs/evaluate.md.
"""

from __future__ import annotations


def evaluate(*args, **kwargs) -> dict:
    from lingalign.evaluate.runner import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


evaluate.__doc__ = """Score ``model`` on ``tasks``; write ``out_dir/results.json``; return the results dict.

evaluate(model, tasks, out_dir, *, limit=None, data_root=None, prompt_format=None, batch_size=16,
         dtype="auto", backend="hf", split="devtest", max_new_tokens=None, user_sets=None,
         spm_model=None, comet_model=None, trust_remote_code=False) -> dict
"""
