"""Speed of the from-scratch ``coursekit.conv.convnd`` against torch's conv1d/2d/3d.

Run by hand:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/conv_speed.py [--out benchmarks/RESULTS_conv.md]

For each representative shape it times forward, and forward + backward, of ``convnd`` and of the
matching ``torch.nn.functional.conv*d`` (median of several repeats, each after a warm-up; the
two are timed alternately, so that both see the same load on a shared machine), and the
teaching loop ``convnd_naive`` on the lecture's tiny shapes for contrast. Results go to a
markdown table, with the load average during the run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F
from timing import median_seconds, steady_allocator

from coursekit.conv import convnd, convnd_naive

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

# (label, x shape, weight shape, keyword arguments)
SHAPES = [
    ("ECGPeakNet layer, 1-D", (32, 16, 2048), (16, 16, 9), {"padding": 8, "dilation": 2}),
    ("image layer, 2-D", (16, 32, 64, 64), (32, 32, 3, 3), {"padding": 1}),
    ("strided 2-D, groups=4", (16, 32, 64, 64), (64, 8, 3, 3), {"stride": 2, "padding": 1, "groups": 4}),
    ("VolumeNet block 1, 3-D", (32, 1, 28, 28, 28), (8, 1, 3, 3, 3), {"stride": 2, "padding": 1}),
    ("VolumeNet block 2, 3-D", (32, 8, 14, 14, 14), (16, 8, 3, 3, 3), {"padding": 1}),
    ("CT volume filter, 3-D", (1, 1, 10, 256, 256), (4, 1, 3, 3, 3), {"padding": 1}),
]
NAIVE_SHAPES = [
    ("lecture ECG 14 -> 10x16", (1, 1, 14), (16, 1, 5)),
    ("lecture 14x14x3 -> 10x10x16", (1, 3, 14, 14), (16, 3, 5, 5)),
    ("lecture CT 14^3 -> 10^3x16", (1, 1, 14, 14, 14), (16, 1, 5, 5, 5)),
]


def _paired_times(mine, ref, repeats: int) -> tuple[float, float, float]:
    """Median seconds of ``mine`` and of ``ref``, timed alternately so both see the same load, and
    the ratio of their fastest runs (the least disturbed by other jobs)."""
    pairs = [(median_seconds(mine, 1), median_seconds(ref, 1)) for _ in range(repeats)]
    mine_s, ref_s = zip(*pairs)
    return statistics.median(mine_s), statistics.median(ref_s), min(mine_s) / min(ref_s)


def forward_backward(conv, x, w, kwargs):
    def run():
        xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()
        conv(xg, wg, **kwargs).sum().backward()
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/RESULTS_conv.md")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    steady = steady_allocator()
    g = torch.Generator().manual_seed(0)
    load_start = os.getloadavg()[0]
    rows = []
    for label, xs, ws, kwargs in SHAPES:
        x, w = torch.randn(xs, generator=g), torch.randn(ws, generator=g)
        ref = TORCH_CONV[len(xs) - 2]
        err = (convnd(x, w, **kwargs) - ref(x, w, **kwargs)).abs().max().item()
        t_mine, t_ref, best = _paired_times(lambda: convnd(x, w, **kwargs),  # noqa: B023
                                            lambda: ref(x, w, **kwargs), args.repeats)  # noqa: B023
        tb_mine, tb_ref, best_b = _paired_times(forward_backward(convnd, x, w, kwargs),
                                                forward_backward(ref, x, w, kwargs), args.repeats)
        rows.append((label, xs, ws, kwargs, t_mine, t_ref, tb_mine, tb_ref, best, best_b, err))
        print(f"{label}: fwd {t_mine * 1e3:.1f} vs {t_ref * 1e3:.1f} ms ({t_mine / t_ref:.1f}x, "
              f"best {best:.1f}x), "
              f"fwd+bwd {tb_mine / tb_ref:.1f}x (best {best_b:.1f}x), max err {err:.1e}")
    naive_rows = []
    for label, xs, ws in NAIVE_SHAPES:
        x, w = torch.randn(xs, generator=g), torch.randn(ws, generator=g)
        t_naive = median_seconds(lambda: convnd_naive(x, w), 1)  # noqa: B023
        t_mine = median_seconds(lambda: convnd(x, w), args.repeats)  # noqa: B023
        t_ref = median_seconds(lambda: TORCH_CONV[len(xs) - 2](x, w), args.repeats)  # noqa: B023
        naive_rows.append((label, t_naive, t_mine, t_ref))
        print(f"naive {label}: {t_naive * 1e3:.1f} ms vs convnd {t_mine * 1e3:.2f} ms")

    load_end = os.getloadavg()[0]
    lines = [
        "# convnd speed (benchmarks/conv_speed.py)",
        "",
        f"CPU: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, float32, median of {args.repeats} runs, convnd and torch "
        f"timed alternately. Load average {load_start:.1f} at the start and {load_end:.1f} at the end "
        f"on {os.cpu_count()} cores (the ratios matter; the best-run ratios compare the fastest runs). "
        + ("glibc's allocator keeps freed memory (`timing.steady_allocator`), so neither side pays "
           "page faults for fresh output buffers. " if steady else "")
        + "The first VolumeNet block has one input channel, where torch has a fast special path.",
        "",
        "| shape | x | weight | options | convnd fwd (ms) | torch fwd (ms) | ratio fwd | ratio fwd+bwd "
        "| best-run ratio fwd | best-run ratio fwd+bwd | max abs err |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, xs, ws, kwargs, t_mine, t_ref, tb_mine, tb_ref, best, best_b, err in rows:
        opts = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        lines.append(f"| {label} | {xs} | {ws} | {opts} | {t_mine * 1e3:.1f} | {t_ref * 1e3:.1f} | "
                     f"{t_mine / t_ref:.1f}x | {tb_mine / tb_ref:.1f}x | {best:.1f}x | {best_b:.1f}x | "
                     f"{err:.1e} |")
    lines += ["", "The teaching loop `convnd_naive` for contrast (one run):", "",
              "| lecture shape | convnd_naive (ms) | convnd (ms) | torch (ms) | naive / convnd |",
              "|---|---:|---:|---:|---:|"]
    for label, t_naive, t_mine, t_ref in naive_rows:
        lines.append(f"| {label} | {t_naive * 1e3:.1f} | {t_mine * 1e3:.2f} | {t_ref * 1e3:.2f} | "
                     f"{t_naive / t_mine:.0f}x |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
