"""The one exception type for mistakes a user can fix.

Anything raised as ``UserError`` is printed by the CLI as a single clear message (which file,
which line or key, what was expected) with a non-zero exit, never as a traceback. Programming
errors stay ordinary exceptions so that they do show a traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input: a file, a recipe key, a value, a path."""

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  hint: {hint}")


def where(path, line: int | None = None, key: str | None = None) -> str:
    """Format a location prefix such as ``data/a.jsonl:12`` or ``recipe.yaml [train.lr]``."""
    text = str(path)
    if line is not None:
        text += f":{line}"
    if key is not None:
        text += f" [{key}]"
    return text
