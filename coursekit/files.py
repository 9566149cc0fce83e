"""Safe file writing: nothing a user gave us is half-written or lost.

:func:`atomic_write` writes to a temporary file in the target folder and moves it over the
target in one step (``os.replace``), so a crash or a full disk leaves the old file intact and
a reader never sees a partial one. The new file gets the permissions of the file it replaces,
or the usual ones for a new file (0666 less the umask) rather than the temporary file's 0600.
Every writer in the package (images, face databases, encoders, student notebooks) goes
through it. A temporary file left behind by a killed writer (``.NAME.XXXXXXXX.tmp``) is
removed by the next write of ``NAME``: the live writer holds a lock on its own temporary file,
so only abandoned ones are taken.

:func:`check_writable` tries a target's folder before a long computation, and
:func:`locked` holds an exclusive lock on a file (a ``.NAME.lock`` file beside it) across a
read-modify-write, so two processes updating one file cannot lose each other's changes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["atomic_write", "check_writable", "locked", "remove_stale_temp_files"]

STALE_AFTER_S = 5.0
"""A temporary file older than this, whose writer no longer holds it, is abandoned (on systems
without ``fcntl``, where a writer's hold cannot be seen: one hour)."""


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
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours: no cleaner may take it
        with os.fdopen(fd, mode, encoding=(encoding or "utf-8") if mode == "w" else None) as f:
            yield f
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _temp_name_pattern(name: str) -> re.Pattern:
    """``.NAME.XXXXXXXX.tmp``: how :func:`atomic_write` names its temporary files (``mkstemp``'s
    eight random characters)."""
    return re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}\.tmp")


def remove_stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files an interrupted :func:`atomic_write` of ``path`` left behind.

    Only files named as :func:`atomic_write` names them, owned by this user, older than
    :data:`STALE_AFTER_S` and not held by a live writer are removed; errors are ignored.

    Returns:
        The files removed.

    Example:
        >>> import os, tempfile
        >>> d = tempfile.mkdtemp()
        >>> stale = os.path.join(d, ".out.png.abcd1234.tmp")
        >>> open(stale, "w").close(); os.utime(stale, (0, 0))
        >>> [p.name for p in remove_stale_temp_files(os.path.join(d, "out.png"))]
        ['.out.png.abcd1234.tmp']
    """
    path = Path(path)
    pattern = _temp_name_pattern(path.name)
    limit = STALE_AFTER_S if fcntl is not None else 3600.0
    removed = []
    try:
        candidates = [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return removed
    for candidate in candidates:
        try:
            st = candidate.stat()
            if not stat.S_ISREG(st.st_mode) or time.time() - st.st_mtime < limit:
                continue
            if hasattr(os, "getuid") and st.st_uid != os.getuid():
                continue
            if fcntl is not None:
                fd = os.open(candidate, os.O_RDONLY)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while a writer holds it
                    candidate.unlink()
                finally:
                    os.close(fd)
            else:  # pragma: no cover - Windows
                candidate.unlink()
            removed.append(candidate)
        except OSError:
            continue
    return removed


def check_writable(path: str | os.PathLike) -> Path:
    """Fail now, not after a long run, if ``path`` cannot be written.

    A temporary file is created (and removed) in the nearest existing folder on the way to
    ``path``; nothing else is created or changed.

    Args:
        path: a file to be written later (it may exist; its folder may not yet).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        IsADirectoryError: ``path`` is a folder.
        NotADirectoryError: a part of the way to ``path`` is a file.
        PermissionError: the folder cannot be written (the error's ``filename`` is ``path``).

    Example:
        >>> import tempfile, os
        >>> check_writable(os.path.join(tempfile.mkdtemp(), "new", "out.png")).name
        'out.png'
        >>> check_writable(tempfile.mkdtemp())
        Traceback (most recent call last):
        ...
        IsADirectoryError: [Errno 21] is a folder, not a file: '...'
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is a file, not a folder", str(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as err:  # name the user's path, not the probe's
        raise type(err)(err.errno, f"cannot write there ({err.strerror})", str(path)) from None
    os.close(fd)
    os.unlink(tmp)
    return path


@contextlib.contextmanager
def locked(path: str | os.PathLike, *, timeout: float | None = None) -> Iterator[Path]:
    """Hold an exclusive lock on ``path`` for the ``with`` block (waiting for other holders).

    The lock is taken on ``.NAME.lock`` beside ``path`` (created if missing and left in place:
    removing it would let two processes lock two different files). Every process that reads,
    changes and writes ``path`` under this lock sees the others' changes.

    Args:
        path: the file to protect (it need not exist).
        timeout: seconds to wait before ``TimeoutError``; ``None`` waits as long as it takes.

    Yields:
        ``path`` as a ``Path``.

    Example:
        >>> import tempfile, os
        >>> db = os.path.join(tempfile.mkdtemp(), "people.npz")
        >>> with locked(db):
        ...     pass  # read, change and write db here
    """
    path = Path(path)
    lock = path.parent / f".{path.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                else:  # pragma: no cover - Windows
                    import msvcrt

                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EDEADLK):
                    raise
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"{path} is locked by another process (waited {timeout} s)") from None
                time.sleep(0.05)
        yield path
    finally:
        os.close(fd)  # releases the lock
