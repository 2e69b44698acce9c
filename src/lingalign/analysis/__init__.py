"""The analysis stage: does cross-lingual tuning align languages inside the model, and does it answer
in the user's language?

* ``align(models, langs, out_dir, ...)``: per-layer alignment of parallel sentences (``layerwise``),
  built from ``parallel`` (reading bitext), ``pooling`` (true masked means) and ``alignment`` (metrics).
* ``response_languages(paths, out_dir=None)``: detected answer languages per task and model (``responses``).
"""

from __future__ import annotations

from lingalign.analysis.layerwise import align
from lingalign.analysis.responses import response_languages

__all__ = ["align", "response_languages"]
