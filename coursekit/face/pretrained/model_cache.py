"""A cache of the pretrained models converted from dlib's ``.dat`` files, so that a new process
(``coursekit faces identify ...``) loads them in a fraction of the time that decoding dlib's
format takes.

Each model's converted tensors and settings are kept in one file of the course cache
(:func:`~coursekit.data.download.cache_dir`, ``COURSEKIT_CACHE``), under ``pretrained/``:
``<file stem>-<what>-<hash of the source path>.pt``, written by ``torch.save`` and read back by
``torch.load(..., weights_only=True)`` (plain containers and tensors only; nothing in the file is
executed). The entry records the source file's resolved path, size and modification time (in
nanoseconds) and :data:`CACHE_VERSION`; when any of them differs (a changed or replaced ``.dat``,
a new converter) the source is read again and the entry rewritten. Entries are written under a
temporary name in the same folder and renamed into place, so a killed process never leaves a
half-written entry; an unreadable or foreign entry is ignored and replaced, and a cache folder
that cannot be written only means the next process converts again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

__all__ = ["CACHE_VERSION", "cache_entry_path", "cached_conversion"]

CACHE_VERSION = 1
"""Bumped whenever a converter changes what it returns, so older entries are not used."""


def _source_key(path: Path, what: str) -> dict:
    st = path.stat()
    return {"source": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "what": what, "version": CACHE_VERSION}


def cache_entry_path(path: str | os.PathLike, what: str) -> Path:
    """Where the converted form of the model file ``path`` is cached.

    Args:
        path: the source ``.dat`` file.
        what: the kind of conversion (``"encoder"``, ``"detector"``, ``"landmarks"``).

    Returns:
        ``<cache>/pretrained/<stem>-<what>-<12 hex digits of the source path's sha256>.pt``.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, COURSEKIT_CACHE="/tmp/ck-cache"):
        ...     entry = cache_entry_path("/models/shape_predictor_5_face_landmarks.dat", "landmarks")
        >>> str(entry.parent), entry.name.startswith("shape_predictor_5_face_landmarks-landmarks-")
        ('/tmp/ck-cache/pretrained', True)
    """
    from coursekit.data.download import cache_dir

    path = Path(path)
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    return cache_dir() / "pretrained" / f"{path.stem}-{what}-{digest}.pt"


def cached_conversion(path: str | os.PathLike, what: str, convert: Callable[[Path], Any]) -> Any:
    """``convert(path)``, from the cache when the source file is unchanged since it was stored.

    Args:
        path: the source model file.
        what: names the conversion (part of the entry's name and key).
        convert: reads the source; must return what ``torch.load(weights_only=True)`` can
            read back (tensors, numbers, strings, ``None``, and lists, tuples and dicts of them).

    Returns:
        What ``convert`` returned (now or when the entry was written).

    Example:
        >>> import tempfile
        >>> src = Path(tempfile.mkdtemp()) / "model.dat"
        >>> _ = src.write_bytes(b"1234")
        >>> calls = []
        >>> def convert(p):
        ...     calls.append(p.name)
        ...     return {"size": len(p.read_bytes()), "w": torch.ones(2)}
        >>> cached_conversion(src, "test", convert)["size"], cached_conversion(src, "test", convert)["size"]
        (4, 4)
        >>> calls  # the second call read the cache
        ['model.dat']
    """
    path = Path(path)
    key = _source_key(path, what)
    entry = cache_entry_path(path, what)
    try:
        stored = torch.load(entry, map_location="cpu", weights_only=True)
        if isinstance(stored, dict) and stored.get("key") == key:
            return stored["value"]
    except Exception:  # missing, truncated, foreign or from another torch: convert again
        pass
    value = convert(path)
    tmp = entry.with_name(f".part-{secrets.token_hex(6)}-{entry.name}")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"key": key, "value": value}, tmp)
        os.replace(tmp, entry)
    except (OSError, RuntimeError):  # a read-only or full cache: the next process converts again
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return value
