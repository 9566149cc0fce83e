"""``coursekit style``: paint a photo in the style of one or more paintings (lessons 4.6, 4.8).

    coursekit style photo.jpg starry_night.jpg -o out.png --size 256 --steps 300
    coursekit style photo.jpg a.jpg b.jpg --blend 0.7,0.3 --preserve-colors -o out.png

The defaults are :class:`coursekit.style.TransferConfig`'s. Progress goes to stderr (on a
terminal only), one summary line to stdout, or with ``--json`` one JSON object with the run's
figures. Everything that can be checked is checked before the run: the options, the input
images, the output (an image extension, a writable folder, never one of the inputs) and the
memory the run needs. Errors a user can fix are one line naming the path or option, exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from pathlib import Path

import torch

from coursekit.cli import (
    EXIT_CODES_HELP,
    non_negative_float,
    positive_float,
    positive_int,
    show_progress,
)

__all__ = ["register", "run"]


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from err


def _floats_ok(text: str) -> tuple[float, ...]:
    values = _floats(text)
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers >= 0, got {text!r}")
    return values


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, got {text!r}")
    return values


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def register(subparsers) -> None:
    """Add the ``style`` sub-command to the ``coursekit`` parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="coursekit")
        >>> register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["style", "c.png", "a.png", "b.png", "-o", "o.png",
        ...                           "--blend", "0.7,0.3", "--scales", "128,256"])
        >>> args.content, args.styles, args.output, args.blend, args.scales
        ('c.png', ['a.png', 'b.png'], 'o.png', (0.7, 0.3), (128, 256))
    """
    from coursekit.style.config import DEFAULT_STYLE_LAYERS, TransferConfig

    d = TransferConfig()
    p = subparsers.add_parser(
        "style",
        help="neural style transfer: paint CONTENT in the style of STYLE",
        description="Neural style transfer (Gatys et al.): gradient descent on the pixels of G "
                    "to minimise alpha*J_content + beta*J_style (+ tv*TV) on VGG19 features. "
                    "Options, inputs, the output and the memory needed are checked before the "
                    "run; the output is written atomically and never over an input.",
        epilog=EXIT_CODES_HELP,
    )
    p.add_argument("content", metavar="CONTENT", help="the content photo")
    p.add_argument("styles", metavar="STYLE", nargs="+", help="one or more style images")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png",
                   help="the image to write: .png, .jpg, .bmp, .tif or .webp (never one of the "
                        "inputs)")
    p.add_argument("--size", type=positive_int, default=d.size,
                   help=f"longer side in pixels ({d.size})")
    p.add_argument("--scales", type=_ints, default=None, metavar="S1,S2",
                   help="coarse-to-fine sizes, e.g. 128,256 (overrides --size)")
    p.add_argument("--steps", type=positive_int, default=d.num_steps,
                   help=f"optimisation steps per scale ({d.num_steps})")
    p.add_argument("--alpha", type=non_negative_float, default=d.alpha,
                   help=f"content weight ({d.alpha:g})")
    p.add_argument("--beta", type=non_negative_float, default=d.beta,
                   help=f"style weight ({d.beta:g}; the costs are relative: the same at every size)")
    p.add_argument("--tv", type=non_negative_float, default=d.tv_weight,
                   help=f"total-variation weight ({d.tv_weight:g})")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), default=d.optimizer,
                   help=f"lbfgs (the paper's choice) or adam ({d.optimizer})")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (L-BFGS 1, Adam 0.02)")
    p.add_argument("--init", choices=("noise", "content", "content+noise"), default=d.init,
                   help=f"the starting image G: noise, the content photo, or both mixed ({d.init})")
    p.add_argument("--content-layer", default=d.content_layer,
                   help=f"VGG19 layer of the content cost ({d.content_layer})")
    p.add_argument("--style-layers", type=_names, default=DEFAULT_STYLE_LAYERS,
                   metavar="L1,L2,...", help="VGG19 layers of the style cost "
                   f"({','.join(DEFAULT_STYLE_LAYERS)})")
    p.add_argument("--style-weights", type=_floats_ok, default=None, metavar="W1,W2,...",
                   help="lambda per style layer (default: equal, summing to 1)")
    p.add_argument("--blend", type=_floats_ok, default=None, metavar="W1,W2,...",
                   help="weight per STYLE image when several are given (default: equal)")
    p.add_argument("--preserve-colors", action="store_true",
                   help="transfer the luminance only; keep the photo's colours")
    p.add_argument("--pooling", choices=("max", "avg"), default=d.pooling,
                   help=f"VGG19's pooling: max, or avg for smoother images ({d.pooling})")
    p.add_argument("--weights", choices=("imagenet", "torchvision", "random"), default=d.weights,
                   help="VGG19 weights: imagenet (offline, default), torchvision (downloads if "
                        "not cached); random is for tests only")
    p.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto",
                   help="bfloat16: VGG19 after its first layer in bfloat16, faster where the "
                        "hardware multiplies bfloat16; auto (default): bfloat16 where the device "
                        "has it natively (CPUs with AVX512-BF16 or AMX, recent GPUs), else float32")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (auto)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the initial noise (0)")
    p.add_argument("--json", action="store_true",
                   help="print the run's figures as one JSON object (costs, time, size, precision)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _check_output(output: Path, inputs: list[str]) -> None:
    """Fail before the run, not after it: an input as output, an unknown image extension, a
    folder, or a place that cannot be written."""
    from coursekit.files import check_writable
    from coursekit.images import image_format

    target = output.resolve()
    for p in inputs:
        if Path(p).resolve() == target:
            raise ValueError(f"refusing to write over the input image {p}; choose another output")
    check_writable(output)
    image_format(output)


_VGG19_WIDTHS = (64, 128, 256, 512, 512)  # channels of blocks 1-5


def _memory_estimate(config, content_shape: tuple[int, int]) -> tuple[int, tuple[int, int]]:
    """Bytes the activations of one VGG19 forward pass take at the run's largest size (the
    backward pass keeps them all), and that size ``(H, W)``: a lower bound of what the run
    needs."""
    from coursekit.images import fit_size
    from coursekit.style.weights import VGG19_LAYERS

    h, w = fit_size(*content_shape, config.sizes[-1])
    deepest = max(VGG19_LAYERS.index(n) for n in (config.content_layer, *config.style_layers))
    floats = 0
    for name in VGG19_LAYERS[:deepest + 1]:
        block = int(name[4])  # conv3_2, relu3_2, pool3 -> 3
        shrink = 4 ** (block if name.startswith("pool") else block - 1)  # area after poolings
        floats += _VGG19_WIDTHS[block - 1] * h * w // shrink
    return floats * (2 if config.precision == "bfloat16" else 4), (h, w)


def _check_memory(config, content_shape: tuple[int, int], device) -> None:
    """Refuse a run that cannot fit in the device's memory, with the estimate."""
    from coursekit.runtime import total_memory

    need, (h, w) = _memory_estimate(config, content_shape)
    have = total_memory(device)
    if have is not None and need > have:
        option = "--scales" if config.scales else "--size"
        raise ValueError(
            f"{option} {config.sizes[-1]} makes a {w}x{h} image, which needs at least "
            f"{_gib(need)} GiB of memory for VGG19's activations, more than the "
            f"{_gib(have)} GiB this {device.type} has; choose a smaller {option}")


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f}" if n < 100 * 2**30 else f"{n / 2**30:,.0f}"


def _precision(args: argparse.Namespace) -> str:
    """``--precision``, with ``auto`` resolved for ``--device``."""
    if args.precision != "auto":
        return args.precision
    from coursekit.runtime import native_bfloat16

    return "bfloat16" if native_bfloat16(args.device) else "float32"


# The TransferConfig field each option sets: the config's one validation names fields, and a
# command-line user must read the option they typed.
_OPTION_OF_FIELD = {
    "size": "--size", "num_steps": "--steps", "optimizer": "--optimizer", "lr": "--lr",
    "alpha": "--alpha", "beta": "--beta", "tv_weight": "--tv", "init": "--init",
    "content_layer": "--content-layer", "style_layers": "--style-layers",
    "style_layer_weights": "--style-weights", "style_blend": "--blend", "scales": "--scales",
    "pooling": "--pooling", "weights": "--weights", "precision": "--precision",
}


def _as_option_error(err: ValueError) -> ValueError:
    """``err`` with the option that sets the field it names in front, e.g. ``--blend: ...``."""
    message = str(err)
    found = [(m.start(), option) for field, option in _OPTION_OF_FIELD.items()
             if (m := re.search(rf"\b{field}\b", message))]
    return ValueError(f"{min(found)[1]}: {message}") if found else err  # the field named first


def _build_config(args: argparse.Namespace):
    from coursekit.style.config import TransferConfig

    try:
        return TransferConfig(
            size=args.size, num_steps=args.steps, optimizer=args.optimizer, lr=args.lr,
            alpha=args.alpha, beta=args.beta, tv_weight=args.tv, init=args.init,
            content_layer=args.content_layer, style_layers=args.style_layers,
            style_layer_weights=args.style_weights,
            style_blend=args.blend, preserve_colors=args.preserve_colors, scales=args.scales,
            pooling=args.pooling, weights=args.weights, precision=_precision(args),
        )
    except ValueError as err:
        raise _as_option_error(err) from None


def run(args: argparse.Namespace) -> int:
    """Run ``coursekit style``; returns the exit code.

    Example:
        >>> import os, tempfile
        >>> from coursekit.cli import build_parser
        >>> from coursekit.images import save_image
        >>> tmp = tempfile.mkdtemp()
        >>> c, s, out = (os.path.join(tmp, n) for n in ("c.png", "s.png", "out.png"))
        >>> for path in (c, s):
        ...     _ = save_image(torch.rand(3, 32, 32), path)
        >>> args = build_parser().parse_args(["style", c, s, "-o", out, "--size", "32", "--steps",
        ...                                   "1", "--weights", "random", "--device", "cpu", "-q"])
        >>> run(args)
        wrote .../out.png (32x32, 1 steps on cpu, ...)
        0
    """
    from coursekit.images import load_image, save_image
    from coursekit.runtime import get_device, seed_everything
    from coursekit.style.transfer import style_transfer
    from coursekit.style.vgg import vgg19_features

    output = Path(args.output)
    inputs = [args.content, *args.styles]
    _check_output(output, inputs)
    config = _build_config(args)
    content = load_image(args.content)
    styles = [load_image(p) for p in args.styles]
    try:  # the run's one check, before any work
        config.check(tuple(content.shape[-2:]), len(styles))
    except ValueError as err:
        raise _as_option_error(err) from None
    device = get_device(args.device)
    _check_memory(config, tuple(content.shape[-2:]), device)
    benchmark = torch.backends.cudnn.benchmark  # a global switch: restored on the way out
    if device.type == "cuda":  # one input shape per scale: let cuDNN pick its fastest kernels
        torch.backends.cudnn.benchmark = True
    try:
        generator = seed_everything(args.seed)
        start = time.perf_counter()
        extractor = vgg19_features(config.weights, pooling=config.pooling, device=device)
        result = style_transfer(content.to(device), [s.to(device) for s in styles], config,
                                extractor=extractor, device=device, generator=generator,
                                progress=show_progress(args.quiet))
        save_image(result.image, output, protect=inputs)
    finally:
        torch.backends.cudnn.benchmark = benchmark
    seconds = time.perf_counter() - start
    h = result.history
    _, height, width = result.image.shape
    if args.json:
        first_last = {k: [v[0], v[-1]] if v else None for k, v in h.items()}
        print(json.dumps({"output": str(output), "width": width, "height": height,
                          "steps": config.steps_total, "sizes": list(config.sizes),
                          "device": device.type, "precision": config.precision,
                          "seconds": round(seconds, 3), "costs": first_last}))
    else:
        print(f"wrote {output} ({width}x{height}, {config.steps_total} steps on {device.type}"
              f"{', bfloat16' if config.precision == 'bfloat16' else ''}, {seconds:.1f} s; "
              f"J_content {h['content'][0]:.3g} -> {h['content'][-1]:.3g}, J_style "
              f"{h['style'][0]:.3g} -> {h['style'][-1]:.3g})"
              if h["content"] and h["style"] else f"wrote {output}", file=sys.stdout)
    return 0
