"""An output file checked before any measuring starts, so a run never fails at its first write."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["unwritable"]


def unwritable(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be written as a file (None when it can). Creates its folder if missing."""
    path = Path(path)
    if path.is_dir():
        return f"{path} is a directory; name a file, e.g. {path / 'results.json'}"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} exists and is not writable"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        return f"cannot write into {path.parent}: {exc.strerror or exc}"
    return None
