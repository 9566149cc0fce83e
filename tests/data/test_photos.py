"""Content photos from scikit-image / scikit-learn, and their synthetic fallback."""

import pytest
import torch

from coursekit.data import photos as photos_module
from coursekit.data.photos import PHOTOS, ImageSet, sample_photos, synthetic_photo


def test_all_six_photos_offline(no_data):
    photos = sample_photos(48)  # shipped inside the packages: no COURSEKIT_DATA, no network needed
    assert list(photos) == list(PHOTOS) and len(photos) == 6
    assert photos.source == "local" and set(photos.sources.values()) == {"local"}
    for name, image in photos.items():
        assert image.dtype == torch.float32 and image.shape[0] == 3
        assert max(image.shape[1:]) == 48
        assert 0.0 <= image.min() and image.max() <= 1.0 and image.std() > 0.05
        assert photos.titles[name] == PHOTOS[name]["title"]


def test_native_size_and_exact_size():
    native = sample_photos(names=["chelsea", "china"])
    assert native["chelsea"].shape == (3, 300, 451) and native["china"].shape == (3, 427, 640)
    exact = sample_photos((32, 40), names=["astronaut"])
    assert exact["astronaut"].shape == (3, 32, 40)


def test_unknown_name_and_missing_key():
    with pytest.raises(ValueError, match="available: astronaut"):
        sample_photos(names=["lena"])
    with pytest.raises(KeyError, match="available"):
        sample_photos(16, names=["coffee"])["rocket"]


def test_fallback_when_a_package_lacks_a_photo(monkeypatch, capsys):
    def broken():
        raise FileNotFoundError("rocket.jpg")

    monkeypatch.setitem(photos_module._LOADERS, "rocket", broken)
    photos = sample_photos(32, names=["coffee", "rocket"])
    assert photos.sources == {"coffee": "local", "rocket": "synthetic"} and photos.source == "mixed"
    assert "rocket: using the synthetic fallback" in capsys.readouterr().err
    assert max(photos["rocket"].shape[1:]) == 32 and "synthetic" in photos.titles["rocket"]


def test_synthetic_photo_is_deterministic():
    a = synthetic_photo((20, 30), generator=torch.Generator().manual_seed(1))
    b = synthetic_photo((20, 30), generator=torch.Generator().manual_seed(1))
    assert a.shape == (3, 20, 30) and torch.equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0


def test_image_set_is_a_mapping():
    s = ImageSet({"x": torch.zeros(3, 1, 1), "y": torch.ones(3, 1, 1)}, {"x": "local", "y": "local"})
    assert len(s) == 2 and "x" in s and dict(s)["y"].sum() == 3 and s.source == "local"
