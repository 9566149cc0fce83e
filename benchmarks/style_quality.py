"""How far the costs fall in a style-transfer run, and how long the command line takes.

1. A 300-step run at 256 px from noise (the lecture's start) with the default settings
   (L-BFGS, α=10, β=40 on the relative costs, tv 30, average pooling), Chelsea x The Starry
   Night: J_content and J_style at the start and the end, and after 50 and 100 steps.
2. ``coursekit style`` at 128 px for 200 steps (defaults otherwise), timed as a subprocess:
   wall-clock and CPU seconds (the target is < 30 s on 2 CPU cores).

    COURSEKIT_DATA=/work/shared/data python benchmarks/style_quality.py [--steps 300] [--size 256]

Prints markdown tables; the figures go to benchmarks/RESULTS_style.md.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def cost_fall(size: int, steps: int, init: str) -> dict:
    from coursekit.data import artworks, sample_photos
    from coursekit.style import TransferConfig, style_transfer

    C = sample_photos(names=["chelsea"])["chelsea"]
    S = artworks(names=["starry_night"])["starry_night"]
    cfg = TransferConfig(size=size, num_steps=steps, init=init)
    t, c = time.perf_counter(), time.process_time()
    out = style_transfer(C, S, cfg, generator=torch.Generator().manual_seed(0), progress=False)
    return {"history": out.history, "wall": time.perf_counter() - t, "cpu": time.process_time() - c,
            "image": out.image}


def cli_time(size: int, steps: int) -> dict:
    from coursekit.data import artworks, sample_photos
    from coursekit.images import save_image

    with tempfile.TemporaryDirectory() as tmp:
        content = save_image(sample_photos(names=["coffee"])["coffee"], Path(tmp) / "coffee.png")
        style = save_image(artworks(names=["great_wave"])["great_wave"], Path(tmp) / "wave.png")
        out = Path(tmp) / "out.png"
        cmd = [sys.executable, "-m", "coursekit.cli", "style", str(content), str(style), "-o",
               str(out), "--size", str(size), "--steps", str(steps), "-q"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        return {"wall": wall, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
                "line": proc.stdout.strip()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--cli-size", type=int, default=128)
    p.add_argument("--cli-steps", type=int, default=200)
    p.add_argument("--save", default=None, help="write the 256-px result here (PNG)")
    args = p.parse_args()

    cli = cli_time(args.cli_size, args.cli_steps)
    print(f"| `coursekit style` {args.cli_size} px, {args.cli_steps} steps | wall s | CPU s |\n"
          f"|---|---|---|\n| {torch.get_num_threads()} threads | {cli['wall']:.1f} | {cli['cpu']:.1f} |")
    print(cli["line"], "\n", flush=True)

    run = cost_fall(args.size, args.steps, "noise")
    h = run["history"]
    marks = [m for m in (0, 49, 99, args.steps - 1) if m < len(h["total"])]
    print(f"| {args.size} px from noise, step | " + " | ".join(str(m + 1) for m in marks)
          + " | fell by |\n|---" * 1 + "|---" * (len(marks) + 1) + "|")
    for key in ("content", "style", "total"):
        print(f"| J_{key} | " + " | ".join(f"{h[key][m]:.3g}" for m in marks)
              + f" | {h[key][0] / h[key][-1]:.3g}x |")
    print(f"\n{args.steps} steps at {args.size} px: {run['wall']:.0f} s wall, {run['cpu']:.0f} s CPU")
    if args.save:
        from coursekit.images import save_image

        save_image(run["image"], args.save)


if __name__ == "__main__":
    main()
