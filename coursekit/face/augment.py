"""Augmenting face images during training (lessons 4.3-4.4).

Thirty training people are few: :func:`augment_faces` shows the encoder each face with a small
random shift, rotation, zoom, mirror flip and brightness/contrast change, all in one vectorised
``grid_sample`` over the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["augment_faces"]


def augment_faces(
    images: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    max_shift: float = 0.06,
    max_rotation: float = 0.12,
    max_zoom: float = 0.08,
    flip: bool = True,
    brightness: float = 0.15,
    contrast: float = 0.15,
) -> torch.Tensor:
    """Random small shifts, rotations, zooms, mirror flips and brightness/contrast changes.

    One ``grid_sample`` for the geometry (border padding), vectorised over the batch; the
    random numbers come from ``generator`` (CPU) and are moved to the images' device.

    Args:
        images: ``(B, C, H, W)`` in [0, 1].
        generator: the randomness (``None``: torch's global RNG).
        max_shift: largest shift, as a fraction of the image side.
        max_rotation: largest rotation in radians.
        max_zoom: largest relative zoom in or out.
        flip: mirror half of the images left-right.
        brightness: largest added brightness.
        contrast: largest relative contrast change.

    Returns:
        ``(B, C, H, W)`` in [0, 1], same device and dtype.

    Example:
        >>> x = torch.rand(4, 1, 16, 16)
        >>> tuple(augment_faces(x, generator=torch.Generator().manual_seed(0)).shape)
        (4, 1, 16, 16)
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    B = images.shape[0]

    def u(scale: float) -> torch.Tensor:  # uniform in [-scale, scale], (B,)
        return (2 * torch.rand(B, generator=generator) - 1) * scale

    angle, zoom = u(max_rotation), 1 + u(max_zoom)
    sx = torch.where(torch.rand(B, generator=generator) < 0.5, -1.0, 1.0) if flip else torch.ones(B)
    tx, ty = u(2 * max_shift), u(2 * max_shift)  # grid coordinates span [-1, 1]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos * sx, -sin, tx], 1), torch.stack([sin * sx, cos, ty], 1)], 1)
    b, c = u(brightness), 1 + u(contrast)  # (B,)
    theta, b, c = (t.to(device=images.device, dtype=images.dtype) for t in (theta, b, c))
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)  # (B, H, W, 2)
    out = F.grid_sample(images, grid, padding_mode="border", align_corners=False)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * c.view(B, 1, 1, 1) + mean + b.view(B, 1, 1, 1)
    return out.clamp(0.0, 1.0)
