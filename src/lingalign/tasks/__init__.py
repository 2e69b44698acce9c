"""Evaluation tasks: their names, where their files are in a data root, and loading them into examples.

Built-in task names (``lingalign eval --list`` shows which exist in a data root):

* ``xquad-<lang>``            ``xquad/xquad.<lang>.json``                             (``qa``)
* ``mlqa-<lang>``             ``mlqa-dev/<lang>.json`` (context and question in one language)
* ``mlqa-<ctx>-<q>``          any ``*context-<ctx>-question-<q>.json`` under ``mlqa-dev/`` or ``mlqa/``
* ``flores-<src>-<tgt>``      ``flores101/<split>/<code>.<split>`` for both sides     (``translation``)
* ``ntrex-en-<tgt>``          ``ntrex128/newstest2019-src.eng.txt`` -> ``newstest2019-ref.<code>.txt``
* ``mgsm-<lang>[-cot|-cot-en]`` ``mgsm/mgsm_<lang>.tsv`` (direct answer, or step by step; ``math_problems``)
* ``msvamp-<lang>[-cot|-cot-en]`` ``msvamp/test.<lang>.jsonl`` (MGSM's prompts and scoring; ``msvamp``)
* ``xcopa-<lang>``            ``xcopa/<lang>/test.<lang>.jsonl`` (two-way choice by log-likelihood; ``choice``)

The default data root is the samples shipped in the package (``base.default_data_root``);
``--data-root`` points at a full copy laid out the same way. User sets named in an eval recipe
(any SQuAD-style JSON, bitext, multiple-choice or XCOPA JSONL, or math TSV or JSONL, MSVAMP's
included) become tasks under their own names (``user_sets``).

Layout: ``base`` (Example, Task, shared readers), ``registry`` (names -> families; imports no
family), one module per family, which registers itself when imported. Importing this package
imports every family, so the registry is full whichever module is imported first.
"""

# The order of registration is the order of `lingalign eval --list` and of the task forms in messages.
# isort: off
from lingalign.tasks import qa  # noqa: F401
from lingalign.tasks import translation  # noqa: F401
from lingalign.tasks import math_problems  # noqa: F401
from lingalign.tasks import msvamp  # noqa: F401
from lingalign.tasks import choice  # noqa: F401
# isort: on
