"""Face loaders: Olivetti (local copy when COURSEKIT_DATA has it), the synthetic fallback, the
folder loader's bad inputs, and identity splits."""

import numpy as np
import pytest
import torch
from PIL import Image

from coursekit.data import FaceDataset, load_face_folder, load_olivetti, split_identities, synthetic_faces
from coursekit.data.sources import local_file


def test_olivetti_local():
    if local_file("scikit_learn_data/olivetti_py3.pkz") is None:
        pytest.skip("COURSEKIT_DATA does not hold scikit_learn_data/olivetti_py3.pkz")
    ds = load_olivetti()
    assert ds.source == "local"
    assert ds.images.shape == (400, 1, 64, 64) and ds.images.dtype == torch.float32
    assert ds.num_people == 40 and ds.names[0] == "s01"
    assert torch.equal(torch.bincount(ds.labels), torch.full((40,), 10))
    assert 0 <= float(ds.images.min()) and float(ds.images.max()) <= 1


def test_olivetti_falls_back_to_synthetic(no_data, capsys):
    ds = load_olivetti()
    assert ds.source == "synthetic"
    assert ds.images.shape == (400, 1, 64, 64) and ds.num_people == 40
    assert "olivetti: using the synthetic fallback" in capsys.readouterr().err


def test_synthetic_faces_identities_differ_more_than_images():
    ds = synthetic_faces(10, 6, 32, generator=torch.Generator().manual_seed(0))
    assert ds.labels.tolist() == [i // 6 for i in range(60)]
    x = ds.images.flatten(1)
    d = torch.cdist(x, x)
    same = ds.labels[:, None] == ds.labels[None, :]
    off = ~torch.eye(60, dtype=torch.bool)
    # same-person images are closer on average, but not trivially: images vary
    assert d[same & off].mean() < d[~same].mean()
    assert d[same & off].min() > 0
    again = synthetic_faces(10, 6, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(ds.images, again.images)
    with pytest.raises(ValueError):
        synthetic_faces(0, 3)


def test_split_identities_disjoint_and_relabelled():
    ds = synthetic_faces(8, 2, 16, generator=torch.Generator().manual_seed(0))
    train, test = split_identities(ds, 3, generator=torch.Generator().manual_seed(1))
    assert (train.num_people, test.num_people) == (5, 3)
    assert len(train) + len(test) == len(ds)
    assert not set(train.names) & set(test.names)
    for part in (train, test):
        assert sorted(part.labels.unique().tolist()) == list(range(part.num_people))
        for i in range(len(part)):  # every image keeps its person's name
            orig = (ds.images == part.images[i]).flatten(1).all(1).nonzero()[0, 0]
            assert ds.names[ds.labels[orig]] == part.names[part.labels[i]]
    with pytest.raises(ValueError, match="num_test_people"):
        split_identities(ds, 8)


def test_dataset_validation_and_subset():
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        FaceDataset(torch.zeros(2, 3, 8, 8), torch.zeros(2, dtype=torch.long), ["a"], "local")
    with pytest.raises(ValueError, match="labels"):
        FaceDataset(torch.zeros(2, 1, 8, 8), torch.tensor([0, 1]), ["a"], "local")
    ds = synthetic_faces(3, 2, 16)
    sub = ds.subset(torch.tensor([4, 5]))
    assert sub.labels.tolist() == [2, 2] and sub.num_people == 3
    sub = ds.subset([4, 5], relabel=True)
    assert sub.labels.tolist() == [0, 0] and sub.names == [ds.names[2]]


def _save(path, size=(30, 40), mode="L", value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = value if mode == "L" else (value, value // 2, 200)
    Image.new(mode, size, colour).save(path)


def test_folder_mixed_sizes_colour_and_non_images(tmp_path):
    _save(tmp_path / "alice" / "1.png", (30, 40))
    _save(tmp_path / "alice" / "2.jpg", (250, 250), mode="RGB")
    _save(tmp_path / "bob" / "a.pgm", (92, 112))
    (tmp_path / "bob" / "notes.txt").write_text("not a face")
    (tmp_path / "README.md").write_text("loose file")
    (tmp_path / ".hidden").mkdir()
    ds = load_face_folder(tmp_path, size=32)
    assert ds.images.shape == (3, 1, 32, 32)
    assert ds.names == ["alice", "bob"] and ds.labels.tolist() == [0, 0, 1]
    assert sorted(ds.skipped) == ["README.md", "bob/notes.txt"]
    assert ds.source == "local"
    grey = ds.images[2].mean().item()
    assert abs(grey - 100 / 255) < 0.01


def test_folder_one_image_per_person(tmp_path):
    for name in ("a", "b", "c"):
        _save(tmp_path / name / "only.png")
    ds = load_face_folder(tmp_path)
    assert ds.images.shape == (3, 1, 64, 64) and ds.num_people == 3


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_face_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no person folders"):
        load_face_folder(tmp_path)  # empty folder
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(ValueError, match="not a folder"):
        load_face_folder(tmp_path / "x.png")
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match="carol"):
        load_face_folder(tmp_path)


def test_folder_corrupt_image_names_the_file(tmp_path):
    _save(tmp_path / "dave" / "ok.png")
    (tmp_path / "dave" / "broken.jpg").write_bytes(np.arange(50, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match="broken.jpg"):
        load_face_folder(tmp_path)
