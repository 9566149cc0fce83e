"""``coursekit faces`` end to end on a tiny generated image folder (1 epoch, CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from coursekit.cli import main
from coursekit.data import synthetic_faces


def _write_folder(root, people=4, per_person=3, size=40, seed=0):
    ds = synthetic_faces(people, per_person, size, generator=torch.Generator().manual_seed(seed))
    for k, (img, label) in enumerate(zip(ds.images, ds.labels.tolist())):
        d = root / f"person_{label}"
        d.mkdir(parents=True, exist_ok=True)
        arr = (img[0].numpy() * 255).round().astype(np.uint8)
        Image.fromarray(arr).save(d / f"{k:03d}.png")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    folder = _write_folder(root / "data")
    model = root / "model.pt"
    assert main(["faces", "train", str(folder), "--out", str(model), "--epochs", "1",
                 "--device", "cpu", "--quiet"]) == 0
    return folder, model


def test_train_writes_a_model(trained):
    from coursekit.face.encoder import load_encoder

    _, model = trained
    enc = load_encoder(model)
    assert enc(torch.rand(2, 1, 64, 64)).shape == (2, 128)


def test_evaluate_json(trained, capsys):
    folder, model = trained
    capsys.readouterr()
    assert main(["faces", "evaluate", str(folder), "--model", str(model), "--json", "--quiet"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    result = json.loads(out[0])
    assert {"one_shot_accuracy", "roc_auc", "eer", "threshold"} <= set(result)
    assert 0 <= result["one_shot_accuracy"] <= 1 and 0 <= result["roc_auc"] <= 1
    assert 0 <= result["eer"] <= 1 and result["threshold"] >= 0
    assert result["n_way"] == 4 and result["repeats"] == 20


def test_evaluate_text(trained, capsys):
    folder, model = trained
    assert main(["faces", "evaluate", str(folder), "--model", str(model), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "one-shot 4-way accuracy" in out and "ROC AUC" in out and "threshold" in out


def _enroll_ann_and_bo(folder, model, db, *threshold):
    """ann with two photos of person_0, bo with one of person_1; returns both people's photos."""
    a = sorted((folder / "person_0").iterdir())
    b = sorted((folder / "person_1").iterdir())
    assert main(["faces", "enroll", str(db), "ann", str(a[0]), str(a[1]), "--model", str(model),
                 *threshold, "--quiet"]) == 0
    assert main(["faces", "enroll", str(db), "bo", str(b[0]), "--model", str(model), "--quiet"]) == 0
    return a, b


def test_enroll_identify_verify(trained, tmp_path, capsys):
    folder, model = trained
    db = tmp_path / "people.npz"
    a, b = _enroll_ann_and_bo(folder, model, db, "--threshold", "4.0")
    capsys.readouterr()
    # the model path is recorded in the database: no --model needed
    assert main(["faces", "identify", str(db), str(a[0]), "--json", "--quiet"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["name"] == "ann" and r["distance"] == pytest.approx(0.0, abs=1e-5)
    assert main(["faces", "identify", str(db), str(a[2]), "--threshold", "0", "--quiet"]) == 1
    assert "unknown person" in capsys.readouterr().out
    assert main(["faces", "verify", str(db), "bo", str(b[0]), "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("accepted: bo")


def test_unknown_person_and_other_model(trained, tmp_path, capsys):
    folder, model = trained
    db = tmp_path / "people.npz"
    img = str(next((folder / "person_0").iterdir()))
    assert main(["faces", "enroll", str(db), "ann", img, "--model", str(model), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["faces", "verify", str(db), "zed", img, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("coursekit: error:") and "'zed' is not in the face database" in err
    other = tmp_path / "other.pt"
    from coursekit.face.encoder import FaceEncoder, save_encoder

    save_encoder(FaceEncoder(embedding_dim=8, widths=(4, 4, 4, 4)), other)
    assert main(["faces", "identify", str(db), img, "--model", str(other), "--quiet"]) == 2
    assert "not the model" in capsys.readouterr().err


def test_list_and_remove(trained, tmp_path, capsys):
    folder, model = trained
    db = tmp_path / "people.npz"
    a, b = _enroll_ann_and_bo(folder, model, db)
    capsys.readouterr()
    assert main(["faces", "list", str(db), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["people"] == {"ann": 2, "bo": 1} and r["detect"] is False
    assert r["model"] == str(model.resolve()) and len(r["model_sha256"]) == 64
    assert r["threshold"] == pytest.approx(1.0) and r["embedding_dim"] == 128
    assert main(["faces", "list", str(db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"database {db}: 2 people, 3 photo(s), 128-d encodings"
    assert out[2] == "faces: without face detection (whole photos)"
    assert out[-2:] == ["  ann  2 photo(s)", "  bo   1 photo(s)"]
    before = db.read_bytes()
    assert main(["faces", "remove", str(db), "zed"]) == 2  # an unknown name changes nothing
    assert db.read_bytes() == before
    capsys.readouterr()
    assert main(["faces", "remove", str(db), "ann"]) == 0
    assert capsys.readouterr().out.strip() == f"removed ann (2 photo(s)); {db} holds 1 people"
    # ann is gone: her photo is now nearest bo or unknown, never ann
    assert main(["faces", "identify", str(db), str(a[0]), "--json", "--quiet"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["name"] != "ann"
    assert main(["faces", "verify", str(db), "ann", str(a[0]), "--quiet"]) == 2
    # the database keeps its model and detection record for the next enrolment
    assert main(["faces", "remove", str(db), "bo"]) == 0
    capsys.readouterr()
    assert main(["faces", "list", str(db), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["people"] == {} and r["detect"] is False and r["model"] == str(model.resolve())
    assert main(["faces", "enroll", str(db), "cy", str(b[1]), "--quiet"]) == 0  # model from db


def _errors(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("coursekit: error:") and len(err.splitlines()) == 1
    return err


def test_bad_inputs(trained, tmp_path, capsys):
    folder, model = trained
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no person folders" in _errors(
        ["faces", "train", str(empty), "--out", str(tmp_path / "m.pt"), "--quiet"], capsys)
    assert "not found" in _errors(
        ["faces", "evaluate", str(tmp_path / "nowhere"), "--model", str(model)], capsys)
    single = _write_folder(tmp_path / "single", people=3, per_person=1)
    assert "two or more images" in _errors(
        ["faces", "evaluate", str(single), "--model", str(model), "--quiet"], capsys)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert "notes.png" in _errors(
        ["faces", "enroll", str(tmp_path / "db.npz"), "x", str(text), "--model", str(model)], capsys)
    assert "model file not found" in _errors(
        ["faces", "enroll", str(tmp_path / "db.npz"), "x", str(text), "--model",
         str(tmp_path / "none.pt")], capsys)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04garbage")
    assert "corrupt.npz" in _errors(["faces", "identify", str(corrupt), str(text)], capsys)
    assert "--repeats" in _errors(
        ["faces", "evaluate", str(folder), "--model", str(model), "--repeats", "3"], capsys)


def test_non_image_files_are_skipped(trained, tmp_path, capsys):
    folder, model = trained
    mixed = _write_folder(tmp_path / "mixed")
    (mixed / "person_0" / "README.txt").write_text("hello")
    (mixed / "notes.txt").write_text("hello")
    assert main(["faces", "evaluate", str(mixed), "--model", str(model), "--json"]) == 0
    captured = capsys.readouterr()
    assert "skipped 2 file(s)" in captured.err
    assert json.loads(captured.out)["num_images"] == 12


def test_detect_crops_faces(trained, tmp_path, capsys):
    _, model = trained
    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), (128, 128, 128)).save(blank)
    db = tmp_path / "db.npz"
    assert main(["faces", "enroll", str(db), "eileen", str(photo), "--model", str(model),
                 "--detect", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["faces", "identify", str(db), str(photo), "--detect", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "eileen"
    # a photo without a face is skipped and counted, not an error: nobody identified (exit 1)
    assert main(["faces", "identify", str(db), str(blank), "--detect", "--json", "--quiet"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["name"] is None and out["skipped"] == 1


def test_detect_on_a_data_folder(trained, tmp_path, capsys):
    _, model = trained
    photo = Image.fromarray(data.astronaut())
    for person, sizes in (("a", (512, 400)), ("b", (450, 380))):
        (tmp_path / "photos" / person).mkdir(parents=True)
        for s in sizes:
            photo.resize((s, s)).save(tmp_path / "photos" / person / f"{s}.jpg")
    assert main(["faces", "evaluate", str(tmp_path / "photos"), "--model", str(model), "--detect",
                 "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["num_images"] == 4
    Image.new("RGB", (200, 200), (128, 128, 128)).save(tmp_path / "photos" / "b" / "blank.png")
    assert main(["faces", "evaluate", str(tmp_path / "photos"), "--model", str(model), "--detect",
                 "--json"]) == 0  # the face-less photo is skipped with a note and counted
    captured = capsys.readouterr()
    assert "blank.png" in captured.err
    result = json.loads(captured.out)
    assert result["num_images"] == 4 and result["skipped"] == 1
