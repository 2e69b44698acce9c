"""Orchestration: a whole experiment from one recipe (``lingalign run``) and the scaling sweep.

The package sits above the stages: it imports them, they never import it.

- ``schema``: the experiment recipe (typed); ``plan``: the validated recipe as stage configs, the
  training order of staged models (``init:``); ``datasets``: each kind of dataset entry and its step;
- ``inputs``: what must exist before the pending steps run; ``fingerprints``: each step's key and
  whether the run folder already holds it; ``steps``: the step cache (markers, run log);
- ``execute``: the steps in order; ``launcher``: training under ``accelerate launch``;
- ``describe``: the ``--dry-run`` plan; ``command``: the ``lingalign run`` verb;
- ``sweep``: ``lingalign scaling sweep`` (data build + train + eval at several sizes).

The names below are the package's public API.
"""

from lingalign.run.describe import describe
from lingalign.run.execute import execute
from lingalign.run.fingerprints import pending_steps
from lingalign.run.inputs import missing_inputs
from lingalign.run.plan import Plan
from lingalign.run.sweep import run_sweep

__all__ = ["Plan", "describe", "execute", "missing_inputs", "pending_steps", "run_sweep"]
