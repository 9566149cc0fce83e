"""Time per optimisation step of ``coursekit.style.style_transfer`` against the PyTorch tutorial's way.

The reference is built the way the PyTorch "Neural Transfer Using PyTorch" tutorial builds it:
a normalisation module, then a copy of VGG19's layers in one ``nn.Sequential`` (out-of-place
ReLUs) with separate ``ContentLoss``/``StyleLoss`` modules inserted after the chosen layers and
the layers after the last loss trimmed off; L-BFGS with the clamp inside the closure. It uses
the same ImageNet weights, the same layers (content relu4_2; style relu1_1 ... relu5_1), the same
kind of objective (the loss modules use the lecture's normalisations, coursekit the relative
costs, which differ by a few C x C operations per layer; both divided by the first value, because
without that L-BFGS diverges on the 0-255 VGG inputs) and the same optimiser. One step = one
forward and backward pass (one closure call).

Each implementation runs in a fresh subprocess (so peak memory is its own), alternately, several
times; the table gives the median per-step time and the peak memory. On CUDA each coursekit round
also prints the path its L-BFGS took (``TransferResult.step_reports``: the CUDA graph recorded and
replayed, or eager steps with the reason), the replays alone in ms/step (device time after the
warm-up and the recording, the steady state) and the CUDA allocator's counters at each phase;
after the table, whether every round replayed the graph, the replays' median against the
reference's per-step time, and the peak CUDA memory allocated and reserved on both sides.

    python benchmarks/style_step.py                  # CPU, 256 px, 40 timed steps, 3 rounds
    python benchmarks/style_step.py --device cuda --steps 50
    python benchmarks/style_step.py --precision bfloat16   # coursekit's VGG in bfloat16
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


# ---- the tutorial's modules --------------------------------------------------------------------
class ContentLoss(nn.Module):
    def __init__(self, target):
        super().__init__()
        self.target = target.detach()
        self.scale = target.numel() / 2  # mse -> the lecture's ½‖·‖²

    def forward(self, input):
        self.loss = F.mse_loss(input, self.target) * self.scale
        return input


def tutorial_gram(input):
    a, b, c, d = input.size()
    features = input.view(a * b, c * d)
    G = torch.mm(features, features.t())
    return G.div(a * b * c * d)


class StyleLoss(nn.Module):
    def __init__(self, target_feature):
        super().__init__()
        self.target = tutorial_gram(target_feature).detach()
        self.scale = target_feature.shape[1] ** 2 / 4  # mse of G/(C N) -> ‖ΔG‖² / (2 C N)²

    def forward(self, input):
        self.loss = F.mse_loss(tutorial_gram(input), self.target) * self.scale
        return input


class Normalization(nn.Module):
    """The caffe preprocessing of the ImageNet weights: RGB [0, 1] -> BGR 0-255 minus the mean."""

    def __init__(self, scale, shift):
        super().__init__()
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)

    def forward(self, img):
        return img.flip(1) * self.scale + self.shift


def build_reference(net, content, style):
    """The tutorial's ``get_style_model_and_losses`` on the same weights."""
    from coursekit.style.vgg import VGG19_LAYERS

    model = nn.Sequential(Normalization(net._scale, net._shift))
    content_losses, style_losses = [], []
    for name in VGG19_LAYERS:
        if name.startswith("conv"):
            layer = net.convs[name]
        elif name.startswith("relu"):
            layer = nn.ReLU(inplace=False)  # the tutorial replaces the in-place ReLUs
        else:
            layer = nn.AvgPool2d(2, 2) if net.pooling == "avg" else nn.MaxPool2d(2, 2)
        model.add_module(name, layer)
        if name == CONTENT_LAYER:
            loss = ContentLoss(model(content).detach())
            model.add_module(f"content_loss_{name}", loss)
            content_losses.append(loss)
        if name in STYLE_LAYERS:
            loss = StyleLoss(model(style).detach())
            model.add_module(f"style_loss_{name}", loss)
            style_losses.append(loss)
    for i in range(len(model) - 1, -1, -1):  # trim the layers after the last loss
        if isinstance(model[i], (ContentLoss, StyleLoss)):
            break
    return model[: i + 1], style_losses, content_losses


def run_reference(net, content, style, steps, alpha, beta):
    model, style_losses, content_losses = build_reference(net, content, style)
    model.eval().requires_grad_(False)
    input_img = content.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([input_img])  # the tutorial: defaults, max_iter=20
    lam = 1.0 / len(style_losses)
    run, scale = [0], []

    def closure():
        with torch.no_grad():
            input_img.clamp_(0, 1)
        optimizer.zero_grad()
        model(input_img)
        style_score = sum(lam * sl.loss for sl in style_losses)
        content_score = sum(cl.loss for cl in content_losses)
        loss = style_score * beta + content_score * alpha
        if not scale:
            scale.append(loss.item())
        loss = loss / scale[0]
        loss.backward()
        run[0] += 1
        return loss

    while run[0] < steps:
        optimizer.step(closure)
    with torch.no_grad():
        input_img.clamp_(0, 1)
    return run[0], []


def run_coursekit(net, content, style, steps, alpha, beta, precision="float32"):
    from coursekit.style import TransferConfig, style_transfer

    cfg = TransferConfig(size=max(content.shape[-2:]), num_steps=steps, alpha=alpha, beta=beta,
                         init="content", precision=precision)
    result = style_transfer(content[0], style[0], cfg, extractor=net, progress=False)
    return steps, result.step_reports  # on CUDA: the path lbfgs_steps took, its times, memory


def _status_kb(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak_rss() -> int:
    """Reset the kernel's peak-RSS mark (Linux: ``5 > /proc/self/clear_refs``); the RSS now, kB."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _status_kb("VmRSS")


def step_tensor_peak_mb(which, net, content, style, alpha, beta, precision="float32") -> float:
    """Peak of live tensor memory during one forward + backward pass (after a warm-up pass), from
    the profiler's allocation events: exact and independent of the allocator and machine load,
    unlike RSS."""
    from torch.profiler import ProfilerActivity, profile

    from coursekit.style import TransferConfig
    from coursekit.style.objective import TransferObjective

    if which == "reference":
        model, style_losses, content_losses = build_reference(net, content, style)
        model.eval().requires_grad_(False)

        def loss_of(G):
            model(G)
            return (sum(sl.loss for sl in style_losses) * beta / len(style_losses)
                    + sum(cl.loss for cl in content_losses) * alpha)
    else:
        from coursekit.style.transfer import _with_precision

        cfg = TransferConfig(size=max(content.shape[-2:]), alpha=alpha, beta=beta, precision=precision)
        net = _with_precision(net, precision)
        objective = TransferObjective(net, content[0], [style[0]], cfg, tuple(content.shape[-2:]))

        def loss_of(G):
            return objective(G)[0]

    G = content.clone().requires_grad_(True)
    loss_of(G).backward()
    G.grad = None
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        loss_of(G).backward()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak / 2**20


# ---- one measurement, in its own process ----------------------------------------------------------
def measure(which: str, size: int, steps: int, warmup: int, device: str,
            precision: str = "float32") -> dict:
    from coursekit.data.art import artworks
    from coursekit.data.photos import sample_photos
    from coursekit.style import TransferConfig
    from coursekit.style.vgg import vgg19_features

    dev = torch.device(device)
    net = vgg19_features("imagenet", pooling=TransferConfig().pooling, device=dev)  # the default
    if which == "reference":  # the tutorial's torchvision layers: default (NCHW) memory layout
        net.convs.to(memory_format=torch.contiguous_format)
    content = sample_photos(size, names=["chelsea"])["chelsea"][None].to(dev)
    style = artworks(size, names=["starry_night"])["starry_night"][None]
    # the tutorial's model needs both images at one size
    style = F.interpolate(style, size=content.shape[-2:], mode="bilinear", antialias=True).to(dev)
    if which == "reference":
        fn = run_reference
    else:
        def fn(*a):
            return run_coursekit(*a, precision=precision)
    alpha, beta = 1.0, 40.0

    def timed(n):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t, c = time.perf_counter(), time.process_time()
        done, reports = fn(net, content, style, n, alpha, beta)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t, time.process_time() - c, done, reports

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rss0 = _reset_peak_rss()  # after loading weights and images: count the run only
    timed(warmup)  # a first run, untimed: allocator and oneDNN caches warm up
    wall, cpu, n, reports = timed(steps)  # both include their setup: two target forward passes
    out = {"which": which, "s_per_step": wall / n, "cpu_s_per_step": cpu / n, "steps": n,
           "peak_rss_mb": _status_kb("VmHWM") / 1024,
           "run_peak_mb": (_status_kb("VmHWM") - rss0) / 1024, "threads": torch.get_num_threads()}
    if which == "coursekit":
        # which path the timed run took: CUDA-graph replays (with the replays' own device time,
        # after warm-up and recording) or eager steps, with the reason
        out["path"] = "; ".join(r.summary() for r in reports) or (
            "torch.optim.LBFGS (no lbfgs_steps report off CUDA)")
        out["graph"] = all(r.path == "cuda_graph" for r in reports) and bool(reports)
        replay = [r.replay_ms_per_step for r in reports if r.replay_ms_per_step is not None]
        out["replay_ms_per_step"] = replay[0] if len(replay) == 1 else None
        out["memory_phases_mb"] = {phase: {k: v / 2**20 for k, v in c.items()}
                                   for r in reports for phase, c in r.memory.items()}
    if dev.type == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
        out["peak_cuda_reserved_mb"] = torch.cuda.max_memory_reserved() / 2**20
    out["step_tensor_peak_mb"] = step_tensor_peak_mb(which, net, content, style, alpha, beta,
                                                     precision)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=40,
                   help="timed steps per measurement (the tutorial's L-BFGS runs 20 per call)")
    p.add_argument("--warmup", type=int, default=5, help="steps of an untimed first run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                   help="coursekit's TransferConfig.precision (the reference stays float32)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.size, args.steps, args.warmup, args.device,
                                 args.precision)))
        return
    results: dict[str, list[dict]] = {"reference": [], "coursekit": []}
    for r in range(args.rounds):
        for which in ("reference", "coursekit"):
            cmd = [sys.executable, __file__, "--child", which, "--size", str(args.size),
                   "--steps", str(args.steps), "--warmup", str(args.warmup), "--device", args.device,
                   "--precision", args.precision]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"{which} failed:\n{proc.stderr}")
            res = json.loads(proc.stdout)
            results[which].append(res)
            print(f"round {r + 1} {which:9s} {res['s_per_step'] * 1000:8.1f} ms/step "
                  f"({res['cpu_s_per_step'] * 1000:.0f} ms CPU time)  "
                  f"peak RSS {res['peak_rss_mb']:6.0f} MB (run: +{res['run_peak_mb']:.0f} MB)  "
                  f"step tensor peak {res['step_tensor_peak_mb']:.1f} MB"
                  + (f"  peak CUDA {res['peak_cuda_mb']:.0f} MB allocated, "
                     f"{res['peak_cuda_reserved_mb']:.0f} MB reserved" if "peak_cuda_mb" in res else ""),
                  flush=True)
            if which == "coursekit":
                print(f"    coursekit path: {res['path']}", flush=True)
                for phase, c in res["memory_phases_mb"].items():
                    print(f"    coursekit memory at {phase:8s}: allocated {c['allocated']:7.1f} MB, "
                          f"peak so far {c['peak']:7.1f} MB, reserved {c['reserved']:7.1f} MB",
                          flush=True)
    med = {k: statistics.median(r["s_per_step"] for r in v) for k, v in results.items()}
    cpu = {k: statistics.median(r["cpu_s_per_step"] for r in v) for k, v in results.items()}
    mem = {k: max(r.get("peak_cuda_mb", r["run_peak_mb"]) for r in v) for k, v in results.items()}
    tensors = {k: max(r["step_tensor_peak_mb"] for r in v) for k, v in results.items()}
    unit = "CUDA MB" if args.device.startswith("cuda") else "RSS MB over the loaded model"
    print(f"\n| {args.device}, {args.size} px, {results['coursekit'][0]['threads']} threads, "
          f"coursekit in {args.precision} "
          f"| ms/step, wall (median of {args.rounds}) | ms/step, CPU time | peak {unit} "
          "| step tensor peak MB |\n|---|---|---|---|---|")
    for k in ("reference", "coursekit"):
        print(f"| {k} | {med[k] * 1000:.0f} | {cpu[k] * 1000:.0f} | {mem[k]:.0f} | {tensors[k]:.1f} |")
    print(f"| ratio coursekit/reference | {med['coursekit'] / med['reference']:.2f} | "
          f"{cpu['coursekit'] / cpu['reference']:.2f} | {mem['coursekit'] / mem['reference']:.2f} "
          f"| {tensors['coursekit'] / tensors['reference']:.2f} |")
    # each round runs the two back to back: its own ratio is less exposed to the machine's load
    pairs = list(zip(results["coursekit"], results["reference"]))
    for key, label in (("s_per_step", "wall"), ("cpu_s_per_step", "CPU"), ("run_peak_mb", "RSS")):
        ratios = [c[key] / r[key] for c, r in pairs]
        print(f"per-round ratio, {label}: " + ", ".join(f"{x:.2f}" for x in ratios)
              + f" (median {statistics.median(ratios):.2f})")
    paths = [r["path"] for r in results["coursekit"]]
    graph = all(r["graph"] for r in results["coursekit"])
    print("coursekit path: " + ("CUDA graph recorded and replayed" if graph
                                else "NOT the CUDA graph in every round")
          + f" ({len(paths)} rounds; first: {paths[0]})")
    replay = [r["replay_ms_per_step"] for r in results["coursekit"] if r["replay_ms_per_step"]]
    if replay:
        # the reference's per-step time includes its setup (two forward passes for the targets)
        ref_ms = med["reference"] * 1000
        print(f"coursekit replays alone: median {statistics.median(replay):.2f} ms/step "
              f"(rounds {', '.join(f'{x:.2f}' for x in replay)}) = "
              f"{statistics.median(replay) / ref_ms:.2f}x the reference's {ref_ms:.2f} ms/step")
    if args.device.startswith("cuda"):
        reserved = {k: max(r["peak_cuda_reserved_mb"] for r in v) for k, v in results.items()}
        print(f"peak CUDA MB, reference / coursekit: allocated {mem['reference']:.0f} / "
              f"{mem['coursekit']:.0f}, reserved {reserved['reference']:.0f} / "
              f"{reserved['coursekit']:.0f} (a graph's pool is reserved, not allocated, after "
              "recording)")


if __name__ == "__main__":
    main()
