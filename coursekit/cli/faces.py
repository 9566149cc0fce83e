"""``coursekit faces``: train a face encoder, evaluate it, and run a face database.

::

    coursekit faces train DATA --out MODEL.pt [--epochs N] [--device auto] [--seed 0]
    coursekit faces evaluate DATA --model MODEL.pt|pretrained [--json] [--repeats 20] [--jitters N]
    coursekit faces enroll DB NAME IMAGE... [--model MODEL.pt|pretrained] [--append] [--threshold T]
                                           [--detect | --no-detect]
    coursekit faces identify DB IMAGE [--model MODEL.pt|pretrained] [--threshold T] [--json] [--no-detect]
    coursekit faces verify DB NAME IMAGE [--model MODEL.pt|pretrained] [--threshold T] [--json]
    coursekit faces threshold DB [T]
    coursekit faces list DB [--json]
    coursekit faces remove DB NAME

``DATA`` is a folder with one sub-folder of images per person (the LFW layout), or
``builtin:olivetti`` for the built-in Olivetti faces (plain ``olivetti`` too, unless a folder of
that name exists: an existing path always wins). ``DB`` is a face database ``.npz`` file;
``enroll`` creates it and records the model's path and SHA-256 in it, so ``identify`` and
``verify`` find the model without ``--model`` and refuse a different one (encodings of two models
cannot be compared). ``--model pretrained`` (the default of ``enroll``, and of
``identify``/``verify`` on a database that records no model) is dlib's pretrained ResNet encoder,
ported to PyTorch (``coursekit.face.pretrained``): it works on anyone's photos, with dlib's
threshold (0.6 on the distance: 0.36 on its square). ``enroll`` adds photos to a person already
enrolled only with ``--append``; ``threshold`` shows or changes the acceptance threshold of
everyone in ``DB``; ``list`` shows who is enrolled (photos per person) and how the database was
built (model, face detection, threshold); ``remove`` takes a person out. Two ``enroll`` commands
on one database wait for each other (a lock held from reading the file to writing it), so neither
loses the other's person. ``--detect`` crops the largest face of each photo first (scikit-image's
LBP cascade; with ``--model pretrained``, dlib's CNN detector, landmarks and alignment).
``--jitters N`` (pretrained model only) encodes each face as the mean over N randomly jittered
copies of its chip, as dlib's ``num_jitters`` does. ``enroll`` detects faces by default with the
pretrained model (students bring ordinary photos; ``--no-detect`` when each photo is already a
face crop) and records the choice in ``DB``: ``identify`` and ``verify`` find faces the same way
unless told otherwise (with a note: the distances are then not comparable), and ``enroll`` refuses
to mix the two ways in one database. A database written before it recorded the choice holds whole
photos (the old default). ``train`` and ``evaluate`` read data sets of face crops and detect only
with ``--detect``. A photo in which no face is found is skipped with a note and counted
(``"skipped"`` in ``--json``); it never ends the run. Results go to standard output, progress and
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
PRETRAINED = "pretrained"  # --model value: dlib's encoder, ported (coursekit.face.pretrained)
PRETRAINED_ID = "dlib:dlib_face_recognition_resnet_model_v1"  # what a database records for it
PRETRAINED_THRESHOLD = 0.36  # dlib's 0.6 on the L2 distance, squared
MAX_JITTERS = 1000  # --jitters: each one is another pass of the encoder per face
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
        p.add_argument("--detect", action=argparse.BooleanOptionalAction, default=None,
                       help="find the largest face of each photo first (for ordinary photos); "
                            "photos without a face are skipped and counted. --no-detect: each "
                            "photo is already a face crop. Default: as an existing DB records "
                            f"(enroll, identify, verify), else on with --model {PRETRAINED} and "
                            "off with a trained model; off in train and evaluate")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes")

    def jitters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--jitters", type=positive_int, default=1, metavar="N",
                       help=f"with --model {PRETRAINED}: encode each face as the mean over N randomly "
                            "jittered copies of its aligned chip (dlib's num_jitters: shifted, "
                            "zoomed, rotated, mirrored; a little more robust, N times slower; "
                            "seeded, so a photo always gives the same encoding; default 1: the "
                            f"chip as it is; at most {MAX_JITTERS})")

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
    p.add_argument("--model", required=True, metavar="MODEL.pt",
                   help=f"the encoder to evaluate, or '{PRETRAINED}' (dlib's pretrained ResNet)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--repeats", type=positive_int, default=20,
                   help="random enrolments to average (at least 20; default 20)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    jitters(p)
    common(p)

    p = add("enroll", "add a person to a face database (created if missing)", _enroll)
    p.add_argument("db", metavar="DB", help="face database file (.npz), created if missing")
    p.add_argument("name", metavar="NAME", help="the person's name")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="one or more photos of NAME")
    p.add_argument("--model", default=PRETRAINED, metavar="MODEL.pt",
                   help=f"the encoder, or '{PRETRAINED}' (default: dlib's pretrained ResNet)")
    p.add_argument("--append", action="store_true",
                   help="add the photos to NAME, who is already enrolled (without it, an "
                        "enrolled NAME is an error: two people must not share a name)")
    p.add_argument("--threshold", type=non_negative_float, default=None, metavar="T",
                   help=f"acceptance threshold on squared L2 distance, for a new database only "
                        f"(default {DEFAULT_THRESHOLD}, {PRETRAINED_THRESHOLD} with the pretrained "
                        "model); change an existing one with "
                        "'coursekit faces threshold DB T'")
    jitters(p)
    common(p)

    for name, helptext, action in (("identify", "who is in this photo? (1:K)", _identify),
                                   ("verify", "is this the claimed person? (1:1)", _verify)):
        p = add(name, helptext, action)
        p.add_argument("db", metavar="DB", help="face database file (.npz)")
        if name == "verify":
            p.add_argument("name", metavar="NAME", help="the claimed identity")
        p.add_argument("image", metavar="IMAGE", help="the photo to check")
        p.add_argument("--model", default=None, metavar="MODEL.pt",
                       help=f"the encoder (default: the one recorded in DB, else '{PRETRAINED}')")
        p.add_argument("--threshold", type=non_negative_float, default=None, metavar="T",
                       help="acceptance threshold for this query (default: DB's)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        jitters(p)
        common(p)

    p = add("threshold", "show or change the acceptance threshold of everyone in a database",
            _threshold)
    p.add_argument("db", metavar="DB", help="face database file (.npz)")
    p.add_argument("value", metavar="T", nargs="?", type=non_negative_float, default=None,
                   help="the new threshold on squared L2 distance (omit it to show the current)")

    p = add("list", "who is enrolled in a database, and how it was built", _list)
    p.add_argument("db", metavar="DB", help="face database file (.npz)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = add("remove", "remove a person (all their photos) from a database", _remove)
    p.add_argument("db", metavar="DB", help="face database file (.npz)")
    p.add_argument("name", metavar="NAME", help="the person to remove")


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


def _detect(args, model_spec: str | Path, recorded: bool | None) -> bool:
    """Whether ``enroll``/``identify``/``verify`` look for the face in each photo: ``--detect`` or
    ``--no-detect`` when given, else what the database records, else on for the pretrained model
    (ordinary photos) and off for a trained one (face crops, as it was trained on).

    Example:
        >>> from argparse import Namespace
        >>> _detect(Namespace(detect=None), PRETRAINED, None), _detect(Namespace(detect=None), "m.pt", None)
        (True, False)
        >>> _detect(Namespace(detect=None), PRETRAINED, False)  # what the database records
        False
        >>> _detect(Namespace(detect=False), PRETRAINED, True)  # --no-detect overrides it
        False
    """
    if args.detect is not None:
        return bool(args.detect)
    if recorded is not None:
        return bool(recorded)
    return str(model_spec) == PRETRAINED


def _db_detect(db) -> bool | None:
    """How a database's faces were found: its record; ``False`` for a non-empty database written
    before the record existed (whole photos, the old default); ``None`` for an empty one."""
    recorded = db.info.get("detect")
    if recorded is None and len(db):
        return False
    return None if recorded is None else bool(recorded)


def _recorded_detect(db_path: Path) -> bool | None:
    """:func:`_db_detect` of the database at ``db_path`` (``None`` when there is none)."""
    from coursekit.face.database import FaceDatabase

    if not db_path.is_file():
        return None
    return _db_detect(FaceDatabase.load(db_path))


def _how(detect: bool) -> str:
    return "with face detection" if detect else "without face detection (whole photos)"


def _mixed_detection(db_path: Path, recorded: bool) -> ValueError:
    return ValueError(f"{db_path} was enrolled {_how(recorded)}; these photos would be encoded "
                      f"{_how(not recorded)}, and the two cannot be compared: pass "
                      f"{'--detect' if recorded else '--no-detect'} or use another database")


def _load_photo(path: str | Path, detect: bool) -> torch.Tensor | None:
    """One image file -> ``(1, FACE_SIZE, FACE_SIZE)`` grey face, or ``None`` when ``detect``
    finds no face in it."""
    from coursekit.face.detect import crop_face, prepare_face
    from coursekit.images import load_image

    image = load_image(path)
    if not detect:
        return prepare_face(image, size=FACE_SIZE)
    try:
        return crop_face(image, size=FACE_SIZE, source=str(path))
    except ValueError as err:
        if str(err).startswith("no face found"):
            return None
        raise


class _FaceModel:
    """The encoder behind a command: a trained ``MODEL.pt`` or dlib's pretrained models.

    ``identifier`` names it in a face database (two models' encodings must not be mixed).
    """

    def __init__(self, spec: str | Path, device, *, detect: bool, jitters: int = 1, seed: int = 0) -> None:
        self.pretrained = str(spec) == PRETRAINED
        self.detect, self.device, self.jitters = detect, device, jitters
        if jitters > MAX_JITTERS:
            raise ValueError(f"--jitters {jitters} is too many: at most {MAX_JITTERS} (each one is "
                             "another pass of the encoder over every face)")
        if jitters > 1 and not self.pretrained:
            raise ValueError(f"--jitters {jitters} needs --model {PRETRAINED} (dlib's encoder on "
                             f"aligned 150 x 150 chips); {spec} is a trained model")
        self.generator = torch.Generator().manual_seed(seed)  # the jitters'
        if self.pretrained:
            from coursekit.face.pretrained import load_pretrained_pipeline

            self.pipeline = load_pretrained_pipeline(detector=detect).to(device)
            self.path, self.digest, self.identifier = None, None, PRETRAINED_ID
        else:
            self.path = _model_file(spec)
            self.encoder = _load_model(self.path, device)
            self.digest = _sha256(self.path)
            self.identifier = f"coursekit:sha256:{self.digest}"

    @property
    def default_threshold(self) -> float:
        return PRETRAINED_THRESHOLD if self.pretrained else DEFAULT_THRESHOLD

    def encode_image(self, image: torch.Tensor, source: str) -> torch.Tensor | None:
        """``(3, H, W)`` photo -> ``(E,)`` encoding of its (largest) face, or ``None``."""
        from coursekit.face import embed

        if not self.pretrained:
            from coursekit.face.detect import crop_face, prepare_face

            if not self.detect:
                face = prepare_face(image, size=FACE_SIZE)
            else:
                try:
                    face = crop_face(image, size=FACE_SIZE, source=source)
                except ValueError as err:
                    if str(err).startswith("no face found"):
                        return None
                    raise
            return embed(self.encoder, face[None].to(self.device))[0]
        image = image.to(self.device)
        jitter = {"num_jitters": self.jitters, "generator": self.generator}
        if not self.detect:
            return self.pipeline.encode_cropped(image, **jitter)
        found = self.pipeline.encode_faces(image, **jitter)
        if len(found.boxes) == 0:
            return None
        size = (found.boxes[:, 2] - found.boxes[:, 0]) * (found.boxes[:, 3] - found.boxes[:, 1])
        return found.encodings[int(size.argmax())]

    def encode_files(self, args, paths) -> tuple[torch.Tensor | None, list[str]]:
        """Encodings ``(K, E)`` of the photos with a face (``None`` if none has one), and the
        photos skipped for want of a face (each with a note)."""
        from coursekit.images import load_image

        out, skipped = [], []
        for path in paths:
            z = self.encode_image(load_image(path), str(path))
            if z is None:
                hint = ("" if args.detect or not self.detect else
                        " (detection is on; if it is already a tightly cropped face, try --no-detect)")
                _note(args, f"no face found in {path}: skipped{hint}")
                skipped.append(str(path))
            else:
                out.append(z)
        return (torch.stack(out) if out else None), skipped


def _load_folder_detect(root: Path):
    """The LFW layout, each photo cropped by the face detector."""
    from coursekit.data import FACE_IMAGE_SUFFIXES, FaceDataset

    if not root.is_dir():
        raise ValueError(f"{root} is not a folder; expected one sub-folder per person")
    people = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    images, labels, names, skipped, no_face = [], [], [], [], []
    for person in people:
        files = sorted(f for f in person.iterdir() if f.is_file() and not f.name.startswith("."))
        found = [f for f in files if f.suffix.lower() in FACE_IMAGE_SUFFIXES]
        skipped += [f"{person.name}/{f.name}" for f in files if f not in found]
        if not found:
            raise ValueError(f"person folder {person} holds no image")
        names.append(person.name)
        for f in found:
            face = _load_photo(f, detect=True)
            if face is None:
                no_face.append(f"{person.name}/{f.name}")
                continue
            images.append(face)
            labels.append(len(names) - 1)
    if not names:
        raise ValueError(f"{root} holds no person folders; expected {root}/<person>/<image>.png")
    if not images:
        raise ValueError(f"no face found in any photo of {root}")
    return FaceDataset(torch.stack(images), torch.tensor(labels), names, "local", skipped), no_face


def _is_builtin(spec: str) -> bool:
    """Whether ``DATA`` names the built-in Olivetti faces (an existing path always wins)."""
    if spec.lower() == BUILTIN_DATA or (spec.lower() == "olivetti" and not Path(spec).exists()):
        return True
    if spec.lower().startswith("builtin:"):
        raise ValueError(f"unknown built-in data set {spec!r}; the built-in one is {BUILTIN_DATA}")
    if not Path(spec).exists():
        raise FileNotFoundError(f"data folder not found: {spec}")
    return False


def _note_skipped(args, spec: str, not_images: list[str], no_face: list[str]) -> None:
    for what, files in (("that are not images", not_images), ("with no face found", no_face)):
        if files:
            shown = ", ".join(files[:5]) + (", ..." if len(files) > 5 else "")
            _note(args, f"skipped {len(files)} file(s) {what}: {shown}")


def _load_data(args):
    """``DATA``: ``builtin:olivetti``, else an existing folder, else plain ``olivetti``; returns
    the faces and the photos skipped for want of a face (with ``--detect``)."""
    from coursekit.data import load_face_folder, load_olivetti

    no_face: list[str] = []
    if _is_builtin(args.data):
        ds = load_olivetti()
    elif args.detect:
        ds, no_face = _load_folder_detect(Path(args.data))
    else:
        ds = load_face_folder(Path(args.data), size=FACE_SIZE)
    _note_skipped(args, args.data, ds.skipped, no_face)
    _note(args, f"{args.data}: {len(ds)} images of {ds.num_people} people ({ds.source})")
    return ds, no_face


def _encode_data_pretrained(args, model: _FaceModel):
    """``DATA`` encoded by the pretrained pipeline: ``(z (N, E), labels (N,), no_face, source)``."""
    from coursekit.data import FACE_IMAGE_SUFFIXES, load_olivetti
    from coursekit.images import load_image

    if _is_builtin(args.data):
        ds = load_olivetti()  # already cropped faces: the whole frame is the face box
        _note(args, f"{args.data}: {len(ds)} images of {ds.num_people} people ({ds.source})")
        z = model.pipeline.encode_cropped(ds.images.to(model.device), num_jitters=model.jitters,
                                          generator=model.generator)
        return z, ds.labels, [], ds.source
    root = Path(args.data)
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder; expected one sub-folder per person")
    people = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not people:
        raise ValueError(f"{root} holds no person folders; expected {root}/<person>/<image>.png")
    encodings, labels, not_images, no_face = [], [], [], []
    for k, person in enumerate(people):
        files = sorted(f for f in person.iterdir() if f.is_file() and not f.name.startswith("."))
        found = [f for f in files if f.suffix.lower() in FACE_IMAGE_SUFFIXES]
        not_images += [f"{person.name}/{f.name}" for f in files if f not in found]
        if not found:
            raise ValueError(f"person folder {person} holds no image")
        for f in found:
            z = model.encode_image(load_image(f), str(f))
            if z is None:
                no_face.append(f"{person.name}/{f.name}")
            else:
                encodings.append(z)
                labels.append(k)
    if not encodings:
        raise ValueError(f"no face found in any photo of {root}")
    _note_skipped(args, args.data, not_images, no_face)
    _note(args, f"{args.data}: {len(encodings)} images of {len(people)} people (local)")
    return torch.stack(encodings), torch.tensor(labels), no_face, "local"


def _require_pairs(labels: torch.Tensor, what: str) -> None:
    counts = torch.bincount(labels.cpu())
    if int((counts >= 2).sum()) < 2:
        raise ValueError(
            f"{what} needs at least two people with two or more images each; the data has "
            f"{int((counts > 0).sum())} people and {int((counts >= 2).sum())} of them have two or "
            "more images"
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
    ds, _ = _load_data(args)
    _require_pairs(ds.labels, "training")
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
    model = _FaceModel(args.model, device, detect=bool(args.detect), jitters=args.jitters, seed=args.seed)
    if model.pretrained:
        z, labels, no_face, source = _encode_data_pretrained(args, model)
    else:
        ds, no_face = _load_data(args)
        z, labels, source = embed(model.encoder, ds.images.to(device)), ds.labels, ds.source  # (N, E)
    _require_pairs(labels, "evaluate")
    labels = labels.to(z.device)
    acc = one_shot_accuracy(z, labels, repeats=args.repeats, generator=generator)
    n_way = int((torch.bincount(labels) >= 2).sum())
    n = len(labels)
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
              "num_images": n, "skipped": len(no_face),
              "num_people": int((torch.bincount(labels) > 0).sum()), "source": source}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{n} images used" + (f", {len(no_face)} skipped (no face found)" if no_face else ""))
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


def _open_db(args, model_spec: str | None, *, create: bool, model: _FaceModel | None = None):
    """Load (or, with ``create``, start) the database and its encoder (``model``, if already
    loaded), checking the model: ``(db, model)``."""
    from coursekit.face.database import FaceDatabase
    from coursekit.runtime import get_device

    device = get_device(args.device)
    db_path = Path(args.db)
    exists = db_path.exists() or not create
    db = FaceDatabase.load(db_path) if exists else None
    recorded = db.info.get("model") if db is not None else None
    if model_spec is None:
        model_spec = recorded or PRETRAINED
    if model is None:
        if model_spec != PRETRAINED:
            _model_file(model_spec)
        detect = _detect(args, model_spec, _db_detect(db) if db is not None else None)
        model = _FaceModel(model_spec, device, detect=detect, jitters=args.jitters)
    found_by = _db_detect(db) if db is not None else None  # how the enrolled faces were found
    if found_by is not None and model.detect != found_by:
        if create:
            raise _mixed_detection(db_path, found_by)
        _note(args, f"note: {db_path} was enrolled {_how(found_by)}; this photo is encoded "
                    f"{_how(model.detect)}, so its distances are not comparable (leave out "
                    f"{'--no-detect' if found_by else '--detect'} to match)")
    if db is None:
        threshold = model.default_threshold if args.threshold is None else args.threshold
        db = FaceDatabase(threshold=threshold)
    if db.model is None and db.info.get("model_sha256") and len(db):  # written before db.model
        db.model = f"coursekit:sha256:{db.info['model_sha256']}"
    if not model.pretrained and db.info.get("model_sha256") not in (None, model.digest) and len(db):
        raise ValueError(
            f"{model.path} is not the model {db_path} was built with ({recorded}); encodings of "
            "different models cannot be compared"
        )
    try:
        db.use_model(model.identifier)
    except ValueError as err:
        raise ValueError(f"{db_path}: {err} (it was built with {recorded or db.model}; pass "
                         f"--model {recorded or '...'} or use another database)") from None
    if create:  # how enrolment found the faces: queries follow it
        db.info.setdefault("detect", model.detect if found_by is None else found_by)
    if model.pretrained:
        db.info.pop("model_sha256", None)
        db.info.update(model=PRETRAINED)
    else:
        db.info.update(model=str(model.path.resolve()), model_sha256=model.digest)
    return db, model


def _enroll(args) -> int:
    """``faces enroll DB NAME IMAGE...``: add a person (the database is created if missing).

    The photos are read first (with ``--detect``, those without a face are skipped and
    counted); then the database is locked from reading it to writing it, so enrolments running
    at the same time all land.

    Example:
        >>> from coursekit.cli import main
        >>> db, img, model = _example_files()  # an untrained 8-d encoder and one 64-px photo
        >>> main(["faces", "enroll", db, "ann", img, "--model", model, "--device", "cpu"])
        enrolled ann (1 image(s)); .../people.npz holds 1 people
        0
    """
    from coursekit.files import check_writable, locked
    from coursekit.runtime import get_device

    db_path = Path(args.db)
    if args.model != PRETRAINED:
        _model_file(args.model)
    recorded = _recorded_detect(db_path)
    detect = _detect(args, args.model, recorded)
    if recorded is not None and detect != recorded:  # before the photos are encoded
        raise _mixed_detection(db_path, recorded)
    model = _FaceModel(args.model, get_device(args.device), detect=detect, jitters=args.jitters)
    faces, skipped = model.encode_files(args, args.images)  # (K, E)
    if faces is None:
        hint = ("" if args.detect or not model.detect else
                " (detection is on; if these photos are already tightly cropped faces, add --no-detect)")
        raise ValueError(f"no face found in any of the {len(args.images)} photo(s) of {args.name}; "
                         f"nothing to enroll{hint}")
    check_writable(db_path)
    with locked(db_path):
        if args.threshold is not None and db_path.exists():
            raise ValueError(
                f"--threshold sets the threshold of a new database, and {db_path} exists; to "
                f"change everyone's threshold run: coursekit faces threshold {db_path} "
                f"{args.threshold:g}")
        db, _ = _open_db(args, args.model, create=True, model=model)
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
    note = f", {len(skipped)} skipped: no face found" if skipped else ""
    print(f"{'added to' if args.append else 'enrolled'} {args.name} ({len(faces)} image(s){note}); "
          f"{args.db} holds {len(db)} people")
    return 0


def _query(args):
    """The database, the model, and the query photo's encoding (``None``: no face found)."""
    db, model = _open_db(args, args.model, create=False)
    faces, _ = model.encode_files(args, [args.image])
    return db, (None if faces is None else faces[0])


def _identify(args) -> int:
    """``faces identify DB IMAGE``: the enrolled person nearest the photo, or unknown (1:K);
    exit status 1 for an unknown person, or a photo with no face found (skipped).

    Example:
        >>> from coursekit.cli import main
        >>> db, img, model = _example_files(enroll="ann")  # ann enrolled with that photo
        >>> main(["faces", "identify", db, img, "--device", "cpu"])  # the model is recorded in db
        ann (distance 0.0000 <= threshold 1.0000)
        0
    """
    db, face = _query(args)
    tau = db.threshold if args.threshold is None else args.threshold
    if face is None:
        if args.json:
            print(json.dumps({"name": None, "distance": None, "threshold": tau, "skipped": 1}))
        else:
            print(f"no face found in {args.image}: nobody identified")
        return 1
    name, dist = db.identify(face, threshold=args.threshold)
    if args.json:
        print(json.dumps({"name": name, "distance": dist, "threshold": tau, "skipped": 0}))
    elif name is None:
        nearest = db.names[int(torch.argmin(db.distances(face)))]
        print(f"unknown person (nearest: {nearest}, distance {dist:.4f} > threshold {tau:.4f})")
    else:
        print(f"{name} (distance {dist:.4f} <= threshold {tau:.4f})")
    return 0 if name is not None else 1


def _verify(args) -> int:
    """``faces verify DB NAME IMAGE``: accept or reject the claimed identity (1:1); exit
    status 1 when rejected, or when no face is found in the photo (skipped).

    Example:
        >>> from coursekit.cli import main
        >>> db, img, model = _example_files(enroll="ann")  # ann enrolled with that photo
        >>> main(["faces", "verify", db, "ann", img, "--device", "cpu", "--json"])
        {"name": "ann", "distance": 0.0, "threshold": 1.0, "accepted": true, "skipped": 0}
        0
    """
    db, model = _open_db(args, args.model, create=False)
    db.encodings_of(args.name)  # an unknown name is an error, before the photo is read
    faces, _ = model.encode_files(args, [args.image])
    face = None if faces is None else faces[0]
    tau = db.threshold if args.threshold is None else args.threshold
    if face is None:
        if args.json:
            print(json.dumps({"name": args.name, "distance": None, "threshold": tau,
                              "accepted": False, "skipped": 1}))
        else:
            print(f"rejected: {args.name}, no face found in {args.image}")
        return 1
    dist, ok = db.verify(face, args.name, threshold=args.threshold)
    if args.json:
        print(json.dumps({"name": args.name, "distance": dist, "threshold": tau, "accepted": ok,
                          "skipped": 0}))
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


def _list(args) -> int:
    """``faces list DB``: the people enrolled (photos each) and how the database was built.

    Example:
        >>> from coursekit.cli import main
        >>> db, img, model = _example_files(enroll="ann")
        >>> main(["faces", "list", db])
        database .../people.npz: 1 people, 1 photo(s), 8-d encodings
        model: .../m.pt (sha256 ...)
        faces: without face detection (whole photos)
        threshold: 1.0000 (squared L2 distance)
          ann  1 photo(s)
        0
    """
    from coursekit.face.database import FaceDatabase

    db_path = Path(args.db)
    db = FaceDatabase.load(db_path)
    photos = {name: len(db.encodings_of(name)) for name in db.names}
    detect = _db_detect(db)
    model = db.info.get("model") or db.model
    if args.json:
        print(json.dumps({"db": str(db_path), "people": photos, "model": model,
                          "model_sha256": db.info.get("model_sha256"), "detect": detect,
                          "threshold": db.threshold, "embedding_dim": db.embedding_dim}))
        return 0
    dim = f", {db.embedding_dim}-d encodings" if db.embedding_dim else ""
    print(f"database {db_path}: {len(db)} people, {sum(photos.values())} photo(s){dim}")
    if model == PRETRAINED:
        print(f"model: {PRETRAINED} ({PRETRAINED_ID})")
    elif model is not None:
        sha = db.info.get("model_sha256")
        print(f"model: {model}" + (f" (sha256 {sha[:12]})" if sha else ""))
    else:
        print("model: none recorded yet")
    print(f"faces: {'none enrolled yet' if detect is None else _how(detect)}")
    print(f"threshold: {db.threshold:.4f} (squared L2 distance)")
    width = max((len(name) for name in photos), default=0)
    for name, n in photos.items():
        print(f"  {name:<{width}}  {n} photo(s)")
    return 0


def _remove(args) -> int:
    """``faces remove DB NAME``: take a person and all their photos out of ``DB`` (under the
    database's lock, written atomically).

    Example:
        >>> from coursekit.cli import main
        >>> db, img, model = _example_files(enroll="ann")
        >>> main(["faces", "remove", db, "ann"])
        removed ann (1 photo(s)); .../people.npz holds 0 people
        0
    """
    from coursekit.face.database import FaceDatabase
    from coursekit.files import check_writable, locked

    db_path = Path(args.db)
    if not db_path.is_file():
        raise FileNotFoundError(f"no face database at {db_path}")
    check_writable(db_path)
    with locked(db_path):
        db = FaceDatabase.load(db_path)
        if args.name not in db:
            known = ", ".join(db.names[:10]) + (", ..." if len(db) > 10 else "")
            raise ValueError(f"{args.name!r} is not enrolled in {db_path} "
                             f"(enrolled: {known or 'nobody'}); nothing removed")
        photos = len(db.encodings_of(args.name))
        db.remove(args.name)
        db.save(db_path)
    print(f"removed {args.name} ({photos} photo(s)); {db_path} holds {len(db)} people")
    return 0
