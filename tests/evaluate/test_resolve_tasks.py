"""The runner's task list: built-in names and the recipe's own sets, with a suggestion for a typo."""

from __future__ import annotations

import pytest

from lingalign.errors import UserError
from lingalign.evaluate.runner import resolve_tasks
from lingalign.tasks.registry import load_builtin


def test_unknown_names_suggest_builtin_tasks_and_user_sets(samples_dir):
    with pytest.raises(UserError) as info:
        resolve_tasks(["xqaud-zh"], samples_dir, "devtest", {})
    assert "xquad-zh" in str(info.value) and "did you mean xquad-zh" in str(info.value)
    news = load_builtin("flores-en-zh", samples_dir)
    with pytest.raises(UserError) as info:
        resolve_tasks(["my-nwes"], samples_dir, "devtest", {"my-news": news})
    assert "did you mean my-news" in str(info.value)


def test_user_sets_and_builtin_tasks_once_each_in_the_order_given(samples_dir):
    news = load_builtin("flores-en-zh", samples_dir)
    news.name = "my-news"
    tasks = resolve_tasks(["xquad-zh", "my-news", "xquad-zh"], samples_dir, "devtest", {"my-news": news})
    assert [t.name for t in tasks] == ["xquad-zh", "my-news"]
