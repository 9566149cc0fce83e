"""What only separate processes show: enrolments running at the same time, SIGTERM and SIGINT,
and the temporary file a killed writer leaves behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import coursekit.files
from coursekit.cli import main
from coursekit.face.database import FaceDatabase
from coursekit.face.encoder import FaceEncoder, save_encoder
from coursekit.files import atomic_write, remove_stale_temp_files

ROOT = Path(__file__).resolve().parents[2]
posix_only = pytest.mark.skipif(os.name != "posix", reason="fork and POSIX signals")


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("COVERAGE_PROCESS_START", None)
    return env


@pytest.fixture
def model_and_photo(tmp_path):
    model = save_encoder(FaceEncoder(8, widths=(4, 4, 4, 4)), tmp_path / "m.pt")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)).save(photo)
    return model, photo


@posix_only
def test_parallel_enrolments_all_land(tmp_path, model_and_photo):
    """8 processes x 5 names into one database, all at once: the 40 people are all there."""
    model, photo = model_and_photo
    db = tmp_path / "people.npz"
    script = textwrap.dedent(f"""
        import os, sys, time, contextlib, io
        import torch
        torch.set_num_threads(1)
        from coursekit.cli import main
        with contextlib.redirect_stdout(io.StringIO()):  # imports done once, before the forks
            main(["faces", "enroll", {str(db.with_name("warm.npz"))!r}, "x", {str(photo)!r},
                  "--model", {str(model)!r}, "--device", "cpu", "-q"])
        start = time.time() + 0.5  # the children start enrolling together
        children = []
        for worker in range(8):
            pid = os.fork()
            if pid == 0:
                time.sleep(max(0.0, start - time.time()))
                codes = []
                with contextlib.redirect_stdout(io.StringIO()):
                    for k in range(5):
                        codes.append(main(["faces", "enroll", {str(db)!r}, f"w{{worker}}_{{k}}",
                                           {str(photo)!r}, "--model", {str(model)!r},
                                           "--device", "cpu", "-q"]))
                os._exit(0 if codes == [0] * 5 else 1)
            children.append(pid)
        sys.exit(max(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children))
    """)
    done = subprocess.run([sys.executable, "-c", script], env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    names = FaceDatabase.load(db).names
    assert sorted(names) == sorted(f"w{w}_{k}" for w in range(8) for k in range(5))
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    # without the lock, a trial lost 32 of the 40


@posix_only
def test_sigterm_during_training_cleans_up(tmp_path):
    """A long ``python -m coursekit faces train``, terminated once it has started: exit status
    143, one line, no output file and no temporary file."""
    rng = np.random.default_rng(0)
    for person in range(3):
        (tmp_path / "data" / f"p{person}").mkdir(parents=True)
        for k in range(2):
            Image.fromarray(rng.integers(0, 256, (32, 32), np.uint8)).save(
                tmp_path / "data" / f"p{person}" / f"{k}.png")
    out = tmp_path / "m.pt"
    proc = subprocess.Popen([sys.executable, "-m", "coursekit", "faces", "train",
                             str(tmp_path / "data"), "--out", str(out), "--epochs", "100000",
                             "--device", "cpu"], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # the note on the data: training starts next
        assert "images of 3 people" in line, line
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert err.strip() == "coursekit: terminated"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@posix_only
@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 143, "terminated"),
                                             (signal.SIGINT, 130, "interrupted")])
def test_a_signal_while_writing_removes_the_temporary_file(tmp_path, model_and_photo, monkeypatch,
                                                           capsys, sig, code, word):
    """SIGTERM or SIGINT arriving in the middle of writing the database: the old file is
    intact, the temporary file is gone, the exit status is 143 or 130."""
    model, photo = model_and_photo
    db = tmp_path / "people.npz"
    assert main(["faces", "enroll", str(db), "ann", str(photo), "--model", str(model), "-q",
                 "--device", "cpu"]) == 0
    before = db.read_bytes()

    def write_then_killed(path, encodings, owners, meta):
        with atomic_write(path, "wb") as f:
            f.write(b"half a database")
            os.kill(os.getpid(), sig)
            time.sleep(5)  # the handler raises before this ends
        raise AssertionError("not reached")

    monkeypatch.setattr("coursekit.face.database.write_database", write_then_killed)
    capsys.readouterr()
    argv = ["faces", "enroll", str(db), "bo", str(photo), "--model", str(model), "-q", "--device",
            "cpu"]
    assert main(argv) == code and capsys.readouterr().err.strip() == f"coursekit: {word}"
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".people.npz.lock"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # main put the handler back


@posix_only
def test_a_killed_writer_leaves_a_temporary_file_the_next_write_removes(tmp_path, model_and_photo,
                                                                        monkeypatch):
    model, photo = model_and_photo
    db = tmp_path / "people.npz"
    script = textwrap.dedent(f"""
        import os, signal
        from coursekit.files import atomic_write
        with atomic_write({str(db)!r}, "wb") as f:
            f.write(b"half")
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], env=_env(), timeout=120)
    assert done.returncode == -signal.SIGKILL
    stale = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(stale) == 1 and stale[0].name.startswith(".people.npz.")
    assert stale[0].stat().st_mode & 0o777 == 0o600
    # a fresh one might be a live writer's: kept until it is STALE_AFTER_S old
    assert remove_stale_temp_files(db) == []
    os.utime(stale[0], (time.time() - 60, time.time() - 60))
    assert main(["faces", "enroll", str(db), "ann", str(photo), "--model", str(model), "-q",
                 "--device", "cpu"]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert FaceDatabase.load(db).names == ["ann"]


@posix_only
def test_a_live_writers_temporary_file_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(coursekit.files, "STALE_AFTER_S", 0.0)
    target = tmp_path / "out.bin"
    with atomic_write(target) as f:
        f.write(b"data")
        assert remove_stale_temp_files(target) == []  # held by this writer
        other = tmp_path / ".out.bin.zzzzzzzz.tmp"  # abandoned by someone else
        other.write_bytes(b"old")
        assert remove_stale_temp_files(target) == [other]
        assert remove_stale_temp_files(tmp_path / "unrelated") == []
    assert target.read_bytes() == b"data"


def test_the_lock_waits_for_the_holder(tmp_path):
    from coursekit.files import locked

    with locked(tmp_path / "db.npz"):
        with pytest.raises(TimeoutError, match="db.npz is locked"):
            with locked(tmp_path / "db.npz", timeout=0.2):
                pass
    with locked(tmp_path / "db.npz", timeout=0.2):
        pass


def test_version(capsys):
    from coursekit import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"coursekit {__version__}"


def test_the_program_exits_fast_but_cleanly(tmp_path, model_and_photo):
    """``python -m coursekit`` ends with ``os._exit`` after ``main`` (no module teardown): the exit
    code, standard output and error, ``atexit`` functions and files written all survive it."""
    model, photo = model_and_photo
    db = tmp_path / "people.npz"
    run = [sys.executable, "-m", "coursekit", "faces"]
    done = subprocess.run(run + ["enroll", str(db), "ann", str(photo), "--model", str(model), "--device",
                                 "cpu"], env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "enrolled ann" in done.stdout, done.stderr
    assert FaceDatabase.load(db).names == ["ann"]
    done = subprocess.run(run + ["identify", str(db), str(photo), "--threshold", "0", "--json"], env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1) and '"name"' in done.stdout
    done = subprocess.run(run + ["identify", str(db), str(tmp_path / "missing.png")], env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "missing.png" in done.stderr
    script = textwrap.dedent("""
        import atexit, sys
        atexit.register(lambda: print("atexit ran"))
        sys.argv = ["coursekit", "--version"]
        from coursekit.cli import console_main
        print("before", end=" ")  # buffered: must be flushed
        console_main()
    """)
    done = subprocess.run([sys.executable, "-c", script], env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0
    assert done.stdout.startswith("before coursekit ") and done.stdout.rstrip().endswith("atexit ran")
