"""One-shot 10-way accuracy on unseen Olivetti people: the trained encoder vs pixel and eigenface baselines.

Protocol (issue 3): for each identity split (``--seeds``, default 0-4), train on 30 people from
scratch with ``TrainConfig()`` defaults, then on the 10 people never seen in training enrol one
random photo per person and name every other photo by its nearest enrolled encoding (squared L2);
``coursekit.face.one_shot_accuracy`` averages 20 random enrolments. ROC AUC is over all
same/different pairs of the 10 people (``coursekit.face.roc_auc``). The encoder is scored four
ways: its plain encodings; with test-time flip averaging (``embed(..., flip=True)``); with flip
and +-1 px shift averaging (``embed(..., flip=True, shift=1)``, 18 views); and the last with the
pair distances S-normalised against the 30 training people's encodings (``coursekit.face.s_norm``;
the one-shot rule is unchanged by it, only the AUC). Baselines on the same
splits: nearest neighbour on raw pixels, and PCA eigenfaces (fitted on the 30 training people).
Optionally dlib's pretrained 128-d ResNet (``pip install --no-deps dlib-bin
face_recognition_models``), skipped when not installed.

    COURSEKIT_DATA=/work/shared/data .venv/bin/python benchmarks/face_one_shot.py [--threads 2]
        [--seeds 0,1,2,3,4]   # one seed per process runs splits in parallel; the per-split
                              # lines can be pooled by hand
        [--skip-train]        # the baselines (pixels, eigenfaces, dlib) alone, no training
        [--set alpha=0.3 --set lr=0.002]  # variants: TrainConfig fields other than the
                              # defaults (values as Python literals); the protocol is unchanged
        [--no-dlib]           # skip the dlib row even when dlib is installed

Training time is reported as wall-clock seconds and as CPU seconds of the process: on a shared
machine the wall clock is inflated by other jobs, while CPU seconds / threads approximates the
time on an otherwise idle machine with that many cores.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import statistics
import time

import torch
from sklearn.decomposition import PCA

from coursekit.data import load_olivetti, split_identities
from coursekit.face import (
    TrainConfig,
    all_pairs,
    embed,
    one_shot_accuracy,
    pair_distances,
    roc_auc,
    s_norm,
    train_encoder,
)


def _scores(z: torch.Tensor, labels: torch.Tensor, cohort: torch.Tensor | None = None
            ) -> tuple[float, float]:
    acc = one_shot_accuracy(z, labels, repeats=20, generator=torch.Generator().manual_seed(0))
    i, j, same = all_pairs(labels)
    d = pair_distances(z, i, j) if cohort is None else s_norm(z, i, j, cohort)
    return acc, roc_auc(d, same)


def _dlib_encoder():
    """dlib's face_recognition ResNet on a whole 64x64 face (no detector: Olivetti is cropped)."""
    try:
        import dlib
        import face_recognition_models as frm
        import numpy as np
    except ImportError:
        return None
    sp = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def encode(images: torch.Tensor) -> torch.Tensor:
        out = []
        for img in images:
            rgb = np.ascontiguousarray((img[0].numpy() * 255).astype(np.uint8)[..., None].repeat(3, 2))
            box = dlib.rectangle(0, 0, rgb.shape[1] - 1, rgb.shape[0] - 1)
            chip = dlib.get_face_chip(rgb, sp(rgb, box), size=150)
            out.append(torch.tensor(np.array(net.compute_face_descriptor(chip))))
        return torch.stack(out).float()

    return encode


def _config(settings: list[str]) -> TrainConfig:
    """``TrainConfig()`` with ``KEY=VALUE`` overrides (VALUE a Python literal, else a string)."""
    changes = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or key not in {f.name for f in dataclasses.fields(TrainConfig)}:
            raise SystemExit(f"--set expects FIELD=VALUE with a TrainConfig field, got {item!r}")
        try:
            changes[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            changes[key] = value
    return dataclasses.replace(TrainConfig(), **changes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2,3,4", help="identity splits (comma-separated seeds)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-train", action="store_true",
                    help="baselines (pixels, eigenfaces, dlib) only: no encoder is trained")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="train with this TrainConfig field changed (repeatable)")
    ap.add_argument("--no-dlib", action="store_true", help="skip the dlib row")
    args = ap.parse_args()
    config = _config(args.set)
    torch.set_num_threads(args.threads)
    faces = load_olivetti()
    print(f"Olivetti source: {faces.source}; device {args.device}, {torch.get_num_threads()} threads; "
          f"config {config}")
    dlib_encode = None if args.no_dlib else _dlib_encoder()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows: dict[str, list[tuple[float, float]]] = {"pixels": [], "eigenfaces": []}
    if not args.skip_train:
        tta = "coursekit encoder + flip and 1-px shift averaging"
        rows.update({"coursekit encoder": [], "coursekit encoder + flip averaging": [], tta: [],
                     tta + " + S-norm (training people)": []})
    if dlib_encode is not None:
        rows["dlib ResNet (pretrained)"] = []
    wall, cpu = [], []
    for split in seeds:
        train, test = split_identities(faces, 10, generator=torch.Generator().manual_seed(split))
        rows["pixels"].append(_scores(test.images.flatten(1), test.labels))
        pca = PCA(n_components=50, whiten=False, random_state=0).fit(train.images.flatten(1).numpy())
        eig = torch.from_numpy(pca.transform(test.images.flatten(1).numpy())).float()
        rows["eigenfaces"].append(_scores(eig, test.labels))
        if not args.skip_train:
            t, c = time.perf_counter(), time.process_time()
            enc, hist = train_encoder(train, config, device=args.device,
                                      generator=torch.Generator().manual_seed(split), progress=False)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            z = embed(enc, test.images.to(args.device)).cpu()
            rows["coursekit encoder"].append(_scores(z, test.labels))
            z = embed(enc, test.images.to(args.device), flip=True).cpu()
            rows["coursekit encoder + flip averaging"].append(_scores(z, test.labels))
            z = embed(enc, test.images.to(args.device), flip=True, shift=1).cpu()
            rows[tta].append(_scores(z, test.labels))
            cohort = embed(enc, train.images.to(args.device), flip=True, shift=1).cpu()
            rows[tta + " + S-norm (training people)"].append(_scores(z, test.labels, cohort))
        if dlib_encode is not None:
            rows["dlib ResNet (pretrained)"].append(_scores(dlib_encode(test.images), test.labels))
        timing = f"; training {wall[-1]:.0f} s wall, {cpu[-1]:.0f} s CPU" if wall else ""
        print(f"split {split}: " + ", ".join(f"{k} {v[-1][0]:.3f}/{v[-1][1]:.3f}" for k, v in rows.items())
              + timing, flush=True)
    if dlib_encode is None and not args.no_dlib:
        print("dlib / face_recognition_models not installed: dlib row skipped")
    print()
    print(f"| method ({len(seeds)} identity splits, 10 unseen people) | one-shot 10-way | ROC AUC |")
    print("|---|---|---|")
    for name, vals in rows.items():
        accs, aucs = [v[0] for v in vals], [v[1] for v in vals]
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"| {name} | {statistics.mean(accs):.3f} ± {sd:.3f} | {statistics.mean(aucs):.4f} |")
    if not wall:
        return
    w, c = statistics.mean(wall), statistics.mean(cpu)
    print(f"\ntraining time per split: {w:.0f} s wall-clock, {c:.0f} s CPU "
          f"({c / args.threads:.0f} s at {args.threads} busy cores)")


if __name__ == "__main__":
    main()
