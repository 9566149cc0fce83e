"""The file format of :class:`~coursekit.face.FaceDatabase`: plain arrays, no pickle.

A NumPy ``.npz`` archive (written atomically, read back with ``allow_pickle=False``):

* ``encodings``: float32 ``(M, E)``, every stored encoding;
* ``owners``: int64 ``(M,)``, the index into ``names`` of each encoding's person;
* ``metadata``: a 0-d unicode array holding JSON: ``{"format": "coursekit-face-database",
  "version": 1, "names": [...], "threshold": tau, "embedding_dim": E, "info": {...}}``, where
  ``info`` holds free JSON values (the ``coursekit faces`` command keeps the model path there).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from coursekit.files import atomic_write

__all__ = ["read_database", "write_database"]

_FORMAT = "coursekit-face-database"
_VERSION = 1


def write_database(path: str | os.PathLike, encodings: np.ndarray | None, owners: np.ndarray,
                   meta: dict) -> Path:
    """Write ``encodings`` ``(M, E)`` (``None``: empty), ``owners`` ``(M,)`` and the JSON
    ``meta`` (``names``, ``threshold``, ``embedding_dim``, ``info``) to ``path``, atomically: a
    temporary file in the same folder, then a rename. Returns the path written.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = write_database(f"{d}/db.npz", np.eye(2, dtype=np.float32), np.array([0, 1]),
        ...                        {"names": ["ada", "bob"], "threshold": 0.5})
        ...     enc, owners, meta = read_database(p)
        >>> enc.shape, owners.tolist(), meta["names"], meta["version"]
        ((2, 2), [0, 1], ['ada', 'bob'], 1)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    enc = np.zeros((0, 0), np.float32) if encodings is None else encodings.astype(np.float32)
    meta = {"format": _FORMAT, "version": _VERSION, **meta}
    with atomic_write(path, "wb") as f:
        np.savez(f, encodings=enc, owners=owners.astype(np.int64),
                 metadata=np.array(json.dumps(meta)))
    return path


def read_database(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read and check a file written by :func:`write_database`: ``(encodings, owners, meta)``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is corrupt, not an ``.npz`` archive, or not a coursekit face
            database; the message names the file.

    Example:
        >>> import tempfile, torch
        >>> from coursekit.face.database import FaceDatabase
        >>> db = FaceDatabase(threshold=0.5)
        >>> db.enroll("ada", torch.tensor([[1.0, 0.0], [0.8, 0.6]]))  # two encodings of ada
        >>> db.enroll("bob", torch.tensor([0.0, 1.0]))
        >>> enc, owners, meta = read_database(db.save(f"{tempfile.mkdtemp()}/people.npz"))
        >>> enc.shape, owners.tolist(), meta["names"], meta["threshold"]
        ((3, 2), [0, 0, 1], ['ada', 'bob'], 0.5)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"face database not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a plain .npy array
            raise ValueError("not an .npz archive")
        with loaded as z:
            enc, owners = z["encodings"], z["owners"]
            meta = json.loads(str(z["metadata"][()]))
    except PermissionError:
        raise  # the error names the file
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        # numpy's message for a file that is not an archive advises allow_pickle=True (unsafe
        # loading): never pass it on
        reason = "not an .npz archive" if "pickle" in str(err) else str(err).splitlines()[0]
        raise ValueError(
            f"{path}: not a coursekit face database, or the file is corrupt ({reason})"
        ) from err
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a coursekit face database (format tag missing)")
    if meta.get("version") != _VERSION:
        raise ValueError(f"{path}: face database version {meta.get('version')!r} is not "
                         f"supported (expected {_VERSION})")
    names = meta.get("names")
    ok = (isinstance(names, list) and all(isinstance(n, str) for n in names)
          and enc.ndim == 2 and owners.ndim == 1 and enc.shape[0] == owners.shape[0]
          and enc.dtype == np.float32 and owners.dtype == np.int64
          and (owners.size == 0 or (owners.min() >= 0 and owners.max() < len(names)))
          and len(set(np.unique(owners).tolist())) == len(names))
    if not ok:
        raise ValueError(f"{path}: corrupt face database (arrays and names do not match)")
    return enc, owners, meta
