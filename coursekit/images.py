"""Reading, writing and showing images: the one place the course touches image files.

* :func:`load_image` returns a float RGB tensor ``(3, H, W)`` in [0, 1] for any file Pillow
  reads (EXIF orientation honoured; grayscale, 16-bit, palette and RGBA converted), and refuses
  missing, corrupt or oversized files (decompression bombs) with one error naming the file.
* :func:`resize_image` resizes an image tensor (the longer side to ``N`` pixels, or to exactly
  ``(H, W)``), and :func:`fit_size` computes the size it would have.
* :func:`save_image` writes atomically (temporary file, then ``os.replace``) and refuses to
  write over the images it is told to protect, such as a command's inputs.
* :func:`show_images` draws a row or grid of images and returns the Figure.
"""

from __future__ import annotations

import os
import textwrap
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from coursekit.files import atomic_write

__all__ = ["MAX_PIXELS", "fit_size", "image_format", "load_image", "resize_image", "save_image",
           "show_images", "to_numpy_image"]

MAX_PIXELS = 64_000_000
"""Largest image (width x height) :func:`load_image` opens by default: 8000 x 8000."""

_SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF",
                 ".tiff": "TIFF", ".webp": "WEBP"}


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """Pillow image of any mode -> float32 array (H, W, 3) in [0, 1]."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr = np.clip(arr / hi, 0.0, 1.0)
        return np.repeat(arr[..., None], 3, axis=2).astype(np.float32)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        img = img.convert("RGBA")
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)  # transparent pixels show as white
    img = img.convert("RGB")
    return np.asarray(img, dtype=np.float32) / 255.0


def fit_size(height: int, width: int, size: int) -> tuple[int, int]:
    """The ``(H, W)`` of a ``height`` x ``width`` image resized so that its longer side is
    ``size`` pixels, keeping the aspect ratio (each side at least 1 pixel).

    Example:
        >>> fit_size(300, 400, 200)
        (150, 200)
        >>> fit_size(1000, 1, 10)
        (10, 1)
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_image(image: torch.Tensor, size: int | tuple[int, int] | None) -> torch.Tensor:
    """Resize an image tensor with antialiased bilinear interpolation, values kept in [0, 1].

    Args:
        image: ``(C, H, W)``.
        size: ``None`` returns ``image`` itself; an int resizes so the longer side is ``size``
            pixels (:func:`fit_size`); ``(H, W)`` resizes to exactly that size.

    Returns:
        ``(C, H', W')`` on ``image``'s device and dtype (``image`` itself when the size is
        unchanged).

    Example:
        >>> resize_image(torch.rand(3, 30, 40), 20).shape
        torch.Size([3, 15, 20])
        >>> resize_image(torch.rand(3, 30, 40), (8, 8)).shape
        torch.Size([3, 8, 8])
    """
    if image.ndim != 3:
        raise ValueError(f"expected an image (C, H, W), got shape {tuple(image.shape)}")
    if size is None:
        return image
    h, w = image.shape[-2:]
    if isinstance(size, int) and not isinstance(size, bool):
        out = fit_size(h, w, size)
    else:
        ok = isinstance(size, (tuple, list)) and len(size) == 2 and all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)
        if not ok:
            raise ValueError(f"size must be a positive int or (H, W), got {size!r}")
        out = (int(size[0]), int(size[1]))
    if out == (h, w):
        return image
    x = F.interpolate(image[None], size=out, mode="bilinear", antialias=True, align_corners=False)
    return x[0].clamp(0.0, 1.0)  # (C, H', W')


def load_image(
    path: str | os.PathLike,
    size: int | tuple[int, int] | None = None,
    *,
    max_pixels: int = MAX_PIXELS,
) -> torch.Tensor:
    """Load an image file as a float RGB tensor.

    Args:
        path: an image file Pillow can read (PNG, JPEG, PGM, TIFF, BMP, WebP, GIF, ...).
        size: ``None`` keeps the size; an int resizes so the longer side is ``size`` pixels,
            keeping the aspect ratio; ``(H, W)`` resizes to exactly that size.
        max_pixels: refuse files with more pixels than this (decompression-bomb guard).

    Returns:
        Tensor ``(3, H, W)``, float32, values in [0, 1].

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not an image, is truncated or corrupt, is larger than
            ``max_pixels``, or ``size`` is invalid. The message names the file.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "grey.png")
        >>> Image.new("L", (40, 20), 128).save(p)
        >>> load_image(p).shape
        torch.Size([3, 20, 40])
        >>> load_image(p, size=10).shape
        torch.Size([3, 5, 10])
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image file not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not an image file")
    if size is not None:
        ok = (isinstance(size, int) and size > 0) or (
            isinstance(size, tuple) and len(size) == 2 and all(isinstance(s, int) and s > 0
                                                               for s in size))
        if not ok:
            raise ValueError(f"size must be a positive int or (H, W), got {size!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ValueError(
                        f"{path}: image is {w}x{h} = {w * h} pixels, more than the limit of "
                        f"{max_pixels}; refusing a possible decompression bomb"
                    )
                img = ImageOps.exif_transpose(img)
                img.load()
                if size is not None:
                    if isinstance(size, int):
                        new = fit_size(img.size[1], img.size[0], size)[::-1]  # PIL: (W, H)
                    else:
                        new = (size[1], size[0])
                    if img.mode not in ("RGB", "RGBA", "L", "LA"):
                        img = Image.fromarray((_to_rgb_array(img) * 255).round().astype(np.uint8))
                    img = img.resize(new, Image.Resampling.LANCZOS)
                arr = _to_rgb_array(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ValueError(f"{path}: refusing a possible decompression bomb ({err})") from err
    except UnidentifiedImageError as err:
        raise ValueError(f"{path}: not an image file Pillow can read") from err
    except (PermissionError, IsADirectoryError):
        raise  # the file is fine, the access is not: the error names the file
    except (OSError, SyntaxError, EOFError) as err:
        raise ValueError(f"{path}: corrupt or truncated image ({err})") from err
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous()  # (3, H, W)


def to_numpy_image(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """Convert an image to a NumPy array ready for ``imshow``.

    Args:
        image: ``(3, H, W)``, ``(1, 3, H, W)``, ``(1, H, W)`` or ``(H, W)`` tensor, or an
            ``(H, W)`` / ``(H, W, 3)`` array. Values are clipped to [0, 1].

    Returns:
        ``(H, W, 3)`` or ``(H, W)`` float array.

    Example:
        >>> to_numpy_image(torch.rand(1, 3, 4, 5)).shape  # (1, 3, H, W) -> (H, W, 3)
        (4, 5, 3)
        >>> to_numpy_image(torch.tensor([[[-0.5, 0.5, 2.0]]])).tolist()  # (1, H, W), clipped
        [[0.0, 0.5, 1.0]]
    """
    if isinstance(image, torch.Tensor):
        t = image.detach().float().cpu()
        if t.ndim == 4:
            if t.shape[0] != 1:
                raise ValueError(f"expected a single image (1, C, H, W), got {tuple(t.shape)}")
            t = t[0]
        if t.ndim == 3:
            if t.shape[0] == 1:
                t = t[0]
            elif t.shape[0] == 3:
                t = t.permute(1, 2, 0)  # (H, W, 3)
            else:
                raise ValueError(f"expected (3, H, W) or (1, H, W), got {tuple(image.shape)}")
        elif t.ndim != 2:
            raise ValueError(f"expected an image tensor, got shape {tuple(image.shape)}")
        arr = t.numpy()
    else:
        arr = np.asarray(image, dtype=np.float32)
        if arr.ndim not in (2, 3):
            raise ValueError(f"expected an (H, W) or (H, W, 3) array, got {arr.shape}")
    return np.clip(arr, 0.0, 1.0)


def image_format(path: str | os.PathLike) -> str:
    """The Pillow format :func:`save_image` writes ``path`` in, from its extension.

    Raises:
        ValueError: the extension is not an image format; the message names ``path``.

    Example:
        >>> image_format("out.JPG")
        'JPEG'
        >>> image_format("out.txt")
        Traceback (most recent call last):
        ...
        ValueError: out.txt: unknown image extension '.txt'; use one of ...
    """
    path = Path(path)
    fmt = _SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image extension {path.suffix!r}; use one of "
                         f"{', '.join(sorted(_SAVE_FORMATS))}")
    return fmt


def save_image(
    image: torch.Tensor,
    path: str | os.PathLike,
    *,
    protect: Iterable[str | os.PathLike] = (),
    quality: int = 95,
) -> Path:
    """Write an image atomically.

    The image goes to a temporary file in the target folder, which then replaces ``path`` in
    one step, so a crash never leaves a half-written file and a reader never sees one.

    Args:
        image: ``(3, H, W)``, ``(1, 3, H, W)`` or ``(H, W)`` tensor with values in [0, 1]
            (clipped).
        path: the file to write; the format follows the extension (.png, .jpg, ...).
        protect: files that must never be written over, e.g. the input images of a command.
        quality: JPEG/WebP quality.

    Returns:
        The path written.

    Raises:
        ValueError: ``path`` is one of ``protect``, the extension is not an image format, or
            the image holds NaN or infinite values (nothing is written).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "out.png")
        >>> save_image(torch.rand(3, 8, 8), p).name
        'out.png'
        >>> load_image(p).shape
        torch.Size([3, 8, 8])
    """
    path = Path(path)
    fmt = image_format(path)
    target = path.resolve()
    for p in protect:
        if Path(p).resolve() == target:
            raise ValueError(f"refusing to write over the input image {p}; choose another output")
    values = image.detach() if isinstance(image, torch.Tensor) else torch.as_tensor(np.asarray(image))
    bad = int((~torch.isfinite(values)).sum()) if values.is_floating_point() else 0
    if bad:
        raise ValueError(f"{path}: the image holds {bad} NaN or infinite value(s) of "
                         f"{values.numel()}; nothing written")
    arr = to_numpy_image(image)
    img = Image.fromarray((arr * 255.0).round().astype(np.uint8))
    kwargs = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    with atomic_write(target, "wb") as f:
        img.save(f, format=fmt, **kwargs)
    return path


def _wrap_title(title: str, width: int) -> str:
    """Wrap each ``"\\n"``-separated line of ``title`` to ``width`` characters, keeping the breaks.

    Example:
        >>> _wrap_title("same\\nd=0.44 accept", 14)
        'same\\nd=0.44 accept'
        >>> _wrap_title("nearest enrolled: s12\\nd = 0.53", 14)
        'nearest\\nenrolled: s12\\nd = 0.53'
    """
    # textwrap.fill would turn the "\n" into a space and re-wrap the whole title
    return "\n".join(textwrap.fill(line, width) if line else line for line in title.split("\n"))


def show_images(
    images: Sequence[torch.Tensor | np.ndarray],
    titles: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    size: float = 2.5,
    cmap: str = "gray",
    suptitle: str | None = None,
):
    """Show images side by side (or in a grid) and return the Figure.

    Args:
        images: tensors ``(3, H, W)`` / ``(H, W)`` or arrays ``(H, W, 3)`` / ``(H, W)``.
        titles: one title per image. Each line (split at an explicit ``"\\n"``, which is
            kept) is wrapped on its own to the panel's width.
        ncols: images per row (default: all in one row, at most 8).
        size: inches per image.
        cmap: colour map for single-channel images.
        suptitle: a title over the whole figure.

    Returns:
        ``matplotlib.figure.Figure``.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> fig = show_images([torch.rand(3, 8, 8), torch.rand(8, 8)], ["colour", "grey"])
        >>> type(fig).__name__, len(fig.axes)
        ('Figure', 2)
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    n = len(images)
    if n == 0:
        raise ValueError("show_images needs at least one image")
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {n} images but {len(titles)} titles")
    ncols = ncols or min(n, 8)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            arr = to_numpy_image(images[i])
            ax.imshow(arr, cmap=cmap if arr.ndim == 2 else None, vmin=0, vmax=1)
            if titles is not None:
                # wrapped to the panel's width (~13 characters per inch at 9 pt)
                ax.set_title(_wrap_title(titles[i], max(12, int(size * 13))), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
