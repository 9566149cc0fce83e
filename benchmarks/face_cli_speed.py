"""``coursekit faces identify`` end to end, as a student runs it, beside dlib's own pipeline.

Every row is a **new process** (interpreter start, imports, reading the models, reading the
photo, detection, landmarks, alignment, encoding, the answer), timed from outside; the median of
``--reps`` runs is shown, as wall-clock seconds and CPU seconds (user + system, all threads,
from ``getrusage`` of the children). The photo is 640 x 480: a real scikit-image scene (coffee)
with the astronaut's face (about 200 px) pasted in; the database holds that person, enrolled
from another crop.

Rows:

* ``import torch``: the floor every PyTorch command pays;
* ``coursekit faces identify DB photo.jpg --detect``: the pretrained models with dlib's CNN
  detector (what a student's own photo needs), with the course cache of converted models
  (``COURSEKIT_CACHE``) warm, and cold (an empty cache in every run: the ``.dat`` files are
  decoded and the cache written, as on the first run after installing);
* ``coursekit faces identify DB photo.jpg``: no option, so the database's record (it was enrolled
  with detection) decides;
* ``coursekit faces identify DB photo.jpg --no-detect``: the whole photo taken as the face box
  (right for photos cropped to the face, not for this one);
* dlib (``dlib-bin``): ``cnn_face_detection_model_v1`` + ``shape_predictor`` (5 points) +
  ``face_recognition_model_v1.compute_face_descriptor(img, shape)`` and the distance to the
  enrolled encoding, in a new process with its imports and model loading (dlib's threads are its
  own: no BLAS or OpenMP in this build, so one row).

``--threads`` sets ``OMP_NUM_THREADS`` for our rows (PyTorch's intra-op threads). The load
average before and after is printed: on a shared machine the wall clock is inflated by the other
jobs; the CPU seconds at one thread approximate an idle machine's time.

    .venv/bin/python benchmarks/face_cli_speed.py [--reps 5] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data, transform

DLIB_PIPELINE = """
import sys
import dlib, numpy as np
from PIL import Image
models, photo, enrolled = sys.argv[1], sys.argv[2], sys.argv[3]
detector = dlib.cnn_face_detection_model_v1(models + "/mmod_human_face_detector.dat")
predictor = dlib.shape_predictor(models + "/shape_predictor_5_face_landmarks.dat")
encoder = dlib.face_recognition_model_v1(models + "/dlib_face_recognition_resnet_model_v1.dat")
img = np.asarray(Image.open(photo).convert("RGB"))
found = detector(img, 0)
box = max((d.rect for d in found), key=lambda r: r.area())
z = np.array(encoder.compute_face_descriptor(img, predictor(img, box)))
print(f"distance {np.sum((z - np.load(enrolled)) ** 2):.4f}")
"""


def make_photos(folder: Path) -> tuple[Path, Path]:
    """The 640 x 480 query photo and the enrolment crop."""
    scene = transform.resize(data.coffee(), (480, 640), preserve_range=True).astype(np.uint8)
    face = transform.resize(data.astronaut()[20:260, 120:360], (200, 200), preserve_range=True)
    scene[140:340, 380:580] = face.astype(np.uint8)
    photo, enrol = folder / "photo.jpg", folder / "eileen.png"
    Image.fromarray(scene).save(photo, quality=92)
    Image.fromarray(data.astronaut()[0:300, 100:400]).save(enrol)
    return photo, enrol


def timed(cmd: list[str], env: dict, reps: int, before_each=None) -> tuple[float, float, str]:
    """Median wall and CPU seconds of ``reps`` runs of ``cmd`` as a new process, and its output."""
    walls, cpus, out = [], [], ""
    for _ in range(reps):
        if before_each is not None:
            before_each()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=env.get("PYTHONPATH"))
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{cmd} failed: {proc.stderr.strip()[-400:]}")
        out = proc.stdout.strip()
    return statistics.median(walls), statistics.median(cpus), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    repo = Path(__file__).resolve().parent.parent
    tmp = Path(tempfile.mkdtemp(prefix="face-cli-speed-"))
    photo, enrol = make_photos(tmp)
    cache = tmp / "cache"
    base = dict(os.environ, PYTHONPATH=str(repo), COURSEKIT_CACHE=str(cache))
    py = [sys.executable]
    ck = py + ["-m", "coursekit", "faces"]
    db = tmp / "db.npz"
    subprocess.run(ck + ["enroll", str(db), "eileen", str(enrol), "--detect", "-q"], env=base, check=True,
                   cwd=repo)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs; "
          f"{args.reps} runs per row (median)", flush=True)
    rows = []

    def row(name: str, threads, cmd, env, **kw) -> None:
        wall, cpu, out = timed(cmd, env, args.reps, **kw)
        rows.append((name, threads, wall, cpu, out.splitlines()[-1] if out else ""))
        print(f"{name:58s} {threads!s:>7s}  {wall:6.2f} s wall  {cpu:6.2f} s CPU  [{rows[-1][4]}]",
              flush=True)

    for t in args.threads:
        env = dict(base, OMP_NUM_THREADS=str(t))
        row("import torch", t, py + ["-c", "import torch"], env)
        query = ["identify", str(db), str(photo)]
        row("coursekit faces identify DB photo --detect (warm cache)", t, ck + query + ["--detect"], env)

        def empty_cache() -> None:
            for f in (cache / "pretrained").glob("*"):
                f.unlink()

        row("coursekit faces identify DB photo --detect (cold cache)", t, ck + query + ["--detect"], env,
            before_each=empty_cache)
        row("coursekit faces identify DB photo (default: as DB records)", t, ck + query, env)
        row("coursekit faces identify DB photo --no-detect (whole photo)", t, ck + query + ["--no-detect"],
            env)
    try:
        import dlib  # noqa: F401

        from coursekit.face import FaceDatabase
        from coursekit.face.pretrained import model_path
    except ImportError:
        print("dlib is not installed: no dlib row")
    else:
        np.save(tmp / "enrolled.npy", FaceDatabase.load(db).encodings_of("eileen")[0].double().numpy())
        models = str(model_path("encoder").parent)
        row("dlib: CNN detector + 5 landmarks + descriptor", "own",
            py + ["-c", DLIB_PIPELINE, models, str(photo), str(tmp / "enrolled.npy")], dict(base))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n| process | threads | wall (median) | CPU (median) | answer |\n|---|---|---|---|---|")
    for name, threads, wall, cpu, out in rows:
        print(f"| {name} | {threads} | {wall:.2f} s | {cpu:.2f} s | {out} |")


if __name__ == "__main__":
    main()
