"""Memory and speed of the streaming top-patch search (``coursekit.visualize.top_patches_by_layer``).

Run by hand:  .venv/bin/python benchmarks/visualize_patches.py [--out benchmarks/RESULTS_visualize.md]

For N = 100, 200, 400 images, each run in a fresh subprocess, the search streams N images
through VGG19 (ImageNet weights, CPU) and keeps the top 9 patches of 9 units in each of
relu1_1, relu3_1 and relu5_1. The images come from an iterator (random flips and shifts of a
fixed pool of 32 collection images), so the input itself takes no memory that grows with N.
Reported: the process's peak resident memory (``VmHWM``) minus its resident memory just before
the search (model and pool loaded), the peak of Python-level allocations (``tracemalloc``;
tensors' storage is not counted there), and images per second. For contrast, a naive search that
keeps every activation map of the chosen units and sorts at the end is measured the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import torch

LAYERS = ("relu1_1", "relu3_1", "relu5_1")
UNITS = list(range(0, 63, 7))  # 9 units per layer (relu1_1 has 64)
SIZE, POOL, BATCH = 64, 32, 16


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def _stream(pool: torch.Tensor, n: int, g: torch.Generator):
    for i in range(n):
        x = pool[i % pool.shape[0]]
        dy, dx = torch.randint(-8, 9, (2,), generator=g).tolist()
        x = torch.roll(x, (dy, dx), dims=(-2, -1))
        yield x.flip(-1) if i % 2 else x


def _naive(net, images, units) -> dict[str, torch.Tensor]:
    """Keep every activation map (what the streaming search avoids), sort at the end."""
    kept: dict[str, list[torch.Tensor]] = {layer: [] for layer in LAYERS}
    batch: list[torch.Tensor] = []

    def flush():
        with torch.no_grad():
            acts = net(torch.stack(batch), list(LAYERS))
        for layer in LAYERS:
            kept[layer].append(acts[layer][:, units].clone())
        batch.clear()

    for x in images:
        batch.append(x)
        if len(batch) == BATCH:
            flush()
    if batch:
        flush()
    return {layer: torch.cat(v).flatten(2).amax(2).topk(9, dim=0).values for layer, v in kept.items()}


def child(n: int, mode: str) -> dict:
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    from coursekit.data.collection import patch_collection
    from coursekit.style.vgg import vgg19_features
    from coursekit.visualize import top_patches_by_layer

    net = vgg19_features("imagenet", device="cpu")
    pool, _ = patch_collection(POOL, size=SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # warm-up, so one-off allocations are not counted
        net(pool[:BATCH], list(LAYERS))
    g = torch.Generator().manual_seed(1)
    before = _rss_kib("VmRSS")
    tracemalloc.start()
    t0 = time.perf_counter()
    if mode == "streaming":
        top_patches_by_layer(net, {layer: UNITS for layer in LAYERS}, _stream(pool, n, g), 9,
                             batch_size=BATCH, progress=False)
    else:
        _naive(net, _stream(pool, n, g), UNITS)
    seconds = time.perf_counter() - t0
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _rss_kib("VmHWM")
    return {"n": n, "mode": mode, "seconds": seconds, "images_per_s": n / seconds,
            "rss_growth_mib": (peak - before) / 1024, "py_peak_mib": py_peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write a markdown table here")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 400])
    parser.add_argument("--child", nargs=2, metavar=("N", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.child[1])))
        return
    rows = []
    for mode in ("streaming", "naive"):
        for n in args.sizes:
            out = subprocess.run([sys.executable, __file__, "--child", str(n), mode],
                                 check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    lines = [
        "# Top-patch search: memory and speed (CPU)",
        "",
        f"VGG19 (ImageNet weights), {SIZE}x{SIZE} images streamed from an iterator, batch {BATCH}, "
        f"top 9 of 9 units in each of {', '.join(LAYERS)} in one pass. "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU threads, "
        f"torch {torch.__version__}. The machine was shared with other jobs, so the speed is a "
        "lower bound. Peak RSS growth is measured from just before the search (model loaded).",
        "",
        "| search | images | seconds | images/s | peak RSS growth (MiB) | Python peak (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['n']} | {r['seconds']:.1f} | {r['images_per_s']:.1f} | "
                     f"{r['rss_growth_mib']:.1f} | {r['py_peak_mib']:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
