"""Colour preservation for style transfer: luminance-only transfer in YIQ space (Gatys, Bethge,
Hertzmann & Shechtman, "Preserving Color in Neural Artistic Style Transfer", 2016).

The transfer runs on the luminance channel Y only (content Y, and style Y shifted and scaled to
the content's mean and standard deviation); the result's Y is then combined with the content's
chrominance I, Q, so the output keeps the photo's colours and takes the painting's strokes.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["match_luminance", "rgb_to_yiq", "yiq_to_rgb"]

# NTSC YIQ (rows: Y, I, Q), as in colorsys / scikit-image
_RGB_TO_YIQ = (
    (0.299, 0.587, 0.114),
    (0.59590059, -0.27455667, -0.32134392),
    (0.21153661, -0.52273617, 0.31119955),
)


def _check_image(image: Tensor, name: str) -> None:
    if image.ndim not in (3, 4) or image.shape[-3] != 3:
        raise ValueError(f"{name} must be (3, H, W) or (B, 3, H, W), got {tuple(image.shape)}")


def _mix(image: Tensor, matrix: Tensor) -> Tensor:
    return torch.einsum("ij,...jhw->...ihw", matrix, image)


def rgb_to_yiq(image: Tensor) -> Tensor:
    """RGB -> YIQ (Y is the luminance, I and Q the chrominance).

    Args:
        image: ``(3, H, W)`` or ``(B, 3, H, W)`` RGB.

    Returns:
        The same shape, channels Y, I, Q.

    Example:
        >>> yiq = rgb_to_yiq(torch.ones(3, 1, 1))
        >>> [round(v, 4) for v in yiq.flatten().tolist()]
        [1.0, 0.0, 0.0]
    """
    _check_image(image, "image")
    m = torch.tensor(_RGB_TO_YIQ, device=image.device, dtype=image.dtype)
    return _mix(image, m)


def yiq_to_rgb(image: Tensor) -> Tensor:
    """YIQ -> RGB, the inverse of :func:`rgb_to_yiq` (no clipping).

    Example:
        >>> x = torch.rand(3, 4, 4, dtype=torch.float64)
        >>> bool(torch.allclose(yiq_to_rgb(rgb_to_yiq(x)), x))
        True
    """
    _check_image(image, "image")
    m = torch.linalg.inv(torch.tensor(_RGB_TO_YIQ, device=image.device, dtype=torch.float64))
    return _mix(image, m.to(image.dtype))


def match_luminance(style: Tensor, content: Tensor) -> Tensor:
    """The style image's luminance as a grey RGB image, with the content's mean and std.

    Args:
        style: ``(3, H, W)`` RGB in [0, 1].
        content: ``(3, H', W')`` RGB in [0, 1].

    Returns:
        ``(3, H, W)``: ``Y_S`` shifted and scaled to ``Y_C``'s mean and standard deviation,
        repeated on three channels and clipped to [0, 1].

    Example:
        >>> out = match_luminance(torch.rand(3, 8, 8), torch.full((3, 4, 4), 0.5))
        >>> out.shape, round(out.mean().item(), 3)
        (torch.Size([3, 8, 8]), 0.5)
    """
    y_s = rgb_to_yiq(style)[..., :1, :, :]
    y_c = rgb_to_yiq(content)[..., :1, :, :]
    y = (y_s - y_s.mean()) / (y_s.std() + 1e-8) * y_c.std() + y_c.mean()
    return y.expand_as(style).clamp(0.0, 1.0)
