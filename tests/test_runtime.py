"""The process/accelerator helpers that training and the generation layer share."""

import socket

import torch

from lingalign import runtime


def test_default_device_is_cuda_only_with_a_cuda_gpu():
    assert runtime.default_device() == ("cuda" if torch.cuda.is_available() else "cpu")


def test_has_accelerator_counts_cuda():
    assert isinstance(runtime.has_accelerator(), bool)
    if torch.cuda.is_available():
        assert runtime.has_accelerator()


def test_free_port_can_be_bound():
    port = runtime.free_port()
    assert 0 < port < 65536
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
