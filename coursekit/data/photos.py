"""Content photos for neural style transfer (lessons 4.6 and 4.8-4.10), offline.

The six photos ship inside scikit-image and scikit-learn, so there is nothing to download and
no ``COURSEKIT_DATA`` copy: :func:`sample_photos` reads them from the installed packages
(source ``"local"``). Only if a package lacks one does it draw a synthetic landscape instead,
announced with the one line of :func:`coursekit.data.sources.announce` (source
``"synthetic"``); :func:`coursekit.data.sources.resolve`'s download step has no meaning here.

Credits are in :data:`PHOTOS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from coursekit.data.sources import announce
from coursekit.images import resize_image

__all__ = ["PHOTOS", "ImageSet", "sample_photos", "select_names", "synthetic_photo"]

PHOTOS: dict[str, dict[str, str]] = {
    "astronaut": {"title": "Astronaut Eileen Collins", "credit": "NASA, public domain",
                  "package": "scikit-image"},
    "chelsea": {"title": "Chelsea the cat", "credit": "Stefan van der Walt, CC0", "package": "scikit-image"},
    "coffee": {"title": "Coffee cup", "credit": "Rachel Michetti (Pikolo Espresso Bar), CC0",
               "package": "scikit-image"},
    "rocket": {"title": "DSCOVR launch on Falcon 9", "credit": "SpaceX, public domain",
               "package": "scikit-image"},
    "china": {"title": "Chinese temple (china.jpg)", "credit": "danielbuechele on Flickr, CC BY 2.0",
              "package": "scikit-learn"},
    "flower": {"title": "Flower (flower.jpg)", "credit": "vultilion on Flickr, CC BY 2.0",
               "package": "scikit-learn"},
}
"""Name -> title, credit (author and licence) and the package that ships the photo."""


@dataclass
class ImageSet(Mapping[str, Tensor]):
    """A named collection of RGB images that behaves like a read-only dict.

    Attributes:
        images: name -> ``(3, H, W)`` float32 in [0, 1].
        sources: name -> ``"local"``, ``"cache"``, ``"download"`` or ``"synthetic"``.
        titles: name -> a caption (title, author, year) for figures.

    Example:
        >>> s = ImageSet({"a": torch.zeros(3, 2, 2)}, {"a": "synthetic"}, {"a": "A"})
        >>> list(s), s.source, tuple(s["a"].shape)
        (['a'], 'synthetic', (3, 2, 2))
    """

    images: dict[str, Tensor]
    sources: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The common source of all images; ``"mixed"`` when real and synthetic images are mixed;
        the real sources joined (``"cache, download"``) when all are real but come from several."""
        kinds = set(self.sources.values())
        if len(kinds) == 1:
            return kinds.pop()
        return "mixed" if "synthetic" in kinds else ", ".join(sorted(kinds))

    def __getitem__(self, name: str) -> Tensor:
        if name not in self.images:
            raise KeyError(f"no image {name!r}; available: {', '.join(self.images)}")
        return self.images[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.images)

    def __len__(self) -> int:
        return len(self.images)


def select_names(names: list[str] | None, table: Mapping[str, object], what: str) -> list[str]:
    """``names`` (default: all of ``table``, in order), refusing unknown ones with one error
    that lists the known ones; ``what`` names the kind of item in it.

    Example:
        >>> select_names(None, PHOTOS, "photo")[:2]
        ['astronaut', 'chelsea']
        >>> select_names(["mona"], PHOTOS, "photo")
        Traceback (most recent call last):
        ...
        ValueError: unknown photo(s) ['mona']; available: astronaut, chelsea, ...
    """
    names = list(table) if names is None else list(names)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; available: {', '.join(table)}")
    return names


def _from_uint8(arr: np.ndarray) -> Tensor:
    return torch.from_numpy(np.array(arr[..., :3], dtype=np.float32)).permute(2, 0, 1) / 255.0


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


_LOADERS = {
    "astronaut": _skimage("astronaut"),
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "rocket": _skimage("rocket"),
    "china": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
}


def synthetic_photo(size: int | tuple[int, int] = (256, 384), *, generator: torch.Generator | None = None
                    ) -> Tensor:
    """A procedural landscape (sky, sun, hills, grass) standing in for a missing photo.

    Args:
        size: ``(H, W)``, or an int for a 2:3 landscape with that longer side.
        generator: seeds the layout.

    Returns:
        ``(3, H, W)`` float32 in [0, 1].

    Example:
        >>> tuple(synthetic_photo(30, generator=torch.Generator().manual_seed(0)).shape)
        (3, 20, 30)
    """
    h, w = (round(size * 2 / 3), size) if isinstance(size, int) else size
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    r = torch.rand(8, generator=g)
    y = torch.linspace(0, 1, h).view(h, 1).expand(h, w)
    x = torch.linspace(0, 1, w).view(1, w).expand(h, w)
    sky_top, sky_low = torch.tensor([0.2, 0.35, 0.75]), torch.tensor([0.85, 0.75, 0.6])
    img = sky_top.view(3, 1, 1) * (1 - y) + sky_low.view(3, 1, 1) * y
    sun = (((x - (0.2 + 0.6 * r[0])) * w) ** 2 + ((y - 0.25) * h) ** 2).sqrt() < 0.06 * max(h, w)
    img = torch.where(sun, torch.tensor([1.0, 0.9, 0.5]).view(3, 1, 1), img)
    for k, (shade, base) in enumerate(((0.35, 0.55), (0.25, 0.7))):  # far and near hills
        ridge = base + 0.08 * torch.sin(2 * math.pi * (x * (1.5 + k + r[1 + k]) + r[3 + k]))
        hill = torch.tensor([shade, 0.45 + 0.1 * k, shade * 0.8]).view(3, 1, 1)
        img = torch.where(y > ridge, hill * (1.1 - 0.3 * (y - ridge)), img)
    grass = y > 0.85
    noise = 0.08 * torch.rand(h, w, generator=g)
    img = torch.where(grass, torch.stack([0.2 + noise, 0.5 + noise, 0.15 + noise]), img)
    return img.clamp(0.0, 1.0)


def sample_photos(size: int | tuple[int, int] | None = None, *, names: list[str] | None = None) -> ImageSet:
    """The course's content photos, from scikit-image and scikit-learn (offline).

    Args:
        size: ``None`` keeps each photo's size; an int resizes so the longer side is ``size``;
            ``(H, W)`` resizes to exactly that.
        names: a subset of :data:`PHOTOS` (default: all six, in that order).

    Returns:
        An :class:`ImageSet` of ``(3, H, W)`` float32 images in [0, 1], with ``.source``.

    Example:
        >>> photos = sample_photos(64, names=["chelsea", "china"])
        >>> {k: tuple(v.shape) for k, v in photos.items()}, photos.source
        ({'chelsea': (3, 43, 64), 'china': (3, 43, 64)}, 'local')
    """
    names = select_names(names, PHOTOS, "photo")
    images, sources, titles = {}, {}, {}
    for i, name in enumerate(names):
        info = PHOTOS[name]
        try:
            image, source = _from_uint8(_LOADERS[name]()), "local"
        except Exception as err:  # package missing, or a file it ships was removed
            announce(name, f"using the synthetic fallback ({info['package']} could not provide it: "
                           f"{type(err).__name__})")
            image, source = synthetic_photo(generator=torch.Generator().manual_seed(i)), "synthetic"
        images[name] = resize_image(image, size)
        sources[name] = source
        titles[name] = info["title"] if source == "local" else f"{name} (synthetic)"
    return ImageSet(images, sources, titles)
