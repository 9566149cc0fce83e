"""3-D volumes for lesson 4.11 (3-D convolutions): MedMNIST AdrenalMNIST3D, a CT head, MNI152.

* :func:`load_adrenalmnist3d` — MedMNIST v2 AdrenalMNIST3D (Yang et al., "MedMNIST v2 – A
  large-scale lightweight benchmark for 2D and 3D biomedical image classification", Scientific
  Data 2023): binary 28³ or 64³ shape masks of adrenal glands, normal (0) vs hyperplasia (1),
  official train/val/test split. File ``volumes/adrenalmnist3d[_64].npz``: the official MedMNIST
  file from Zenodo, unchanged.
* :func:`load_ct_head` — 10 axial 256×256 CT slices of a head (UNC volume data via
  scikit-image's ``brain``; contrast-rescaled, not Hounsfield units), for visualisation. File
  ``volumes/ct_head_unc_10slices.npz``, made from scikit-image's ``brain.tiff``.
* :func:`load_mni152` — the MNI ICBM152 2009a T1 template (197×233×189, 1 mm), for visualisation.
  File ``volumes/mni_icbm152_t1_2009a.npz``, made from nilearn's NIfTI copy of the template.
* Announced synthetic fallbacks: :func:`synthetic_adrenal` (labelled blob masks: a smooth
  ellipsoid vs one with an attached nodule) and :func:`head_phantom` (a 3-D Shepp–Logan-like head).

Each file is read from ``COURSEKIT_DATA``, else the download cache, else downloaded and converted
once (:mod:`coursekit.data.registry` names the upstream files and their checksums).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from coursekit.data.sources import resolve

__all__ = ["MedMNIST3D", "Volume", "head_phantom", "load_adrenalmnist3d", "load_ct_head",
           "load_mni152", "synthetic_adrenal"]

SPLITS = ("train", "val", "test")


@dataclass
class MedMNIST3D:
    """A MedMNIST 3-D dataset in the official npz layout.

    Attributes:
        arrays: ``{"train_images": (N, S, S, S) uint8, "train_labels": (N, 1) uint8, ...}`` for the
            splits train, val and test.
        size: S, 28 or 64.
        name: the dataset's name.
        source: ``"local"``, ``"cache"``, ``"download"`` or ``"synthetic"``.

    Example:
        >>> arrays = {f"{s}_{k}": np.zeros((2, 4, 4, 4) if k == "images" else (2, 1), np.uint8)
        ...           for s in SPLITS for k in ("images", "labels")}
        >>> x, y = MedMNIST3D(arrays, size=4).split("test")
        >>> tuple(x.shape), x.dtype, y.tolist()
        ((2, 1, 4, 4, 4), torch.float32, [0, 0])
    """

    arrays: dict[str, np.ndarray]
    size: int
    name: str = "adrenalmnist3d"
    source: str = "local"

    def split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, labels)`` of one split as tensors.

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.

        Returns:
            images (N, 1, S, S, S) float32 in [0, 1] and labels (N,) int64.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        images = torch.from_numpy(self.arrays[f"{split}_images"].astype(np.float32) / 255.0)
        labels = torch.from_numpy(self.arrays[f"{split}_labels"].reshape(-1).astype(np.int64))
        return images.unsqueeze(1), labels  # (N, 1, S, S, S), (N,)


@dataclass
class Volume:
    """One 3-D scan.

    Attributes:
        volume: (D, H, W) float32 scaled to [0, 1].
        voxel_size_mm: (D, H, W) voxel spacing when known, else ``None``.
        name: what it is.
        source: ``"local"``, ``"cache"``, ``"download"`` or ``"synthetic"``.

    Example:
        >>> v = Volume(head_phantom((4, 16, 16)), (5.0, 1.0, 1.0), "phantom", "synthetic")
        >>> v.volume.shape, v.voxel_size_mm
        ((4, 16, 16), (5.0, 1.0, 1.0))
    """

    volume: np.ndarray
    voxel_size_mm: tuple[float, float, float] | None = None
    name: str = ""
    source: str = "local"


def _rescale(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.float32)
    lo, hi = float(v.min()), float(v.max())
    return (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)


def _ellipsoid(grid: tuple[np.ndarray, ...], center, radii) -> np.ndarray:
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, center, radii)) <= 1.0


def synthetic_adrenal(
    size: int = 28, *, n_train: int = 1188, n_val: int = 98, n_test: int = 298, seed: int = 0
) -> MedMNIST3D:
    """Labelled synthetic shape masks in the MedMNIST layout (the AdrenalMNIST3D fallback).

    Class 0 ("normal") is a randomly oriented, elongated ellipsoid; class 1 ("mass") is the same
    kind of ellipsoid with a round nodule attached to its surface. About 22 % are class 1, as in
    AdrenalMNIST3D.

    Args:
        size: S, the cube's side.
        n_train, n_val, n_test: samples per split (default: the sizes of AdrenalMNIST3D's
            official split, so a model trained on the fallback takes as many steps).
        seed: NumPy seed.

    Returns:
        A :class:`MedMNIST3D` with uint8 masks {0, 255}.

    Example:
        >>> data = synthetic_adrenal(16, n_train=8, n_val=2, n_test=2)
        >>> x, y = data.split("train")
        >>> tuple(x.shape), x.max().item(), y.dtype
        ((8, 1, 16, 16, 16), 1.0, torch.int64)
    """
    rng = np.random.default_rng(seed)
    grid = np.meshgrid(*(np.arange(size, dtype=np.float32),) * 3, indexing="ij")
    arrays: dict[str, np.ndarray] = {}
    for split, count in zip(SPLITS, (n_train, n_val, n_test)):
        images = np.zeros((count, size, size, size), dtype=np.uint8)
        labels = (rng.random(count) < 0.22).astype(np.uint8)
        for i in range(count):
            rot, _ = np.linalg.qr(rng.standard_normal((3, 3)))
            centred = [g - size / 2 for g in grid]
            local = [sum(rot[j, k] * centred[k] for k in range(3)) for j in range(3)]
            radii = size * np.array([0.30, 0.12, 0.08]) * rng.uniform(0.8, 1.2, 3)
            mask = _ellipsoid(local, (0, 0, 0), radii)
            if labels[i]:
                along = rng.uniform(-0.6, 0.6) * radii[0]
                center = (along, radii[1] * np.sqrt(max(0.0, 1 - (along / radii[0]) ** 2)), 0.0)
                mask |= _ellipsoid(local, center, (size * rng.uniform(0.08, 0.12),) * 3)
            images[i] = mask.astype(np.uint8) * 255
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels[:, None]
    return MedMNIST3D(arrays, size, name="synthetic-adrenal", source="synthetic")


def _load_medmnist_npz(path: Path, size: int) -> MedMNIST3D:
    with np.load(path, allow_pickle=False) as d:
        arrays = {f"{s}_{k}": d[f"{s}_{k}"] for s in SPLITS for k in ("images", "labels")}
    return MedMNIST3D(arrays, size)


def _filename(size: int) -> str:
    return "adrenalmnist3d.npz" if size == 28 else f"adrenalmnist3d_{size}.npz"


def load_adrenalmnist3d(size: int = 28) -> MedMNIST3D:
    """AdrenalMNIST3D at 28³ or 64³ (official train 1188 / val 98 / test 298 split).

    Order: ``volumes/adrenalmnist3d[_64].npz`` in ``COURSEKIT_DATA``, then in the cache, then
    downloaded (the official file on Zenodo); else :func:`synthetic_adrenal` (announced).

    Args:
        size: 28 or 64.

    Returns:
        A :class:`MedMNIST3D`; ``.split("train")`` gives tensors.

    Example:
        >>> import os
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, COURSEKIT_OFFLINE="1"):  # local or cached copy, or synthetic
        ...     data = load_adrenalmnist3d()
        >>> x, y = data.split("val")
        >>> data.size, tuple(x.shape[1:]), y.dtype, set(y.tolist()) <= {0, 1}
        (28, (1, 28, 28, 28), torch.int64, True)
    """
    if size not in (28, 64):
        raise ValueError(f"size must be 28 or 64, got {size}")
    data, source = resolve(
        "adrenalmnist3d", local=f"volumes/{_filename(size)}",
        load_local=lambda p: _load_medmnist_npz(p, size), synthetic=lambda: synthetic_adrenal(size),
    )
    data.source = source
    return data


def head_phantom(shape: tuple[int, int, int] = (10, 256, 256)) -> np.ndarray:
    """A 3-D Shepp–Logan-like head phantom: skull shell, brain, ventricles and small lesions.

    Args:
        shape: (D, H, W).

    Returns:
        (D, H, W) float32 in [0, 1].

    Example:
        >>> v = head_phantom((8, 32, 32))
        >>> v.shape, float(v.max())
        ((8, 32, 32), 1.0)
    """
    axes = [np.linspace(-1, 1, n, dtype=np.float32) for n in shape]
    z, y, x = np.meshgrid(*axes, indexing="ij")
    grid = (z, y, x)
    v = np.zeros(shape, dtype=np.float32)
    # (value added, center (z, y, x), radii (z, y, x))
    parts = (
        (1.0, (0, 0, 0), (1.6, 0.92, 0.72)),      # skull (bright bone)
        (-0.7, (0, -0.02, 0), (1.5, 0.86, 0.66)),  # brain inside
        (-0.15, (0, -0.1, 0.2), (1.2, 0.35, 0.1)),  # ventricles
        (-0.15, (0, -0.1, -0.2), (1.2, 0.35, 0.12)),
        (0.1, (0.2, 0.35, 0.0), (0.8, 0.2, 0.25)),
        (0.1, (0, -0.6, -0.1), (0.6, 0.05, 0.05)),
        (0.1, (0, -0.6, 0.1), (0.6, 0.05, 0.05)),
    )
    for value, center, radii in parts:
        v[_ellipsoid(grid, center, radii)] += value
    return _rescale(v)


def load_ct_head() -> Volume:
    """The 10-slice CT head (UNC data as in scikit-image's ``brain``), scaled to [0, 1].

    Order: ``volumes/ct_head_unc_10slices.npz`` in ``COURSEKIT_DATA``, then in the cache, then
    downloaded (``brain.tiff`` at a pinned scikit-image commit: scikit-image no longer ships it);
    else :func:`head_phantom` (announced).

    Returns:
        A :class:`Volume` with ``volume`` (10, 256, 256).

    Example:
        >>> import os
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, COURSEKIT_OFFLINE="1"):  # local or cached copy, or synthetic
        ...     ct = load_ct_head()
        >>> ct.volume.shape, ct.volume.dtype, float(ct.volume.min()), float(ct.volume.max())
        ((10, 256, 256), dtype('float32'), 0.0, 1.0)
    """
    def load(path: Path) -> Volume:
        with np.load(path, allow_pickle=False) as d:
            return Volume(_rescale(d["volume"]), None, "CT head (UNC, 10 slices)")

    vol, source = resolve("ct_head", local="volumes/ct_head_unc_10slices.npz", load_local=load,
                          synthetic=lambda: Volume(head_phantom(), None, "head phantom"))
    vol.source = source
    return vol


def load_mni152() -> Volume:
    """The MNI ICBM152 2009a T1 template (skull-stripped), 197×233×189 at 1 mm, scaled to [0, 1].

    Order: ``volumes/mni_icbm152_t1_2009a.npz`` in ``COURSEKIT_DATA``, then in the cache, then
    downloaded (nilearn's NIfTI file, decoded here); else a :func:`head_phantom` of the same shape
    (announced).

    Returns:
        A :class:`Volume` indexed (x, y, z) as the template's voxel grid.

    Example:
        >>> import os
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, COURSEKIT_OFFLINE="1"):  # local or cached copy, or synthetic
        ...     mni = load_mni152()
        >>> mni.volume.shape, mni.voxel_size_mm
        ((197, 233, 189), (1.0, 1.0, 1.0))
    """
    def load(path: Path) -> Volume:
        with np.load(path, allow_pickle=False) as d:
            return Volume(_rescale(d["volume"]), (1.0, 1.0, 1.0), "MNI152 T1 template (2009a)")

    vol, source = resolve("mni152", local="volumes/mni_icbm152_t1_2009a.npz", load_local=load,
                          synthetic=lambda: Volume(head_phantom((197, 233, 189)), (1.0, 1.0, 1.0),
                                                   "head phantom"))
    vol.source = source
    return vol
