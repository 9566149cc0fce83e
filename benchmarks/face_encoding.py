"""Encoding throughput of ``FaceEncoder`` (images per second), on CPU and on CUDA when present.

    .venv/bin/python benchmarks/face_encoding.py [--threads 2] [--batch 256]

Times ``embed`` (eval mode, no gradients) on 64x64 grey faces with the default encoder, and one
training step (forward + backward) for comparison. Prints a markdown table.
"""

from __future__ import annotations

import argparse

import torch
from timing import median_seconds

from coursekit.face import FaceEncoder, batch_hard_triplet_loss, embed


def _measure(dev: torch.device, batch: int, repeats: int) -> tuple[float, float]:
    enc = FaceEncoder().to(dev)
    x = torch.rand(batch, 1, 64, 64, device=dev)
    labels = torch.arange(batch, device=dev) // 4
    opt = torch.optim.SGD(enc.parameters(), lr=0.0)

    def step():
        opt.zero_grad()
        batch_hard_triplet_loss(enc.train()(x), labels).backward()
        opt.step()

    enc_rate = batch / median_seconds(lambda: embed(enc, x, batch_size=batch), repeats, dev)
    return enc_rate, batch / median_seconds(step, repeats, dev)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print("| device | encode (images/s) | train step (images/s) |")
    print("|---|---|---|")
    for dev in devices:
        enc_rate, train_rate = _measure(dev, args.batch, args.repeats)
        threads = torch.get_num_threads()
        name = torch.cuda.get_device_name() if dev.type == "cuda" else f"cpu ({threads} threads)"
        print(f"| {name} | {enc_rate:,.0f} | {train_rate:,.0f} |")


if __name__ == "__main__":
    main()
