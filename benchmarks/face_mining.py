"""Mining and triplet-loss throughput on 1024 x 128 embeddings: coursekit vs pytorch-metric-learning.

Run by hand (pytorch-metric-learning is a benchmark-only package, not a coursekit dependency):

    .venv/bin/pip install --no-deps pytorch-metric-learning
    .venv/bin/python benchmarks/face_mining.py [--device cpu] [--repeats 20] [--threads 2]

Compared, on the same random L2-normalised embeddings (128 people x 8 images):

* batch-hard loss, forward and forward+backward: ``batch_hard_triplet_loss`` vs PML
  ``BatchHardMiner`` + ``TripletMarginLoss``. PML uses plain (non-squared) L2 distances by
  default; to compute the same thing as the lecture both PML objects get
  ``LpDistance(p=2, power=2, normalize_embeddings=False)`` (squared L2), and the loss gets a
  ``MeanReducer`` (PML's default ``AvgNonZeroReducer`` averages only the non-zero triplets,
  while ours averages over all anchors). The loss values are printed and must be equal.
* semi-hard and hard mining: ``mine_triplets`` vs PML ``TripletMarginMiner`` with the same
  squared distance. PML's conditions are d(a,n) - d(a,p) in (0, alpha] and <= 0; ours are strict,
  so the two differ only on exact ties (none in random data): the triplet counts are printed.

Prints a markdown table (median milliseconds over ``--repeats``, interleaved runs).
"""

from __future__ import annotations

import argparse
import statistics

import torch
from timing import median_seconds

from coursekit.face import batch_hard_triplet_loss, mine_triplets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--people", type=int, default=128)
    ap.add_argument("--images-per-person", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=0.2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    try:
        from pytorch_metric_learning import distances, losses, miners, reducers
    except ImportError:
        raise SystemExit("pip install --no-deps pytorch-metric-learning to run this benchmark") from None

    dev = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(args.people).repeat_interleave(args.images_per_person).to(dev)
    base = torch.nn.functional.normalize(torch.randn(len(labels), 128, generator=g), dim=1).to(dev)
    alpha = args.alpha

    sq = distances.LpDistance(p=2, power=2, normalize_embeddings=False)
    pml_miner = miners.BatchHardMiner(distance=sq)
    pml_loss = losses.TripletMarginLoss(margin=alpha, distance=sq, reducer=reducers.MeanReducer())
    semi = miners.TripletMarginMiner(margin=alpha, type_of_triplets="semihard", distance=sq)
    hard = miners.TripletMarginMiner(margin=alpha, type_of_triplets="hard", distance=sq)

    def ours(backward: bool):
        x = base.clone().requires_grad_(backward)
        loss = batch_hard_triplet_loss(x, labels, alpha)
        if backward:
            loss.backward()
        return loss

    def pml(backward: bool):
        x = base.clone().requires_grad_(backward)
        loss = pml_loss(x, labels, pml_miner(x, labels))
        if backward:
            loss.backward()
        return loss

    v_ours, v_pml = float(ours(False)), float(pml(False))
    n_semi = (len(mine_triplets(base, labels, "semihard", alpha)[0]), len(semi(base, labels)[0]))
    n_hard = (len(mine_triplets(base, labels, "hard", alpha)[0]), len(hard(base, labels)[0]))
    rows = []
    for name, a, b in [
        ("batch-hard loss, forward", lambda: ours(False), lambda: pml(False)),
        ("batch-hard loss, forward + backward", lambda: ours(True), lambda: pml(True)),
        ("semi-hard mining", lambda: mine_triplets(base, labels, "semihard", alpha),
         lambda: semi(base, labels)),
        ("hard mining", lambda: mine_triplets(base, labels, "hard", alpha), lambda: hard(base, labels)),
    ]:
        ta, tb = [], []
        for _ in range(3):  # interleave, so load changes on a shared machine hit both alike
            ta.append(median_seconds(a, max(1, args.repeats // 3), dev) * 1000)
            tb.append(median_seconds(b, max(1, args.repeats // 3), dev) * 1000)
        rows.append((name, statistics.median(ta), statistics.median(tb)))

    print(f"device {dev}, threads {torch.get_num_threads()}, embeddings {tuple(base.shape)}, "
          f"{args.people} people x {args.images_per_person}, alpha {alpha}")
    print(f"batch-hard loss: coursekit {v_ours:.6f}, PML {v_pml:.6f} (equal: {abs(v_ours - v_pml) < 1e-5})")
    print(f"semi-hard triplets: coursekit {n_semi[0]}, PML {n_semi[1]}; "
          f"hard triplets: coursekit {n_hard[0]}, PML {n_hard[1]}")
    print()
    print("| operation | coursekit (ms) | PML (ms) | speed-up |")
    print("|---|---|---|---|")
    for name, a, b in rows:
        print(f"| {name} | {a:.1f} | {b:.1f} | {b / a:.1f}x |")


if __name__ == "__main__":
    main()
