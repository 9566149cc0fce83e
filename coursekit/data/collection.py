"""An offline image collection for the top-patch search of lesson 4.7 (Zeiler & Fergus, 2013).

Zeiler and Fergus searched the 50 000 ImageNet validation images for the patches that excite a
unit most. Offline we have far fewer images, so :func:`patch_collection` makes several hundred
by random crops (varied scale and position) and horizontal flips of every photograph the
installed packages ship, the five paintings and the Olivetti faces. The images used are listed
in :data:`COLLECTION_IMAGES`; left out on purpose are the synthetic or graphic images in
``skimage.data`` (``checkerboard``, ``colorwheel``, ``logo``, ``horse`` silhouette,
``shepp_logan_phantom``, ``binary_blobs``) and the files that need a download (``eagle``,
``lily``, ``kidney``, ``skin``, ``cells3d``, ``brain``, ...).

Photographs from scikit-image and scikit-learn are read from the installed wheels (nothing to
download); one that cannot be read is skipped and named in ``missing``. The paintings come
from :func:`coursekit.data.art.artworks` and the faces from
:func:`coursekit.data.faces.load_olivetti`, both through the course's resolution order (their
synthetic stand-ins are announced by them and show up in ``sources``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from coursekit.data.photos import PHOTOS, sample_photos
from coursekit.images import resize_image

__all__ = ["COLLECTION_IMAGES", "PatchCollection", "patch_collection"]

_FACE_SLOTS = 4  # faces get this many turns in each round over the base images (about 1 in 8)
_MAX_SIDE = 512  # base images are shrunk to this longer side first (speed, memory)
_FACE_MIN_SCALE = 0.6  # 64 x 64 faces: keep crops large enough to show eyes, nose or mouth

COLLECTION_IMAGES: dict[str, dict[str, str]] = {
    **{name: {"kind": "photo", "package": info["package"], "credit": info["credit"]}
       for name, info in PHOTOS.items()},
    "camera": {"kind": "photo", "package": "scikit-image",
               "credit": "Lav Varshney, CC0 (grey)"},
    "coins": {"kind": "photo", "package": "scikit-image",
              "credit": "Greek coins from Pompeii, Brooklyn Museum, no known restrictions (grey)"},
    "moon": {"kind": "photo", "package": "scikit-image",
             "credit": "surface of the moon, scikit-image sample data (grey)"},
    "clock": {"kind": "photo", "package": "scikit-image",
              "credit": "motion-blurred wall clock, Stefan van der Walt, public domain (grey)"},
    "page": {"kind": "photo", "package": "scikit-image",
             "credit": "scanned printed page, scikit-image sample data (grey)"},
    "text": {"kind": "photo", "package": "scikit-image",
             "credit": "Wikipedia File:Corner.png, public domain (grey)"},
    "hubble_deep_field": {"kind": "photo", "package": "scikit-image",
                          "credit": "Hubble eXtreme Deep Field, NASA, public domain"},
    "immunohistochemistry": {"kind": "photo", "package": "scikit-image",
                             "credit": "IHC-stained colonic glands, CMMI, no known restrictions"},
    "retina": {"kind": "photo", "package": "scikit-image",
               "credit": "fundus photograph, Mikael Häggström (2014), CC0"},
    "stereo_motorcycle": {"kind": "photo", "package": "scikit-image",
                          "credit": "motorcycle, left view, Middlebury 2014 stereo benchmark"},
    "cell": {"kind": "photo", "package": "scikit-image",
             "credit": "quantitative phase image of a cell, CC0 (grey)"},
    "microaneurysms": {"kind": "photo", "package": "scikit-image",
                       "credit": "retina detail, HRF database, CC0 by Andreas Maier (grey)"},
    "brick": {"kind": "texture", "package": "scikit-image",
              "credit": "brick wall, CC0Textures Bricks25, CC0 (grey)"},
    "grass": {"kind": "texture", "package": "scikit-image",
              "credit": "grass, linolafett on DeviantArt, CC0 (grey)"},
    "gravel": {"kind": "texture", "package": "scikit-image",
               "credit": "gravel, CC0Textures Gravel04, CC0 (grey)"},
    "starry_night": {"kind": "art", "package": "COURSEKIT_DATA/art", "credit": "van Gogh, 1889, PD"},
    "great_wave": {"kind": "art", "package": "COURSEKIT_DATA/art", "credit": "Hokusai, c. 1831, PD"},
    "turner_shipwreck": {"kind": "art", "package": "COURSEKIT_DATA/art", "credit": "Turner, 1805, PD"},
    "the_scream": {"kind": "art", "package": "COURSEKIT_DATA/art",
                   "credit": "Munch, 1893, PD in the US and life+70 countries"},
    "composition_vii": {"kind": "art", "package": "COURSEKIT_DATA/art",
                        "credit": "Kandinsky, 1913, PD in the US and life+70 countries"},
    "olivetti": {"kind": "face", "package": "COURSEKIT_DATA/scikit_learn_data",
                 "credit": "AT&T Laboratories Cambridge (400 grey 64x64 faces)"},
}
"""Every base image of the collection: name -> kind (photo, texture, art, face), where it comes
from (package or ``COURSEKIT_DATA`` folder) and its credit."""


@dataclass
class PatchCollection:
    """Images for the patch search; unpacks as ``images, descriptions = patch_collection(...)``.

    Attributes:
        images: ``(N, 3, H, W)`` float32 RGB in [0, 1] (grey sources repeated over channels).
        descriptions: one line per image: base image, crop box in the base image, flip.
        sources: base image name -> ``"local"``, ``"cache"``, ``"download"`` or ``"synthetic"``
            (for those used).
        missing: base images that could not be read (skipped).

    Example:
        >>> pc = PatchCollection(torch.rand(2, 3, 16, 16), ["camera crop rows 0:64 cols 0:64",
        ...                      "moon crop rows 8:40 cols 0:32, flipped"],
        ...                      sources={"camera": "local", "moon": "local"})
        >>> images, descriptions = pc
        >>> tuple(images.shape), len(descriptions), pc.source
        ((2, 3, 16, 16), 2, 'local')
    """

    images: Tensor
    descriptions: list[str]
    sources: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        """``"synthetic"`` or ``"mixed"`` (real and synthetic) when any base image is synthetic;
        else where the real ones came from: ``"local"``, or e.g. ``"cache, local"``."""
        kinds = set(self.sources.values())
        if len(kinds) == 1:
            return kinds.pop()
        return "mixed" if "synthetic" in kinds else ", ".join(sorted(kinds))

    def __iter__(self) -> Iterator:
        return iter((self.images, self.descriptions))


def _grey_to_rgb(arr: np.ndarray) -> Tensor:
    t = torch.from_numpy(np.ascontiguousarray(arr)).float()
    if arr.dtype == np.uint8:
        t = t / 255.0
    if t.ndim == 2:
        t = t.unsqueeze(0).expand(3, -1, -1)
    else:
        t = t[..., :3].permute(2, 0, 1)
    return t.clamp(0.0, 1.0).contiguous()


def _skimage_images() -> tuple[dict[str, Tensor], list[str]]:
    import skimage.data

    images, missing = {}, []
    for name, info in COLLECTION_IMAGES.items():
        if info["package"] != "scikit-image" or name in PHOTOS:
            continue
        try:
            arr = getattr(skimage.data, name)()
            if isinstance(arr, tuple):  # stereo_motorcycle: (left, right, disparity)
                arr = arr[0]
            images[name] = _grey_to_rgb(arr)
        except Exception:  # a file missing from the wheel, or one that needs pooch
            missing.append(name)
    return images, missing


def _base_images(art_side: int) -> tuple[dict[str, Tensor], dict[str, str], list[str], Tensor, str]:
    from coursekit.data.art import artworks
    from coursekit.data.faces import load_olivetti

    photos = sample_photos(_MAX_SIDE)
    images = {n: photos[n] for n in photos if photos.sources[n] == "local"}
    missing = [n for n in photos if photos.sources[n] != "local"]
    sk, sk_missing = _skimage_images()
    images.update({n: resize_image(t, _MAX_SIDE) if max(t.shape[-2:]) > _MAX_SIDE else t
                   for n, t in sk.items()})
    missing += sk_missing
    sources = dict.fromkeys(images, "local")
    art = artworks(art_side)  # the procedural stand-ins are slow at full size: no bigger than needed
    for n in art:
        images[n] = art[n]
        sources[n] = art.sources[n]
    faces = load_olivetti()
    sources["olivetti"] = faces.source
    return images, sources, missing, faces.images, faces.source


def _random_crop(image: Tensor, out: tuple[int, int], g: torch.Generator,
                 min_scale: float) -> tuple[Tensor, tuple[int, int, int, int]]:
    """A random crop with the output's aspect ratio, side between ``min_scale`` and 1 of the
    largest that fits, resized to ``out``."""
    h, w = image.shape[-2:]
    aspect = out[1] / out[0]
    full_h = min(h, int(w / aspect))  # largest crop of this aspect ratio
    scale = min_scale + (1.0 - min_scale) * float(torch.rand((), generator=g))
    ch = max(1, round(full_h * scale))
    cw = max(1, min(w, round(ch * aspect)))
    top = int(torch.randint(0, h - ch + 1, (), generator=g))
    left = int(torch.randint(0, w - cw + 1, (), generator=g))
    crop = image[:, top:top + ch, left:left + cw]
    resized = F.interpolate(crop[None], size=out, mode="bilinear", antialias=True,
                            align_corners=False)[0]
    return resized.clamp(0.0, 1.0), (top, left, top + ch, left + cw)


def patch_collection(
    num_images: int = 300,
    *,
    size: int | tuple[int, int] = 128,
    generator: torch.Generator | None = None,
    min_scale: float = 0.25,
) -> PatchCollection:
    """Several hundred varied images, all offline, for :func:`coursekit.visualize.top_activating_patches`.

    The base images (:data:`COLLECTION_IMAGES`: photos, textures, paintings, and faces about one
    time in eight) are visited in rounds, each round in a new random order; each visit makes
    one image: a random crop (side ``min_scale`` to 1 times the largest crop that fits; at least
    0.6 for the 64 x 64 faces), resized to ``size``, flipped left-right with probability 1/2.

    Args:
        num_images: ``N``, how many images to make.
        size: output ``H = W`` (int) or ``(H, W)``.
        generator: seeds crops, flips and order (default: seed 0).
        min_scale: smallest crop side as a fraction of the largest possible crop.

    Returns:
        A :class:`PatchCollection`: ``images`` ``(N, 3, H, W)`` in [0, 1] and one description
        per image (it unpacks as ``images, descriptions``).

    Raises:
        ValueError: ``num_images < 1``, a non-positive size or ``min_scale`` outside (0, 1].

    Usage (it reads some 30 image files, a few seconds)::

        images, descriptions = patch_collection(300, size=128, generator=generator)

    Example:
        >>> sorted({info["kind"] for info in COLLECTION_IMAGES.values()})
        ['art', 'face', 'photo', 'texture']
    """
    out = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if num_images < 1 or min(out) < 1:
        raise ValueError(f"num_images and size must be positive, got {num_images} and {size}")
    if not 0.0 < min_scale <= 1.0:
        raise ValueError(f"min_scale must lie in (0, 1], got {min_scale}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    # paintings at the side where the smallest crop still has the output's resolution
    art_side = min(_MAX_SIDE, max(64, round(max(out) / min_scale)))
    bases, sources, missing, faces, face_source = _base_images(art_side)
    slots = list(bases) + ["olivetti"] * _FACE_SLOTS
    images = torch.empty(num_images, 3, *out)
    descriptions: list[str] = []
    order: list[int] = []
    for i in range(num_images):
        if not order:
            order = torch.randperm(len(slots), generator=g).tolist()
        name = slots[order.pop()]
        if name == "olivetti":
            j = int(torch.randint(0, faces.shape[0], (), generator=g))
            base = faces[j].expand(3, -1, -1)  # (3, 64, 64)
            label = f"olivetti[{j}]" + (" (synthetic)" if face_source == "synthetic" else "")
        else:
            base = bases[name]
            label = name + (" (synthetic)" if sources[name] == "synthetic" else "")
        lowest = max(min_scale, _FACE_MIN_SCALE) if name == "olivetti" else min_scale
        crop, (t, l, b, r) = _random_crop(base, out, g, lowest)
        flip = bool(torch.rand((), generator=g) < 0.5)
        images[i] = crop.flip(-1) if flip else crop
        descriptions.append(f"{label} crop rows {t}:{b} cols {l}:{r}" + (", flipped" if flip else ""))
    used = {d.split(" ")[0].split("[")[0] for d in descriptions}
    return PatchCollection(images, descriptions, {n: s for n, s in sources.items() if n in used},
                           missing)
