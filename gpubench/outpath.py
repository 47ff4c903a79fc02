"""An output file checked before any measuring starts, so a run never fails at its first write."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["unwritable"]


def unwritable(path: str | os.PathLike, create: bool = True) -> str | None:
    """Why `path` cannot be written as a file (None when it can). Creates its folder if missing, and
    probes it with a temporary file; with create=False (a dry run) it changes nothing and asks the
    nearest folder that exists instead."""
    path = Path(path)
    if path.is_dir():
        return f"{path} is a directory; name a file, e.g. {path / 'results.json'}"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} exists and is not writable"
    if not create:
        folder = next(p for p in path.absolute().parents if p.exists())
        if not folder.is_dir():
            return f"cannot write into {path.parent}: {folder} is not a folder"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"cannot write into {path.parent}: {folder} is not writable"
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        return f"cannot write into {path.parent}: {exc.strerror or exc}"
    return None
