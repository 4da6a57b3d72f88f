"""Atomic file output: a result appears under its final name complete, or not at all."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_output(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it to ``dest`` when the block succeeds.

    The temporary file lives in the same folder so that the rename is atomic; it is removed
    when the block raises. Writers that infer a format from the suffix must be told it
    explicitly, since the temporary name ends in ``.part``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Named, not created: the writer creates it, so it gets the usual (umask) permissions.
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(8)}.part")
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
