"""Safe file writing: nothing a user gave us is half-written or lost.

:func:`atomic_write` writes to a temporary file in the target folder and moves it over the
target in one step (``os.replace``), so a crash or a full disk leaves the old file intact and
a reader never sees a partial one. The new file gets the permissions of the file it replaces,
or the usual ones for a new file (0666 less the umask) rather than the temporary file's 0600.
Every writer in the package (images, face databases, encoders, student notebooks) goes
through it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write"]


def _mode_for(path: Path) -> int:
    """The permission bits ``path`` has, or a new file would get under the current umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask: read from /proc on Linux (setting it, the only portable way to
    read it, briefly changes it for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *,
                 encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the ``with`` block ends without error.

    Args:
        path: the file to write; its folder is created if missing.
        mode: ``"wb"`` (bytes) or ``"w"`` (text).
        encoding: text encoding for ``mode="w"`` (default UTF-8).

    Yields:
        The open temporary file.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "notes.txt")
        >>> with atomic_write(p, "w") as f:
        ...     _ = f.write("hello")
        >>> open(p).read()
        'hello'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=(encoding or "utf-8") if mode == "w" else None) as f:
            yield f
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
