"""dlib's face encoder in PyTorch: the real model file, against dlib itself when installed."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from skimage import data, transform

from coursekit.face.pretrained.dlib_format import DlibFormatError
from coursekit.face.pretrained.encoder import load_pretrained_encoder
from coursekit.face.pretrained.model_files import model_path


@pytest.fixture(scope="module")
def encoder():
    return load_pretrained_encoder()


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    """``(6, 150, 150, 3)`` uint8 crops of real photos (scikit-image's astronaut and coffee)."""
    g = np.random.default_rng(0)
    out = []
    for image in (data.astronaut(), data.coffee()):
        for _ in range(3):
            y, x = g.integers(0, 150, 2)
            side = int(g.integers(120, 250))
            crop = image[y:y + side, x:x + side]
            out.append(transform.resize(crop, (150, 150), preserve_range=True).round().astype(np.uint8))
    return np.stack(out)


def _nchw(chips: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(chips).permute(0, 3, 1, 2).contiguous()


def test_matches_dlib(encoder, chips, dlib):
    ref = dlib.face_recognition_model_v1(str(model_path("encoder")))
    expected = np.array(ref.compute_face_descriptor(list(chips)))
    ours = encoder(_nchw(chips)).numpy()
    assert ours.shape == (6, 128)
    assert np.abs(ours - expected).max() <= 1e-4


def test_uint8_and_float_inputs_agree(encoder, chips):
    x = _nchw(chips[:2])
    torch.testing.assert_close(encoder(x), encoder(x.float() / 255), rtol=0, atol=1e-4)


def test_batch_rows_are_independent(encoder, chips):
    x = _nchw(chips[:3])
    torch.testing.assert_close(encoder(x)[1:2], encoder(x[1:2]), rtol=0, atol=1e-5)


def test_follows_the_input_device(encoder, chips, device):
    x = _nchw(chips[:2])
    out = copy.deepcopy(encoder).to(device)(x.to(device))
    assert out.device.type == device.type
    torch.testing.assert_close(out.cpu(), encoder.to("cpu")(x), rtol=0, atol=1e-4)


def test_distance_threshold_from_the_file(encoder):
    assert encoder.distance_threshold == pytest.approx(0.6)


def test_wrong_chip_size(encoder):
    with pytest.raises(ValueError, match=r"\(B, 3, 150, 150\)"):
        encoder(torch.zeros(1, 3, 64, 64))


def test_other_model_file_is_refused(tmp_path):
    with pytest.raises(DlibFormatError, match="loss_mmod network, expected loss_metric"):
        load_pretrained_encoder(model_path("detector"))
    truncated = tmp_path / "resnet.dat"
    truncated.write_bytes(model_path("encoder").read_bytes()[:100_000])
    with pytest.raises(DlibFormatError, match="truncated"):
        load_pretrained_encoder(truncated)
