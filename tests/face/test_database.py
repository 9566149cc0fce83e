"""FaceDatabase: verify / identify against brute force, round trips (the file format itself:
test_database_file.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from coursekit.face.database import FaceDatabase
from coursekit.face.encoder import FaceEncoder


def _db(device="cpu", threshold=0.5):
    g = torch.Generator().manual_seed(0)
    db = FaceDatabase(threshold=threshold)
    enc = {n: torch.nn.functional.normalize(torch.randn(k, 8, generator=g), dim=1).to(device)
           for n, k in [("ada", 1), ("bob", 3), ("cy", 2)]}
    for n, z in enc.items():
        db.enroll(n, z)
    return db, enc


def test_identify_and_verify_match_brute_force(device):
    db, enc = _db(device)
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        q = torch.nn.functional.normalize(torch.randn(8, generator=g), dim=0).to(device)
        ref = {n: min(((q - z) ** 2).sum().item() for z in zs) for n, zs in enc.items()}
        best = min(ref, key=ref.get)
        name, d = db.identify(q)
        assert d == pytest.approx(ref[best], abs=1e-5)
        assert name == (best if ref[best] <= 0.5 else None)
        for n in enc:
            dist, ok = db.verify(q, n, threshold=1.0)
            assert dist == pytest.approx(ref[n], abs=1e-5) and ok == (dist <= 1.0)
        torch.testing.assert_close(db.distances(q).cpu(), torch.tensor([ref[n] for n in db.names]))


def test_threshold_is_inclusive():
    db = FaceDatabase(threshold=1.0)
    db.enroll("a", torch.tensor([0.0, 0.0]))
    assert db.verify(torch.tensor([1.0, 0.0]), "a") == (1.0, True)
    assert db.verify(torch.tensor([1.0, 0.0]), "a", threshold=0.99) == (1.0, False)
    assert db.identify(torch.tensor([0.0, 2.0])) == (None, 4.0)


def test_new_person_without_retraining():
    db, _ = _db()
    z = torch.nn.functional.normalize(torch.ones(8), dim=0)
    assert db.identify(z)[0] is None or db.identify(z)[0] != "dee"
    db.enroll("dee", z)
    assert db.identify(z) == ("dee", 0.0)
    assert db.names == ["ada", "bob", "cy", "dee"] and len(db) == 4 and "dee" in db
    db.enroll("dee", -z)  # a second encoding of the same person
    assert db.encodings_of("dee").shape == (2, 8) and len(db) == 4
    db.remove("bob")
    assert db.names == ["ada", "cy", "dee"]
    assert db.identify(-z) == ("dee", 0.0)


def test_images_go_through_the_encoder():
    enc = FaceEncoder(embedding_dim=8, widths=(4, 4, 4, 4)).eval()
    db = FaceDatabase(enc, threshold=0.1)
    g = torch.Generator().manual_seed(0)
    faces = torch.rand(3, 1, 32, 32, generator=g)
    db.enroll("ada", faces[0])  # one image (C, H, W)
    db.enroll("bob", faces[1:])  # a batch (K, C, H, W)
    assert db.identify(faces[0]) == ("ada", pytest.approx(0.0, abs=1e-6))
    assert db.verify(faces[2], "bob")[0] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="no encoder"):
        FaceDatabase(threshold=0.1).enroll("x", faces[0])


def test_round_trip(tmp_path):
    db, _ = _db()
    db.info["model"] = "m.pt"
    path = db.save(tmp_path / "sub" / "faces.npz")
    back = FaceDatabase.load(path)
    assert back.names == db.names and back.threshold == db.threshold and back.info == {"model": "m.pt"}
    q = torch.randn(8)
    torch.testing.assert_close(back.distances(q), db.distances(q))
    for n in db.names:
        torch.testing.assert_close(back.encodings_of(n), db.encodings_of(n))
    with np.load(path, allow_pickle=False) as z:  # plain arrays, no pickle
        assert set(z.files) == {"encodings", "owners", "metadata"}
        assert json.loads(str(z["metadata"][()]))["format"] == "coursekit-face-database"
    assert [p.name for p in path.parent.iterdir()] == ["faces.npz"]  # no temporary files left


def test_empty_round_trip(tmp_path):
    db = FaceDatabase(threshold=0.3)
    back = FaceDatabase.load(db.save(tmp_path / "e.npz"))
    assert back.names == [] and back.threshold == 0.3
    with pytest.raises(ValueError, match="empty"):
        back.identify(torch.zeros(4))


def test_missing_person_is_named():
    db, _ = _db()
    with pytest.raises(ValueError, match="'zed' is not in the face database"):
        db.verify(torch.zeros(8), "zed")
    with pytest.raises(ValueError, match="zed"):
        db.remove("zed")


def test_bad_inputs():
    db, _ = _db()
    with pytest.raises(ValueError, match="size 5"):
        db.enroll("x", torch.zeros(5))
    with pytest.raises(ValueError, match="non-empty string"):
        db.enroll("", torch.zeros(8))
    with pytest.raises(ValueError, match="NaN"):
        db.enroll("x", torch.full((8,), float("nan")))
    with pytest.raises(ValueError, match="shape"):
        db.identify(torch.zeros(1, 1, 1, 1, 8))
    with pytest.raises(ValueError, match="one query"):
        db.identify(torch.zeros(2, 8))
    with pytest.raises(ValueError, match="threshold"):
        FaceDatabase(threshold=-1)
    with pytest.raises(ValueError, match="threshold"):
        db.verify(torch.zeros(8), "ada", threshold=float("nan"))
    assert "bob" not in db.names or db.names.count("bob") == 1
