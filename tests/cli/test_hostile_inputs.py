"""The command line against careless and hostile input, one row per case.

Each case asserts the exit code, one line on standard error that names the path or option, no
traceback, and that no file in the working folder changed (new ``.NAME.lock`` files aside).
Everything runs in-process on tiny inputs: an untrained 8-d encoder, 40-px photos, random
VGG19 weights; every style case fails before VGG19 is built.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from coursekit.cli import main
from coursekit.face.encoder import FaceEncoder, save_encoder
from coursekit.images import save_image

ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0  # root ignores file permissions


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A working folder: photos, a tiny model, a face folder, a database with ann, and traps."""
    d = tmp_path_factory.mktemp("hostile")
    g = torch.Generator().manual_seed(0)
    save_image(torch.rand(3, 24, 40, generator=g), d / "content.png")
    save_image(torch.rand(3, 30, 30, generator=g), d / "style.png")
    rng = np.random.default_rng(0)
    for person in ("p0", "p1", "p2"):
        for k in range(2):
            (d / "data" / person).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (40, 40), np.uint8)).save(d / "data" / person / f"{k}.png")
    save_encoder(FaceEncoder(8, widths=(4, 4, 4, 4)), d / "m.pt")
    save_encoder(FaceEncoder(8, widths=(4, 4, 4, 4)), d / "other.pt")
    (d / "notes.png").write_text("not an image")
    (d / "truncated.png").write_bytes((d / "content.png").read_bytes()[:120])
    header = b"IHDR" + struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    (d / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + header
                                 + struct.pack(">I", zlib.crc32(header)))
    (d / "notes.txt").write_text("not a model")
    (d / "fake.npz").write_text("not a database")
    (d / "existing_folder.png").mkdir()
    (d / "existing_folder").mkdir()
    (d / "olivetti").mkdir()  # a folder named like the built-in set, and empty
    cwd = os.getcwd()
    os.chdir(d)
    try:
        assert main(["faces", "enroll", "people.npz", "ann", "data/p0/0.png", "--model", "m.pt",
                     "--device", "cpu", "-q"]) == 0
    finally:
        os.chdir(cwd)
    return d


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = "folder"
        for name in filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            try:
                with open(path, "rb") as f:
                    out[rel] = hashlib.sha256(f.read()).hexdigest()
            except PermissionError:
                out[rel] = "unreadable"
    return out


S = ["style", "content.png", "style.png"]
FAST = ["--weights", "random", "--steps", "2", "--device", "cpu", "-q"]
ENROLL = ["faces", "enroll", "people.npz"]

# (id, argv, exit code, text the one line must contain, text it must not contain)
CASES = [
    # style: the output
    ("output is a folder", [*S, "-o", "existing_folder.png", *FAST], 2, "existing_folder.png", None),
    ("output without extension", [*S, "-o", "result", *FAST], 2, "result: unknown image extension", "tmp"),
    ("output not an image", [*S, "-o", "out.txt", *FAST], 2, "out.txt", None),
    ("output is the content", [*S, "-o", "content.png", *FAST], 2, "content.png", None),
    ("output is the style", [*S, "-o", "./style.png", *FAST], 2, "style.png", None),
    ("output below a file", [*S, "-o", "notes.txt/out.png", *FAST], 2, "notes.txt/out.png", None),
    # style: the inputs
    ("content missing", ["style", "missing.png", "style.png", "-o", "o.png", *FAST], 2, "missing.png", None),
    ("content not an image", ["style", "notes.png", "style.png", "-o", "o.png", *FAST], 2, "notes.png", None),
    ("content is a folder", ["style", "existing_folder.png", "style.png", "-o", "o.png", *FAST], 2,
     "existing_folder.png", None),
    ("content truncated", ["style", "truncated.png", "style.png", "-o", "o.png", *FAST], 2,
     "truncated.png", None),
    ("content a bomb", ["style", "bomb.png", "style.png", "-o", "o.png", *FAST], 2, "bomb.png", None),
    ("style missing", ["style", "content.png", "nope.jpg", "-o", "o.png", *FAST], 2, "nope.jpg", None),
    # style: options
    ("size huge", [*S, "-o", "o.png", *FAST, "--size", "100000"], 2, "--size 100000", None),
    ("size zero", [*S, "-o", "o.png", *FAST, "--size", "0"], 2, "--size", None),
    ("size word", [*S, "-o", "o.png", *FAST, "--size", "big"], 2, "--size", None),
    ("size too small", [*S, "-o", "o.png", *FAST, "--size", "8"], 2, "size 8 is too small", None),
    ("scales zero", [*S, "-o", "o.png", *FAST, "--scales", "0,64"], 2, "--scales", None),
    ("steps zero", [*S, "-o", "o.png", "--weights", "random", "--steps", "0"], 2, "--steps", None),
    ("steps negative", [*S, "-o", "o.png", "--weights", "random", "--steps", "-5"], 2, "--steps", None),
    ("alpha nan", [*S, "-o", "o.png", *FAST, "--alpha", "nan"], 2, "--alpha", None),
    ("alpha negative", [*S, "-o", "o.png", *FAST, "--alpha", "-1"], 2, "--alpha", None),
    ("beta inf", [*S, "-o", "o.png", *FAST, "--beta", "inf"], 2, "--beta", None),
    ("tv nan", [*S, "-o", "o.png", *FAST, "--tv", "nan"], 2, "--tv", None),
    ("lr zero", [*S, "-o", "o.png", *FAST, "--lr", "0"], 2, "--lr", None),
    ("seed negative", [*S, "-o", "o.png", *FAST, "--seed", "-1"], 2, "--seed", None),
    ("blend nan", [*S, "-o", "o.png", *FAST, "--blend", "nan"], 2, "--blend", None),
    ("blend count", [*S, "-o", "o.png", *FAST, "--blend", "1,2"], 2, "--blend", None),
    ("style weights count", [*S, "-o", "o.png", *FAST, "--style-weights", "1,2"], 2, "--style-weights", None),
    ("unknown layer", [*S, "-o", "o.png", *FAST, "--content-layer", "relu9_1"], 2, "relu9_1", None),
    ("unknown device", [*S, "-o", "o.png", "--weights", "random", "--device", "abacus"], 2, "abacus", None),
    ("unknown optimizer", [*S, "-o", "o.png", *FAST, "--optimizer", "sgd"], 2, "--optimizer", None),
    ("no output", [*S, *FAST], 2, "-o/--output", None),
    # faces: data, models and outputs
    ("train out is a folder", ["faces", "train", "data", "--out", "existing_folder", "-q"], 2,
     "existing_folder", None),
    ("train out below a file", ["faces", "train", "data", "--out", "notes.txt/m.pt", "-q"], 2,
     "notes.txt/m.pt", None),
    ("folder named olivetti wins", ["faces", "train", "olivetti", "--out", "new.pt", "-q"], 2,
     "olivetti holds no person folders", None),
    ("unknown builtin", ["faces", "evaluate", "builtin:lfw", "--model", "m.pt", "-q"], 2, "builtin:lfw",
     None),
    ("data missing", ["faces", "evaluate", "nowhere", "--model", "m.pt", "-q"], 2, "nowhere", None),
    ("epochs zero", ["faces", "train", "data", "--out", "new.pt", "--epochs", "0"], 2, "--epochs", None),
    ("repeats too few", ["faces", "evaluate", "data", "--model", "m.pt", "--repeats", "3"], 2, "--repeats",
     None),
    ("text file as model", ["faces", "evaluate", "data", "--model", "notes.txt", "-q"], 2, "notes.txt",
     "weights_only"),
    ("folder as model", [*ENROLL, "bo", "data/p1/0.png", "--model", "existing_folder"], 2, "--model", None),
    ("model missing", [*ENROLL, "bo", "data/p1/0.png", "--model", "none.pt"], 2, "none.pt", None),
    ("other model", ["faces", "identify", "people.npz", "data/p0/1.png", "--model", "other.pt"], 2,
     "not the model", None),
    ("jitters zero", [*ENROLL, "bo", "data/p1/0.png", "--model", "m.pt", "--jitters", "0"], 2, "--jitters",
     None),
    ("jitters word", ["faces", "identify", "people.npz", "data/p0/0.png", "--jitters", "many"], 2,
     "--jitters", None),
    ("jitters float", ["faces", "verify", "people.npz", "ann", "data/p0/0.png", "--jitters", "1e9"], 2,
     "--jitters", None),
    ("jitters huge", ["faces", "verify", "people.npz", "ann", "data/p0/0.png", "--jitters", "100000"], 2,
     "--jitters", None),
    ("jitters with a trained model", ["faces", "identify", "people.npz", "data/p0/0.png", "--jitters", "3"],
     2, "--jitters 3 needs --model pretrained", None),
    # faces: the database
    ("text file as database", ["faces", "identify", "fake.npz", "data/p0/0.png"], 2, "fake.npz", "pickle"),
    ("database missing", ["faces", "identify", "none.npz", "data/p0/0.png"], 2, "none.npz", None),
    ("database is a folder", ["faces", "enroll", "existing_folder", "bo", "data/p1/0.png", "--model", "m.pt"],
     2, "existing_folder", None),
    ("name taken", [*ENROLL, "ann", "data/p1/0.png", "--model", "m.pt", "-q"], 2, "--append", None),
    ("append to nobody", [*ENROLL, "zed", "data/p1/0.png", "--model", "m.pt", "--append"], 2, "--append",
     None),
    ("threshold on existing", [*ENROLL, "bo", "data/p1/0.png", "--model", "m.pt", "--threshold", "0.5"], 2,
     "faces threshold people.npz 0.5", None),
    ("threshold nan", [*ENROLL, "bo", "data/p1/0.png", "--model", "m.pt", "--threshold", "nan"], 2,
     "--threshold", None),
    ("threshold negative", ["faces", "threshold", "people.npz", "-1"], 2, "T", None),
    ("list missing database", ["faces", "list", "none.npz"], 2, "none.npz", None),
    ("list text file", ["faces", "list", "fake.npz"], 2, "fake.npz", "pickle"),
    ("remove unknown name", ["faces", "remove", "people.npz", "zed"], 2, "'zed' is not enrolled", None),
    ("remove from missing database", ["faces", "remove", "none.npz", "ann"], 2, "none.npz", None),
    ("remove from a folder", ["faces", "remove", "existing_folder", "ann"], 2, "existing_folder", None),
    ("photo not an image", [*ENROLL, "bo", "notes.png", "--model", "m.pt"], 2, "notes.png", None),
    ("photo truncated", [*ENROLL, "bo", "truncated.png", "--model", "m.pt"], 2, "truncated.png", None),
    ("photo missing", ["faces", "identify", "people.npz", "missing.png"], 2, "missing.png", None),
    ("verify unknown name", ["faces", "verify", "people.npz", "zed", "data/p0/0.png"], 2, "'zed'", None),
    ("identify threshold inf", ["faces", "identify", "people.npz", "data/p0/0.png", "--threshold", "inf"], 2,
     "--threshold", None),
    # the command itself
    ("unknown command", ["paint"], 2, "paint", None),
    ("unknown action", ["faces", "forget"], 2, "forget", None),
]


def _run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("argv, code, needle, forbidden", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hostile_input(workdir, monkeypatch, capsys, argv, code, needle, forbidden):
    monkeypatch.chdir(workdir)
    before = _snapshot(workdir)
    try:
        got, out, err = _run(argv, capsys)
    except SystemExit as exc:  # argparse's usage errors
        got, err = exc.code, capsys.readouterr().err
    lines = err.strip().splitlines()
    assert got == code, err
    assert len(lines) == 1, err
    assert lines[0].startswith("coursekit") and "error" in lines[0], lines[0]
    assert needle in lines[0], lines[0]
    assert forbidden is None or forbidden not in lines[0], lines[0]
    assert "Traceback" not in err
    after = _snapshot(workdir)
    new = {k for k in after.keys() - before.keys() if not Path(k).name.endswith(".lock")}
    assert not new, f"created {new}"
    assert {k: after[k] for k in before} == before


@pytest.mark.skipif(ROOT_USER, reason="root can write and read anything")
@pytest.mark.parametrize("argv, needle", [
    ([*S, "-o", "ro/out.png", *FAST], "ro/out.png"),
    ([*ENROLL[:2], "ro/people.npz", "bo", "data/p1/0.png", "--model", "m.pt"], "ro/people.npz"),
    (["faces", "train", "data", "--out", "ro/m.pt"], "ro/m.pt"),
    (["style", "secret/c.png", "style.png", "-o", "o.png", *FAST], "secret/c.png"),
    (["faces", "evaluate", "locked", "--model", "m.pt", "-q"], "locked/p1"),
])
def test_permissions(workdir, monkeypatch, capsys, argv, needle):
    monkeypatch.chdir(workdir)
    (workdir / "ro").mkdir(exist_ok=True)
    (workdir / "secret").mkdir(exist_ok=True)
    save_image(torch.rand(3, 8, 8), workdir / "secret" / "c.png")
    for person in ("p0", "p1"):
        (workdir / "locked" / person).mkdir(parents=True, exist_ok=True)
        save_image(torch.rand(3, 8, 8), workdir / "locked" / person / "0.png")
    os.chmod(workdir / "ro", 0o555)
    os.chmod(workdir / "secret" / "c.png", 0o000)
    os.chmod(workdir / "locked" / "p1", 0o000)
    try:
        before = _snapshot(workdir)
        code, _, err = _run(argv, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert needle in err and "Permission denied" in err and "corrupt" not in err, err
        assert _snapshot(workdir) == before
    finally:
        os.chmod(workdir / "ro", 0o755)
        os.chmod(workdir / "secret" / "c.png", 0o644)
        os.chmod(workdir / "locked" / "p1", 0o755)


def test_a_folder_that_cannot_be_written_is_named(workdir, monkeypatch, capsys):
    """As root too: the probe's permission error names the user's path, not the probe's."""
    import coursekit.files

    def denied(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", os.path.join(str(dir), ".probe.tmp"))

    monkeypatch.chdir(workdir)
    monkeypatch.setattr(coursekit.files.tempfile, "mkstemp", denied)
    code, _, err = _run([*S, "-o", "sub/out.png", *FAST], capsys)
    assert code == 2
    assert err.strip() == "coursekit: error: sub/out.png: cannot write there (Permission denied)"
    assert not (workdir / "sub").exists()


def test_a_negative_answer_exits_1(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    assert main(["faces", "verify", "people.npz", "ann", "data/p0/0.png", "--threshold", "0.5"]) == 0
    assert main(["faces", "verify", "people.npz", "ann", "data/p2/0.png", "--threshold", "0"]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("rejected: ann")
    assert main(["faces", "identify", "people.npz", "data/p2/1.png", "--threshold", "0", "--json"]) == 1
    assert '"name": null' in capsys.readouterr().out


def test_out_of_memory_is_one_line(workdir, monkeypatch, capsys):
    def oom(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                           "96000000000 bytes.\nError code 12")

    monkeypatch.chdir(workdir)
    monkeypatch.setattr("coursekit.style.transfer.style_transfer", oom)
    code, _, err = _run([*S, "-o", "oom.png", *FAST, "--size", "32"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("coursekit: error: out of memory (DefaultCPUAllocator") and "--size" in err
    assert not (workdir / "oom.png").exists()
