"""dlib's 5-point shape predictor with tensor ops: the real model, against dlib when installed."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from skimage import data, transform

from coursekit.face.pretrained.dlib_format import DlibFormatError
from coursekit.face.pretrained.landmarks import load_shape_predictor, similarity_transform, to_uint8_image
from coursekit.face.pretrained.model_files import model_path

ASTRONAUT_FACE = (168, 69, 263, 164)  # dlib's CNN detector's box: left, top, right, bottom


@pytest.fixture(scope="module")
def predictor():
    return load_shape_predictor()


def _cases():
    """(image HxWx3 uint8, box) pairs: the astronaut's face at three scales with shifted boxes,
    and an Olivetti-like grey face taken as a whole frame."""
    g = np.random.default_rng(0)
    astro = data.astronaut()
    out = []
    for scale in (0.6, 1.0, 2.0):
        img = astro if scale == 1 else transform.rescale(
            astro, scale, channel_axis=2, preserve_range=True).astype(np.uint8)
        base = np.array(ASTRONAUT_FACE) * scale
        for _ in range(3):
            out.append((img, (base + g.integers(-6, 7, 4)).astype(int).tolist()))
    grey = (data.camera()[::4, ::4])  # a grey image, whole frame as the box (no face: still defined)
    out.append((np.repeat(grey[..., None], 3, 2), [0, 0, grey.shape[1] - 1, grey.shape[0] - 1]))
    return out


def test_matches_dlib(predictor, dlib):
    ref = dlib.shape_predictor(str(model_path("landmarks")))
    for img, box in _cases():
        expected = np.array([(p.x, p.y) for p in ref(img, dlib.rectangle(*box)).parts()])
        ours = predictor(torch.from_numpy(img).permute(2, 0, 1), torch.tensor([box]))[0].numpy()
        assert np.abs(ours - expected).max() <= 0.5, box


def test_batched_equals_one_by_one(predictor):
    img, box = _cases()[1]
    x = torch.from_numpy(img).permute(2, 0, 1)
    boxes = torch.tensor([box, [10, 20, 200, 210], box])
    batch = predictor(x, boxes)
    assert batch.shape == (3, 5, 2)
    for i in range(3):
        torch.testing.assert_close(batch[i], predictor(x, boxes[i:i + 1])[0])


def test_points_land_on_the_astronauts_face(predictor):
    x = torch.from_numpy(data.astronaut()).permute(2, 0, 1)
    pts = predictor(x, torch.tensor([ASTRONAUT_FACE]))[0]
    left, top, right, bottom = ASTRONAUT_FACE
    assert ((pts[:, 0] >= left) & (pts[:, 0] <= right) & (pts[:, 1] >= top) & (pts[:, 1] <= bottom)).all()
    assert pts[0, 0] > pts[1, 0] > pts[3, 0] > pts[2, 0]  # eye corners, right to left in the image
    assert pts[4, 1] > pts[:4, 1].max()  # the nose below the eyes


def test_float_image_equals_uint8(predictor):
    img, box = _cases()[0]
    x = torch.from_numpy(img).permute(2, 0, 1)
    torch.testing.assert_close(predictor(x.float() / 255, torch.tensor([box])),
                               predictor(x, torch.tensor([box])))


def test_follows_the_image_device(predictor, device):
    img, box = _cases()[2]
    x = torch.from_numpy(img).permute(2, 0, 1)
    out = copy.deepcopy(predictor).to(device)(x.to(device), torch.tensor([box]))
    assert out.device.type == device.type
    torch.testing.assert_close(out.cpu(), predictor.to("cpu")(x, torch.tensor([box])))


def test_similarity_transform_recovers_rotation_scale_shift():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(4, 7, 2, generator=g, dtype=torch.float64)
    theta, s = 0.3, 1.7
    c, si = np.cos(theta), np.sin(theta)
    rot = s * torch.tensor([[c, -si], [si, c]], dtype=torch.float64)
    dst = src @ rot.T + torch.tensor([5.0, -2.0], dtype=torch.float64)
    m, t = similarity_transform(src, dst)
    torch.testing.assert_close(m, rot.expand(4, 2, 2))
    torch.testing.assert_close(t, torch.tensor([[5.0, -2.0]] * 4, dtype=torch.float64))


def test_to_uint8_image_checks_shape():
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        to_uint8_image(torch.zeros(4, 5, 5))


def test_truncated_and_foreign_files(tmp_path):
    cut = tmp_path / "sp.dat"
    cut.write_bytes(model_path("landmarks").read_bytes()[:1_000_001])
    with pytest.raises(DlibFormatError):
        load_shape_predictor(cut)
    with pytest.raises(DlibFormatError, match="shape predictor"):
        load_shape_predictor(model_path("detector"))


def test_small_grey_faces_whole_frame_match_dlib(predictor, dlib):
    """64-px grey faces with the whole frame as the box (Olivetti-like): the 500 trees of a
    level must be summed one by one in float32, as dlib does, or a feature pixel can land on
    the neighbouring pixel and change a split."""
    from coursekit.data import load_olivetti

    faces = load_olivetti()
    ref = dlib.shape_predictor(str(model_path("landmarks")))
    for img in faces.images[::25]:  # 16 faces, 2 per person of 8 people (or synthetic ones)
        a = (img[0].numpy() * 255).round().astype(np.uint8)
        rgb = np.ascontiguousarray(np.repeat(a[..., None], 3, 2))
        expected = np.array([(p.x, p.y) for p in ref(rgb, dlib.rectangle(0, 0, 63, 63)).parts()])
        ours = predictor(img, torch.tensor([[0, 0, 63, 63]]))[0].numpy()
        assert np.array_equal(ours, expected)
