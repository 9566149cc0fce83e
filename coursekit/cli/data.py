"""``coursekit data list | fetch | verify``: the real datasets of the course, and where they are.

* ``coursekit data list [--json]`` — every course file of :mod:`coursekit.data.registry`: its
  name, file, upstream URLs with sha256 and size, licence, and where it is now (``local``: in
  ``COURSEKIT_DATA``; ``cache``: in the download cache; ``missing``).
* ``coursekit data fetch [NAMES...]`` — download, verify and convert into the cache (all files, or
  the names or folders given: ``art``, ``ecg``, ``volumes``). Exit code 0 only if every requested
  file is real and verified, else 2 (each failure on standard error).
* ``coursekit data verify`` — re-hash what the cache and ``COURSEKIT_DATA`` hold. Exit code 0
  if nothing there fails its checksum, else 1 (a negative answer).

``make data`` runs ``coursekit data fetch``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from coursekit.data.download import (
    cache_dir,
    cached_course_file,
    course_file_state,
    file_sha256,
    materialize,
    upstream_path,
)
from coursekit.data.registry import CourseFile, select
from coursekit.data.sources import local_file, offline

__all__ = ["register", "run_fetch", "run_list", "run_verify"]


def register(subparsers) -> None:
    """Add the ``data`` sub-command and its ``list``, ``fetch`` and ``verify`` actions.

    Example:
        >>> parser = argparse.ArgumentParser(prog="coursekit")
        >>> register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["data", "fetch", "art", "mitdb_100"])
        >>> args.names, args.func is run_fetch
        (['art', 'mitdb_100'], True)
    """
    parser = subparsers.add_parser(
        "data", help="list, download or verify the course's real datasets",
        description="The course's real datasets: where each comes from (URL, sha256, size, "
                    "licence) and where it is now. Files are read from COURSEKIT_DATA, else from "
                    "the download cache (COURSEKIT_CACHE), else downloaded (COURSEKIT_DATA_MIRROR "
                    "redirects downloads to a mirror; COURSEKIT_OFFLINE=1 forbids them).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", help="every dataset: source, checksum, licence, status")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=run_list)
    fetch = actions.add_parser("fetch", help="download, verify and convert into the cache")
    fetch.add_argument("names", nargs="*", metavar="NAMES",
                       help="dataset names or folders (art, ecg, volumes); default: all")
    fetch.set_defaults(func=run_fetch)
    verify = actions.add_parser("verify", help="re-hash the cached and local files")
    verify.set_defaults(func=run_verify)


def _status(entry: CourseFile) -> str:
    if local_file(entry.path) is not None:
        return "local"
    return "cache" if cached_course_file(entry) is not None else "missing"


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def run_list(args: argparse.Namespace) -> int:
    """Print the registry with each file's status."""
    rows = []
    for entry in select():
        local = local_file(entry.path)
        rows.append({
            "name": entry.name, "file": entry.path, "status": _status(entry),
            "path": str(local if local is not None else cache_dir() / entry.path),
            "size": entry.size, "licence": entry.licence, "conversion": entry.conversion,
            "upstream": [{"url": u.url, "sha256": u.sha256, "size": u.size, "verified": u.verified}
                         for u in entry.upstream],
        })
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"cache: {cache_dir()}")
    for row in rows:
        print(f"{row['name']:<18} {row['status']:<8} {row['file']}  ({_mb(row['size'])} to download)")
        for u in row["upstream"]:
            print(f"    {u['url']}\n      sha256 {u['sha256']}  {u['size']} bytes")
        print(f"    licence: {row['licence']}")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    """Download, verify and convert the requested files into the cache."""
    entries = select(args.names)
    start, failed, downloaded = time.perf_counter(), [], 0
    for entry in entries:
        t0 = time.perf_counter()
        try:
            path, fresh = materialize(entry, allow_download=not offline(), progress=True)
        except Exception as err:  # report every file, then fail
            failed.append(entry.name)
            print(f"FAILED {entry.name}: {type(err).__name__}: {err}", file=sys.stderr)
            continue
        downloaded += entry.size if fresh else 0
        how = f"downloaded {_mb(entry.size)}" if fresh else "already cached"
        print(f"ok     {entry.name:<18} {how}, {time.perf_counter() - t0:.1f} s -> {path}")
    ok = len(entries) - len(failed)
    print(f"{ok} of {len(entries)} files real and verified in {cache_dir()}; "
          f"{_mb(downloaded)} downloaded in {time.perf_counter() - start:.1f} s")
    if failed:
        print(f"coursekit: error: could not fetch {', '.join(failed)} (reasons above)", file=sys.stderr)
    return 0 if not failed else 2


def run_verify(args: argparse.Namespace) -> int:
    """Re-hash the cached upstream and course files and the files in ``COURSEKIT_DATA``."""
    bad = 0
    for entry in select():
        notes = []
        local = local_file(entry.path)
        if local is not None:
            if file_sha256(local) == entry.local_sha256:
                notes.append("local ok")
            else:
                bad += 1
                notes.append(f"local {local}: sha256 differs from the course's copy")
        for u in entry.upstream:
            path = upstream_path(u)
            if path.is_file() and file_sha256(path) != u.sha256:
                bad += 1
                notes.append(f"cached download {path}: sha256 mismatch (will be downloaded again)")
        state = course_file_state(entry)
        if state == "ok":
            notes.append("cache ok")
        elif state == "outdated":
            notes.append("cache outdated: made from other upstream files or by another conversion "
                         "(will be rebuilt)")
        elif state == "corrupt":
            bad += 1
            notes.append(f"cached {cache_dir() / entry.path}: changed since it was made (will be rebuilt)")
        print(f"{entry.name:<18} {'; '.join(notes) or 'missing'}")
    print(f"{bad} problem(s)")
    return 0 if bad == 0 else 1
