"""The task registry: families register themselves, the registry never imports them back."""

from __future__ import annotations

import ast
import inspect

import pytest

from lingalign.errors import UserError
from lingalign.tasks import registry
from lingalign.tasks.registry import (
    Family,
    available_tasks,
    english_task,
    expected_from_task,
    family_forms,
    is_builtin,
    load_builtin,
    register,
)


def test_the_registry_imports_no_family():
    tree = ast.parse(inspect.getsource(registry))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert {m for m in imported if m and m.startswith("lingalign.tasks")} == {"lingalign.tasks.base"}


def test_every_family_is_registered_in_the_listing_order(samples_dir):
    assert list(available_tasks(samples_dir)) == ["xquad", "mlqa", "flores", "ntrex", "mgsm", "msvamp", "xcopa"]
    assert family_forms() == ("xquad-<lang>, mlqa-<lang>, mlqa-<ctx>-<q>, flores-<src>-<tgt>, ntrex-en-<tgt>, "
                              "mgsm-<lang>[-cot|-cot-en], msvamp-<lang>[-cot|-cot-en], xcopa-<lang>")
    assert is_builtin("mgsm-zh-cot") and is_builtin("xquad-xx") and not is_builtin("my-news")


def test_a_name_with_the_wrong_number_of_parts_is_an_unknown_task(samples_dir):
    for name in ("xquad", "xquad-zh-en", "flores-en", "xcopa-zh-it"):
        with pytest.raises(UserError, match="unknown task"):
            load_builtin(name, samples_dir)


def test_a_family_registers_once():
    with pytest.raises(ValueError, match="twice"):
        register(Family("xquad", ("xquad-<lang>",), (1,), lambda *a: None, lambda *a: []))


@pytest.mark.parametrize("task, expected", [
    ("xquad-zh", "zh"), ("mlqa-vi", "vi"), ("flores-en-zh", "zh"), ("flores-zh-en", "en"),
    ("flores-eng-cmn_Hans", "zh"), ("mlqa-dev", None), ("general", None),
])
def test_expected_language_from_the_task_name(task, expected):
    assert expected_from_task(task) == expected


@pytest.mark.parametrize("task, english", [
    ("mgsm-zh", "mgsm-en"), ("mgsm-zh-cot", "mgsm-en-cot"), ("mgsm-de-cot-en", "mgsm-en-cot-en"),
    ("msvamp-sw", "msvamp-en"), ("xcopa-it", "xcopa-en"), ("xquad-vi", "xquad-en"), ("mlqa-zh", "mlqa-en"),
    ("mgsm-en", None), ("msvamp-en-cot", None),  # English already
    ("mlqa-zh-en", None), ("flores-en-zh", None), ("ntrex-en-vi", None), ("my-set", None),  # items differ / unknown
])
def test_the_english_task_with_the_same_items(task, english):
    assert english_task(task) == english
