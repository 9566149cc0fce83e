"""Encoding many face images at once with a trained encoder f(x) (lessons 4.2-4.3).

:func:`embed` runs the encoder in eval mode, in batches, without gradients. With ``flip=True`` it
also encodes each image's mirror image and returns the renormalised sum f(x) + f(flip(x))
(test-time flip averaging): a face and its mirror image show the same person, and averaging
the two encodings removes part of the noise of a single view. ``shift=s`` does the same over
copies of the image moved by -s, 0 and +s pixels along each axis (nine views, eighteen with the
flip), which evens out small misalignments of the crop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from coursekit.runtime import get_device, module_device

__all__ = ["embed"]


def embed(
    encoder: torch.nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    flip: bool = False,
    shift: int = 0,
) -> torch.Tensor:
    """Encode images in batches, without gradients, in eval mode.

    Args:
        encoder: maps ``(B, C, H, W)`` to ``(B, E)``.
        images: ``(N, C, H, W)`` (or one image ``(C, H, W)``).
        batch_size: images per forward pass.
        device: where to run (``None``: the encoder's device).
        flip: test-time flip averaging: return ``normalize(f(x) + f(flip(x)))``, the L2-normalised
            sum of the encodings of each image and of its left-right mirror image (twice the
            work). The result then has unit norm even if the encoder's outputs do not.
        shift: test-time shift averaging: also encode copies of each image moved by
            ``(dy, dx)`` in ``{-shift, 0, shift}²`` pixels (edges repeated into the gap), and
            return the L2-normalised sum over the nine views (with ``flip``, over eighteen).
            ``0`` (default) is the image alone.

    Returns:
        ``(N, E)`` (or ``(E,)``) encodings on the **images'** device; the encoder's
        train/eval mode is restored afterwards.

    Example:
        >>> from coursekit.face import FaceEncoder
        >>> enc = FaceEncoder(embedding_dim=8, widths=(4, 4, 4, 4))
        >>> x = torch.rand(5, 1, 32, 32)
        >>> tuple(embed(enc, x, batch_size=2).shape)
        (5, 8)
        >>> z = embed(enc, x, flip=True)  # the same for an image and its mirror image
        >>> torch.allclose(z, embed(enc, x.flip(-1), flip=True), atol=1e-6)
        True
        >>> embed(enc, x, flip=True, shift=1).norm(dim=1)  # 18 views, renormalised
        tensor([1.0000, 1.0000, 1.0000, 1.0000, 1.0000])
    """
    single = images.ndim == 3
    if single:
        images = images.unsqueeze(0)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W) or (C, H, W), got shape {tuple(images.shape)}")
    if not isinstance(shift, int) or shift < 0 or (shift and shift >= min(images.shape[-2:])):
        raise ValueError(f"shift must be an int in [0, {min(images.shape[-2:])}) pixels for images "
                         f"of shape {tuple(images.shape)}, got {shift!r}")
    if device is None:
        dev = module_device(encoder, images.device)
    else:
        dev = get_device(device)
        encoder.to(dev)

    def views(x: torch.Tensor) -> list[torch.Tensor]:
        if not shift:
            return [x]
        H, W = x.shape[-2:]
        padded = F.pad(x, (shift,) * 4, mode="replicate")  # (B, C, H + 2s, W + 2s)
        offsets = (0, shift, 2 * shift)
        return [padded[..., i:i + H, j:j + W] for i in offsets for j in offsets]

    def encode(x: torch.Tensor) -> torch.Tensor:
        x = x.to(dev)
        if not flip and not shift:
            return encoder(x)
        xs = views(x)
        if flip:
            xs += [v.flip(-1) for v in xs]  # W is the last axis
        return F.normalize(sum(encoder(v) for v in xs), dim=1)  # (B, E)

    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            out = [encode(images[i:i + batch_size]).to(images.device)
                   for i in range(0, len(images), batch_size)]
    finally:
        encoder.train(was_training)
    if not out:
        e = getattr(encoder, "embedding_dim", 0)
        return torch.zeros(0, e, device=images.device)
    z = torch.cat(out)
    return z[0] if single else z
