"""The one resolution order every dataset in the course follows.

For each dataset, :func:`resolve` tries, in order:

(a) **local** — the file under the folder named by ``COURSEKIT_DATA`` (for example
    ``COURSEKIT_DATA=../shared/data``), if that variable is set and the file is there;
(b) **cache** — the same file in the download cache (``COURSEKIT_CACHE``, else
    ``pooch.os_cache("coursekit")``), made by an earlier download and conversion;
(c) **download** — the upstream files named in :mod:`coursekit.data.registry`, checksummed and
    converted once into the cache by :mod:`coursekit.data.download` (``COURSEKIT_OFFLINE=1``
    skips the network; ``COURSEKIT_DATA_MIRROR`` sends it to a mirror);
(d) **synthetic** — an embedded generator, announced with one line on standard error:
    ``[coursekit.data] olivetti: using the synthetic fallback (...)``, which says why (offline,
    no network, or a checksum mismatch: a file that fails its checksum is never used).

This module is the only place in the library that prints (the announcement in (d)): a
student must not mistake synthetic data for the real thing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from coursekit.data.download import ChecksumError, materialize
from coursekit.data.registry import by_path

__all__ = ["SOURCES", "announce", "data_dir", "local_file", "offline", "resolve"]

T = TypeVar("T")
SOURCES = ("local", "cache", "download", "synthetic")


def data_dir() -> Path | None:
    """The folder named by ``COURSEKIT_DATA``, or ``None`` when unset or not a folder.

    Example:
        >>> import tempfile
        >>> from unittest import mock
        >>> tmp = tempfile.mkdtemp()
        >>> with mock.patch.dict(os.environ, COURSEKIT_DATA=tmp):
        ...     data_dir() == Path(tmp)
        True
        >>> with mock.patch.dict(os.environ, COURSEKIT_DATA=""):
        ...     data_dir() is None
        True
    """
    value = os.environ.get("COURSEKIT_DATA", "").strip()
    if not value:
        return None
    p = Path(value).expanduser()
    return p if p.is_dir() else None


def local_file(relpath: str) -> Path | None:
    """``COURSEKIT_DATA/relpath`` if it exists, else ``None``.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, COURSEKIT_DATA=""):  # the environment is restored after
        ...     local_file("ecg/mitdb_100.npz") is None
        True
    """
    root = data_dir()
    if root is None:
        return None
    p = root / relpath
    return p if p.exists() else None


def offline() -> bool:
    """True when ``COURSEKIT_OFFLINE`` is set to 1/true/yes: never try a download.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, COURSEKIT_OFFLINE="yes"):
        ...     offline()
        True
        >>> with mock.patch.dict(os.environ, COURSEKIT_OFFLINE="0"):
        ...     offline()
        False
    """
    return os.environ.get("COURSEKIT_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def announce(name: str, message: str) -> None:
    """Print the one line that says a dataset fell back (to standard error).

    Example:
        >>> from contextlib import redirect_stderr
        >>> with redirect_stderr(sys.stdout):  # show standard error here
        ...     announce("demo", "using the synthetic fallback")
        [coursekit.data] demo: using the synthetic fallback
    """
    print(f"[coursekit.data] {name}: {message}", file=sys.stderr)


def _why(err: Exception) -> str:
    """The reason a download failed, for the announcement (a checksum mismatch in full)."""
    if isinstance(err, ChecksumError):
        return f"download failed: {err}"
    if isinstance(err, FileNotFoundError) and offline():
        return "COURSEKIT_OFFLINE is set and the cache does not hold it"
    text = str(err).splitlines()[0][:200] if str(err) else ""
    return f"download failed: {type(err).__name__}" + (f": {text}" if text else "")


def resolve(
    name: str,
    *,
    local: str | None,
    load_local: Callable[[Path], T] | None,
    synthetic: Callable[[], T],
    fetch: Callable[[], T] | None = None,
) -> tuple[T, str]:
    """Load a dataset through the course's resolution order (see the module docstring).

    Args:
        name: the dataset's name, used in the announcement.
        local: path relative to ``COURSEKIT_DATA`` and to the cache (``None``: no file exists);
            when the registry names it, steps (b) and (c) get it from there.
        load_local: reads that file.
        synthetic: builds the embedded fallback.
        fetch: another way to get the real data when the registry has no entry for ``local``;
            may raise any exception when offline.

    Returns:
        ``(data, source)`` with ``source`` in ``("local", "cache", "download", "synthetic")``.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, COURSEKIT_OFFLINE="1"):
        ...     resolve("demo", local=None, load_local=None, fetch=None, synthetic=lambda: 42)
        (42, 'synthetic')
    """
    if local is not None and load_local is not None:
        p = local_file(local)
        if p is not None:
            return load_local(p), "local"
    reason = "COURSEKIT_OFFLINE is set" if offline() else "no local copy and no download"
    entry = by_path(local) if local is not None and load_local is not None else None
    if entry is not None:
        try:
            path, downloaded = materialize(entry, allow_download=not offline())
            return load_local(path), "download" if downloaded else "cache"
        except Exception as err:  # no network, server error, checksum mismatch, bad file
            reason = _why(err)
    elif fetch is not None and not offline():
        try:
            return fetch(), "download"
        except Exception as err:  # no network, server down, missing optional package
            reason = _why(err)
    if local is None:
        where = "no real source"
    elif entry is not None:
        where = f"run `coursekit data fetch {entry.name}` or set COURSEKIT_DATA to a folder holding {local}"
    else:
        where = f"set COURSEKIT_DATA to a folder holding {local}"
    announce(name, f"using the synthetic fallback ({reason}; {where})")
    return synthetic(), "synthetic"
