"""Synthetic grey faces, the announced offline fallback for Olivetti (lessons 4.1-4.5).

Each person has a face geometry and colouring of their own, drawn as soft ellipses; each image
varies pose, lighting and expression and adds pixel noise (:func:`synthetic_faces`).
"""

from __future__ import annotations

import math

import torch

from coursekit.data.faces import FaceDataset

__all__ = ["synthetic_faces"]


def _blob(x, y, cx, cy, rx, ry, sharp):
    """Soft ellipse in [0, 1]: 1 inside, 0 outside, edge width ~1/sharp. Broadcasts."""
    r = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
    return torch.sigmoid(sharp * (1.0 - r))


def synthetic_faces(
    num_people: int = 40,
    images_per_person: int = 10,
    size: int = 64,
    *,
    generator: torch.Generator | None = None,
) -> FaceDataset:
    """Synthetic grey faces: each person has a face geometry and colouring of their own.

    Identity: face width/height, skin and hair tone, hairline and hair style, eye spacing, size
    and height, eyebrow thickness, nose length and width, mouth width and height, a
    background tone. Each image varies pose (shift, in-plane rotation, scale, a small yaw that
    moves the features sideways), lighting (direction and strength of a shading gradient,
    overall brightness), expression (smile, eye opening, eyebrow raise) and adds pixel noise,
    so telling people apart from one example is not trivial.

    Args:
        num_people: number of identities ``P``.
        images_per_person: images per identity.
        size: image side in pixels.
        generator: seeds everything (``None``: torch's global RNG).

    Returns:
        A :class:`FaceDataset` with names ``synthetic_00``, ... and ``source="synthetic"``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> ds = synthetic_faces(4, 3, 32, generator=g)
        >>> tuple(ds.images.shape), ds.labels.tolist()[:4], ds.source
        ((12, 1, 32, 32), [0, 0, 0, 1], 'synthetic')
        >>> bool(ds.images.min() >= 0) and bool(ds.images.max() <= 1)
        True
    """
    if num_people < 1 or images_per_person < 1 or size < 8:
        raise ValueError(
            f"need num_people >= 1, images_per_person >= 1 and size >= 8, got "
            f"{num_people}, {images_per_person}, {size}"
        )
    g = generator
    P, K = num_people, images_per_person

    def u(lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(*shape, generator=g)

    # identity parameters, shape (P, 1)
    ident = {
        "face_w": u(0.52, 0.72, P, 1), "face_h": u(0.68, 0.88, P, 1),
        "skin": u(0.45, 0.85, P, 1), "hair": u(0.05, 0.6, P, 1), "bg": u(0.1, 0.9, P, 1),
        "hairline": u(-0.62, -0.38, P, 1), "hair_side": u(0.0, 1.0, P, 1),
        "eye_dx": u(0.17, 0.30, P, 1), "eye_y": u(-0.22, -0.05, P, 1), "eye_r": u(0.05, 0.09, P, 1),
        "brow_t": u(0.015, 0.045, P, 1), "nose_len": u(0.12, 0.3, P, 1), "nose_w": u(0.04, 0.1, P, 1),
        "mouth_w": u(0.12, 0.28, P, 1), "mouth_y": u(0.3, 0.48, P, 1), "mouth_h": u(0.02, 0.05, P, 1),
        "eye_dark": u(0.05, 0.35, P, 1),
    }
    ident = {k: v.repeat_interleave(K, 0) for k, v in ident.items()}  # (N, 1)
    N = P * K

    def v(scale, *shape):  # per-image variation, centred
        return scale * (2 * torch.rand(N, 1, generator=g) - 1)

    shift_x, shift_y = v(0.12), v(0.12)
    angle, scale = v(0.25), 1 + v(0.1)
    yaw = v(0.12)
    smile, eye_open, brow_up = v(1.0), 0.6 + 0.4 * torch.rand(N, 1, generator=g), v(0.04)
    light_dir = 2 * math.pi * torch.rand(N, 1, generator=g)
    light_amp, bright = 0.35 * torch.rand(N, 1, generator=g), v(0.12)

    lin = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    xx, yy = xx.reshape(1, -1), yy.reshape(1, -1)  # (1, size*size)
    # pose: inverse similarity transform of the sampling grid
    cos, sin = torch.cos(angle), torch.sin(angle)
    x0, y0 = (xx - shift_x) / scale, (yy - shift_y) / scale
    x = cos * x0 + sin * y0  # (N, size*size)
    y = -sin * x0 + cos * y0
    c = ident
    sharp = 12.0 * size / 64
    face = _blob(x, y, 0.0, 0.05, c["face_w"], c["face_h"], sharp)
    fx = x - yaw  # facial features move sideways with a small head turn
    img = c["bg"] * (1 - face) + c["skin"] * face
    # hair: a cap above the hairline, with an identity-specific parting to one side
    hair_mask = face * torch.sigmoid(sharp * (c["hairline"] + 0.15 * (c["hair_side"] - 0.5) * x - y))
    hair_mask = torch.maximum(hair_mask, _blob(x, y, 0.0, -0.1, c["face_w"] + 0.08, c["face_h"] * 0.75,
                                               sharp) * (y < -0.2).float() * (1 - face))
    img = img * (1 - hair_mask) + c["hair"] * hair_mask
    for side in (-1.0, 1.0):
        ex = side * c["eye_dx"]
        eye = _blob(fx, y, ex, c["eye_y"], c["eye_r"] * 1.4, c["eye_r"] * eye_open, sharp * 2)
        img = img * (1 - eye) + c["eye_dark"] * eye
        brow_y = c["eye_y"] - c["eye_r"] * 1.8 - brow_up
        brow = _blob(fx, y, ex, brow_y, c["eye_r"] * 1.8, c["brow_t"], sharp * 2)
        img = img * (1 - brow) + c["hair"] * brow
    nose = _blob(fx, y, 0.0, c["eye_y"] + c["nose_len"] / 2 + 0.05, c["nose_w"], c["nose_len"] / 2, sharp)
    img = img - 0.12 * nose * torch.clamp(fx, min=0) / c["nose_w"].clamp(min=1e-3) * 0.5
    mouth_y = c["mouth_y"] - 0.08 * smile * ((fx / c["mouth_w"]).clamp(-1, 1)) ** 2
    mouth = _blob(fx, y, 0.0, mouth_y, c["mouth_w"] * (1 + 0.15 * smile.abs()), c["mouth_h"], sharp * 2)
    img = img * (1 - 0.7 * mouth) + 0.15 * mouth
    # lighting: a directional shading gradient and an overall brightness change
    shade = light_amp * (torch.cos(light_dir) * xx + torch.sin(light_dir) * yy)
    img = img * (1 + shade) + bright
    img = img + 0.04 * torch.randn(img.shape, generator=g)
    images = img.clamp(0, 1).reshape(N, 1, size, size).float()
    labels = torch.arange(P).repeat_interleave(K)
    return FaceDataset(images, labels, [f"synthetic_{i:02d}" for i in range(P)], "synthetic")
