"""A face database for verification (1:1) and recognition (1:K), lessons 4.1, 4.2 and 4.5.

Enrolling a person stores their encodings ``f(x)``, computed once (lesson 4.5: precompute the
database). A query is then compared by squared L2 distance ``d = ||f(x) - f(x_person)||^2``
and accepted when ``d <= tau`` (lesson 4.2). A new person is added by enrolling one image:
nothing is retrained, which is the point of one-shot learning with a similarity function.

Several images per person: all their encodings are kept, and the distance to a person is the
smallest distance to any of them (nearest neighbour), so a second photo in other lighting
helps instead of being averaged away.

The file format (``.npz`` + JSON, written atomically) is in :mod:`coursekit.face.database_file`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from coursekit.face.database_file import read_database, write_database
from coursekit.face.embedding import embed

__all__ = ["FaceDatabase"]


class FaceDatabase:
    """Named face encodings with ``verify`` (1:1) and ``identify`` (1:K).

    Args:
        encoder: maps images ``(B, C, H, W)`` to encodings ``(B, E)``; needed only to pass
            images (encodings can always be passed directly).
        threshold: the acceptance threshold ``tau`` on squared L2 distance (``d <= tau``).
        info: free JSON-serialisable values saved with the database.
        model: names the model that made the encodings (saved with the database); encodings
            of another model are refused (:meth:`use_model`).

    Example:
        >>> db = FaceDatabase(threshold=0.5)
        >>> db.enroll("ada", torch.tensor([1.0, 0.0]))
        >>> db.enroll("bob", torch.tensor([0.0, 1.0]))
        >>> db.verify(torch.tensor([0.9, 0.1]), "ada")
        (0.02, True)
        >>> db.identify(torch.tensor([0.6, 0.6]))
        (None, 0.52)
        >>> db.names
        ['ada', 'bob']
    """

    def __init__(
        self,
        encoder: nn.Module | None = None,
        *,
        threshold: float,
        info: dict | None = None,
        model: str | None = None,
    ) -> None:
        self.encoder = encoder
        self.threshold = _check_threshold(threshold)
        self.info = dict(info or {})
        self.model = model
        self._names: list[str] = []
        self._encodings: torch.Tensor | None = None  # (M, E)
        self._owners = torch.zeros(0, dtype=torch.long)  # (M,)

    # -- contents ---------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """The enrolled people, in enrolment order."""
        return list(self._names)

    @property
    def embedding_dim(self) -> int | None:
        """``E``, or ``None`` while the database is empty."""
        return None if self._encodings is None else int(self._encodings.shape[1])

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __repr__(self) -> str:
        m = 0 if self._encodings is None else self._encodings.shape[0]
        return f"FaceDatabase({len(self)} people, {m} encodings, threshold={self.threshold})"

    def encodings_of(self, name: str) -> torch.Tensor:
        """The ``(K, E)`` stored encodings of ``name``."""
        k = self._index(name)
        return self._encodings[self._owners == k]

    def use_model(self, model: str) -> None:
        """Record that ``model`` makes this database's encodings, refusing to mix two models
        (their encodings cannot be compared).

        Raises:
            ValueError: the database already holds encodings made by another model.

        Example:
            >>> db = FaceDatabase(threshold=0.5, model="dlib-resnet")
            >>> db.enroll("ada", torch.tensor([1.0, 0.0]))
            >>> db.use_model("my-encoder.pt")
            Traceback (most recent call last):
            ...
            ValueError: this face database holds encodings made by 'dlib-resnet'; encodings made by ...
        """
        if self.model is not None and self.model != model and len(self):
            raise ValueError(f"this face database holds encodings made by {self.model!r}; encodings "
                             f"made by {model!r} cannot be mixed with them")
        self.model = model

    # -- encoding ---------------------------------------------------------------------------

    def encode(self, image_or_encoding: torch.Tensor) -> torch.Tensor:
        """Encodings ``(K, E)`` of an encoding ``(E,)``, encodings ``(K, E)``, an image
        ``(C, H, W)`` or images ``(K, C, H, W)`` (images need the database's encoder)."""
        x = torch.as_tensor(image_or_encoding)
        if x.dim() in (1, 2):
            z = x.reshape(-1, x.shape[-1]) if x.dim() == 1 else x
        elif x.dim() in (3, 4):
            if self.encoder is None:
                raise ValueError(
                    f"got an image of shape {tuple(x.shape)} but this database has no encoder; "
                    "pass encodings (E,) or create FaceDatabase(encoder, threshold=...)"
                )
            z = embed(self.encoder, x if x.dim() == 4 else x[None])
        else:
            raise ValueError(
                "expected an encoding (E,), encodings (K, E), an image (C, H, W) or images "
                f"(K, C, H, W), got shape {tuple(x.shape)}"
            )
        if z.shape[0] == 0:
            raise ValueError("got no encodings (an empty batch)")
        if self._encodings is not None and z.shape[1] != self._encodings.shape[1]:
            raise ValueError(
                f"encodings of size {z.shape[1]} do not match the database's size "
                f"{self._encodings.shape[1]}"
            )
        if not torch.isfinite(z).all():
            raise ValueError("encodings contain NaN or infinity")
        return z.detach().float()

    # -- enrolment --------------------------------------------------------------------------

    def enroll(self, name: str, image_or_encoding: torch.Tensor) -> None:
        """Add ``name`` (or more encodings of an enrolled person), without any retraining.

        Args:
            name: the person's name, a non-empty string.
            image_or_encoding: see :meth:`encode`; a batch adds several images at once.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        z = self.encode(image_or_encoding)
        if name not in self._names:
            self._names.append(name)
        k = self._names.index(name)
        if self._encodings is None:
            self._encodings = z
            self._owners = torch.full((z.shape[0],), k, dtype=torch.long, device=z.device)
        else:
            dev = self._encodings.device
            self._encodings = torch.cat([self._encodings, z.to(dev)])
            self._owners = torch.cat([self._owners, torch.full((z.shape[0],), k, dtype=torch.long,
                                                               device=dev)])

    def remove(self, name: str) -> None:
        """Forget ``name`` and all their encodings."""
        k = self._index(name)
        keep = self._owners != k
        self._encodings = self._encodings[keep]
        self._owners = self._owners[keep]
        self._owners = self._owners - (self._owners > k).long()
        del self._names[k]
        if not self._names:
            self._encodings = None

    # -- queries ----------------------------------------------------------------------------

    def distances(self, image_or_encoding: torch.Tensor) -> torch.Tensor:
        """Squared L2 distance from one query to every enrolled person (the smallest over each
        person's encodings).

        Returns:
            ``(P,)`` distances, in the order of :attr:`names`.
        """
        if not self._names:
            raise ValueError("the face database is empty; enroll someone first")
        z = self.encode(image_or_encoding)
        if z.shape[0] != 1:
            raise ValueError(f"expected one query, got {z.shape[0]}")
        z = z.to(self._encodings.device)
        d = (self._encodings - z).pow(2).sum(dim=1)  # (M,)
        out = torch.full((len(self._names),), float("inf"), device=d.device, dtype=d.dtype)
        return out.scatter_reduce(0, self._owners, d, reduce="amin")  # (P,)

    def verify(
        self, image: torch.Tensor, name: str, threshold: float | None = None
    ) -> tuple[float, bool]:
        """Face verification (1:1): is this the person they claim to be?

        Args:
            image: the query, an image or an encoding (see :meth:`encode`).
            name: the claimed identity.
            threshold: ``tau`` (default: the database's).

        Returns:
            ``(distance, accepted)`` with ``accepted = distance <= tau``.

        Raises:
            ValueError: ``name`` is not enrolled.
        """
        k = self._index(name)
        tau = self.threshold if threshold is None else _check_threshold(threshold)
        d = float(self.distances(image)[k])
        return d, d <= tau

    def identify(
        self, image: torch.Tensor, threshold: float | None = None
    ) -> tuple[str | None, float]:
        """Face recognition (1:K): who is this, if anyone we know?

        Returns:
            ``(name, distance)`` of the nearest person, or ``(None, distance)`` when even the
            nearest is farther than ``tau`` (an unknown person is rejected).
        """
        tau = self.threshold if threshold is None else _check_threshold(threshold)
        d = self.distances(image)
        k = int(torch.argmin(d))
        dist = float(d[k])
        return (self._names[k] if dist <= tau else None), dist

    def _index(self, name: str) -> int:
        try:
            return self._names.index(name)
        except ValueError:
            known = ", ".join(self._names[:10]) + (", ..." if len(self._names) > 10 else "")
            raise ValueError(
                f"{name!r} is not in the face database (enrolled: {known or 'nobody'})"
            ) from None

    # -- files ------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the database to ``path`` (``.npz`` + JSON, :mod:`coursekit.face.database_file`),
        atomically: a temporary file in the same folder, then a rename.

        Returns:
            The path written.
        """
        enc = None if self._encodings is None else self._encodings.detach().cpu().numpy()
        meta = {"names": self._names, "threshold": self.threshold,
                "embedding_dim": self.embedding_dim, "info": self.info, "model": self.model}
        return write_database(path, enc, self._owners.cpu().numpy(), meta)

    @classmethod
    def load(cls, path: str | os.PathLike, encoder: nn.Module | None = None) -> FaceDatabase:
        """Read a database written by :meth:`save`.

        Args:
            path: the ``.npz`` file.
            encoder: the encoder to use for image queries (not stored in the file).

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ValueError: the file is corrupt, not an ``.npz`` archive, or not a coursekit face
                database; the message names the file.
        """
        enc, owners, meta = read_database(path)
        names = meta["names"]
        db = cls(encoder, threshold=meta.get("threshold", 0.0), info=meta.get("info") or {},
                 model=meta.get("model"))
        db._names = list(names)
        if names:
            db._encodings = torch.from_numpy(enc.copy())
            db._owners = torch.from_numpy(owners.copy())
        return db


def _check_threshold(threshold: float) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number >= 0, got {threshold!r}") from None
    if not t >= 0 or t == float("inf"):
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")
    return t
