"""Style images for neural style transfer (lessons 4.6 and 4.8-4.10): five public-domain paintings.

:func:`artworks` reads ``art/<name>.jpg`` through :func:`coursekit.data.sources.resolve`: from
``COURSEKIT_DATA``, else the download cache, else downloaded once from the pinned upstream
originals and resized to 512 px (sources, checksums and licences in
:mod:`coursekit.data.registry`). Offline and without a copy, each painting is replaced by a
procedural stand-in from :mod:`coursekit.data.procedural_art` (announced on standard error,
``source == "synthetic"``):
swirling brush strokes for the Van Gogh, Hokusai and Munch, a stained-glass mosaic for the
Turner, and an abstract composition for the Kandinsky.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from coursekit.data.photos import ImageSet, select_names
from coursekit.data.procedural_art import kandinsky_shapes, stained_glass, starry_swirls
from coursekit.data.sources import resolve
from coursekit.images import load_image, resize_image

__all__ = ["ARTWORKS", "artworks"]

ARTWORKS: dict[str, dict[str, str]] = {
    "starry_night": {"title": "The Starry Night", "artist": "Vincent van Gogh", "year": "1889",
                     "size": "512x320", "fallback": "starry_swirls (night)"},
    "great_wave": {"title": "The Great Wave off Kanagawa", "artist": "Katsushika Hokusai",
                   "year": "c. 1831", "size": "512x284", "fallback": "starry_swirls (wave)"},
    "turner_shipwreck": {"title": "The Shipwreck", "artist": "J. M. W. Turner", "year": "1805",
                         "size": "512x353", "fallback": "stained_glass"},
    "the_scream": {"title": "The Scream", "artist": "Edvard Munch", "year": "1893",
                   "size": "402x512", "fallback": "starry_swirls (scream)"},
    "composition_vii": {"title": "Composition VII", "artist": "Wassily Kandinsky", "year": "1913",
                        "size": "512x340", "fallback": "kandinsky_shapes"},
}
"""Name -> title, artist, year, the file's size (width x height) and its procedural stand-in.
The file is ``art/<name>.jpg`` (under ``COURSEKIT_DATA`` or the download cache)."""

_FALLBACKS: dict[str, Callable[..., Tensor]] = {
    "starry_night": partial(starry_swirls, palette="night"),
    "great_wave": partial(starry_swirls, palette="wave"),
    "turner_shipwreck": stained_glass,
    "the_scream": partial(starry_swirls, palette="scream"),
    "composition_vii": kandinsky_shapes,
}


def _fallback_size(name: str, size: int | tuple[int, int] | None) -> tuple[int, int]:
    """The (H, W) of the stand-in: the real painting's aspect ratio, scaled like ``size``."""
    w, h = (int(v) for v in ARTWORKS[name]["size"].split("x"))
    if isinstance(size, tuple):
        return int(size[0]), int(size[1])
    longer = 512 if size is None else size
    scale = longer / max(h, w)
    return max(8, round(h * scale)), max(8, round(w * scale))


def artworks(size: int | tuple[int, int] | None = None, *, names: list[str] | None = None,
             seed: int = 0) -> ImageSet:
    """The course's style images: the real paintings (local, cached or downloaded), else stand-ins.

    Args:
        size: ``None`` keeps each file's size (longer side 512); an int resizes so the longer
            side is ``size``; ``(H, W)`` resizes to exactly that.
        names: a subset of :data:`ARTWORKS` (default: all five, in that order).
        seed: seeds the procedural stand-ins.

    Returns:
        An :class:`~coursekit.data.photos.ImageSet` of ``(3, H, W)`` float32 images in [0, 1];
        ``.source`` is ``"local"``, ``"cache"``, ``"download"`` or ``"synthetic"`` (see
        :attr:`~coursekit.data.photos.ImageSet.source` for a mix); ``.titles`` caption each image.

    Example:
        >>> art = artworks(32, names=["composition_vii"])
        >>> tuple(art["composition_vii"].shape)
        (3, 21, 32)
    """
    names = select_names(names, ARTWORKS, "artwork")
    images, sources, titles = {}, {}, {}
    for i, name in enumerate(names):
        info = ARTWORKS[name]

        def synthetic(name: str = name, i: int = i) -> Tensor:
            g = torch.Generator().manual_seed(seed * 1000 + i)
            return _FALLBACKS[name](_fallback_size(name, size), generator=g)

        image, source = resolve(
            f"art/{name}",
            local=f"art/{name}.jpg",
            load_local=lambda p: load_image(p, size),
            synthetic=synthetic,
        )
        images[name] = resize_image(image, size) if source == "synthetic" else image
        sources[name] = source
        if source != "synthetic":
            titles[name] = f"{info['title']} ({info['artist']}, {info['year']})"
        else:
            titles[name] = f"{info['fallback'].split(' ')[0]} (stand-in for {info['title']})"
    return ImageSet(images, sources, titles)
