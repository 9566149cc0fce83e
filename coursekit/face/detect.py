"""Finding and cropping faces in ordinary photos, before encoding them (lesson 4.1's pipeline).

The detector is scikit-image's bundled LBP frontal-face cascade
(``skimage.data.lbp_frontal_face_cascade_filename()`` with :class:`skimage.feature.Cascade`;
Viola & Jones, "Rapid object detection using a boosted cascade of simple features", 2001, with
the multi-block LBP features of Liao et al., 2007). It needs no download and finds upright,
frontal faces; profiles and strongly rotated faces are missed.

* :func:`detect_faces` returns :class:`FaceBox` es, largest first;
* :func:`crop_face` crops the largest face (with a margin) to a grayscale ``(1, size, size)``
  tensor like the Olivetti images, and raises ``ValueError("no face found in ...")`` if
  there is none;
* :func:`prepare_face` does the same conversion without detection, for images that already
  show just a face.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import torch
import torch.nn.functional as F

__all__ = ["FaceBox", "crop_face", "detect_faces", "prepare_face"]

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as Pillow's "L" conversion


class FaceBox(NamedTuple):
    """A detected face: top-left corner ``(top, left)`` and size, in pixels.

    Example:
        >>> box = FaceBox(top=10, left=20, height=32, width=24)
        >>> image = torch.rand(3, 100, 80)
        >>> image[:, box.top:box.top + box.height, box.left:box.left + box.width].shape
        torch.Size([3, 32, 24])
    """

    top: int
    left: int
    height: int
    width: int


@lru_cache(maxsize=1)
def _cascade():
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


def _gray(image: torch.Tensor) -> torch.Tensor:
    """``(3, H, W)``, ``(1, H, W)`` or ``(H, W)`` -> ``(H, W)`` luma."""
    if image.dim() == 2:
        return image
    if image.dim() == 3 and image.shape[0] == 1:
        return image[0]
    if image.dim() == 3 and image.shape[0] == 3:
        w = torch.tensor(_LUMA, dtype=image.dtype, device=image.device)
        return torch.einsum("chw,c->hw", image, w)
    raise ValueError(f"image must be (3, H, W), (1, H, W) or (H, W), got shape {tuple(image.shape)}")


def detect_faces(
    image: torch.Tensor,
    *,
    min_size: int | None = None,
    scale_factor: float = 1.2,
    min_neighbors: int = 4,
) -> list[FaceBox]:
    """Find upright frontal faces with scikit-image's LBP cascade.

    Args:
        image: ``(3, H, W)`` RGB, or ``(1, H, W)`` / ``(H, W)`` grayscale, values in [0, 1].
        min_size: smallest face side in pixels (default: a tenth of the shorter image side,
            at least 24, the cascade's window).
        scale_factor: growth of the search window between scales (smaller is slower and finds
            more).
        min_neighbors: overlapping detections needed to keep a face (higher: fewer false
            alarms).

    Returns:
        The faces found, largest first; an empty list when there is none.

    Example:
        >>> detect_faces(torch.zeros(3, 100, 100))
        []
    """
    gray = _gray(image).detach().float().cpu().clamp(0, 1).numpy()
    h, w = gray.shape
    side = min(h, w)
    if min_size is None:
        min_size = max(24, side // 10)
    if side < min_size:
        return []
    found = _cascade().detect_multi_scale(
        img=gray, scale_factor=scale_factor, step_ratio=1, min_size=(min_size, min_size),
        max_size=(side, side), min_neighbor_number=min_neighbors,
    )
    boxes = [FaceBox(int(d["r"]), int(d["c"]), int(d["height"]), int(d["width"])) for d in found]
    return sorted(boxes, key=lambda b: (-b.height * b.width, b.top, b.left))


def prepare_face(image: torch.Tensor, *, size: int = 64) -> torch.Tensor:
    """Grayscale, centre-crop to a square and resize: the encoder's input format.

    Args:
        image: ``(3, H, W)``, ``(1, H, W)`` or ``(H, W)`` in [0, 1].
        size: output side.

    Returns:
        ``(1, size, size)`` float tensor on ``image.device``.

    Example:
        >>> prepare_face(torch.rand(3, 120, 90), size=32).shape
        torch.Size([1, 32, 32])
    """
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    gray = _gray(image).float()
    h, w = gray.shape
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = gray[top:top + s, left:left + s][None, None]  # (1, 1, s, s)
    if s != size:
        square = F.interpolate(square, size=(size, size), mode="bilinear", antialias=True,
                               align_corners=False)
    return square[0].clamp(0, 1)  # (1, size, size)


def crop_face(
    image: torch.Tensor,
    *,
    size: int = 64,
    margin: float = 0.15,
    source: str = "the image",
) -> torch.Tensor:
    """Crop the largest detected face to a grayscale square, ready for the encoder.

    Args:
        image: ``(3, H, W)`` or grayscale, values in [0, 1].
        size: output side in pixels.
        margin: extra border around the detected box, as a fraction of its side (Olivetti-like
            framing with some hair and chin); the crop is clipped to the image.
        source: how to name the image in the error message (e.g. its file name).

    Returns:
        ``(1, size, size)`` float tensor.

    Raises:
        ValueError: ``"no face found in <source>"`` when the detector finds nothing.

    Example:
        >>> crop_face(torch.zeros(3, 80, 80), source="blank.png")
        Traceback (most recent call last):
        ...
        ValueError: no face found in blank.png (scikit-image's LBP cascade looks for upright frontal faces)
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    boxes = detect_faces(image)
    if not boxes:
        raise ValueError(
            f"no face found in {source} (scikit-image's LBP cascade looks for upright frontal faces)"
        )
    b = boxes[0]
    h, w = image.shape[-2:]
    pad = round(margin * max(b.height, b.width))
    top, left = max(0, b.top - pad), max(0, b.left - pad)
    bottom, right = min(h, b.top + b.height + pad), min(w, b.left + b.width + pad)
    crop = image[..., top:bottom, left:right]
    return prepare_face(crop, size=size)
