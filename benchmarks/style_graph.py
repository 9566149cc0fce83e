"""Does coursekit's L-BFGS step record as a CUDA graph on the real objective, and what does a replay cost?

One process, the style-transfer objective of ``style_step.py`` (ImageNet VGG19, content relu4_2,
style relu1_1 ... relu5_1, the photo "chelsea" in the style of "starry_night"), the same start
G = content. It runs ``lbfgs_steps`` twice from that start: with the CUDA graph (the default) and
with ``cuda_graph=False`` (every step one by one, the same arithmetic). It prints

- the graph run's :class:`~coursekit.style.graphed.StepsReport`: the path taken (graph recorded
  and replayed, or eager with the reason), the replays alone in ms/step (device time, after the
  warm-up and the recording), the warm-up steps and the recording;
- the eager run's ms/step (wall, synchronised) and the two runs' largest relative difference in
  the recorded costs (the graph replays the same arithmetic: it should be at rounding level);
- the CUDA allocator's counters (MB allocated, peak so far, reserved) at each phase of the graph
  run, peak reset before it: what holds the memory.

On a machine without CUDA the graph cannot be recorded: the report says so (a dry run).

    python benchmarks/style_graph.py --device cuda --size 512 --steps 30
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F


def main() -> None:
    from coursekit.data.art import artworks
    from coursekit.data.photos import sample_photos
    from coursekit.style import TransferConfig, TransferObjective, lbfgs_steps
    from coursekit.style.vgg import vgg19_features

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args()
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"

    cfg = TransferConfig(size=args.size, alpha=1.0, beta=40.0, init="content")
    net = vgg19_features("imagenet", pooling=cfg.pooling, device=dev)
    content = sample_photos(args.size, names=["chelsea"])["chelsea"].to(dev)
    style = artworks(args.size, names=["starry_night"])["starry_night"][None]
    style = F.interpolate(style, size=content.shape[-2:], mode="bilinear", antialias=True)[0].to(dev)
    objective = TransferObjective(net, content, [style], cfg, tuple(content.shape[-2:]))

    def run(cuda_graph: bool):
        G = content[None].clone().contiguous().requires_grad_(True)
        if cuda:
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        terms, report = lbfgs_steps(objective.with_terms, G, num_steps=args.steps,
                                    cuda_graph=cuda_graph)
        wall = time.perf_counter() - t0  # terms were read back: the device is done
        return terms, report, wall

    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)
    mb = 2**20
    print(f"# style graph probe: {args.device}, {tuple(content.shape[-2:])} px, {args.steps} steps, "
          f"torch {torch.__version__}")
    terms, report, wall = run(True)
    print(f"style graph path: {report.summary()}")
    print(f"style graph run: {1000 * wall / args.steps:.2f} ms/step wall over all {args.steps} "
          f"steps (warm-up and recording included), history {report.history_size} pairs")
    for phase, c in report.memory.items():
        print(f"style graph memory at {phase:8s}: allocated {c['allocated'] / mb:7.1f} MB, "
              f"peak so far {c['peak'] / mb:7.1f} MB, reserved {c['reserved'] / mb:7.1f} MB")
    eager_terms, eager_report, eager_wall = run(False)
    print(f"style eager run: {1000 * eager_wall / args.steps:.2f} ms/step wall "
          f"({eager_report.summary()})")
    total, eager_total = terms[:, 3], eager_terms[:, 3]
    rel = ((total - eager_total).abs() / eager_total.abs().clamp_min(1e-30)).max().item()
    print(f"style graph vs eager: largest relative difference of J over the steps {rel:.2e}; "
          f"J first {total[0].item():.4g}, last {total[-1].item():.4g} (eager last "
          f"{eager_total[-1].item():.4g})")
    if report.replay_ms_per_step is not None:
        print(f"style graph replays alone vs eager steps: {report.replay_ms_per_step:.2f} vs "
              f"{1000 * eager_wall / args.steps:.2f} ms/step "
              f"({report.replay_ms_per_step / (1000 * eager_wall / args.steps):.2f}x)")


if __name__ == "__main__":
    main()
