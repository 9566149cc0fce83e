"""``coursekit faces enroll | identify | verify``: a face database on the command line.

The database file records the encoder's path and SHA-256 (see :mod:`coursekit.cli.faces`), so
``identify`` and ``verify`` find the model without ``--model`` and refuse a different one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from coursekit.cli.faces import DEFAULT_THRESHOLD, _load_model, _load_photo

__all__ = ["enroll", "identify", "verify"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _example_files(enroll: str | None = None) -> tuple[str, str, str]:
    """For the examples: ``(db, image, model)`` paths in a new temporary folder (an untrained
    8-d encoder, one random 64-px photo; ``enroll``: a person enrolled with that photo). The
    folder is removed when the interpreter exits."""
    import atexit
    import contextlib
    import io
    import os
    import shutil
    import tempfile

    import numpy as np
    from PIL import Image

    from coursekit.cli import main
    from coursekit.face.encoder import FaceEncoder, save_encoder

    tmp = tempfile.mkdtemp(prefix="coursekit-example-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    model = str(save_encoder(FaceEncoder(8, widths=(4, 4, 4, 4)), os.path.join(tmp, "m.pt")))
    db, img = os.path.join(tmp, "people.npz"), os.path.join(tmp, "photo.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)).save(img)
    if enroll:
        with contextlib.redirect_stdout(io.StringIO()):  # its "enrolled ..." line
            main(["faces", "enroll", db, enroll, img, "--model", model, "--device", "cpu"])
    return db, img, model



def _open_db(args, model_path: str | None, *, create: bool):
    """Load (or create) the database and its encoder, checking the model matches."""
    from coursekit.face.database import FaceDatabase
    from coursekit.runtime import get_device

    device = get_device(args.device)
    db_path = Path(args.db)
    if db_path.exists() or not create:
        db = FaceDatabase.load(db_path)
    else:
        db = FaceDatabase(threshold=DEFAULT_THRESHOLD if args.threshold is None else args.threshold)
    recorded = db.info.get("model")
    if model_path is None:
        if not recorded:
            raise ValueError(f"{db_path} records no model; pass --model MODEL.pt")
        model_path = recorded
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"model file not found: {model_path}")
    digest = _sha256(model_path)
    if db.info.get("model_sha256") not in (None, digest) and len(db):
        raise ValueError(
            f"{model_path} is not the model {db_path} was built with ({recorded}); encodings of "
            "different models cannot be compared"
        )
    db.info.update(model=str(model_path.resolve()), model_sha256=digest)
    db.encoder = _load_model(model_path, device)
    if args.threshold is not None and create:
        db.threshold = args.threshold
    return db


def enroll(args) -> int:
    """``faces enroll DB NAME IMAGE...``: add a person (the database is created if missing).

    Example:
        >>> from coursekit.cli import main
        >>> db, img, model = _example_files()  # an untrained 8-d encoder and one 64-px photo
        >>> main(["faces", "enroll", db, "ann", img, "--model", model, "--device", "cpu"])
        enrolled ann (1 image(s)); .../people.npz holds 1 people
        0
    """
    if args.threshold is not None and args.threshold < 0:
        raise ValueError(f"--threshold must be >= 0, got {args.threshold}")
    db = _open_db(args, args.model, create=True)
    faces = torch.stack([_load_photo(p, args.detect) for p in args.images])  # (K, 1, S, S)
    db.enroll(args.name, faces)
    db.save(args.db)
    print(f"enrolled {args.name} ({len(args.images)} image(s)); {args.db} holds {len(db)} people")
    return 0


def identify(args) -> int:
    """``faces identify DB IMAGE``: the enrolled person nearest the photo, or unknown (1:K).

    Example:
        >>> from coursekit.cli import main
        >>> db, img, model = _example_files(enroll="ann")  # ann enrolled with that photo
        >>> main(["faces", "identify", db, img, "--device", "cpu"])  # the model is recorded in db
        ann (distance 0.0000 <= threshold 1.0000)
        0
    """
    db = _open_db(args, args.model, create=False)
    face = _load_photo(args.image, args.detect)
    name, dist = db.identify(face, threshold=args.threshold)
    tau = db.threshold if args.threshold is None else args.threshold
    if args.json:
        print(json.dumps({"name": name, "distance": dist, "threshold": tau}))
    elif name is None:
        nearest = db.names[int(torch.argmin(db.distances(face)))]
        print(f"unknown person (nearest: {nearest}, distance {dist:.4f} > threshold {tau:.4f})")
    else:
        print(f"{name} (distance {dist:.4f} <= threshold {tau:.4f})")
    return 0


def verify(args) -> int:
    """``faces verify DB NAME IMAGE``: accept or reject the claimed identity (1:1).

    Example:
        >>> from coursekit.cli import main
        >>> db, img, model = _example_files(enroll="ann")  # ann enrolled with that photo
        >>> main(["faces", "verify", db, "ann", img, "--device", "cpu", "--json"])
        {"name": "ann", "distance": 0.0, "threshold": 1.0, "accepted": true}
        0
    """
    db = _open_db(args, args.model, create=False)
    dist, ok = db.verify(_load_photo(args.image, args.detect), args.name, threshold=args.threshold)
    tau = db.threshold if args.threshold is None else args.threshold
    if args.json:
        print(json.dumps({"name": args.name, "distance": dist, "threshold": tau, "accepted": ok}))
    else:
        verdict = "accepted" if ok else "rejected"
        print(f"{verdict}: {args.name}, distance {dist:.4f} {'<=' if ok else '>'} threshold {tau:.4f}")
    return 0
