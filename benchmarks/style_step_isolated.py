"""One forward + backward pass of the style-transfer cost: the tutorial's model vs coursekit's.

Companion to ``style_step.py`` for a loaded machine: one process, the same images and weights,
the implementations alternating in short rounds, no optimiser, a fixed thread count. With one
thread, CPU time is hardly disturbed by other jobs, so the ratio holds to ~1% from round to
round where the full benchmark's swings by 2x. "coursekit_nchw" is coursekit with the weights
left in the default (NCHW) layout, to separate the channels-last gain from the rest;
"coursekit_bf16" is ``TransferConfig(precision="bfloat16")``'s network (bfloat16 after conv1_1).

    python benchmarks/style_step_isolated.py --threads 1 --rounds 4 --reps 3
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from style_step import build_reference


def main() -> None:
    from coursekit.data.art import artworks
    from coursekit.data.photos import sample_photos
    from coursekit.style import TransferConfig
    from coursekit.style.objective import TransferObjective
    from coursekit.style.transfer import _with_precision
    from coursekit.style.vgg import vgg19_features

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--reps", type=int, default=3, help="passes per implementation and round")
    p.add_argument("--size", type=int, default=256)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    net = vgg19_features("imagenet", pooling=TransferConfig().pooling, device="cpu")
    nchw = copy.deepcopy(net)
    nchw.convs.to(memory_format=torch.contiguous_format)
    nchw.channels_last = False
    content = sample_photos(args.size, names=["chelsea"])["chelsea"][None]
    style = artworks(args.size, names=["starry_night"])["starry_night"][None]
    style = F.interpolate(style, size=content.shape[-2:], mode="bilinear", antialias=True)
    alpha, beta = 1.0, 40.0
    model, style_losses, content_losses = build_reference(nchw, content, style)
    model.eval().requires_grad_(False)

    def reference(G):
        model(G)
        loss = (sum(sl.loss for sl in style_losses) * beta / len(style_losses)
                + sum(cl.loss for cl in content_losses) * alpha)
        loss.backward()

    cfg = TransferConfig(size=args.size, alpha=alpha, beta=beta)
    bf16 = _with_precision(net, "bfloat16")  # what TransferConfig(precision="bfloat16") runs
    objectives = {k: TransferObjective(n, content[0], [style[0]], cfg, tuple(content.shape[-2:]))
                  for k, n in (("coursekit", net), ("coursekit_nchw", nchw), ("coursekit_bf16", bf16))}
    fns = {"reference": reference,
           "coursekit": lambda G: objectives["coursekit"](G)[0].backward(),
           "coursekit_nchw": lambda G: objectives["coursekit_nchw"](G)[0].backward(),
           "coursekit_bf16": lambda G: objectives["coursekit_bf16"](G)[0].backward()}
    G = content.clone().requires_grad_(True)
    for fn in fns.values():  # warm up the allocator and oneDNN's kernels
        fn(G)
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(args.rounds):
        names = list(fns)[r % len(fns):] + list(fns)[:r % len(fns)]
        for name in names:
            start = time.process_time()
            for _ in range(args.reps):
                fns[name](G)
                G.grad = None
            cpu[name].append((time.process_time() - start) / args.reps)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1] * 1000:.0f} ms CPU" for k, v in cpu.items()),
              flush=True)
    for name in ("coursekit", "coursekit_nchw", "coursekit_bf16"):
        ratios = [a / b for a, b in zip(cpu[name], cpu["reference"])]
        print(f"{name} / reference, CPU time per pass: " + ", ".join(f"{x:.2f}" for x in ratios)
              + f" (median {statistics.median(ratios):.2f}, {args.threads} threads)")


if __name__ == "__main__":
    main()
