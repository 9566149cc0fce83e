"""Test ROC AUC of lesson 4.11's 3-D CNN on AdrenalMNIST3D over several seeds.

Run by hand:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/volume_auc.py [--budget cpu|gpu] [--seeds 0,1,2,3,4]

For each seed it trains ``VolumeNet`` with the notebook's recipe for the budget (the settings in
``RECIPES``, the same as the notebook's settings cell) on the official training split, and scores
the final weights with eight-flip test-time augmentation on the validation and test splits. The
options ``--max-shift`` and ``--epochs`` change one setting (ablations). ``--dev`` chooses
recipes without the test split: it trains on a stratified three quarters of the training split
and scores on the other quarter together with the validation split (395 volumes instead of 98).
Each run appends a table (per seed, then mean and min) to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from sklearn.metrics import roc_auc_score

from coursekit import seed_everything
from coursekit.conv import VolumeNet, predict_proba, train_volume_classifier
from coursekit.data import load_adrenalmnist3d

# The notebook's settings (notebooks/4_11_1d_and_3d_convolutions.ipynb, settings cell).
RECIPES = {
    "cpu": {"width": 8, "num_epochs": 12, "lr": 6e-3, "batch_size": 32, "max_shift": 2},
    "gpu": {"width": 16, "num_epochs": 40, "lr": 3e-3, "batch_size": 32, "max_shift": 2},
}


def dev_split(x: torch.Tensor, y: torch.Tensor, seed: int = 123):
    """A stratified quarter of the training split held out: (x_fit, y_fit, x_dev, y_dev)."""
    g = torch.Generator().manual_seed(seed)
    held = torch.cat([idx[torch.randperm(len(idx), generator=g)][: len(idx) // 4]
                      for idx in (torch.nonzero(y == c).flatten() for c in (0, 1))])
    keep = torch.ones(len(y), dtype=torch.bool)
    keep[held] = False
    return x[keep], y[keep], x[held], y[held]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=sorted(RECIPES), default="cpu")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--max-shift", type=int, default=None, help="override the recipe's max_shift")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's num_epochs")
    parser.add_argument("--dev", action="store_true", help="score on a held-out quarter of train + val")
    parser.add_argument("--out", default="benchmarks/RESULTS_volume_auc.md")
    args = parser.parse_args(argv)
    recipe = dict(RECIPES[args.budget])
    if args.max_shift is not None:
        recipe["max_shift"] = args.max_shift
    if args.epochs is not None:
        recipe["num_epochs"] = args.epochs
    width = recipe.pop("width")

    data = load_adrenalmnist3d(28)
    x_train, y_train = data.split("train")
    x_val, y_val = data.split("val")
    x_test, y_test = data.split("test")
    if args.dev:
        x_train, y_train, x_dev, y_dev = dev_split(x_train, y_train)
        x_val, y_val = torch.cat([x_val, x_dev]), torch.cat([y_val, y_dev])

    def auc(model, x, y):
        p = predict_proba(model, x, flips=True, device="cpu")[:, 1]
        return float(roc_auc_score(y.numpy(), p.numpy()))

    load_start = os.getloadavg()[0]
    rows = []
    for seed in map(int, args.seeds.split(",")):
        seed_everything(seed)
        g = torch.Generator().manual_seed(seed)
        model = VolumeNet(width=width)
        start = time.perf_counter()
        train_volume_classifier(model, x_train, y_train, **recipe, device="cpu", generator=g, progress=False)
        seconds = time.perf_counter() - start
        rows.append((seed, auc(model, x_val, y_val), auc(model, x_test, y_test), seconds))
        print(f"seed {seed}: val AUC {rows[-1][1]:.3f}, test AUC {rows[-1][2]:.3f}, training {seconds:.1f} s",
              flush=True)
    load_end = os.getloadavg()[0]

    val_name = "held-out quarter of train + val" if args.dev else "val"
    settings = ", ".join(f"{k}={v}" for k, v in recipe.items())
    lines = [
        f"## {args.budget} budget: VolumeNet(width={width}), {settings}"
        + (" (--dev: trained on three quarters of train)" if args.dev else ""),
        "",
        f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"load average {load_start:.1f} at the start and {load_end:.1f} at the end on {os.cpu_count()} "
        "cores (training times include the per-epoch waiting on other jobs). Final weights, "
        "eight-flip test-time augmentation.",
        "",
        f"| seed | {val_name} ROC AUC ({len(y_val)}) | test ROC AUC ({len(y_test)}) | training (s) |",
        "|---:|---:|---:|---:|",
    ]
    for seed, v, t, s in rows:
        lines.append(f"| {seed} | {v:.3f} | {t:.3f} | {s:.1f} |")
    for name, fn in (("mean", statistics.mean), ("min", min)):
        lines.append(f"| {name} | {fn(r[1] for r in rows):.3f} | {fn(r[2] for r in rows):.3f} | "
                     f"{fn(r[3] for r in rows):.1f} |")
    out = Path(args.out)
    header = "" if out.exists() else "# 3-D CNN on AdrenalMNIST3D over seeds (benchmarks/volume_auc.py)\n\n"
    with out.open("a") as f:
        f.write(header + "\n".join(lines) + "\n\n")
    print("\n".join(lines))
    print(f"appended to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
