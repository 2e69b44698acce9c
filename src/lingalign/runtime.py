"""Facts about the process and machine a stage runs on: which accelerator, which device, a free port.

Training (``train/distributed.py``), the generation layer (``generation/``) and the analyses ask
the same questions before they load a model or start a process group; the answers live here so
they are the same everywhere. torch is imported inside the functions: importing this module stays
cheap (``lingalign --help``).
"""

from __future__ import annotations

import socket


def has_accelerator() -> bool:
    """True when torch sees a GPU-like device (CUDA, Apple MPS or Intel XPU); False on a plain CPU."""
    import torch

    xpu = getattr(torch, "xpu", None)
    return torch.cuda.is_available() or torch.backends.mps.is_available() or bool(xpu and xpu.is_available())


def default_device() -> str:
    """Where a model decodes when nothing says otherwise: ``cuda`` when there is a CUDA GPU, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def free_port() -> int:
    """A local TCP port free right now, for a one-machine process group (two runs must not meet on 29500)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
