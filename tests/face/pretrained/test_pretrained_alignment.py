"""Face chips as dlib's get_face_chip cuts them: geometry, pixels, and dlib itself when installed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage import data, transform

from coursekit.face.pretrained.alignment import (
    FIVE_POINT_TEMPLATE,
    extract_face_chips,
    face_chip_details,
    face_chips,
)
from coursekit.face.pretrained.landmarks import load_shape_predictor
from coursekit.face.pretrained.model_files import model_path

TEMPLATE = torch.tensor(FIVE_POINT_TEMPLATE, dtype=torch.float64)


def test_template_points_give_an_upright_chip():
    # landmarks exactly at the template placed in a 200-px square at (30, 40): no rotation, and
    # the chip (padding 0.25: 1.5 x the square) is centred on the square
    pts = (TEMPLATE * 200 + torch.tensor([30.0, 40.0]))[None]
    rect, angle = face_chip_details(pts, size=150, padding=0.25)
    assert abs(angle.item()) < 1e-9
    left, top, right, bottom = rect[0].tolist()
    assert (right + left) / 2 == pytest.approx(130.0) and (bottom + top) / 2 == pytest.approx(140.0)
    assert right - left + 1 == pytest.approx(300.0)


def test_rotated_landmarks_give_the_angle():
    theta = math.radians(20)
    rot = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]],
                       dtype=torch.float64)
    pts = (TEMPLATE * 100) @ rot.T + 50
    rect, angle = face_chip_details(pts[None])
    assert angle.item() == pytest.approx(theta)


def test_the_chip_maps_landmarks_to_the_template():
    # draw five dots at rotated landmark positions: they must appear at the template positions
    theta = math.radians(-15)
    rot = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]],
                       dtype=torch.float64)
    pts = (TEMPLATE * 120) @ rot.T + torch.tensor([90.0, 80.0])
    img = torch.zeros(3, 300, 300, dtype=torch.uint8)
    for x, y in pts.round().long().tolist():
        img[:, y - 2:y + 3, x - 2:x + 3] = 255
    chip = face_chips(img, pts[None])[0, 0].double()
    expected = (0.25 + TEMPLATE) / 1.5 * 150
    for x, y in expected.tolist():
        window = chip[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4]
        assert window.max() > 100


def test_plain_crop_when_no_rotation_or_scaling():
    img = torch.randint(0, 256, (3, 40, 50), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    chip = extract_face_chips(img, torch.tensor([[-2.0, 3.0, 7.0, 12.0]]), torch.zeros(1), size=10)[0]
    assert chip[:, :, :2].eq(0).all()
    assert torch.equal(chip[:, :, 2:], img[:, 3:13, 0:8])


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, 5, 2\)"):
        face_chip_details(torch.zeros(1, 68, 2))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        extract_face_chips(torch.zeros(3, 8, 8), torch.zeros(2, 3), torch.zeros(2))


def _rotated_template(scale: float, angle: float, shift: tuple[float, float]) -> torch.Tensor:
    """(1, 5, 2) template points turned by ``angle`` and scaled: a chip sampled off the pixel grid."""
    c, s = math.cos(angle), math.sin(angle)
    rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    return (scale * TEMPLATE @ rot.T + torch.tensor(shift, dtype=torch.float64))[None]


def test_follows_the_image_device(device):
    # a generic pose, not the template at scale 1: there every sample falls on a whole pixel, and
    # the last bit of face_chip_details' sums (another order on another device) decides which
    # side of it ``trunc`` takes (a rect moved by 1e-13 changes pixels by 1; a CPU-CUDA test
    # cannot demand that bit)
    pts = _rotated_template(90.0, 0.3, (40.0, 25.0))
    img = torch.randint(0, 256, (3, 160, 150), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    out = face_chips(img.to(device), pts.to(device))
    assert out.device.type == device.type and out.dtype == torch.uint8
    ref = face_chips(img, pts)
    diff = (out.cpu().int() - ref.int()).abs()
    # whole-number truncation of the bilinear value: a rounding difference may move a pixel by 1
    assert int(diff.max()) <= 1 and float((diff > 0).float().mean()) < 1e-3


def test_template_at_scale_one_samples_on_the_pixel_grid():
    """Why the device test uses a generic pose: here a 1e-13 change of the rectangle, far below
    float64 rounding of its sums, changes the chip."""
    pts = (TEMPLATE * 100 + 20)[None]
    img = torch.randint(0, 256, (3, 160, 150), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    rects, angles = face_chip_details(pts)
    ref = extract_face_chips(img, rects, angles)
    assert not torch.equal(extract_face_chips(img, rects + 1e-13, angles), ref)
    generic = _rotated_template(90.0, 0.3, (40.0, 25.0))
    rects, angles = face_chip_details(generic)
    assert torch.equal(extract_face_chips(img, rects + 1e-13, angles), extract_face_chips(img, rects, angles))


@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])  # 3.0: the chip is cut from a pyramid level
def test_matches_dlib(dlib, scale):
    img = data.astronaut()
    if scale != 1:
        img = transform.rescale(img, scale, channel_axis=2, preserve_range=True).astype(np.uint8)
    box = [int(v * scale) for v in (168, 69, 263, 164)]
    shape = dlib.shape_predictor(str(model_path("landmarks")))(img, dlib.rectangle(*box))
    expected = dlib.get_face_chip_details(shape, 150, 0.25)
    pts = torch.tensor([[(p.x, p.y) for p in shape.parts()]], dtype=torch.float64)
    rect, angle = face_chip_details(pts)
    r = expected.rect
    np.testing.assert_allclose(rect[0].numpy(), [r.left(), r.top(), r.right(), r.bottom()], atol=1e-6)
    assert angle.item() == pytest.approx(expected.angle, abs=1e-9)
    chip = face_chips(torch.from_numpy(img).permute(2, 0, 1), pts)[0].permute(1, 2, 0).numpy()
    diff = np.abs(chip.astype(int) - dlib.get_face_chip(img, shape, 150, 0.25).astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_predictor_and_chips_end_to_end_equal_dlib(dlib):
    img = data.astronaut()
    box = (168, 69, 263, 164)
    shape = dlib.shape_predictor(str(model_path("landmarks")))(img, dlib.rectangle(*box))
    pts = load_shape_predictor()(torch.from_numpy(img).permute(2, 0, 1), torch.tensor([box]))
    chip = face_chips(torch.from_numpy(img).permute(2, 0, 1), pts)[0].permute(1, 2, 0).numpy()
    assert np.array_equal(chip, dlib.get_face_chip(img, shape, 150, 0.25))
