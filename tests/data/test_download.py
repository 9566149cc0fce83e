"""Checksummed downloads through a local mirror (127.0.0.1 only): download, cache hits without the
network, checksum mismatches, truncated and interrupted files, HTTP errors, offline mode."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
import requests

from coursekit.data import load_adrenalmnist3d
from coursekit.data.download import (
    ChecksumError,
    cache_dir,
    cached_course_file,
    course_file_state,
    download_upstream,
    materialize,
    upstream_path,
)
from coursekit.data.registry import REGISTRY, by_path, select
from coursekit.data.sources import resolve

PAYLOAD = bytes(range(256)) * 40


def _leftovers(root):
    """Temporary files anywhere under ``root``: an interrupted write must leave none."""
    return sorted(p.name for p in root.rglob(".part-*"))


def test_download_then_cache_hit_without_network(mirror, monkeypatch):
    up = mirror.add("a.bin", PAYLOAD)
    e = mirror.entry("a", "misc/a.bin", [up])
    path, downloaded = materialize(e)
    assert downloaded and path == cache_dir() / "misc/a.bin" and path.read_bytes() == PAYLOAD
    assert mirror.requests == [f"/{mirror.host}/a.bin"]  # the query string is not part of the mirror path
    assert upstream_path(up).read_bytes() == PAYLOAD
    record = json.loads((cache_dir() / "misc/a.bin.json").read_text())
    assert record["upstream"] == [up.sha256] and record["from"] == [up.url]
    monkeypatch.setenv("COURSEKIT_DATA_MIRROR", "http://127.0.0.1:9/")  # nothing listens there
    assert materialize(e) == (path, False)
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    assert materialize(e, allow_download=False) == (path, False)
    assert len(mirror.requests) == 1


def test_checksum_mismatch_is_an_error_and_leaves_nothing(mirror):
    up = mirror.add("b.bin", PAYLOAD, sha256="ab" * 32)
    with pytest.raises(ChecksumError) as info:
        download_upstream(up)
    message = str(info.value)
    actual = __import__("hashlib").sha256(PAYLOAD).hexdigest()
    assert "b.bin" in message and f"{mirror.url}{mirror.host}/b.bin" in message
    assert "ab" * 32 in message and actual in message
    assert not upstream_path(up).exists() and _leftovers(cache_dir()) == []


def test_loader_announces_mismatch_and_never_uses_the_file(mirror, monkeypatch, capsys):
    up = mirror.add("adrenal.npz", PAYLOAD, sha256="cd" * 32)
    monkeypatch.setitem(REGISTRY, "adrenalmnist3d",
                        mirror.entry("adrenalmnist3d", "volumes/adrenalmnist3d.npz", [up]))
    data = load_adrenalmnist3d(28)
    assert data.source == "synthetic"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checksum mismatch" in err[0] and "cd" * 32 in err[0]
    assert "synthetic fallback" in err[0] and "coursekit data fetch adrenalmnist3d" in err[0]
    assert cached_course_file(REGISTRY["adrenalmnist3d"]) is None


def test_truncated_file_fails_its_checksum(mirror):
    good = mirror.add("c.bin", PAYLOAD)
    mirror.add("c.bin", PAYLOAD[:1000])  # the server now serves a short, self-consistent file
    with pytest.raises(ChecksumError, match="1000 bytes"):
        download_upstream(good)
    assert not upstream_path(good).exists() and _leftovers(cache_dir()) == []


def test_interrupted_download_leaves_nothing_then_succeeds(mirror):
    up = mirror.add("d.bin", PAYLOAD)
    mirror.fail[f"/{mirror.host}/d.bin"] = ("cut", 3000)
    with pytest.raises(requests.RequestException):
        download_upstream(up)
    assert not upstream_path(up).exists() and _leftovers(cache_dir()) == []
    del mirror.fail[f"/{mirror.host}/d.bin"]
    path, downloaded = download_upstream(up)
    assert downloaded and path.read_bytes() == PAYLOAD


@pytest.mark.parametrize("status", [404, 500])
def test_http_errors(mirror, status, monkeypatch, capsys):
    up = mirror.add("e.bin", PAYLOAD)
    mirror.fail[f"/{mirror.host}/e.bin"] = status
    with pytest.raises(requests.HTTPError, match=str(status)):
        download_upstream(up)
    assert _leftovers(cache_dir()) == [] and not upstream_path(up).exists()
    e = mirror.entry("e", "misc/e.bin", [up])
    monkeypatch.setitem(REGISTRY, "e", e)
    value, source = resolve("e", local=e.path, load_local=lambda p: p.read_bytes(), synthetic=lambda: b"")
    err = capsys.readouterr().err
    assert source == "synthetic" and "HTTPError" in err and str(status) in err


def test_offline_uses_the_cache_only(mirror, monkeypatch, capsys):
    up = mirror.add("f.bin", PAYLOAD)
    e = mirror.entry("f", "misc/f.bin", [up])
    monkeypatch.setitem(REGISTRY, "f", e)
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    load = dict(local=e.path, load_local=lambda p: p.read_bytes(), synthetic=lambda: b"fake")
    assert resolve("f", **load) == (b"fake", "synthetic")
    assert "COURSEKIT_OFFLINE is set" in capsys.readouterr().err and mirror.requests == []
    monkeypatch.delenv("COURSEKIT_OFFLINE")
    assert resolve("f", **load) == (PAYLOAD, "download")
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    assert resolve("f", **load) == (PAYLOAD, "cache")
    assert len(mirror.requests) == 1 and capsys.readouterr().err == ""


def test_local_folder_comes_first(mirror, monkeypatch, tmp_path):
    up = mirror.add("g.bin", PAYLOAD)
    e = mirror.entry("g", "misc/g.bin", [up])
    monkeypatch.setitem(REGISTRY, "g", e)
    (tmp_path / "data" / "misc").mkdir(parents=True)
    (tmp_path / "data" / "misc" / "g.bin").write_bytes(b"mine")
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "data"))
    assert resolve("g", local=e.path, load_local=lambda p: p.read_bytes(),
                   synthetic=lambda: b"") == (b"mine", "local")
    assert mirror.requests == []


def test_corrupted_cache_is_never_trusted(mirror):
    up = mirror.add("h.bin", PAYLOAD)
    e = mirror.entry("h", "misc/h.bin", [up])
    path, _ = materialize(e)
    path.write_bytes(b"changed")  # the converted file no longer matches its record
    assert cached_course_file(e) is None and course_file_state(e) == "corrupt"
    assert materialize(e) == (path, False) and path.read_bytes() == PAYLOAD  # rebuilt from the download
    upstream_path(up).write_bytes(b"changed too")
    path.unlink()
    assert materialize(e) == (path, True) and len(mirror.requests) == 2  # downloaded again
    newer = dataclasses.replace(e, note="another provenance line")
    assert course_file_state(newer) == "outdated" and materialize(newer) == (path, False)
    assert course_file_state(newer) == "ok"  # rebuilt from the cached download


def test_stale_temporary_files_are_removed(mirror):
    up = mirror.add("i.bin", PAYLOAD)
    stale = upstream_path(up).parent / ".part-0123-i.bin"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    download_upstream(up)
    assert not stale.exists()


def test_registry_is_complete_and_consistent():
    assert len(REGISTRY) == 12 and len({e.path for e in REGISTRY.values()}) == 12
    for e in REGISTRY.values():
        assert by_path(e.path) is e and e.upstream and len(e.local_sha256) == 64 and e.licence
        for u in e.upstream:
            assert u.url.startswith("https://") and len(u.sha256) == 64 and u.size > 0 and u.verified
            int(u.sha256, 16)
    assert [e.name for e in select(["art"])] == ["starry_night", "great_wave", "turner_shipwreck",
                                                 "the_scream", "composition_vii"]
    with pytest.raises(ValueError, match="unknown dataset"):
        select(["nope"])


def test_real_npz_through_the_mirror(mirror, monkeypatch):
    """A small npz in MedMNIST's layout, served, checksummed and read by the real loader."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 6), ("val", 2), ("test", 3)):
        arrays[f"{split}_images"] = (rng.random((n, 28, 28, 28)) < 0.1).astype(np.uint8) * 255
        arrays[f"{split}_labels"] = rng.integers(0, 2, (n, 1)).astype(np.uint8)
    npz = mirror.root / "tmp.npz"
    np.savez_compressed(npz, **arrays)
    up = mirror.add("adrenalmnist3d.npz", npz.read_bytes())
    monkeypatch.setitem(REGISTRY, "adrenalmnist3d",
                        mirror.entry("adrenalmnist3d", "volumes/adrenalmnist3d.npz", [up]))
    data = load_adrenalmnist3d(28)
    assert data.source == "download"
    x, y = data.split("test")
    assert x.shape == (3, 1, 28, 28, 28) and y.tolist() == arrays["test_labels"].ravel().tolist()
    assert load_adrenalmnist3d(28).source == "cache"
