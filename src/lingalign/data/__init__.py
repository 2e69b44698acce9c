"""The data stage: from bitext and instruction sets to one CoIT/MuIT training file.

Read (``readers``) -> clean (``clean``) -> turn into instruction records (``instructions``) ->
select and mix under a seed (``mixture``) -> write ``train.jsonl`` + ``manifest.json`` (``build``).
The recipe schema lives in ``recipe``; the ``lingalign data`` verb in ``command``. ``translate``
makes a non-English instruction set (Alpaca-X) by machine translation, cutting fields with
``segments`` and running the models of ``translators``.
"""

from lingalign.data.build import build_dataset
from lingalign.data.recipe import DataRecipe, load_data_recipe

__all__ = ["build_dataset", "load_data_recipe", "DataRecipe"]
