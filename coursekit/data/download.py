"""Checksummed downloads of the registry's files into one cache, and their conversion, with pooch.

The cache is the folder named by ``COURSEKIT_CACHE``, else ``pooch.os_cache("coursekit")``
(``~/.cache/coursekit`` on Linux). Its layout:

* ``downloads/<host>/<path>`` — each upstream file exactly as downloaded; its sha256 is checked
  when it arrives and again each time it is used;
* ``<course path>`` (``ecg/mitdb_100.npz``, ``art/great_wave.jpg``, ...) — the converted course
  files, laid out like a ``COURSEKIT_DATA`` folder;
* ``<course path>.json`` — what that file was made from: its own sha256 and the upstream sha256s.
  A course file is trusted only when it still has that sha256 and was made from the registry's
  current upstream files.

Every file is first written under a temporary name (``.part-...``) in its final folder and renamed
into place only once complete and verified, so an interrupted or corrupted download or conversion
leaves nothing a later run would trust. ``COURSEKIT_DATA_MIRROR=http://host:port/`` sends every
download to ``<mirror>/<upstream host>/<upstream path>`` instead (same checksums): for tests, and
for a classroom served from one machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pooch

from coursekit.data.convert import CONVERSIONS
from coursekit.data.registry import CourseFile, Upstream

__all__ = ["ChecksumError", "cache_dir", "cached_course_file", "course_file_state", "download_upstream",
           "file_sha256", "materialize", "mirror_url", "upstream_path"]

PROGRESS_MIN_BYTES = 1_000_000  # a progress bar for files larger than this, on a terminal
_STALE_PART_S = 3600.0  # temporary files older than this are left-overs of killed runs


class ChecksumError(ValueError):
    """A file's sha256 is not the registry's: the file was discarded, never used."""

    def __init__(self, name: str, url: str, expected: str, actual: str, size: int):
        self.name, self.url, self.expected, self.actual, self.size = name, url, expected, actual, size
        super().__init__(f"checksum mismatch for {name} downloaded from {url}: expected sha256 "
                         f"{expected}, got {actual} ({size} bytes); the file was discarded")


def cache_dir() -> Path:
    """The download cache: ``COURSEKIT_CACHE`` if set, else ``pooch.os_cache("coursekit")``.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, COURSEKIT_CACHE="/tmp/ck-cache"):
        ...     str(cache_dir())
        '/tmp/ck-cache'
    """
    value = os.environ.get("COURSEKIT_CACHE", "").strip()
    return Path(value).expanduser() if value else Path(pooch.os_cache("coursekit"))


def mirror_url(url: str) -> str:
    """``url``, or its copy on the mirror named by ``COURSEKIT_DATA_MIRROR``.

    The mirror serves ``<mirror>/<host>/<path>`` (the query string is dropped).

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, COURSEKIT_DATA_MIRROR="http://127.0.0.1:8000"):
        ...     mirror_url("https://zenodo.org/records/1/files/a.npz?download=1")
        'http://127.0.0.1:8000/zenodo.org/records/1/files/a.npz'
        >>> with mock.patch.dict(os.environ, COURSEKIT_DATA_MIRROR=""):
        ...     mirror_url("https://zenodo.org/records/1/files/a.npz")
        'https://zenodo.org/records/1/files/a.npz'
    """
    mirror = os.environ.get("COURSEKIT_DATA_MIRROR", "").strip()
    if not mirror:
        return url
    parts = urlsplit(url)
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}"


def upstream_path(upstream: Upstream) -> Path:
    """Where the cache keeps an upstream file: ``downloads/<host>/<path>``."""
    parts = urlsplit(upstream.url)
    return cache_dir() / "downloads" / parts.netloc / unquote(parts.path).lstrip("/")


def file_sha256(path: Path) -> str:
    """The sha256 of a file, hex (``pooch.file_hash``).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "abc.txt"
        >>> _ = path.write_bytes(b"abc")
        >>> file_sha256(path)[:16]
        'ba7816bf8f01cfea'
    """
    return pooch.file_hash(str(path), alg="sha256")


@contextlib.contextmanager
def _temporary(final: Path) -> Iterator[Path]:
    """A temporary file beside ``final`` (same file system, so the rename is atomic); removed on
    the way out unless the caller renamed it into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    for old in final.parent.glob(f".part-*-{final.name}"):
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > _STALE_PART_S:
                old.unlink()
    tmp = final.parent / f".part-{secrets.token_hex(8)}-{final.name}"
    tmp.touch(exist_ok=False)  # the user's umask applies, as for any file they write
    try:
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def download_upstream(upstream: Upstream, *, allow_download: bool = True,
                      progress: bool = True) -> tuple[Path, bool]:
    """The upstream file in the cache, downloaded (and verified) if it is not there yet.

    A cached copy is re-hashed on every call; one that no longer matches is deleted and
    downloaded again.

    Args:
        upstream: the registry's file.
        allow_download: ``False`` (offline): a file missing from the cache is an error.
        progress: show a progress bar for files over 1 MB when standard error is a terminal.

    Returns:
        ``(path, downloaded)``: the verified file and whether it was downloaded just now.

    Raises:
        ChecksumError: the download's sha256 is not the registry's (nothing is kept).
        FileNotFoundError: not cached and ``allow_download`` is False.
        requests.RequestException: the server failed (HTTP error, timeout, broken connection).
    """
    path = upstream_path(upstream)
    if path.is_file():
        if file_sha256(path) == upstream.sha256:
            return path, False
        path.unlink()  # changed since it was verified: never trusted
    if not allow_download:
        raise FileNotFoundError(f"{path.name} is not in the cache {cache_dir()} and COURSEKIT_OFFLINE is set")
    url = mirror_url(upstream.url)
    bar = progress and upstream.size > PROGRESS_MIN_BYTES and sys.stderr.isatty()
    with _temporary(path) as tmp:
        pooch.HTTPDownloader(progressbar=bar, chunk_size=65536, timeout=60)(url, str(tmp), None)
        actual = file_sha256(tmp)
        if actual != upstream.sha256:
            raise ChecksumError(path.name, url, upstream.sha256, actual, tmp.stat().st_size)
        os.replace(tmp, path)
    return path, True


def _record_path(course_path: Path) -> Path:
    return course_path.with_name(course_path.name + ".json")


def course_file_state(entry: CourseFile) -> str:
    """The state of a converted course file in the cache.

    Returns:
        ``"ok"`` (it has the sha256 recorded when it was made, from the registry's current
        upstream files by the registry's conversion and provenance note), ``"missing"``,
        ``"outdated"`` (made from other upstream files or by another conversion: it will be
        rebuilt) or ``"corrupt"`` (changed since it was made, or its record is unreadable).
    """
    path = cache_dir() / entry.path
    record = _record_path(path)
    if not path.is_file():
        return "missing"
    try:
        made = json.loads(record.read_text())
    except (OSError, ValueError):
        return "corrupt"
    if made.get("sha256") != file_sha256(path):
        return "corrupt"
    expected = {"upstream": [u.sha256 for u in entry.upstream], "convert": entry.convert,
                "note": entry.note}
    return "ok" if {k: made.get(k) for k in expected} == expected else "outdated"


def cached_course_file(entry: CourseFile) -> Path | None:
    """The converted course file in the cache if it can be trusted (:func:`course_file_state` is
    ``"ok"``), else ``None``."""
    return cache_dir() / entry.path if course_file_state(entry) == "ok" else None


def materialize(entry: CourseFile, *, allow_download: bool = True,
                progress: bool = True) -> tuple[Path, bool]:
    """The course file in the cache: downloaded and converted once, then reused.

    Args:
        entry: the registry's course file.
        allow_download: ``False`` (offline): use only what the cache holds.
        progress: progress bars on a terminal (see :func:`download_upstream`).

    Returns:
        ``(path, downloaded)``: the course file and whether anything was downloaded just now.

    Raises:
        ChecksumError, FileNotFoundError, requests.RequestException: see
        :func:`download_upstream`; ValueError: an upstream file could not be converted.
    """
    cached = cached_course_file(entry)
    if cached is not None:
        return cached, False
    inputs, downloaded = [], False
    for upstream in entry.upstream:
        path, fresh = download_upstream(upstream, allow_download=allow_download, progress=progress)
        inputs.append(path)
        downloaded |= fresh
    target = cache_dir() / entry.path
    with _temporary(target) as tmp:
        CONVERSIONS[entry.convert](inputs, tmp, entry.note)
        made = {"sha256": file_sha256(tmp), "upstream": [u.sha256 for u in entry.upstream],
                "convert": entry.convert, "note": entry.note, "from": [u.url for u in entry.upstream]}
        os.replace(tmp, target)
    record = _record_path(target)
    with _temporary(record) as tmp:
        tmp.write_text(json.dumps(made, indent=1))
        os.replace(tmp, record)
    return target, downloaded
