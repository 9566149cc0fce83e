"""The face database's file format: round trips, atomic writes, and every corrupt or foreign
file refused with one error naming it (through ``read_database`` and ``FaceDatabase.load``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coursekit.face.database import FaceDatabase
from coursekit.face.database_file import read_database, write_database

_META = {"names": ["ada", "bob"], "threshold": 0.5, "embedding_dim": 2, "info": {"model": "m.pt"}}


def test_round_trip_keeps_arrays_and_metadata(tmp_path):
    enc = np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float64)  # stored as float32
    owners = np.array([0, 1, 1], dtype=np.int32)  # stored as int64
    path = write_database(tmp_path / "sub" / "db.npz", enc, owners, _META)
    got_enc, got_owners, meta = read_database(path)
    assert got_enc.dtype == np.float32 and got_owners.dtype == np.int64
    np.testing.assert_array_equal(got_enc, enc.astype(np.float32))
    np.testing.assert_array_equal(got_owners, owners)
    assert meta == {"format": "coursekit-face-database", "version": 1, **_META}


def test_write_is_atomic_and_replaces_only_when_done(tmp_path):
    path = tmp_path / "db.npz"
    write_database(path, np.eye(2, dtype=np.float32), np.array([0, 1]), _META)
    before = path.read_bytes()
    with pytest.raises(TypeError):  # not JSON-serialisable: fails while writing
        write_database(path, np.eye(2, dtype=np.float32), np.array([0, 1]), {**_META, "info": object()})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["db.npz"]  # no temporary file left


def test_unsupported_version(tmp_path):
    path = tmp_path / "db.npz"
    write_database(path, np.eye(2, dtype=np.float32), np.array([0, 1]), {**_META, "version": 7})
    with pytest.raises(ValueError, match="version 7"):
        read_database(path)


@pytest.mark.parametrize("kind", ["text", "truncated", "npy", "foreign_npz", "pickled", "mismatch"])
@pytest.mark.parametrize("reader", [read_database, FaceDatabase.load])
def test_corrupt_or_foreign_files(tmp_path, kind, reader):
    path = tmp_path / "db.npz"
    if kind == "text":
        path.write_text("hello")
    elif kind == "truncated":
        data = write_database(path, np.eye(2, dtype=np.float32), np.array([0, 1]), _META).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif kind == "foreign_npz":
        with open(path, "wb") as f:
            np.savez(f, x=np.zeros(3))
    elif kind == "pickled":
        with open(path, "wb") as f:
            np.savez(f, encodings=np.zeros((1, 2), np.float32), owners=np.zeros(1, np.int64),
                     metadata=np.array([{"format": "coursekit-face-database"}], dtype=object))
    else:
        meta = {"format": "coursekit-face-database", "version": 1, "names": ["a", "b"],
                "threshold": 0.5, "embedding_dim": 2, "info": {}}
        with open(path, "wb") as f:
            np.savez(f, encodings=np.zeros((1, 2), np.float32), owners=np.array([3], np.int64),
                     metadata=np.array(json.dumps(meta)))
    with pytest.raises(ValueError, match="db.npz"):
        reader(path)


@pytest.mark.parametrize("reader", [read_database, FaceDatabase.load])
def test_missing_file(tmp_path, reader):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        reader(tmp_path / "nope.npz")
