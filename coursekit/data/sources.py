"""The one resolution order every dataset in the course follows.

For each dataset, :func:`resolve` tries, in order:

(a) **local** — the file under the folder named by ``COURSEKIT_DATA`` (for example
    ``COURSEKIT_DATA=../shared/data``), if that variable is set and the file is there;
(b) **download** — the real library source (scikit-learn's ``fetch_olivetti_faces``,
    ``scipy.datasets``, the MedMNIST download, ...), unless ``COURSEKIT_OFFLINE=1``; a
    failure (no network) falls through silently;
(c) **synthetic** — an embedded generator, announced with one line on standard error:
    ``[coursekit.data] olivetti: using the synthetic fallback (...)``.

This module is the only place in the library that prints (the announcement in (c)): a
student must not mistake synthetic data for the real thing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["SOURCES", "announce", "data_dir", "local_file", "offline", "resolve"]

T = TypeVar("T")
SOURCES = ("local", "download", "synthetic")


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


def resolve(
    name: str,
    *,
    local: str | None,
    load_local: Callable[[Path], T] | None,
    fetch: Callable[[], T] | None,
    synthetic: Callable[[], T],
) -> tuple[T, str]:
    """Load a dataset through the course's resolution order (see the module docstring).

    Args:
        name: the dataset's name, used in the announcement.
        local: path relative to ``COURSEKIT_DATA`` (``None``: no local copy exists).
        load_local: reads that file.
        fetch: gets the data from the real source; may raise any exception when offline.
        synthetic: builds the embedded fallback.

    Returns:
        ``(data, source)`` with ``source`` in ``("local", "download", "synthetic")``.

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
    if fetch is not None and not offline():
        try:
            return fetch(), "download"
        except Exception as err:  # no network, server down, missing optional package
            reason = f"download failed: {type(err).__name__}"
    where = f"set COURSEKIT_DATA to a folder holding {local}" if local else "no real source"
    announce(name, f"using the synthetic fallback ({reason}; {where})")
    return synthetic(), "synthetic"
