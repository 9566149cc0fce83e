"""Face detection and cropping with scikit-image's bundled LBP cascade."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from coursekit.face.detect import FaceBox, crop_face, detect_faces, prepare_face


@pytest.fixture(scope="module")
def astronaut() -> torch.Tensor:
    return torch.from_numpy(data.astronaut().astype(np.float32) / 255).permute(2, 0, 1)  # (3, H, W)


def test_finds_the_astronauts_face(astronaut):
    boxes = detect_faces(astronaut)
    assert boxes and isinstance(boxes[0], FaceBox)
    b = boxes[0]
    # Eileen Collins' face is around rows 70-160, columns 175-265 of the 512 x 512 photo.
    assert 40 <= b.top <= 100 and 150 <= b.left <= 210 and 60 <= b.height <= 130
    areas = [x.height * x.width for x in boxes]
    assert areas == sorted(areas, reverse=True)


def test_crop_face_shape_and_range(astronaut):
    face = crop_face(astronaut, size=48)
    assert face.shape == (1, 48, 48) and face.dtype == torch.float32
    assert 0 <= face.min() and face.max() <= 1
    assert face.std() > 0.05  # a face, not a flat patch
    assert crop_face(astronaut.mean(0, keepdim=True)).shape == (1, 64, 64)  # grayscale input


@pytest.mark.parametrize("kind", ["blank", "texture"])
def test_no_face_is_a_clear_error(kind):
    g = torch.Generator().manual_seed(0)
    img = torch.full((3, 200, 200), 0.5) if kind == "blank" else torch.rand(3, 200, 200, generator=g)
    assert detect_faces(img) == []
    with pytest.raises(ValueError, match="no face found in photo.png"):
        crop_face(img, source="photo.png")


def test_tiny_image_has_no_face():
    assert detect_faces(torch.rand(3, 10, 10)) == []


def test_prepare_face():
    img = torch.zeros(3, 40, 60)
    img[:, :, 10:50] = 1.0  # the centre square is white
    out = prepare_face(img, size=20)
    assert out.shape == (1, 20, 20)
    torch.testing.assert_close(out, torch.ones(1, 20, 20))
    g = torch.rand(1, 64, 64)
    torch.testing.assert_close(prepare_face(g), g)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        detect_faces(torch.zeros(4, 30, 30))
    with pytest.raises(ValueError, match="size"):
        prepare_face(torch.zeros(3, 30, 30), size=0)
