"""``coursekit faces`` with ``--model pretrained``: photos, faceless photos, databases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from skimage import data

from coursekit.cli import main
from coursekit.cli.faces import PRETRAINED_ID, PRETRAINED_THRESHOLD
from coursekit.face.database import FaceDatabase


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A 300 x 300 photo of the astronaut (a 96-px face), its mirror image, a brighter copy,
    and a grey photo with no face."""
    root = tmp_path_factory.mktemp("photos")
    crop = data.astronaut()[0:300, 100:400]
    paths = {}
    for name, img in (("eileen", crop), ("mirror", crop[:, ::-1]),
                      ("bright", np.clip(crop.astype(int) + 30, 0, 255).astype(np.uint8)),
                      ("blank", np.full((200, 200, 3), 128, np.uint8))):
        paths[name] = root / f"{name}.png"
        Image.fromarray(np.ascontiguousarray(img)).save(paths[name])
    return {k: str(v) for k, v in paths.items()}


def test_enroll_identify_verify(photos, tmp_path, capsys):
    db = str(tmp_path / "people.npz")
    # pretrained is the default model; the face-less photo is skipped and counted
    assert main(["faces", "enroll", db, "eileen", photos["eileen"], photos["blank"], "--detect",
                 "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "1 skipped" in captured.out and "blank.png" in captured.err
    saved = FaceDatabase.load(db)
    assert saved.model == PRETRAINED_ID and saved.threshold == PRETRAINED_THRESHOLD
    assert saved.encodings_of("eileen").shape == (1, 128)
    assert main(["faces", "identify", db, photos["mirror"], "--detect", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "eileen" and out["skipped"] == 0 and out["distance"] < PRETRAINED_THRESHOLD
    assert main(["faces", "verify", db, "eileen", photos["bright"], "--detect", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["accepted"] is True
    # a photo with no face: nobody identified, counted, exit 1 (not an error)
    assert main(["faces", "identify", db, photos["blank"], "--detect", "--json", "--quiet"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["name"] is None and out["skipped"] == 1


def test_no_face_in_any_photo_is_an_error(photos, tmp_path, capsys):
    assert main(["faces", "enroll", str(tmp_path / "db.npz"), "x", photos["blank"], "--detect",
                 "--quiet"]) == 2
    assert "no face found in any" in capsys.readouterr().err


def test_models_are_not_mixed(photos, tmp_path, capsys):
    from coursekit.face.encoder import FaceEncoder, save_encoder

    model = str(save_encoder(FaceEncoder(8, widths=(4, 4, 4, 4)), tmp_path / "m.pt"))
    db = str(tmp_path / "db.npz")
    assert main(["faces", "enroll", db, "ann", photos["eileen"], "--model", model, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["faces", "enroll", db, "bob", photos["eileen"], "--model", "pretrained",
                 "--quiet"]) == 2
    assert "cannot be mixed" in capsys.readouterr().err
    assert FaceDatabase.load(db).names == ["ann"]


def test_evaluate_counts_skipped_photos(photos, tmp_path, capsys):
    for person, names in (("a", ("eileen", "mirror")), ("b", ("bright", "mirror", "blank"))):
        (tmp_path / "data" / person).mkdir(parents=True)
        for n in names:
            Image.open(photos[n]).save(tmp_path / "data" / person / f"{n}.png")
    assert main(["faces", "evaluate", str(tmp_path / "data"), "--model", "pretrained", "--detect",
                 "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_images"] == 4 and result["skipped"] == 1 and result["num_people"] == 2


def test_jitters(photos, tmp_path, capsys):
    """``--jitters N``: dlib's num_jitters; seeded, so the same photo gives the same distance."""
    db = str(tmp_path / "people.npz")
    assert main(["faces", "enroll", db, "eileen", photos["eileen"], "--detect", "--jitters", "4",
                 "--quiet"]) == 0
    capsys.readouterr()
    distances = []
    for _ in range(2):
        assert main(["faces", "identify", db, photos["eileen"], "--detect", "--jitters", "4",
                     "--json", "--quiet"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["name"] == "eileen"
        distances.append(out["distance"])
    assert distances[0] == distances[1] == 0.0  # the same jitters as at enrolment
    assert main(["faces", "identify", db, photos["eileen"], "--detect", "--json", "--quiet"]) == 0
    assert 0 < json.loads(capsys.readouterr().out)["distance"] < 0.05  # unjittered: close, not equal


def test_pretrained_detects_by_default_and_the_database_remembers(photos, tmp_path, capsys):
    """``enroll`` with the pretrained model finds the face in an ordinary photo without being
    told; the database records it, and ``identify``/``verify`` follow unless told otherwise."""
    db = str(tmp_path / "people.npz")
    assert main(["faces", "enroll", db, "eileen", photos["eileen"], photos["blank"]]) == 0
    captured = capsys.readouterr()
    assert "1 skipped" in captured.out  # the face-less photo: detection was on
    assert "blank.png: skipped (detection is on; if it is already a tightly cropped face, try --no-detect)" \
        in captured.err
    assert FaceDatabase.load(db).info["detect"] is True
    assert main(["faces", "identify", db, photos["eileen"], "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["distance"] == 0.0  # the same face crop as enrolled
    assert main(["faces", "verify", db, "eileen", photos["mirror"], "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["accepted"] is True
    # overriding the record: the whole photo as the face gives another encoding, with a note
    assert main(["faces", "identify", db, photos["eileen"], "--no-detect", "--json"]) in (0, 1)
    captured = capsys.readouterr()
    assert json.loads(captured.out)["distance"] > 0.01
    assert "enrolled with face detection" in captured.err and "not comparable" in captured.err
    # enrolling the other way into the same database is refused, before any photo is read
    assert main(["faces", "enroll", db, "bo", photos["mirror"], "--no-detect", "--quiet"]) == 2
    assert "cannot be compared: pass --detect" in capsys.readouterr().err
    assert FaceDatabase.load(db).names == ["eileen"]


def test_no_detect_is_recorded_too(photos, tmp_path, capsys):
    db = str(tmp_path / "crops.npz")
    assert main(["faces", "enroll", db, "eileen", photos["eileen"], "--no-detect", "--quiet"]) == 0
    assert FaceDatabase.load(db).info["detect"] is False
    capsys.readouterr()
    # the record says no detection: the face-less photo is encoded whole, not skipped
    main(["faces", "identify", db, photos["blank"], "--json", "--quiet"])
    assert json.loads(capsys.readouterr().out)["skipped"] == 0


def test_a_database_without_the_record_holds_whole_photos(photos, tmp_path, capsys):
    """Databases written before the record: whole photos (the old default), so a query of the
    enrolled photo still matches it, and enrolling into it keeps that choice."""
    path = tmp_path / "old.npz"
    assert main(["faces", "enroll", str(path), "eileen", photos["eileen"], "--no-detect", "-q"]) == 0
    old = FaceDatabase.load(path)
    del old.info["detect"]
    old.save(path)
    capsys.readouterr()
    assert main(["faces", "identify", str(path), photos["eileen"], "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["distance"] == 0.0
    assert main(["faces", "enroll", str(path), "bo", photos["bright"], "-q"]) == 0
    assert FaceDatabase.load(path).info["detect"] is False


def test_the_hint_is_in_the_error_when_no_photo_has_a_face(photos, tmp_path, capsys):
    assert main(["faces", "enroll", str(tmp_path / "db.npz"), "x", photos["blank"], "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "nothing to enroll" in err and "add --no-detect" in err and len(err.strip().splitlines()) == 1


def test_verify_checks_the_name_before_reading_the_photo(photos, tmp_path, capsys):
    db = str(tmp_path / "people.npz")
    assert main(["faces", "enroll", db, "eileen", photos["eileen"], "--quiet"]) == 0
    capsys.readouterr()
    assert main(["faces", "verify", db, "nobody", photos["blank"]]) == 2
    err = capsys.readouterr().err
    assert "'nobody' is not in the face database" in err and "no face found" not in err
