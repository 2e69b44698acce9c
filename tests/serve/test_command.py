"""``lingalign serve`` bad input: one clear line in the terminal (exit 2), before any model loads."""

from __future__ import annotations

import socket

import pytest

from lingalign.cli import main
from lingalign.serve.command import is_loopback


def serve(capsys, *args) -> tuple[int, str]:
    code = main(["serve", *map(str, args)])
    return code, capsys.readouterr().err


def test_nothing_to_serve(capsys):
    code, err = serve(capsys)
    assert code == 2 and "nothing to serve: give a run folder or models" in err


def test_a_run_folder_without_models_or_predictions(tmp_path, capsys):
    (tmp_path / "models").mkdir()
    code, err = serve(capsys, tmp_path)
    assert code == 2 and "no models to chat with and no predictions to browse" in err
    assert "Traceback" not in err


def test_a_folder_that_is_not_a_run(tmp_path, capsys):
    code, err = serve(capsys, tmp_path)
    assert code == 2 and "not a lingalign run folder" in err


def test_a_model_path_that_does_not_exist(tmp_path, capsys):
    code, err = serve(capsys, "--model", f"a={tmp_path / 'missing'}", "--model", f"b={tmp_path}")
    assert code == 2 and f"--model a={tmp_path / 'missing'}:" in err and "model folder not found" in err


def test_a_label_the_run_does_not_have(fake_run, capsys):
    code, err = serve(capsys, fake_run, "--model", "coit-xx")
    assert code == 2 and "--model coit-xx: not a model of the run (the run has: base, tuned)" in err


def test_more_than_four_models(tiny_model_dir, capsys):
    code, err = serve(capsys, *[f"--model=m{i}={tiny_model_dir}" for i in range(5)])
    assert code == 2 and "at most 4 models side by side, got 5" in err


def test_a_port_in_use(tiny_model_dir, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, err = serve(capsys, "--model", f"a={tiny_model_dir}", "--port", port)
    assert code == 2 and f"port {port} on 127.0.0.1 is in use" in err and f"--port {port + 1}" in err


@pytest.mark.parametrize("host, local", [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
                                         ("0.0.0.0", False), ("192.168.1.5", False), ("::", False)])
def test_which_hosts_are_this_machine_only(host, local):
    assert is_loopback(host) is local
