"""A folder of face photos in the LFW layout (``root/<person>/<image>``), for lessons 4.1-4.5.

:func:`load_face_folder` reads any size, grey or colour, and returns a
:class:`~coursekit.data.FaceDataset` of grey square faces; other files are skipped and listed.
The LFW layout: Huang et al., "Labeled Faces in the Wild", 2007.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from coursekit.data.faces import FaceDataset
from coursekit.images import load_image

__all__ = ["FACE_IMAGE_SUFFIXES", "load_face_folder"]

FACE_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".bmp", ".tif", ".tiff", ".webp")
"""File extensions :func:`load_face_folder` reads (case-insensitive); other files are skipped."""


def _to_grey_square(rgb: torch.Tensor, size: int) -> torch.Tensor:
    """``(3, H, W)`` RGB -> ``(1, size, size)`` grey: centre square crop, then area-style resize."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=rgb.dtype).view(3, 1, 1)
    grey = (rgb * weights).sum(0, keepdim=True)  # (1, H, W), ITU-R 601 luma
    h, w = grey.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    grey = grey[:, top:top + s, left:left + s]
    if s != size:
        grey = F.interpolate(grey[None], size=(size, size), mode="bilinear", antialias=True,
                             align_corners=False)[0]
    return grey.clamp(0.0, 1.0)


def load_face_folder(path: str | Path, *, size: int = 64) -> FaceDataset:
    """Faces from a folder with one sub-folder per person (the LFW layout).

    ``path/<person>/<image>`` with extensions in :data:`FACE_IMAGE_SUFFIXES`, any size, grey or
    colour. Each image becomes grey and is centre-cropped to a square and resized to
    ``size x size``. Other files (and loose files in ``path``) are skipped and listed in the
    result's ``skipped`` attribute; hidden entries (``.name``) are ignored.

    Args:
        path: the folder.
        size: side of the output images in pixels.

    Returns:
        A :class:`FaceDataset` with ``source="local"``, people sorted by folder name.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not a folder, holds no person folders, or a person folder holds
            no image; an image file cannot be read (the message names the file).

    Example:
        >>> import tempfile
        >>> from coursekit.images import save_image
        >>> root = Path(tempfile.mkdtemp())
        >>> for person in ("ada", "bob"):  # two generated photos per person
        ...     for k in range(2):
        ...         _ = save_image(torch.rand(3, 40, 30), root / person / f"{k}.png")
        >>> _ = (root / "notes.txt").write_text("not a face")
        >>> ds = load_face_folder(root, size=32)
        >>> ds.names, ds.labels.tolist(), tuple(ds.images.shape), ds.skipped
        (['ada', 'bob'], [0, 0, 1, 1], (4, 1, 32, 32), ['notes.txt'])
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"face folder not found: {root}")
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder; expected one sub-folder per person")
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    people = [p for p in entries if p.is_dir()]
    skipped = [p.name for p in entries if not p.is_dir()]
    if not people:
        raise ValueError(
            f"{root} holds no person folders; expected the LFW layout {root}/<person>/<image>.png"
        )
    images, labels, names = [], [], []
    for person in people:
        files = sorted(f for f in person.iterdir() if not f.name.startswith("."))
        found = [f for f in files if f.is_file() and f.suffix.lower() in FACE_IMAGE_SUFFIXES]
        skipped += [f"{person.name}/{f.name}" for f in files if f not in found]
        if not found:
            raise ValueError(
                f"person folder {person} holds no image ({', '.join(FACE_IMAGE_SUFFIXES)}); "
                "every person needs at least one"
            )
        label = len(names)
        names.append(person.name)
        for f in found:
            images.append(_to_grey_square(load_image(f), size))
            labels.append(label)
    return FaceDataset(torch.stack(images), torch.tensor(labels, dtype=torch.long), names,
                       "local", skipped)


