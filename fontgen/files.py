"""Small file helpers every stage shares: writes that never leave a half-written file behind.

Every file fontgen writes goes through `atomic_path`: it is written under a hidden temporary name beside its
place and renamed onto it in one step, so a reader (or a run killed halfway) sees the old file, the new one
whole, or none; never a part of one.
"""
from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path


def partial_path(path: str | Path, suffix: str = "") -> Path:
    """The hidden name a file is written under before its rename: no glob of finished files (`U+*.png`) and no
    reader sees it, and the process id keeps two processes writing the same file (two evaluations filling one
    cache) apart. `suffix` for writers that want one (Chromium's screenshot: `.png`)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.partial{suffix}")


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """`with atomic_path(out) as partial: write(partial)`: the file appears at `out` whole, with one rename when
    the block ends, or not at all (the partial file is removed when the block fails)."""
    path = Path(path)
    partial = partial_path(path, suffix)
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 text through a temp file and a rename."""
    with atomic_path(path) as partial:
        partial.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, data) -> None:
    """Write JSON through a temp file and a rename."""
    write_text_atomic(path, json.dumps(data, indent=1, ensure_ascii=False))
