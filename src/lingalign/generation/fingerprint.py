"""The cheap identity of a model that resumable steps key on (evaluation, data translate, ``run``'s steps).

A changed model file must invalidate stored predictions or translations, but hashing gigabytes of
weights before every step would cost minutes; names, sizes and modification times are enough.
"""

from __future__ import annotations

from pathlib import Path

from lingalign import artifacts


def model_fingerprint(path: str) -> str:
    """Cheap identity of a model: its files' names, sizes and modification times (or a hub id)."""
    folder = Path(path)
    if not folder.is_dir():
        return path
    files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()
                   if p.is_file() and p.suffix in (".json", ".safetensors", ".bin", ".model", ".txt"))
    return artifacts.hash_obj([str(folder.resolve()), files])
