"""The pretrained face models in PyTorch (``coursekit.face.pretrained``) beside dlib itself.

Three parts, all in one run unless ``--part`` picks one:

* ``speed``: side by side on the same machine and threads, best of ``--reps`` runs:
  the encoder's throughput on 150 x 150 chips (ours in batches of 32 vs dlib's batch
  ``compute_face_descriptor``, which runs 16 at a time); the detector on a 640 x 480 photo
  (ours vs ``cnn_face_detection_model_v1``); the whole pipeline on that photo (detect, landmarks,
  chip, encode). dlib-bin is a CPU build; its thread use is its own (no BLAS).
* ``oneshot``: one-shot 10-way on the 10 Olivetti people of each identity split of
  ``benchmarks/face_one_shot.py`` (splits 0-4, ``split_identities(faces, 10)``), the whole frame
  as the face box (landmarks, chip, encoding), 20 random enrolments
  (``one_shot_accuracy``) and ROC AUC over all pairs; the same with dlib's own models as a check.
* ``cross``: photos with background: each of 5 photos of all 40 Olivetti people, enlarged to
  100-170 px, pasted at a random place in a 640 x 480 crop of a real scikit-image scene (coffee,
  chelsea, rocket, coins, immunohistochemistry); the detector finds the face (photos where it
  finds none are counted and left out), then one-shot 40-way over 20 enrolments, and how many
  of the kept faces pass dlib's 0.6 threshold against another photo of the same person.

The command line end to end (``coursekit faces identify``, a new process each time) is timed by
``benchmarks/face_cli_speed.py``.

Every time is given as wall-clock and as CPU seconds of the process: on a shared machine the
wall clock is inflated by other jobs, while the CPU seconds (at one thread) approximate the time
on an otherwise idle machine.

    COURSEKIT_DATA=/work/shared/data .venv/bin/python benchmarks/face_pretrained.py
        [--threads 2] [--reps 3] [--part speed|oneshot|cross] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from skimage import data, transform

from coursekit.data import load_olivetti, split_identities
from coursekit.face import all_pairs, one_shot_accuracy, pair_distances, roc_auc
from coursekit.face.pretrained import load_pretrained_pipeline, model_path


def _best(fn, reps: int) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds (all threads of the process) over ``reps`` runs:
    on a shared machine the CPU seconds are the steadier figure."""
    wall = cpu = float("inf")
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return wall, cpu


def _fmt(t: tuple[float, float]) -> str:
    return f"{t[0]:.3f} s wall, {t[1]:.3f} s CPU"


def _dlib():
    try:
        import dlib
    except ImportError:
        return None
    return {
        "dlib": dlib,
        "detector": dlib.cnn_face_detection_model_v1(str(model_path("detector"))),
        "predictor": dlib.shape_predictor(str(model_path("landmarks"))),
        "encoder": dlib.face_recognition_model_v1(str(model_path("encoder"))),
    }


def _grey_rgb(img: torch.Tensor) -> np.ndarray:
    """(1, H, W) float in [0, 1] -> (H, W, 3) uint8."""
    a = (img[0].numpy() * 255).round().astype(np.uint8)
    return np.ascontiguousarray(np.repeat(a[..., None], 3, 2))


SCENES = ("coffee", "chelsea", "rocket", "coins", "immunohistochemistry")


def _scene(name: str, g: np.random.Generator) -> np.ndarray:
    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, 2)
    scale = max(480 / img.shape[0], 640 / img.shape[1])
    if scale > 1:
        img = transform.rescale(img, scale, channel_axis=2, preserve_range=True).astype(np.uint8)
    y, x = g.integers(0, img.shape[0] - 479), g.integers(0, img.shape[1] - 639)
    return img[y:y + 480, x:x + 640].copy()


def _paste(canvas: np.ndarray, face: np.ndarray, side: int, g: np.random.Generator) -> np.ndarray:
    big = transform.resize(face, (side, side), preserve_range=True).astype(np.uint8)
    y, x = g.integers(0, 480 - side), g.integers(0, 640 - side)
    out = canvas.copy()
    out[y:y + side, x:x + side] = big[..., None] if big.ndim == 2 else big
    return out


def _group_photo(faces, g: np.random.Generator) -> np.ndarray:
    """A 640 x 480 'group photo': 6 Olivetti faces of 100-150 px on a real scene."""
    canvas = _scene("coffee", g)
    for k, (r, c) in enumerate([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]):
        side = int(g.integers(100, 150))
        face = (faces.images[k * 10, 0].numpy() * 255).astype(np.uint8)
        big = transform.resize(face, (side, side), preserve_range=True).astype(np.uint8)
        y, x = 20 + r * 230, 20 + c * 210
        canvas[y:y + side, x:x + side] = big[..., None]
    return canvas


def speed(pipe, ref, faces, reps: int, device: torch.device) -> None:
    box = torch.tensor([[0, 0, 63, 63]])
    chips = torch.cat([pipe.align(img, box)[1] for img in faces.images[:32]])  # 32 aligned chips
    photo = _group_photo(faces, np.random.default_rng(0))
    x = torch.from_numpy(photo).permute(2, 0, 1).contiguous()
    dev_chips = chips.to(device)
    pipe.to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def ours_encode():
        pipe.encoder(dev_chips)
        sync()

    def ours_detect():
        pipe.find_faces(x.to(device))
        sync()

    def ours_pipeline():
        pipe.encode_faces(x.to(device))
        sync()

    ours_encode()
    t_enc = _best(ours_encode, reps)
    t_det = _best(ours_detect, reps)
    t_pipe = _best(ours_pipeline, reps)
    found = len(pipe.find_faces(x.to(device))[0])
    print(f"encoder, ours ({device.type}, {torch.get_num_threads()} threads): "
          f"{len(chips) / t_enc[0]:.1f} chips/s wall, {len(chips) / t_enc[1]:.1f} chips per CPU second")
    print(f"detector 640x480, ours: {_fmt(t_det)} ({found} faces)")
    print(f"pipeline 640x480 (detect, landmarks, chips, encode), ours: {_fmt(t_pipe)}")
    if ref is None:
        print("dlib not installed: no dlib rows")
        return
    np_chips = [np.ascontiguousarray(c.permute(1, 2, 0).cpu().numpy()) for c in chips]
    t_enc_d = _best(lambda: ref["encoder"].compute_face_descriptor(np_chips), reps)
    t_det_d = _best(lambda: ref["detector"](photo), reps)

    def dlib_pipeline():
        for d in ref["detector"](photo):
            shape = ref["predictor"](photo, d.rect)
            ref["encoder"].compute_face_descriptor(photo, shape)

    t_pipe_d = _best(dlib_pipeline, reps)
    print(f"encoder, dlib: {len(chips) / t_enc_d[0]:.1f} chips/s wall, "
          f"{len(chips) / t_enc_d[1]:.1f} chips per CPU second  (ours / dlib throughput: wall "
          f"{t_enc_d[0] / t_enc[0]:.2f}x, CPU {t_enc_d[1] / t_enc[1]:.2f}x)")
    print(f"detector 640x480, dlib: {_fmt(t_det_d)} ({len(ref['detector'](photo))} faces)  "
          f"(ours / dlib time: wall {t_det[0] / t_det_d[0]:.2f}, CPU {t_det[1] / t_det_d[1]:.2f})")
    print(f"pipeline 640x480, dlib: {_fmt(t_pipe_d)}  (ours / dlib time: wall "
          f"{t_pipe[0] / t_pipe_d[0]:.2f}, CPU {t_pipe[1] / t_pipe_d[1]:.2f})")


def _dlib_cropped(ref, images: torch.Tensor) -> torch.Tensor:
    out = []
    for img in images:
        rgb = _grey_rgb(img)
        box = ref["dlib"].rectangle(0, 0, rgb.shape[1] - 1, rgb.shape[0] - 1)
        chip = ref["dlib"].get_face_chip(rgb, ref["predictor"](rgb, box), size=150)
        out.append(torch.tensor(np.array(ref["encoder"].compute_face_descriptor(chip))))
    return torch.stack(out).float()


def oneshot(pipe, ref, faces) -> None:
    rows: dict[str, list] = {"ours": [], "dlib": []}
    for split in range(5):
        _, test = split_identities(faces, 10, generator=torch.Generator().manual_seed(split))
        pairs = all_pairs(test.labels)
        for name in ("ours", "dlib"):
            if name == "dlib" and ref is None:
                continue
            z = pipe.encode_cropped(test.images) if name == "ours" else _dlib_cropped(ref, test.images)
            acc = one_shot_accuracy(z, test.labels, repeats=20, generator=torch.Generator().manual_seed(0))
            auc = roc_auc(pair_distances(z, pairs[0], pairs[1]), pairs[2])
            rows[name].append((acc, auc))
            print(f"split {split} {name}: one-shot 10-way {acc:.4f}, ROC AUC {auc:.4f}")
    for name, vals in rows.items():
        if vals:
            a = np.array(vals)
            print(f"{name}: one-shot 10-way {a[:, 0].mean():.4f} +- {a[:, 0].std():.4f}, "
                  f"ROC AUC {a[:, 1].mean():.4f} (5 splits)")


def cross(pipe, faces, per_person: int = 5) -> None:
    g = np.random.default_rng(0)
    encodings, labels, skipped = [], [], 0
    t = time.perf_counter()
    for person in range(faces.num_people):
        idx = torch.nonzero(faces.labels == person)[:per_person, 0]
        for i in idx.tolist():
            face = (faces.images[i, 0].numpy() * 255).astype(np.uint8)
            photo = _paste(_scene(SCENES[i % len(SCENES)], g), face, int(g.integers(100, 171)), g)
            found = pipe.encode_faces(torch.from_numpy(photo).permute(2, 0, 1))
            if len(found.boxes) == 0:
                skipped += 1
                continue
            area = (found.boxes[:, 2] - found.boxes[:, 0]) * (found.boxes[:, 3] - found.boxes[:, 1])
            encodings.append(found.encodings[int(area.argmax())])
            labels.append(person)
    z, y = torch.stack(encodings), torch.tensor(labels)
    acc = one_shot_accuracy(z, y, repeats=20, generator=torch.Generator().manual_seed(0))
    i, j, same = all_pairs(y)
    d = pair_distances(z, i, j).sqrt()
    tar = float((d[same] < 0.6).float().mean())
    far = float((d[~same] < 0.6).float().mean())
    print(f"photos with background: {len(y)} of {len(y) + skipped} photos with a face found "
          f"({skipped} skipped), {faces.num_people} people, {time.perf_counter() - t:.0f} s")
    print(f"  one-shot {faces.num_people}-way: {acc:.4f} (20 enrolments); at dlib's threshold 0.6: "
          f"same-person pairs accepted {tar:.4f}, different-person pairs accepted {far:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--part", choices=("speed", "oneshot", "cross"), default=None)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t = time.perf_counter()
    pipe = load_pretrained_pipeline()
    print(f"models read in {time.perf_counter() - t:.2f} s")
    ref = _dlib()
    faces = load_olivetti()
    print(f"Olivetti: {faces.source}; torch {torch.__version__}, {args.threads} threads")
    if args.part in (None, "speed"):
        speed(pipe, ref, faces, args.reps, torch.device(args.device))
        pipe.to("cpu")
    if args.part in (None, "oneshot"):
        oneshot(pipe, ref, faces)
    if args.part in (None, "cross"):
        cross(pipe, faces)


if __name__ == "__main__":
    main()
