"""Face datasets for lessons 4.1-4.5: the :class:`FaceDataset` type, identity splits and Olivetti.

Every face loader returns a :class:`FaceDataset`: grey images ``(N, 1, H, W)`` in [0, 1], integer
labels ``0..P-1`` and one name per person. :func:`load_olivetti` follows the course's resolution
order (``COURSEKIT_DATA`` copy, the download cache, a download, then
:func:`~coursekit.data.synthetic_faces`, announced). :func:`split_identities` splits by *person*,
so the people a model is evaluated on were never seen in training (one-shot learning, lesson 4.2).
A folder of faces (the LFW layout) is read by :func:`~coursekit.data.load_face_folder`.

Olivetti (AT&T Laboratories Cambridge; F. Samaria & A. Harter, WACV 1994): 40 people x 10
images, 64 x 64.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from coursekit.data.sources import resolve

__all__ = ["FaceDataset", "load_olivetti", "split_identities"]


@dataclass
class FaceDataset:
    """Grey face images with one integer label per image.

    Attributes:
        images: ``(N, 1, H, W)`` float32 in [0, 1].
        labels: ``(N,)`` int64 in ``0..P-1``.
        names: ``P`` names, ``names[label]`` is the person's name.
        source: ``"local"``, ``"cache"``, ``"download"`` or ``"synthetic"`` (see
            :mod:`coursekit.data.sources`).
        skipped: files a folder loader skipped because they are not images (relative paths).

    Example:
        >>> from coursekit.data import synthetic_faces
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
        >>> from coursekit.data import synthetic_faces
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


def _synthetic_faces():
    from coursekit.data.synthetic_faces import synthetic_faces  # it imports FaceDataset from here

    return synthetic_faces


def load_olivetti() -> FaceDataset:
    """The Olivetti faces: 40 people x 10 grey 64 x 64 images, names ``s01``..``s40``.

    Resolution order: ``scikit_learn_data/olivetti_py3.pkz`` (the file scikit-learn's
    ``fetch_olivetti_faces`` reads) in ``COURSEKIT_DATA``, then in the download cache, then made
    there from Roweis's ``olivettifaces.mat`` (download), then
    :func:`~coursekit.data.synthetic_faces` (40 x 10, 64 x 64) with a one-line announcement.

    Example:
        >>> import os
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, COURSEKIT_OFFLINE="1"):  # local copy or synthetic
        ...     ds = load_olivetti()
        >>> len(ds), ds.num_people, tuple(ds.images.shape[1:]), ds.labels[:12].tolist()
        (400, 40, (1, 64, 64), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    """
    from sklearn.datasets import fetch_olivetti_faces

    def load_local(path: Path) -> FaceDataset:
        return _from_sklearn_bunch(
            fetch_olivetti_faces(data_home=str(path.parent), download_if_missing=False))

    data, source = resolve(
        "olivetti",
        local="scikit_learn_data/olivetti_py3.pkz",
        load_local=load_local,
        synthetic=lambda: _synthetic_faces()(40, 10, 64, generator=torch.Generator().manual_seed(0)),
    )
    data.source = source
    return data


