"""``coursekit.conv.convnd`` against torch's conv1d/2d/3d on one device (CUDA when lent).

    python benchmarks/conv_device.py --device cuda [--repeats 10]

The shapes are ``conv_speed.py``'s. For each it times forward, and forward + backward, of both
(median of several repeats after a warm-up, the GPU synchronised around each call) and prints a
markdown table with the ratios. ``conv_speed.py`` is the CPU protocol (one thread, alternating
timings, steady allocator); this script is its device twin for ``tools/gpu_check.sh``.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from conv_speed import SHAPES, forward_backward
from timing import median_seconds

from coursekit.conv import convnd

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args(argv)
    dev = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    print(f"| shape ({dev.type}) | convnd fwd ms | torch fwd ms | ratio "
          "| convnd fwd+bwd ms | torch fwd+bwd ms | ratio |")
    print("|---|---|---|---|---|---|---|")
    for label, xs, ws, kwargs in SHAPES:
        x = torch.randn(xs, generator=g).to(dev)
        w = torch.randn(ws, generator=g).to(dev)
        ref = TORCH_CONV[x.dim() - 2]
        f_m = median_seconds(lambda: convnd(x, w, **kwargs), args.repeats, dev)  # noqa: B023
        f_r = median_seconds(lambda: ref(x, w, **kwargs), args.repeats, dev)  # noqa: B023
        b_m = median_seconds(forward_backward(convnd, x, w, kwargs), args.repeats, dev)
        b_r = median_seconds(forward_backward(ref, x, w, kwargs), args.repeats, dev)
        print(f"| {label} | {f_m * 1e3:.3f} | {f_r * 1e3:.3f} | {f_m / f_r:.2f} "
              f"| {b_m * 1e3:.3f} | {b_r * 1e3:.3f} | {b_m / b_r:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
