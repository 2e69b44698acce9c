"""The shipped recipes: where they are, what each is for and costs, and copies for editing.

The recipes live in the repository's ``recipes/`` (README commands and the study recipes' relative
paths point from there); a wheel ships the same files as ``lingalign/recipes/`` (setup.py copies
them at build time). What each module holds:

* ``shipped``: the recipes folder of this installation, the catalog entries (name, kind, the
  ``# Purpose:`` and ``# Cost:`` lines of each header), and a recipe argument read as a path or a name;
* ``copying``: ``lingalign recipes cp``, a recipe with the files it names, laid out as they were;
* ``command``: the ``lingalign recipes list / cp`` verb.
"""
