"""The offline image collection for the patch search."""

from __future__ import annotations

import os

import pytest
import torch

from coursekit.data.collection import COLLECTION_IMAGES, patch_collection


@pytest.fixture(scope="module")
def real():
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSEKIT_DATA", os.environ.get("COURSEKIT_DATA", "/work/shared/data"))
    mp.setenv("COURSEKIT_OFFLINE", "1")
    try:
        yield patch_collection(60, size=(48, 40), generator=torch.Generator().manual_seed(0))
    finally:
        mp.undo()


def test_shapes_range_and_descriptions(real):
    images, descriptions = real  # unpacks as a pair
    assert images.shape == (60, 3, 48, 40) and images.dtype == torch.float32
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    assert len(descriptions) == 60 and all(" crop rows " in d for d in descriptions)
    assert not real.missing
    used = set(real.sources)
    assert used <= set(COLLECTION_IMAGES)
    kinds = {COLLECTION_IMAGES[n]["kind"] for n in used}
    assert kinds == {"photo", "texture", "art", "face"}
    # two rounds over the 27 slots visit every base image at least once
    assert len(used) == len(COLLECTION_IMAGES)
    assert images.std(dim=(1, 2, 3)).min() > 0.0  # no blank images


def test_deterministic_and_flips(real):
    if real.source != "local":
        pytest.skip("shared data not present")
    again = patch_collection(60, size=(48, 40), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again.images, real.images)
    assert again.descriptions == real.descriptions
    flipped = sum("flipped" in d for d in real.descriptions)
    assert 10 < flipped < 50


def test_offline_fallback_without_data(no_data, capsys):
    images, descriptions = col = patch_collection(40, size=32)
    assert images.shape == (40, 3, 32, 32)
    assert col.sources["olivetti"] == "synthetic" and col.source == "mixed"
    assert "synthetic" in capsys.readouterr().err  # announced by the loaders


def test_errors():
    with pytest.raises(ValueError, match="positive"):
        patch_collection(0)
    with pytest.raises(ValueError, match="min_scale"):
        patch_collection(3, min_scale=0.0)
