"""The five paintings (COURSEKIT_DATA/art) and their procedural stand-ins."""

import pytest
import torch

from coursekit.data.art import ARTWORKS, artworks
from coursekit.data.procedural_art import SWIRL_PALETTES, kandinsky_shapes, stained_glass, starry_swirls
from coursekit.data.sources import local_file

needs_art = pytest.mark.skipif(local_file("art/starry_night.jpg") is None,
                               reason="COURSEKIT_DATA/art is not available")


@needs_art
def test_real_paintings():
    art = artworks(64)
    assert list(art) == list(ARTWORKS) and art.source == "local"
    for name, image in art.items():
        w, h = (int(v) for v in ARTWORKS[name]["size"].split("x"))
        assert image.shape == (3, round(h * 64 / max(h, w)), round(w * 64 / max(h, w)))
        assert 0.0 <= image.min() and image.max() <= 1.0 and image.std() > 0.05
    assert art.titles["starry_night"] == "The Starry Night (Vincent van Gogh, 1889)"
    assert artworks(names=["the_scream"])["the_scream"].shape == (3, 512, 402)


def test_procedural_stand_ins_when_offline(no_data, capsys):
    art = artworks(48)
    assert list(art) == list(ARTWORKS) and art.source == "synthetic"
    err = capsys.readouterr().err
    assert err.count("using the synthetic fallback") == 5 and "art/starry_night.jpg" in err
    for name, image in art.items():
        w, h = (int(v) for v in ARTWORKS[name]["size"].split("x"))
        assert max(image.shape[1:]) == 48 and (image.shape[1] > image.shape[2]) == (h > w)
        assert 0.0 <= image.min() and image.max() <= 1.0 and image.std() > 0.05
        assert "stand-in for" in art.titles[name]
    assert artworks((20, 24), names=["great_wave"])["great_wave"].shape == (3, 20, 24)


def test_stand_ins_are_seeded(no_data):
    a = artworks(32, names=["composition_vii"], seed=1)["composition_vii"]
    b = artworks(32, names=["composition_vii"], seed=1)["composition_vii"]
    c = artworks(32, names=["composition_vii"], seed=2)["composition_vii"]
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("fn", [starry_swirls, kandinsky_shapes, stained_glass])
def test_procedural_art(fn):
    x = fn((40, 56), generator=torch.Generator().manual_seed(0))
    y = fn((40, 56), generator=torch.Generator().manual_seed(0))
    assert x.shape == (3, 40, 56) and x.dtype == torch.float32 and torch.equal(x, y)
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.std() > 0.05
    assert fn(64).shape == (3, 48, 64)  # an int is the longer side of a 4:3 landscape


def test_swirl_palettes_differ():
    means = [starry_swirls(32, palette=p).mean((1, 2)) for p in SWIRL_PALETTES]
    assert all((a - b).abs().max() > 0.05 for i, a in enumerate(means) for b in means[i + 1:])
    with pytest.raises(ValueError, match="night"):
        starry_swirls(32, palette="sunset")


def test_unknown_artwork():
    with pytest.raises(ValueError, match="available: starry_night"):
        artworks(names=["mona_lisa"])
