"""dlib's CNN face detector in PyTorch: pyramid geometry, decoding, and dlib itself when installed."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from skimage import data, transform

from coursekit.face.pretrained.detector import load_face_detector, tiled_pyramid_rects
from coursekit.face.pretrained.dlib_format import DlibFormatError
from coursekit.face.pretrained.model_files import model_path


@pytest.fixture(scope="module")
def detector():
    return load_face_detector()


def _chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)


def _group_photo() -> np.ndarray:
    """A 240 x 320 'group photo': the astronaut's face tiled at four sizes on grey."""
    face = data.astronaut()[40:200, 140:300]
    canvas = np.full((240, 320, 3), 120, np.uint8)
    for (y, x), side in zip([(5, 5), (5, 170), (120, 20), (125, 190)], [110, 140, 100, 105]):
        resized = transform.resize(face, (side, side), preserve_range=True)
        canvas[y:y + side, x:x + side] = resized.astype(np.uint8)
    return canvas


def _iou(a, b) -> float:
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1) * max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_pyramid_levels_shrink_by_five_sixths_and_do_not_overlap():
    rects, h, w = tiled_pyramid_rects(480, 640)
    sizes = [(b - t + 1, r - l + 1) for l, t, r, b in rects]
    assert sizes[0] == (480, 640) and sizes[1] == (400, 533) and sizes[-1][0] >= 5
    for (h1, w1), (h2, w2) in zip(sizes, sizes[1:]):
        assert (h2, w2) == (int(h1 * 5 / 6), int(w1 * 5 / 6))
    for i, a in enumerate(rects):
        assert 11 <= a[0] and a[2] < w - 11 + 1 and 11 <= a[1] and a[3] < h
        for b in rects[i + 1:]:
            assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]


def test_finds_the_astronaut(detector):
    boxes, scores = detector(_chw(data.astronaut()))
    assert boxes.tolist() == [[168.0, 69.0, 263.0, 164.0]]
    assert scores.item() > 1.0


def test_group_photo_and_batch(detector):
    img = _chw(_group_photo())
    boxes, scores = detector(img)
    assert len(boxes) >= 3 and (scores[:-1] >= scores[1:]).all()
    flipped = img.flip(-1)
    batch = detector(torch.stack([img, flipped]))
    assert len(batch) == 2 and torch.equal(batch[0][0], boxes)
    assert torch.equal(batch[1][0], detector(flipped)[0])


def test_no_face(detector):
    boxes, scores = detector(torch.full((3, 100, 120), 0.5))
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_follows_the_image_device(detector, device):
    img = _chw(_group_photo())
    boxes, scores = copy.deepcopy(detector).to(device)(img.to(device))
    assert boxes.device.type == device.type
    ref_boxes, ref_scores = detector.to("cpu")(img)
    assert torch.equal(boxes.cpu(), ref_boxes)
    torch.testing.assert_close(scores.cpu(), ref_scores, rtol=0, atol=1e-3)


def test_upsampling_finds_small_faces(detector):
    small = _chw(data.astronaut()[:256:4, 100:356:4])  # a 24-px face: below the 80-px window
    assert len(detector(small)[0]) == 0
    assert len(detector(small, upsample=2)[0]) == 1


@pytest.mark.parametrize("name", ["astronaut_half_up1", "group", "grey_faces_up1"])
def test_matches_dlib(detector, dlib, name):
    ref = dlib.cnn_face_detection_model_v1(str(model_path("detector")))
    if name == "astronaut_half_up1":
        img, up = np.ascontiguousarray(data.astronaut()[::2, ::2]), 1
    elif name == "group":
        img, up = _group_photo(), 0
    else:  # two grey faces side by side, 64 px each, as in Olivetti
        face = transform.resize(data.astronaut()[30:210, 130:310].mean(2), (64, 64), preserve_range=True)
        img, up = np.repeat(np.hstack([face, face[:, ::-1]]).astype(np.uint8)[..., None], 3, 2), 1
    expected = ref(img, up)
    boxes, scores = detector(_chw(img), upsample=up)
    assert len(boxes) == len(expected) > 0
    for d in expected:
        r = (d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom())
        best = max(range(len(boxes)), key=lambda i: _iou(r, boxes[i].tolist()))
        assert _iou(r, boxes[best].tolist()) >= 0.9
        assert scores[best].item() == pytest.approx(d.confidence, abs=1e-3)


def test_other_model_file_is_refused():
    with pytest.raises(DlibFormatError, match="loss_metric network, expected loss_mmod"):
        load_face_detector(model_path("encoder"))
