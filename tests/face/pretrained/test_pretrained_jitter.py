"""dlib's ``num_jitters``: the transforms' ranges against dlib's constants, each transform against
dlib's own chip extraction, the identity, and the jittered encodings against dlib's in
distribution (dlib's random generator cannot be reproduced)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage import data

from coursekit.face.pretrained import jitter
from coursekit.face.pretrained.encoder import load_pretrained_encoder
from coursekit.face.pretrained.jitter import (
    JitterDetails,
    apply_jitter,
    jitter_details,
    jitter_face_chips,
    sample_jitter_details,
)
from coursekit.face.pretrained.model_files import model_path
from coursekit.face.pretrained.pipeline import load_pretrained_pipeline


@pytest.fixture(scope="module")
def pipeline():
    return load_pretrained_pipeline()


@pytest.fixture(scope="module")
def astronaut_chip(pipeline) -> torch.Tensor:
    """``(1, 3, 150, 150)`` uint8: the astronaut's aligned face (equal to dlib's chip)."""
    return pipeline.encode_faces(torch.from_numpy(data.astronaut()).permute(2, 0, 1)).chips


def test_dlib_constants():
    # dlib/image_transforms/interpolation.h, jitter_image()
    assert jitter.JITTER_MAX_ROTATION_DEGREES == 3
    assert jitter.JITTER_SCALE_RANGE == (0.97, 0.99999)
    assert jitter.JITTER_TRANSLATE == 0.02
    assert jitter.JITTER_BORDER == 3


def test_parameter_ranges_at_the_extremes():
    u = torch.tensor([[0.0] * 5, [0.5] * 5, [1 - 1e-12] * 5], dtype=torch.float64)
    d = jitter_details(u)
    side = d.rects[:, 2] - d.rects[:, 0] + 1
    assert side.tolist() == [148, 146, 144]  # int(144 / 0.97), int(144 / 0.984995), int(144 / 0.99999)
    assert torch.equal(side, d.rects[:, 3] - d.rects[:, 1] + 1)  # squares
    centre = (d.rects[:, :2] + d.rects[:, 2:] + 1) / 2  # dlib's center(), before its integer division
    assert torch.floor(centre).tolist() == [[72, 72], [75, 75], [78, 78]]  # 75 -3, 0, +3 px
    assert [round(math.degrees(a), 9) for a in d.angles.tolist()] == [-3, 0, 3]
    assert d.flips.tolist() == [False, False, True]  # dlib: get_random_double() > 0.5


def test_sampled_distribution():
    d = sample_jitter_details(20_000, generator=torch.Generator().manual_seed(0))
    side = (d.rects[:, 2] - d.rects[:, 0] + 1).long()
    shift = (torch.floor((d.rects[:, :2] + d.rects[:, 2:] + 1) / 2) - 75).long()
    # whole-pixel crop squares of 144..148 px, their frequencies as the uniform scale gives them
    edges = np.array([0.97] + [144 / s for s in (148, 147, 146, 145)] + [0.99999])
    expected = np.diff(edges)[::-1] / (0.99999 - 0.97)  # P(side = 144), ..., P(side = 148)
    counts = torch.bincount(side - 144, minlength=5).double() / len(side)
    assert side.min() == 144 and side.max() == 148
    assert np.allclose(counts.numpy(), expected, atol=0.015)
    # shifts: round(u * 144), u uniform in [-0.02, 0.02]: -3..3 px, +-3 rarer (0.38 / 5.76)
    for axis in range(2):
        s = shift[:, axis]
        assert s.min() >= -3 and s.max() <= 3
        freq = torch.bincount(s + 3, minlength=7).double() / len(s)
        assert abs(freq[0] - 0.38 / 5.76) < 0.01 and abs(freq[3] - 1 / 5.76) < 0.015
    degrees = torch.rad2deg(d.angles)
    assert degrees.min() >= -3 and degrees.max() <= 3 and abs(degrees.mean()) < 0.05
    assert abs(degrees.std() - 6 / math.sqrt(12)) < 0.03  # uniform on [-3, 3]
    assert abs(d.flips.double().mean() - 0.5) < 0.015


def test_identity_jitter_is_no_jitter(astronaut_chip):
    identity = JitterDetails(torch.tensor([[0.0, 0.0, 149.0, 149.0]]), torch.zeros(1), torch.tensor([False]))
    assert torch.equal(apply_jitter(astronaut_chip[0], identity)[0], astronaut_chip[0])
    enc = load_pretrained_encoder()
    plain = enc(astronaut_chip)
    assert torch.equal(enc.encode(astronaut_chip, num_jitters=1), plain)  # dlib: N <= 1 is no jitter
    assert torch.equal(enc(apply_jitter(astronaut_chip[0], identity)), plain)


def test_each_transform_matches_dlib_extract_image_chip(astronaut_chip, dlib):
    """Given the same random numbers, every jittered copy equals dlib's, pixel for pixel."""
    img = np.ascontiguousarray(astronaut_chip[0].permute(1, 2, 0).numpy())
    d = sample_jitter_details(40, generator=torch.Generator().manual_seed(3))
    ours = apply_jitter(astronaut_chip[0], d).permute(0, 2, 3, 1).numpy()
    for k in range(len(ours)):
        left, top, right, bottom = (int(v) for v in d.rects[k].tolist())
        details = dlib.chip_details(dlib.rectangle(left, top, right, bottom), dlib.chip_dims(150, 150),
                                    float(d.angles[k]))
        ref = dlib.extract_image_chip(img, details)
        if d.flips[k]:
            ref = ref[:, ::-1]  # flip_image_left_right
        np.testing.assert_array_equal(ours[k], ref)


def test_generator_makes_it_reproducible(astronaut_chip):
    a = jitter_face_chips(astronaut_chip, 3, generator=torch.Generator().manual_seed(0))
    b = jitter_face_chips(astronaut_chip, 3, generator=torch.Generator().manual_seed(0))
    c = jitter_face_chips(astronaut_chip, 3, generator=torch.Generator().manual_seed(1))
    assert a.shape == (1, 3, 3, 150, 150) and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_jittered_encodings_match_dlib_in_distribution(pipeline, astronaut_chip, dlib):
    """The mean of our N jittered encodings is as close to dlib's as dlib's own runs are to each
    other (dlib's generator is seeded once per encoder object: its second call continues the
    sequence, so two calls are two independent runs), and much closer than the unjittered one."""
    n = 40
    img = np.ascontiguousarray(astronaut_chip[0].permute(1, 2, 0).numpy())
    rec = dlib.face_recognition_model_v1(str(model_path("encoder")))
    theirs = [np.array(rec.compute_face_descriptor(img, num_jitters=n)) for _ in range(2)]
    ours = [pipeline.encoder.encode(astronaut_chip, num_jitters=n,
                                    generator=torch.Generator().manual_seed(s))[0].numpy() for s in range(2)]
    plain = pipeline.encoder(astronaut_chip)[0].numpy()
    spread = np.linalg.norm(theirs[0] - theirs[1])  # dlib run to run
    unjittered = min(np.linalg.norm(plain - t) for t in theirs)
    for o in ours:
        for t in theirs:
            # without the mirror or with 3x the angles it would be 0.072-0.075 / 0.054-0.058 here
            assert np.linalg.norm(o - t) < 2 * spread
            assert np.linalg.norm(o - t) < 0.5 * unjittered
    # and on average over the runs, as close as dlib's two runs are
    ours_mean, theirs_mean = np.mean(ours, 0), np.mean(theirs, 0)
    assert np.linalg.norm(ours_mean - theirs_mean) < 2 * spread


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_num_jitters_must_be_a_positive_integer(bad, astronaut_chip):
    with pytest.raises(ValueError, match="num_jitters"):
        jitter_face_chips(astronaut_chip, bad)
    with pytest.raises(ValueError, match="num_jitters"):
        load_pretrained_encoder().encode(astronaut_chip, num_jitters=bad)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"\(B, 3, S, S\)"):
        jitter_face_chips(torch.zeros(2, 3, 150, 120, dtype=torch.uint8), 2)
    with pytest.raises(ValueError, match=r"\(N, 5\)"):
        jitter_details(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="square"):
        apply_jitter(torch.zeros(3, 10, 12), sample_jitter_details(1, 10))


def test_pipeline_and_empty_batches(pipeline, astronaut_chip):
    photo = torch.from_numpy(data.astronaut()).permute(2, 0, 1)
    g = torch.Generator().manual_seed(0)
    found = pipeline.encode_faces(photo, num_jitters=4, generator=g)
    z = pipeline.encoder.encode(found.chips, num_jitters=4, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(found.encodings, z)
    assert (found.encodings - pipeline.encoder(found.chips)).norm() > 0  # jittered
    empty = torch.zeros(0, 3, 150, 150, dtype=torch.uint8)
    assert pipeline.encoder.encode(empty, num_jitters=3).shape == (0, 128)
    assert jitter_face_chips(empty, 3).shape == (0, 3, 3, 150, 150)
    g = torch.Generator().manual_seed(0)
    cropped = pipeline.encode_cropped(astronaut_chip, num_jitters=2, generator=g)
    assert cropped.shape == (1, 128)
