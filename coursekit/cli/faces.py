"""``coursekit faces``: train a face encoder, evaluate it, and run a face database.

::

    coursekit faces train DATA --out MODEL.pt [--epochs N] [--device auto] [--seed 0]
    coursekit faces evaluate DATA --model MODEL.pt [--json] [--repeats 20]
    coursekit faces enroll DB NAME IMAGE... --model MODEL.pt [--append] [--threshold T]
    coursekit faces identify DB IMAGE [--model MODEL.pt] [--threshold T] [--json]
    coursekit faces verify DB NAME IMAGE [--model MODEL.pt] [--threshold T] [--json]
    coursekit faces threshold DB [T]

``DATA`` is a folder with one sub-folder of images per person (the LFW layout), or
``builtin:olivetti`` for the built-in Olivetti faces (plain ``olivetti`` too, unless a folder of
that name exists: an existing path always wins). ``DB`` is a face database ``.npz`` file;
``enroll`` creates it and records the model's path and SHA-256 in it, so ``identify`` and
``verify`` find the model without ``--model`` and refuse a different one (encodings of two
models cannot be compared). ``enroll`` adds photos to a person already enrolled only with
``--append``; ``threshold`` shows or changes the acceptance threshold of everyone in ``DB``.
Two ``enroll`` commands on one database wait for each other (a lock held from reading the file
to writing it), so neither loses the other's person. ``--detect`` crops the largest face of
each photo first (scikit-image's LBP cascade). Results go to standard output, progress and
notes to standard error. ``identify`` and ``verify`` exit with 1 when the answer is no one /
rejected.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch

from coursekit.cli import (
    EXIT_CODES_HELP,
    non_negative_float,
    plain_text,
    positive_int,
    show_progress,
)

__all__ = ["BUILTIN_DATA", "register", "run"]

FACE_SIZE = 64  # side of the grey face images the encoder sees
DEFAULT_THRESHOLD = 1.0  # squared L2 on unit encodings; `faces evaluate` suggests a better one
MAX_PAIRS = 1_000_000  # all pairs up to this many for ROC AUC / EER, else a balanced sample
BUILTIN_DATA = "builtin:olivetti"
"""How ``DATA`` names the built-in Olivetti faces unambiguously."""


def register(subparsers) -> None:
    """Add ``coursekit faces ...`` to the top-level parser's sub-commands.

    Example:
        >>> from coursekit.cli import CommandParser
        >>> parser = CommandParser(prog="coursekit")
        >>> register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["faces", "train", "photos/", "--out", "m.pt", "--epochs", "2"])
        >>> args.faces_command, args.data, args.out, args.epochs, args.device
        ('train', 'photos/', 'm.pt', 2, 'auto')
    """
    faces = subparsers.add_parser(
        "faces", help="face recognition: train, evaluate, enroll, identify, verify",
        description=plain_text(__doc__).replace("::\n", ""), epilog=EXIT_CODES_HELP)
    sub = faces.add_subparsers(dest="faces_command", metavar="ACTION", required=True)
    data_help = (f"a folder with one sub-folder of images per person, or {BUILTIN_DATA} (the "
                 "built-in Olivetti faces; plain 'olivetti' too unless such a folder exists)")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--device", default="auto",
                       help="auto (default: cuda, then mps, then cpu), cpu, cuda, cuda:N or mps")
        p.add_argument("--detect", action="store_true",
                       help="crop the largest face of each photo first (for ordinary photos)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes")

    def add(name: str, helptext: str, action) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:] + ".",
                           epilog=EXIT_CODES_HELP)
        p.set_defaults(func=run, action=action)
        return p

    p = add("train", "train a face encoder with the triplet loss", _train)
    p.add_argument("data", metavar="DATA", help=data_help)
    p.add_argument("--out", required=True, metavar="MODEL.pt",
                   help="where to write the encoder (checked before training starts)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="training epochs (default: TrainConfig's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    common(p)

    p = add("evaluate", "one-shot N-way accuracy, ROC AUC, EER and the best threshold", _evaluate)
    p.add_argument("data", metavar="DATA", help=data_help)
    p.add_argument("--model", required=True, metavar="MODEL.pt", help="the encoder to evaluate")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--repeats", type=positive_int, default=20,
                   help="random enrolments to average (at least 20; default 20)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    common(p)

    p = add("enroll", "add a person to a face database (created if missing)", _enroll)
    p.add_argument("db", metavar="DB", help="face database file (.npz), created if missing")
    p.add_argument("name", metavar="NAME", help="the person's name")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="one or more photos of NAME")
    p.add_argument("--model", required=True, metavar="MODEL.pt", help="the encoder")
    p.add_argument("--append", action="store_true",
                   help="add the photos to NAME, who is already enrolled (without it, an "
                        "enrolled NAME is an error: two people must not share a name)")
    p.add_argument("--threshold", type=non_negative_float, default=None, metavar="T",
                   help=f"acceptance threshold on squared L2 distance, for a new database only "
                        f"(default {DEFAULT_THRESHOLD}); change an existing one with "
                        "'coursekit faces threshold DB T'")
    common(p)

    for name, helptext, action in (("identify", "who is in this photo? (1:K)", _identify),
                                   ("verify", "is this the claimed person? (1:1)", _verify)):
        p = add(name, helptext, action)
        p.add_argument("db", metavar="DB", help="face database file (.npz)")
        if name == "verify":
            p.add_argument("name", metavar="NAME", help="the claimed identity")
        p.add_argument("image", metavar="IMAGE", help="the photo to check")
        p.add_argument("--model", default=None, metavar="MODEL.pt",
                       help="the encoder (default: the one recorded in DB)")
        p.add_argument("--threshold", type=non_negative_float, default=None, metavar="T",
                       help="acceptance threshold for this query (default: DB's)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        common(p)

    p = add("threshold", "show or change the acceptance threshold of everyone in a database",
            _threshold)
    p.add_argument("db", metavar="DB", help="face database file (.npz)")
    p.add_argument("value", metavar="T", nargs="?", type=non_negative_float, default=None,
                   help="the new threshold on squared L2 distance (omit it to show the current)")


def run(args: argparse.Namespace) -> int:
    """Run one ``coursekit faces`` action; returns the exit code.

    Example:
        >>> from coursekit.cli import CommandParser
        >>> parser = CommandParser(prog="coursekit")
        >>> register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["faces", "evaluate", "olivetti", "--model", "m.pt"])
        >>> args.func is run, args.action.__name__
        (True, '_evaluate')
    """
    return args.action(args)


# -- helpers ------------------------------------------------------------------------------


def _note(args, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)


def _load_photo(path: str | Path, detect: bool) -> torch.Tensor:
    """One image file -> ``(1, FACE_SIZE, FACE_SIZE)`` grey face."""
    from coursekit.face.detect import crop_face, prepare_face
    from coursekit.images import load_image

    image = load_image(path)
    return crop_face(image, size=FACE_SIZE, source=str(path)) if detect else prepare_face(
        image, size=FACE_SIZE)


def _load_folder_detect(root: Path):
    """The LFW layout, each photo cropped by the face detector."""
    from coursekit.data import FACE_IMAGE_SUFFIXES, FaceDataset

    if not root.is_dir():
        raise ValueError(f"{root} is not a folder; expected one sub-folder per person")
    people = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    images, labels, names, skipped = [], [], [], []
    for person in people:
        files = sorted(f for f in person.iterdir() if f.is_file() and not f.name.startswith("."))
        found = [f for f in files if f.suffix.lower() in FACE_IMAGE_SUFFIXES]
        skipped += [f"{person.name}/{f.name}" for f in files if f not in found]
        if not found:
            raise ValueError(f"person folder {person} holds no image")
        names.append(person.name)
        for f in found:
            images.append(_load_photo(f, detect=True))
            labels.append(len(names) - 1)
    if not names:
        raise ValueError(f"{root} holds no person folders; expected {root}/<person>/<image>.png")
    return FaceDataset(torch.stack(images), torch.tensor(labels), names, "local", skipped)


def _load_data(args):
    """``DATA``: ``builtin:olivetti``, else an existing folder, else plain ``olivetti``."""
    from coursekit.data import load_face_folder, load_olivetti

    spec = args.data
    root = Path(spec)
    if spec.lower() == BUILTIN_DATA or (spec.lower() == "olivetti" and not root.exists()):
        ds = load_olivetti()
    elif spec.lower().startswith("builtin:"):
        raise ValueError(f"unknown built-in data set {spec!r}; the built-in one is {BUILTIN_DATA}")
    elif not root.exists():
        raise FileNotFoundError(f"data folder not found: {root}")
    else:
        ds = _load_folder_detect(root) if args.detect else load_face_folder(root, size=FACE_SIZE)
    if ds.skipped:
        shown = ", ".join(ds.skipped[:5]) + (", ..." if len(ds.skipped) > 5 else "")
        _note(args, f"skipped {len(ds.skipped)} file(s) that are not images: {shown}")
    _note(args, f"{spec}: {len(ds)} images of {ds.num_people} people ({ds.source})")
    return ds


def _require_pairs(ds, what: str) -> None:
    counts = torch.bincount(ds.labels, minlength=ds.num_people)
    if int((counts >= 2).sum()) < 2:
        raise ValueError(
            f"{what} needs at least two people with two or more images each; the data has "
            f"{ds.num_people} people and {int((counts >= 2).sum())} of them have two or more images"
        )


def _load_model(path: str | Path, device):
    from coursekit.face.encoder import load_encoder

    return load_encoder(path, map_location=device).to(device).eval()


# -- actions ------------------------------------------------------------------------------


def _train(args) -> int:
    from coursekit.face import TrainConfig, train_encoder
    from coursekit.face.encoder import save_encoder
    from coursekit.files import check_writable
    from coursekit.runtime import get_device, seed_everything

    check_writable(args.out)  # now, not after the training
    device = get_device(args.device)
    generator = seed_everything(args.seed)
    ds = _load_data(args)
    _require_pairs(ds, "training")
    config = TrainConfig() if args.epochs is None else TrainConfig(epochs=args.epochs)
    encoder, history = train_encoder(ds, config, device=device, generator=generator,
                                     progress=show_progress(args.quiet))
    out = save_encoder(encoder, args.out)
    _note(args, f"final loss {history['epoch_loss'][-1]:.4f}")
    print(f"wrote {out}")
    return 0


def _evaluate(args) -> int:
    from coursekit.face import (
        all_pairs,
        best_threshold_kfold,
        embed,
        equal_error_rate,
        one_shot_accuracy,
        pair_distances,
        roc_auc,
    )
    from coursekit.face.verification import make_pairs
    from coursekit.runtime import get_device, seed_everything

    if args.repeats < 20:
        raise ValueError(f"--repeats must be at least 20, got {args.repeats}")
    device = get_device(args.device)
    generator = seed_everything(args.seed)
    encoder = _load_model(args.model, device)
    ds = _load_data(args)
    _require_pairs(ds, "evaluate")
    z = embed(encoder, ds.images.to(device))  # (N, E)
    labels = ds.labels.to(device)
    acc = one_shot_accuracy(z, labels, repeats=args.repeats, generator=generator)
    n_way = int((torch.bincount(ds.labels) >= 2).sum())
    n = len(ds)
    if n * (n - 1) // 2 <= MAX_PAIRS:
        i, j, same = all_pairs(labels)
    else:
        i, j, same = make_pairs(labels, num_pairs=MAX_PAIRS, generator=generator)
    d = pair_distances(z, i, j)
    auc = roc_auc(d, same)
    eer, _ = equal_error_rate(d, same)
    # the threshold: LFW's 10-fold protocol on balanced same / different pairs
    bi, bj, bsame = make_pairs(labels, num_pairs=max(20, min(6000, n * 10)), generator=generator)
    best = best_threshold_kfold(pair_distances(z, bi, bj), bsame, folds=10, generator=generator)
    result = {"one_shot_accuracy": acc, "roc_auc": auc, "eer": eer, "threshold": best["threshold"],
              "verification_accuracy": best["accuracy"], "n_way": n_way, "repeats": args.repeats,
              "num_images": n, "num_people": ds.num_people, "source": ds.source}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"one-shot {n_way}-way accuracy: {acc:.4f} (mean of {args.repeats} enrolments)")
        print(f"ROC AUC: {auc:.4f}   EER: {eer:.4f}")
        print(f"best threshold (10-fold, balanced pairs): {best['threshold']:.4f} "
              f"(verification accuracy {best['accuracy']:.4f})")
    return 0


# -- the face database ---------------------------------------------------------------------


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


def _model_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    if not path.is_file():
        raise ValueError(f"--model {path} is a folder, not a model file")
    return path


def _open_db(args, model_path: str | None, *, create: bool):
    """Load (or, with ``create``, start) the database and its encoder, checking the model."""
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
    model_path = _model_file(model_path)
    digest = _sha256(model_path)
    if db.info.get("model_sha256") not in (None, digest) and len(db):
        raise ValueError(
            f"{model_path} is not the model {db_path} was built with ({recorded}); encodings of "
            "different models cannot be compared"
        )
    db.info.update(model=str(model_path.resolve()), model_sha256=digest)
    db.encoder = _load_model(model_path, device)
    return db


def _enroll(args) -> int:
    """``faces enroll DB NAME IMAGE...``: add a person (the database is created if missing).

    The photos are read first; then the database is locked from reading it to writing it, so
    enrolments running at the same time all land.

    Example:
        >>> from coursekit.cli import main
        >>> db, img, model = _example_files()  # an untrained 8-d encoder and one 64-px photo
        >>> main(["faces", "enroll", db, "ann", img, "--model", model, "--device", "cpu"])
        enrolled ann (1 image(s)); .../people.npz holds 1 people
        0
    """
    from coursekit.files import check_writable, locked

    db_path = Path(args.db)
    _model_file(args.model)
    faces = torch.stack([_load_photo(p, args.detect) for p in args.images])  # (K, 1, S, S)
    check_writable(db_path)
    with locked(db_path):
        if args.threshold is not None and db_path.exists():
            raise ValueError(
                f"--threshold sets the threshold of a new database, and {db_path} exists; to "
                f"change everyone's threshold run: coursekit faces threshold {db_path} "
                f"{args.threshold:g}")
        db = _open_db(args, args.model, create=True)
        if args.name in db and not args.append:
            raise ValueError(
                f"{args.name!r} is already enrolled in {db_path} "
                f"({len(db.encodings_of(args.name))} photo(s)); pass --append to add these "
                "photos to them, or choose another name for another person")
        if args.append and args.name not in db:
            raise ValueError(f"--append: {args.name!r} is not enrolled in {db_path}; "
                             "leave out --append to enroll a new person")
        db.enroll(args.name, faces)
        db.save(db_path)
    print(f"{'added to' if args.append else 'enrolled'} {args.name} ({len(args.images)} image(s)); "
          f"{args.db} holds {len(db)} people")
    return 0


def _identify(args) -> int:
    """``faces identify DB IMAGE``: the enrolled person nearest the photo, or unknown (1:K);
    exit status 1 for an unknown person.

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
    return 0 if name is not None else 1


def _verify(args) -> int:
    """``faces verify DB NAME IMAGE``: accept or reject the claimed identity (1:1); exit
    status 1 when rejected.

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
    return 0 if ok else 1


def _threshold(args) -> int:
    """``faces threshold DB [T]``: show the threshold, or set it for everyone in ``DB``.

    Example:
        >>> from coursekit.cli import main
        >>> db, img, model = _example_files(enroll="ann")
        >>> main(["faces", "threshold", db, "0.8"])
        threshold of .../people.npz: 1.0000 -> 0.8000 for 1 people
        0
        >>> main(["faces", "threshold", db])
        0.8
        0
    """
    from coursekit.face.database import FaceDatabase
    from coursekit.files import locked

    db_path = Path(args.db)
    if args.value is None:
        print(f"{FaceDatabase.load(db_path).threshold:g}")
        return 0
    with locked(db_path):
        db = FaceDatabase.load(db_path)
        old, db.threshold = db.threshold, args.value
        db.save(db_path)
    print(f"threshold of {db_path}: {old:.4f} -> {args.value:.4f} for {len(db)} people")
    return 0
