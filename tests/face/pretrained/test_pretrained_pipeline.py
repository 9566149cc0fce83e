"""The whole pretrained pipeline on photos, against dlib's (``face_recognition``'s) when installed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from coursekit.face.pretrained.model_files import model_path
from coursekit.face.pretrained.pipeline import PretrainedFacePipeline, load_pretrained_pipeline


@pytest.fixture(scope="module")
def pipe():
    return load_pretrained_pipeline()


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    return torch.from_numpy(data.astronaut()).permute(2, 0, 1)


def test_photo_equals_dlib_end_to_end(pipe, photo, dlib):
    img = data.astronaut()
    rect = dlib.cnn_face_detection_model_v1(str(model_path("detector")))(img)[0].rect
    shape = dlib.shape_predictor(str(model_path("landmarks")))(img, rect)
    expected = np.array(dlib.face_recognition_model_v1(str(model_path("encoder")))
                        .compute_face_descriptor(img, shape))
    faces = pipe.encode_faces(photo)
    assert faces.boxes.tolist() == [[rect.left(), rect.top(), rect.right(), rect.bottom()]]
    assert np.abs(faces.encodings[0].numpy() - expected).max() <= 1e-4


def test_cropped_grey_faces_equal_dlib(pipe, dlib):
    # Olivetti-style: a grey face filling the frame, the whole frame as the face box
    g = np.random.default_rng(0)
    grey = data.astronaut()[50:190, 150:290].mean(2)
    images = []
    for _ in range(3):
        y, x = g.integers(0, 20, 2)
        crop = grey[y:y + 120, x:x + 120][::2, ::2].round().astype(np.uint8)  # 60 x 60
        images.append(crop)
    sp = dlib.shape_predictor(str(model_path("landmarks")))
    net = dlib.face_recognition_model_v1(str(model_path("encoder")))
    expected = []
    for img in images:
        rgb = np.ascontiguousarray(np.repeat(img[..., None], 3, 2))
        shape = sp(rgb, dlib.rectangle(0, 0, rgb.shape[1] - 1, rgb.shape[0] - 1))
        expected.append(np.array(net.compute_face_descriptor(dlib.get_face_chip(rgb, shape, 150))))
    ours = pipe.encode_cropped(torch.from_numpy(np.stack(images))[:, None].float() / 255)
    assert np.abs(ours.numpy() - np.stack(expected)).max() <= 1e-4


def test_no_face_gives_empty_results(pipe):
    faces = pipe.encode_faces(torch.full((3, 90, 120), 0.3))
    assert faces.boxes.shape == (0, 4) and faces.encodings.shape == (0, 128)
    assert faces.chips.shape == (0, 3, 150, 150) and faces.landmarks.shape == (0, 5, 2)


def test_mirror_image_is_the_same_person(pipe, photo):
    a = pipe.encode_faces(photo).encodings
    b = pipe.encode_faces(photo.flip(-1)).encodings
    assert (a - b).norm() < pipe.distance_threshold


def test_follows_the_image_device(pipe, photo, device):
    pipe.to(device)
    try:
        faces = pipe.encode_faces(photo.to(device))
    finally:
        pipe.to("cpu")  # the fixture is shared by the module's tests
    assert faces.encodings.device.type == device.type
    torch.testing.assert_close(faces.encodings.cpu(), pipe.encode_faces(photo).encodings, rtol=0, atol=1e-4)


def test_without_a_detector(pipe, photo):
    pipe = PretrainedFacePipeline(pipe.encoder, pipe.predictor)
    with pytest.raises(ValueError, match="without a detector"):
        pipe.encode_faces(photo)
    assert pipe.encode_cropped(photo[:, 60:175, 160:272]).shape == (128,)
