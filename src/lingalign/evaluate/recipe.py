"""The ``eval:`` section of a recipe (``lingalign eval --recipe``): which tasks, and the user's own test sets.

Example::

    eval:
      tasks: [xquad-zh, flores-en-zh, my-news]   # built-in names and names of sets below
      limit: 100                                 # first N examples of each task (quick runs)
      sets:
        - {name: my-news, type: translation, prefix: data/news, src_lang: en, tgt_lang: zh}

The sets' schema and types are ``lingalign.tasks.user_sets``.
"""

from __future__ import annotations

from typing import Literal

from lingalign.config import Strict
from lingalign.prompting import PromptFormat
from lingalign.tasks.user_sets import UserSet


class EvalRecipe(Strict):
    model: str | None = None
    tasks: list[str] = []
    sets: list[UserSet] = []
    limit: int | None = None
    split: Literal["dev", "devtest"] = "devtest"
    data_root: str | None = None
    prompt_format: PromptFormat | None = None
    batch_size: int | None = None
    dtype: str | None = None
