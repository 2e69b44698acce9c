"""Atomic writes, JSONL streams and manifests: the files every stage relies on."""

import json
import os

import pytest

from lingalign import artifacts
from lingalign.artifacts import write_text
from lingalign.errors import UserError


def test_atomic_open_keeps_old_content_when_writer_fails(tmp_path):
    target = tmp_path / "out.txt"
    artifacts.write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with artifacts.atomic_open(target) as handle:
            handle.write("half a new file")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temp file left behind


def test_iter_jsonl_reports_file_and_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"a": 2\n')
    records = artifacts.iter_jsonl(path)
    assert next(records) == (1, {"a": 1})
    with pytest.raises(UserError, match=r"d\.jsonl:3: malformed JSON"):
        next(records)


def test_iter_jsonl_rejects_invalid_utf8_and_non_objects(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"a": "\xff"}\n')
    with pytest.raises(UserError, match=r"bad\.jsonl:1: not valid UTF-8"):
        list(artifacts.iter_jsonl(bad))
    arr = tmp_path / "arr.jsonl"
    arr.write_text("[1, 2]\n")
    with pytest.raises(UserError, match="expected a JSON object"):
        list(artifacts.iter_jsonl(arr))


def test_tolerant_reader_ignores_torn_last_line(tmp_path):
    path = tmp_path / "log.jsonl"
    artifacts.append_jsonl(path, [{"step": 1}, {"step": 2}])
    with open(path, "a") as handle:
        handle.write('{"step": 3')  # a writer killed mid-line
    assert artifacts.read_jsonl_tolerant(path) == [{"step": 1}, {"step": 2}]


def test_manifest_marks_completion_by_fingerprint(tmp_path):
    assert not artifacts.is_complete(tmp_path, "abc")
    artifacts.write_manifest(tmp_path, stage="data", fingerprint="abc", counts={"n": 3})
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["counts"] == {"n": 3} and "torch" in manifest["versions"]
    assert artifacts.is_complete(tmp_path, "abc")
    assert not artifacts.is_complete(tmp_path, "abd")


def test_hashes_change_with_content(tmp_path):
    (tmp_path / "a").write_text("x")
    first = artifacts.hash_path(tmp_path)
    (tmp_path / "a").write_text("y")
    assert artifacts.hash_path(tmp_path) != first
    assert artifacts.hash_obj({"b": 1, "a": 2}) == artifacts.hash_obj({"a": 2, "b": 1})
    with pytest.raises(UserError, match="not found"):
        artifacts.hash_path(tmp_path / "missing")


def test_written_files_get_the_usual_permissions(tmp_path):
    """Atomic writes go through a private temporary file; the result must not stay private (0600)."""
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "results.json", "{}")
        assert (tmp_path / "results.json").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        write_text(tmp_path / "private.json", "{}")
        assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
