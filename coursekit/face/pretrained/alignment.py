"""Face alignment for the pretrained encoder: dlib's ``get_face_chip`` (150 x 150, padding 0.25).

The encoder was trained on chips cut the way dlib's ``get_face_chip_details`` and
``extract_image_chips`` cut them (``dlib/image_transforms/interpolation.h``):

1. **Where**: the similarity transform (rotation, uniform scale, shift) that best takes five
   template points (the eye corners and nose of a mean face, given in a unit square that
   ``padding`` enlarges on every side) to the five detected landmarks; it gives the chip's
   rotation angle and its rectangle in the image.
2. **How**: when the chip is much smaller than that rectangle, the image is first halved
   (dlib's ``pyramid_down<2>``: a 5 x 5 binomial blur and every other pixel, in integers) as
   many times as keeps the rectangle larger than the chip, so bilinear sampling does not alias;
   then each chip pixel is sampled bilinearly (outside the image: black) and truncated to 8 bits.

:func:`face_chip_details` does step 1 and :func:`extract_face_chips` step 2, both batched over
faces; :func:`face_chips` does both.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from coursekit.face.pretrained.landmarks import similarity_transform, to_uint8_image

__all__ = ["FIVE_POINT_TEMPLATE", "extract_face_chips", "face_chip_details", "face_chips"]

# dlib's mean positions of the 5 landmarks in a unit face square (get_face_chip_details)
FIVE_POINT_TEMPLATE = (
    (0.8595674595992, 0.2134981538014),
    (0.6460604764104, 0.2289674387677),
    (0.1205750620789, 0.2137274526848),
    (0.3340850613712, 0.2290642403242),
    (0.4901123135679, 0.6277975316475),
)


def face_chip_details(landmarks: torch.Tensor, *, size: int = 150,
                      padding: float = 0.25) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each face's chip lies in the image (dlib's ``get_face_chip_details``).

    Args:
        landmarks: ``(N, 5, 2)`` points ``(x, y)`` from the 5-point predictor.
        size: chip side in pixels.
        padding: margin added around the template's unit square, as a fraction of its side.

    Returns:
        ``(rects, angles)``: ``(N, 4)`` float64 rectangles ``(left, top, right, bottom)`` (dlib's
        inclusive corners) and ``(N,)`` rotation angles in radians.

    Example:
        >>> pts = torch.tensor(FIVE_POINT_TEMPLATE, dtype=torch.float64)[None] * 100 + 10
        >>> rect, angle = face_chip_details(pts, size=100, padding=0.0)
        >>> rect.round(decimals=3).tolist(), angle.abs().round(decimals=6).tolist()
        ([[10.5, 10.5, 109.5, 109.5]], [0.0])
    """
    if landmarks.dim() != 3 or tuple(landmarks.shape[1:]) != (5, 2):
        raise ValueError(f"landmarks must be (N, 5, 2), got {tuple(landmarks.shape)}")
    if size <= 0 or padding < 0:
        raise ValueError(f"size must be > 0 and padding >= 0, got {size} and {padding}")
    points = landmarks.double()
    template = torch.tensor(FIVE_POINT_TEMPLATE, dtype=torch.float64, device=points.device)
    template = (padding + template) / (2 * padding + 1) * size
    m, t = similarity_transform(template.expand(len(points), -1, -1), points)
    angle = torch.atan2(m[:, 1, 0], m[:, 0, 0])
    scale = torch.hypot(m[:, 0, 0], m[:, 1, 0])
    center = (m @ torch.full((2, 1), size / 2, dtype=torch.float64, device=points.device))[..., 0] + t
    half = (size * scale - 1) / 2  # dlib's centered_drect takes one pixel off the width
    rects = torch.stack([center[:, 0] - half, center[:, 1] - half,
                         center[:, 0] + half, center[:, 1] + half], dim=1)
    return rects, angle


def _area(rect: tuple[float, float, float, float]) -> float:
    left, top, right, bottom = rect
    return 0.0 if left > right or top > bottom else (right - left + 1) * (bottom - top + 1)


def _rect_down(rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    # pyramid_down<2>::rect_down: p / 2 - (1.25, 0.75) at both corners
    left, top, right, bottom = rect
    return left / 2 - 1.25, top / 2 - 0.75, right / 2 - 1.25, bottom / 2 - 0.75


def _lround(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _rotate(center: tuple[float, float], point: tuple[float, float], angle: float) -> tuple[float, float]:
    c, s = math.cos(angle), math.sin(angle)
    x, y = point[0] - center[0], point[1] - center[1]
    return c * x - s * y + center[0], s * x + c * y + center[1]


def _pyramid_down(image: torch.Tensor) -> torch.Tensor:
    """dlib's ``pyramid_down<2>`` on a ``(3, H, W)`` image of whole numbers: a 5 x 5 binomial
    filter over the valid region, every other pixel, integer division by 256."""
    _, height, width = image.shape
    if height <= 8 or width <= 8:
        return image[:, :0, :0]
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float32, device=image.device)
    kernel = (k[:, None] * k[None, :]).expand(3, 1, 5, 5)
    out = F.conv2d(image.float()[None], kernel, stride=2, groups=3)[0]  # exact in float32
    return torch.div(out, 256, rounding_mode="floor")[:, :(height - 3) // 2, :(width - 3) // 2]


def _sample(source: torch.Tensor, affine: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear samples of ``source`` (3, h, w) at ``affine @ (c, r, 1)`` for every chip pixel,
    black outside, truncated to whole numbers (dlib's ``transform_image``)."""
    dev = source.device
    r, c = torch.meshgrid(torch.arange(size, dtype=torch.float64, device=dev),
                          torch.arange(size, dtype=torch.float64, device=dev), indexing="ij")
    x = affine[0, 0] * c + affine[0, 1] * r + affine[0, 2]
    y = affine[1, 0] * c + affine[1, 1] * r + affine[1, 2]
    left, top = torch.floor(x), torch.floor(y)
    h, w = source.shape[1:]
    inside = (left >= 0) & (top >= 0) & (left + 1 < w) & (top + 1 < h)
    lr, tb = x - left, y - top
    li, ti = left.long().clamp(0, max(w - 2, 0)), top.long().clamp(0, max(h - 2, 0))
    src = source.double()
    if h < 2 or w < 2:
        return torch.zeros(3, size, size, dtype=torch.float64, device=dev)
    tl, tr = src[:, ti, li], src[:, ti, li + 1]
    bl, br = src[:, ti + 1, li], src[:, ti + 1, li + 1]
    value = (1 - tb) * ((1 - lr) * tl + lr * tr) + tb * ((1 - lr) * bl + lr * br)
    return torch.where(inside, torch.trunc(value), torch.zeros_like(value))


def extract_face_chips(image: torch.Tensor, rects: torch.Tensor, angles: torch.Tensor, *,
                       size: int = 150) -> torch.Tensor:
    """Cut rotated, scaled chips out of an image (dlib's ``extract_image_chips``).

    Args:
        image: ``(3, H, W)`` (or grey) image, ``uint8`` or float in [0, 1].
        rects: ``(N, 4)`` chip rectangles ``(left, top, right, bottom)`` from
            :func:`face_chip_details`.
        angles: ``(N,)`` rotations in radians.
        size: chip side in pixels.

    Returns:
        ``(N, 3, size, size)`` ``uint8`` chips on the image's device.

    Example:
        >>> img = torch.arange(64, dtype=torch.uint8).reshape(1, 8, 8).expand(3, 8, 8)
        >>> chip = extract_face_chips(img, torch.tensor([[2., 2., 5., 5.]]), torch.zeros(1), size=4)
        >>> chip[0, 0].tolist() == img[0, 2:6, 2:6].tolist()
        True
    """
    rgb = to_uint8_image(image)
    if rects.dim() != 2 or rects.shape[1] != 4 or angles.shape != rects.shape[:1]:
        raise ValueError(f"rects must be (N, 4) and angles (N,), got {tuple(rects.shape)} "
                         f"and {tuple(angles.shape)}")
    height, width = rgb.shape[1:]
    chips = []
    for rect, angle in zip(rects.double().tolist(), angles.double().tolist()):
        left, top, right, bottom = rect
        if angle == 0 and right - left + 1 == size and bottom - top + 1 == size:
            chips.append(_copy(rgb, [_lround(v) for v in rect], size))
            continue
        depth, grow, down = 0, 2.0, _rect_down(rect)
        while _area(down) > size * size:
            down = _rect_down(down)
            depth += 1
            grow = grow * 2 + 2
        center = ((left + right) / 2, (top + bottom) / 2)
        corners = [_rotate(center, p, angle) for p in
                   ((left, top), (right, top), (left, bottom), (right, bottom))]
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        box = (max(min(xs) - grow, 0), max(min(ys) - grow, 0),
               min(max(xs) + grow, width - 1), min(max(ys) + grow, height - 1))
        bl, bt, br, bb = (_lround(v) for v in box)
        if bl > br or bt > bb:  # the chip lies wholly outside the image
            chips.append(torch.zeros(3, size, size, dtype=torch.uint8, device=rgb.device))
            continue
        source = rgb[:, bt:bb + 1, bl:br + 1]
        level, local = -1, (left - bl, top - bt, right - bl, bottom - bt)
        while _area(_rect_down(local)) > size * size:
            level += 1
            local = _rect_down(local)
        for _ in range(level + 1):
            source = _pyramid_down(source)
        lc = ((local[0] + local[2]) / 2, (local[1] + local[3]) / 2)
        p0 = _rotate(lc, (local[0], local[1]), angle)  # chip (0, 0)
        p1 = _rotate(lc, (local[2], local[1]), angle)  # chip (size - 1, 0)
        p2 = _rotate(lc, (local[0], local[3]), angle)  # chip (0, size - 1)
        span = max(size - 1, 1)
        affine = torch.tensor([[(p1[0] - p0[0]) / span, (p2[0] - p0[0]) / span, p0[0]],
                               [(p1[1] - p0[1]) / span, (p2[1] - p0[1]) / span, p0[1]]],
                              dtype=torch.float64, device=rgb.device)
        chips.append(_sample(source, affine, size).to(torch.uint8))
    if not chips:
        return torch.zeros(0, 3, size, size, dtype=torch.uint8, device=rgb.device)
    return torch.stack(chips)


def _copy(rgb: torch.Tensor, rect: list[int], size: int) -> torch.Tensor:
    """dlib's ``basic_extract_image_chip``: a plain crop, black where it leaves the image."""
    left, top = rect[0], rect[1]
    out = torch.zeros(3, size, size, dtype=torch.uint8, device=rgb.device)
    height, width = rgb.shape[1:]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + size, height), min(left + size, width)
    if y1 > y0 and x1 > x0:
        out[:, y0 - top:y1 - top, x0 - left:x1 - left] = rgb[:, y0:y1, x0:x1]
    return out


def face_chips(image: torch.Tensor, landmarks: torch.Tensor, *, size: int = 150,
               padding: float = 0.25) -> torch.Tensor:
    """Aligned face chips for the pretrained encoder (dlib's ``get_face_chip``).

    Args:
        image: ``(3, H, W)`` (or grey) image, ``uint8`` or float in [0, 1].
        landmarks: ``(N, 5, 2)`` points from the 5-point predictor, in ``image``'s pixels.
        size: chip side (150 for the encoder).
        padding: margin around the face, as a fraction of the template square (0.25 for the
            encoder).

    Returns:
        ``(N, 3, size, size)`` ``uint8`` chips.

    Example:
        >>> pts = torch.tensor(FIVE_POINT_TEMPLATE)[None] * 80 + 20
        >>> tuple(face_chips(torch.rand(3, 120, 120), pts).shape)
        (1, 3, 150, 150)
    """
    rects, angles = face_chip_details(landmarks, size=size, padding=padding)
    return extract_face_chips(image, rects, angles, size=size)
