"""dlib's face jittering (``num_jitters``): average the encodings of slightly moved copies of a chip.

dlib's ``compute_face_descriptor(img, shape, num_jitters=N)`` (``tools/python/src/
face_recognition.cpp``) runs the encoder on ``N`` randomly jittered copies of each aligned
chip and returns the mean of the ``N`` encodings ("this makes the descriptor slightly more
accurate, but takes N times longer", dlib's docs); ``N <= 1`` is the chip itself. Each copy is
made by ``dlib::jitter_image`` (``dlib/image_transforms/interpolation.h``) from an ``S x S``
chip (``S`` = 150):

* the frame: the chip's rectangle shrunk by 3 pixels on every side (``S - 6`` wide);
* a **shift** of its centre by ``round(u * (S - 6))`` whole pixels in x and in y, with
  ``u`` uniform in ``[-0.02, 0.02]``;
* a **zoom**: a square crop of side ``int((S - 6) / s)`` pixels, ``s`` uniform in
  ``[0.97, 0.99999]`` (the face fills 97-100 % of the frame's height);
* a **rotation** by an angle uniform in ``[-3, 3]`` degrees;
* the crop resampled to ``S x S`` as ``extract_image_chip`` does (bilinear), then a
  **mirror** left-right with probability 1/2.

dlib draws these five numbers from its own generator (``dlib::rand``, seeded once per
encoder object), which cannot be reproduced; here they come from a ``torch.Generator``, with the
same distributions and the same integer rounding, so the jittered encodings agree with dlib's
in distribution, not bit for bit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from coursekit.face.pretrained.alignment import extract_face_chips

__all__ = ["JITTER_BORDER", "JITTER_MAX_ROTATION_DEGREES", "JITTER_SCALE_RANGE", "JITTER_TRANSLATE",
           "JitterDetails", "apply_jitter", "jitter_details", "jitter_face_chips", "sample_jitter_details"]

JITTER_MAX_ROTATION_DEGREES = 3.0
"""dlib's ``max_rotation_degrees``: angles uniform in ``[-3, 3]`` degrees."""
JITTER_SCALE_RANGE = (0.97, 0.99999)
"""dlib's ``min_object_height`` and ``max_object_height``: the face's share of the crop."""
JITTER_TRANSLATE = 0.02
"""dlib's ``translate_amount``: shifts up to 2 % of the frame, in x and in y."""
JITTER_BORDER = 3
"""dlib's ``shrink_rect(get_rect(img), 3)``: the frame is the chip less 3 pixels a side."""


class JitterDetails(NamedTuple):
    """Where ``N`` jittered copies are cut from a chip.

    Attributes:
        rects: ``(N, 4)`` float64 crop squares ``(left, top, right, bottom)`` (inclusive, whole
            pixels), before rotation.
        angles: ``(N,)`` float64 rotations in radians.
        flips: ``(N,)`` bool, whether the copy is mirrored left-right.
    """

    rects: torch.Tensor
    angles: torch.Tensor
    flips: torch.Tensor


def jitter_details(uniforms: torch.Tensor, size: int = 150) -> JitterDetails:
    """The jitters that ``dlib::jitter_image`` makes from its five random numbers.

    Args:
        uniforms: ``(N, 5)`` numbers in ``[0, 1)``, in dlib's order of use: x shift, y shift,
            scale, angle, mirror (dlib's ``get_random_double``).
        size: the chip's side ``S``.

    Returns:
        :class:`JitterDetails` for the ``N`` copies.

    Example:
        >>> d = jitter_details(torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0]]))
        >>> d.rects.tolist()  # shift -3 px, crop 148 px; shift +3 px, crop 144 px
        [[-2.0, -2.0, 145.0, 145.0], [6.0, 6.0, 149.0, 149.0]]
        >>> [round(math.degrees(a), 6) for a in d.angles.tolist()], d.flips.tolist()
        ([-3.0, 3.0], [False, True])
    """
    if uniforms.dim() != 2 or uniforms.shape[1] != 5:
        raise ValueError(f"uniforms must be (N, 5), got {tuple(uniforms.shape)}")
    if size <= 2 * JITTER_BORDER:
        raise ValueError(f"size must be larger than {2 * JITTER_BORDER}, got {size}")
    u = uniforms.double()
    frame = size - 2 * JITTER_BORDER  # rect.width() == rect.height()
    centre = size // 2  # dlib's center(rect): (left + right + 1) / 2, in integers

    def in_range(v: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        return lo + v * (hi - lo)  # dlib's get_double_in_range

    # dpoint -> point rounds: floor(x + 0.5)
    shift = torch.floor(in_range(u[:, :2], -JITTER_TRANSLATE, JITTER_TRANSLATE) * frame + 0.5)
    scale = in_range(u[:, 2], *JITTER_SCALE_RANGE)
    side = torch.trunc(frame / scale)  # const long box_size = rect.height() / scale
    left_top = centre + shift - torch.div(side, 2, rounding_mode="floor")[:, None]  # centered_rect
    rects = torch.cat([left_top, left_top + side[:, None] - 1], dim=1)
    angles = in_range(u[:, 3], -JITTER_MAX_ROTATION_DEGREES, JITTER_MAX_ROTATION_DEGREES) * math.pi / 180
    return JitterDetails(rects, angles, u[:, 4] > 0.5)


def sample_jitter_details(num: int, size: int = 150, *,
                          generator: torch.Generator | None = None) -> JitterDetails:
    """``num`` random jitters with dlib's distribution (:func:`jitter_details` of uniform numbers).

    Args:
        num: how many.
        size: the chip's side.
        generator: the CPU random generator (``None``: torch's global one).

    Example:
        >>> d = sample_jitter_details(1000, generator=torch.Generator().manual_seed(0))
        >>> side = d.rects[:, 2] - d.rects[:, 0] + 1
        >>> int(side.min()), int(side.max()), 0.4 < d.flips.double().mean().item() < 0.6
        (144, 148, True)
    """
    if num < 0:
        raise ValueError(f"num must be >= 0, got {num}")
    return jitter_details(torch.rand(num, 5, generator=generator, dtype=torch.float64), size)


def apply_jitter(chip: torch.Tensor, details: JitterDetails) -> torch.Tensor:
    """The jittered copies of one chip (``dlib::jitter_image`` with given random numbers).

    Args:
        chip: ``(3, S, S)`` chip, ``uint8`` or float in [0, 1].
        details: ``N`` jitters, from :func:`jitter_details` or :func:`sample_jitter_details`.

    Returns:
        ``(N, 3, S, S)`` ``uint8`` copies on the chip's device.

    Example:
        >>> chip = torch.randint(0, 256, (3, 150, 150), dtype=torch.uint8)
        >>> same = JitterDetails(torch.tensor([[0.0, 0.0, 149.0, 149.0]]), torch.zeros(1),
        ...                      torch.tensor([False]))
        >>> torch.equal(apply_jitter(chip, same)[0], chip)  # the identity jitter
        True
        >>> mirror = same._replace(flips=torch.tensor([True]))
        >>> torch.equal(apply_jitter(chip, mirror)[0], chip.flip(-1))
        True
    """
    if chip.dim() != 3 or chip.shape[0] not in (1, 3) or chip.shape[1] != chip.shape[2]:
        raise ValueError(f"chip must be a square (3, S, S) image, got shape {tuple(chip.shape)}")
    size = chip.shape[-1]
    crops = extract_face_chips(chip, details.rects.to(chip.device), details.angles.to(chip.device),
                               size=size)
    flips = details.flips.to(chip.device)[:, None, None, None]
    return torch.where(flips, crops.flip(-1), crops)


def jitter_face_chips(chips: torch.Tensor, num_jitters: int, *,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """``num_jitters`` randomly jittered copies of every chip, as dlib's ``num_jitters`` makes them.

    Args:
        chips: ``(B, 3, S, S)`` aligned chips (``S`` = 150 for the encoder), ``uint8`` or float
            in [0, 1].
        num_jitters: copies per chip (``N``, at least 1).
        generator: the CPU random generator (``None``: torch's global one); the draws are made
            chip by chip, ``N`` jitters each.

    Returns:
        ``(B, N, 3, S, S)`` ``uint8`` copies on the chips' device.

    Example:
        >>> chips = torch.randint(0, 256, (2, 3, 150, 150), dtype=torch.uint8)
        >>> g = torch.Generator().manual_seed(0)
        >>> tuple(jitter_face_chips(chips, 4, generator=g).shape)
        (2, 4, 3, 150, 150)
    """
    if chips.dim() != 4 or chips.shape[1] != 3 or chips.shape[2] != chips.shape[3]:
        raise ValueError(f"chips must be (B, 3, S, S), got shape {tuple(chips.shape)}")
    if isinstance(num_jitters, bool) or not isinstance(num_jitters, int) or num_jitters < 1:
        raise ValueError(f"num_jitters must be an integer >= 1, got {num_jitters!r}")
    size = chips.shape[-1]
    copies = [apply_jitter(chip, sample_jitter_details(num_jitters, size, generator=generator))
              for chip in chips]
    if not copies:
        return torch.zeros(0, num_jitters, 3, size, size, dtype=torch.uint8, device=chips.device)
    return torch.stack(copies)
