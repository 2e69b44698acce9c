"""The analysis stage: does cross-lingual tuning align languages inside the model, and does it answer
in the user's language?

* ``align(models, langs, out_dir, ...)``: per-layer alignment of parallel sentences (``layerwise``),
  built from ``parallel`` (reading bitext), ``pooling`` (true masked means) and ``alignment`` (metrics).
* ``response_languages(paths, out_dir=None)``: detected answer languages per task and model (``responses``).
"""

from __future__ import annotations


def align(models, langs, out_dir, **options) -> dict:
    """See ``lingalign.analysis.layerwise.align``."""
    from lingalign.analysis.layerwise import align as run

    return run(models, langs, out_dir, **options)


def response_languages(paths, out_dir=None) -> dict:
    """See ``lingalign.analysis.responses.response_languages``."""
    from lingalign.analysis.responses import response_languages as run

    return run(paths, out_dir)
