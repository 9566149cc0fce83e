"""Face datasets for lessons 4.1-4.5: Olivetti, a folder of faces (LFW layout), synthetic faces.

Every loader returns a :class:`FaceDataset`: grey images ``(N, 1, H, W)`` in [0, 1], integer
labels ``0..P-1`` and one name per person. :func:`load_olivetti` follows the course's resolution
order (``COURSEKIT_DATA`` copy, then scikit-learn's download, then :func:`synthetic_faces`,
announced). :func:`split_identities` splits by *person*, so the people a model is evaluated on
were never seen in training (one-shot learning, lesson 4.2).

Olivetti (AT&T Laboratories Cambridge; F. Samaria & A. Harter, WACV 1994): 40 people x 10
images, 64 x 64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from coursekit.data.sources import resolve
from coursekit.images import load_image

__all__ = [
    "FACE_IMAGE_SUFFIXES",
    "FaceDataset",
    "load_face_folder",
    "load_olivetti",
    "split_identities",
    "synthetic_faces",
]

FACE_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".bmp", ".tif", ".tiff", ".webp")
"""File extensions :func:`load_face_folder` reads (case-insensitive); other files are skipped."""


@dataclass
class FaceDataset:
    """Grey face images with one integer label per image.

    Attributes:
        images: ``(N, 1, H, W)`` float32 in [0, 1].
        labels: ``(N,)`` int64 in ``0..P-1``.
        names: ``P`` names, ``names[label]`` is the person's name.
        source: ``"local"``, ``"download"`` or ``"synthetic"`` (see :mod:`coursekit.data.sources`).
        skipped: files a folder loader skipped because they are not images (relative paths).

    Example:
        >>> ds = synthetic_faces(num_people=3, images_per_person=2, size=32)
        >>> len(ds), ds.num_people, tuple(ds.images.shape)
        (6, 3, (6, 1, 32, 32))
        >>> ds.subset([0, 1]).labels.tolist()
        [0, 0]
    """

    images: torch.Tensor
    labels: torch.Tensor
    names: list[str]
    source: str
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[1] != 1:
            raise ValueError(f"images must be (N, 1, H, W), got {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must be ({self.images.shape[0]},) to match images, got {tuple(self.labels.shape)}"
            )
        if len(self.labels) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.names)):
            raise ValueError(f"labels must lie in 0..{len(self.names) - 1} (one name per person)")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_people(self) -> int:
        """Number of people ``P`` (the length of ``names``)."""
        return len(self.names)

    def subset(self, indices, *, relabel: bool = False) -> FaceDataset:
        """The images at ``indices``.

        Args:
            indices: a sequence or tensor of image indices (or a boolean mask).
            relabel: ``False`` keeps labels and ``names`` unchanged (people may be missing from
                the subset); ``True`` renumbers the people present to ``0..P'-1`` in order of
                their old label and keeps only their names.
        """
        idx = torch.as_tensor(indices, device=self.labels.device)
        if idx.dtype == torch.bool:
            idx = idx.nonzero().flatten()
        idx = idx.long()
        images, labels = self.images[idx.to(self.images.device)], self.labels[idx]
        names = list(self.names)
        if relabel:
            present = torch.unique(labels)  # sorted
            remap = torch.full((len(self.names),), -1, dtype=torch.long, device=labels.device)
            remap[present] = torch.arange(len(present), device=labels.device)
            labels = remap[labels]
            names = [self.names[i] for i in present.tolist()]
        return FaceDataset(images, labels, names, self.source, list(self.skipped))

    def to(self, device: str | torch.device) -> FaceDataset:
        """The same dataset with images and labels on ``device``."""
        return FaceDataset(self.images.to(device), self.labels.to(device), list(self.names),
                           self.source, list(self.skipped))


def split_identities(
    dataset: FaceDataset, num_test_people: int, *, generator: torch.Generator | None = None
) -> tuple[FaceDataset, FaceDataset]:
    """Split by person: nobody in ``test`` appears in ``train``.

    Args:
        dataset: the faces to split.
        num_test_people: how many people go to the test side (at least 1, at most ``P - 1``).
        generator: chooses the test people (``None``: torch's global RNG).

    Returns:
        ``(train, test)``, each relabelled to ``0..P'-1`` with its own ``names``.

    Example:
        >>> ds = synthetic_faces(num_people=5, images_per_person=2, size=16)
        >>> train, test = split_identities(ds, 2, generator=torch.Generator().manual_seed(0))
        >>> train.num_people, test.num_people, len(set(train.names) & set(test.names))
        (3, 2, 0)
    """
    p = dataset.num_people
    if not 1 <= num_test_people <= p - 1:
        raise ValueError(f"num_test_people must be in 1..{p - 1} for {p} people, got {num_test_people}")
    order = torch.randperm(p, generator=generator)
    is_test = torch.zeros(p, dtype=torch.bool)
    is_test[order[:num_test_people]] = True
    mask = is_test.to(dataset.labels.device)[dataset.labels]
    return dataset.subset(~mask, relabel=True), dataset.subset(mask, relabel=True)


# --------------------------------------------------------------------------------------------
# Olivetti


def _from_sklearn_bunch(bunch, source: str = "local") -> FaceDataset:
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1).contiguous()  # (N,1,64,64)
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    names = [f"s{i + 1:02d}" for i in range(int(labels.max()) + 1)]  # the ORL folder names
    return FaceDataset(images, labels, names, source)


def load_olivetti() -> FaceDataset:
    """The Olivetti faces: 40 people x 10 grey 64 x 64 images, names ``s01``..``s40``.

    Resolution order: ``COURSEKIT_DATA/scikit_learn_data/olivetti_py3.pkz`` (scikit-learn's
    cache), then ``sklearn.datasets.fetch_olivetti_faces()`` (download), then
    :func:`synthetic_faces` (40 x 10, 64 x 64) with a one-line announcement.
    """
    from sklearn.datasets import fetch_olivetti_faces

    def load_local(path: Path) -> FaceDataset:
        return _from_sklearn_bunch(
            fetch_olivetti_faces(data_home=str(path.parent), download_if_missing=False))

    data, source = resolve(
        "olivetti",
        local="scikit_learn_data/olivetti_py3.pkz",
        load_local=load_local,
        fetch=lambda: _from_sklearn_bunch(fetch_olivetti_faces()),
        synthetic=lambda: synthetic_faces(40, 10, 64, generator=torch.Generator().manual_seed(0)),
    )
    data.source = source
    return data


# --------------------------------------------------------------------------------------------
# A folder of faces (the LFW layout)


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


# --------------------------------------------------------------------------------------------
# Synthetic faces


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
