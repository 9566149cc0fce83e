"""Figures for lesson 4.7: first-layer filters as colour images, and the top-9 patches of
several units of one layer as 3 x 3 grids (one figure per layer, as in Zeiler & Fergus, 2013).

Every helper takes ``ax=None`` (a new figure) or an existing ``Axes`` and returns the Figure;
none calls ``plt.show()`` or changes ``rcParams``.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor, nn

from coursekit.visualize.top_patches import TopPatches

__all__ = ["GREY_CANVAS", "first_layer_filters", "image_grid", "plot_filters", "plot_top_patches"]


def image_grid(images: Tensor, ncols: int, *, pad: int = 1, fill: float = 1.0) -> Tensor:
    """Tile images into one mosaic, row by row, ``pad`` pixels of ``fill`` between them.

    Args:
        images: ``(N, C, H, W)``.
        ncols: images per row.

    Returns:
        ``(C, rows * (H + pad) - pad, ncols * (W + pad) - pad)``.

    Example:
        >>> tuple(image_grid(torch.zeros(5, 3, 4, 4), 3).shape)
        (3, 9, 14)
    """
    if images.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    rows = max(1, math.ceil(n / ncols))
    out = torch.full((c, rows * (h + pad) - pad, ncols * (w + pad) - pad), fill,
                     dtype=images.dtype, device=images.device)
    for i in range(n):
        r, col = divmod(i, ncols)
        out[:, r * (h + pad):r * (h + pad) + h, col * (w + pad):col * (w + pad) + w] = images[i]
    return out


def _show(mosaic: Tensor, ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    img = mosaic.detach().float().cpu().clamp(0, 1)
    if img.shape[0] == 1:
        ax.imshow(img[0].numpy(), cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(img.permute(1, 2, 0).numpy())
    ax.set_axis_off()
    return fig, ax


def first_layer_filters(model) -> Tensor:
    """The first convolution's weights, input channels in RGB order.

    Args:
        model: a ``VGG19Features`` (its ``conv1_1``; the Caffe weights expect BGR input, so the
            channels are flipped back to RGB), an ``nn.Sequential`` or any module (its first
            ``nn.Conv2d``), or an ``nn.Conv2d``.

    Returns:
        ``(C_out, C_in, k, k)`` on the CPU.

    Example:
        >>> first_layer_filters(nn.Sequential(nn.ReLU(), nn.Conv2d(3, 8, 5))).shape
        torch.Size([8, 3, 5, 5])
    """
    convs = getattr(model, "convs", None)
    if isinstance(convs, nn.ModuleDict) and "conv1_1" in convs:
        w = convs["conv1_1"].weight.detach().cpu()
        return w.flip(1) if getattr(model, "preprocessing", "caffe") == "caffe" else w
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m.weight.detach().cpu()
    raise ValueError(f"no Conv2d layer found in the {type(model).__name__}")


def plot_filters(weight: Tensor, *, ncols: int = 16, ax: Axes | None = None,
                 title: str | None = None) -> Figure:
    """First-layer filters as small images (colour for 3 input channels, grey for 1).

    Each filter is scaled on its own so that 0 is mid-grey and its largest absolute weight
    reaches black or white: colour shows which channel mix it detects, the pattern which
    edge or blob.

    Args:
        weight: ``(C_out, C_in, k, k)`` with ``C_in`` 1 or 3.
        ncols: filters per row.
        ax: draw into this Axes (default: a new figure).
        title: the Axes' title.

    Returns:
        The Figure.

    Example:
        >>> fig = plot_filters(nn.Conv2d(3, 8, 5).weight, ncols=4, title="conv1")
        >>> type(fig).__name__, fig.axes[0].get_title()
        ('Figure', 'conv1')
        >>> plt.close(fig)
    """
    if weight.ndim != 4 or weight.shape[1] not in (1, 3):
        raise ValueError(f"expected filters (C_out, 1 or 3, k, k), got {tuple(weight.shape)}")
    w = weight.detach().float().cpu()
    peak = w.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
    w = 0.5 + 0.5 * w / peak  # (C_out, C_in, k, k) in [0, 1]
    ncols = min(ncols, w.shape[0])
    mosaic = image_grid(w, ncols, pad=1, fill=1.0)
    rows = math.ceil(w.shape[0] / ncols)
    fig, ax = _show(mosaic, ax, (0.5 * ncols, 0.5 * rows + 0.4))
    if title:
        ax.set_title(title)
    return fig


GREY_CANVAS = (0.62, 0.78, 0.95)
"""Default canvas colour (light blue) around greyscale patches, where grey would blend in."""


def plot_top_patches(
    result: TopPatches,
    *,
    ncols: int | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    fill: float | tuple[float, float, float] | None = None,
    fit: bool = True,
    unit_size: float = 1.6,
) -> Figure:
    """One layer's top patches: a grid (3 x 3 for ``k = 9``) per unit, units side by side.

    Patches clipped at an image border are shown in place on a canvas of the full receptive
    field (``fill`` where the field left the image), so all patches share one scale. A single
    unit is drawn straight into the Axes, its label in the title; several units get one inset
    each, labelled ``unit N``.

    Args:
        result: from :func:`coursekit.visualize.top_activating_patches`.
        ncols: units per row (default: about square).
        ax: draw into this Axes (default: a new figure).
        title: the title (default: the layer, the unit when there is one, the receptive field
            and the image count).
        fill: the canvas outside the image: a grey level, or an RGB colour. Default: mid-grey
            0.5 around colour patches, :data:`GREY_CANVAS` around greyscale ones.
        fit: when the receptive field is larger than every patch (a deep layer on small
            images), cut the canvas to the largest patch (see :meth:`TopPatches.padded`) so
            the patches are not thumbnails in a sea of canvas; the default title says so.
            Ignored when ``result`` has no ``image_sizes``.
        unit_size: inches per unit in a new figure.

    Returns:
        The Figure.

    Example:
        >>> from coursekit.visualize import top_activating_patches
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
        >>> top = top_activating_patches(net, "2", torch.rand(9, 3, 12, 12), [0, 1], progress=False)
        >>> fig = plot_top_patches(top)
        >>> type(fig).__name__, fig.axes[0].get_title()
        ('Figure', '2: top 9 of 9 images, receptive field 4x4')
        >>> plt.close(fig)
    """
    grey = result.patches[0][0].shape[0] == 1
    fill = (GREY_CANVAS if grey else 0.5) if fill is None else fill
    coloured = not isinstance(fill, (int, float))
    # a colour canvas: mark it with NaN (never an image value), then paint it
    fit = fit and result.image_sizes is not None
    padded = result.padded(fill=math.nan if coloured else float(fill), fit=fit).float().cpu()
    if coloured:
        canvas = torch.tensor(fill, dtype=padded.dtype).view(3, 1, 1)
        padded = torch.where(padded.isnan(), canvas, padded.expand(-1, -1, 3, -1, -1))
    u, k, c, sh, sw = padded.shape  # (U, k, C, S, S)
    per_row = math.ceil(math.sqrt(k))
    pad = max(1, round(0.04 * max(sh, sw)))
    if title is None:
        size = result.field.size
        unit = f" unit {result.units[0]}" if u == 1 else ""
        title = (f"{result.layer}{unit}: top {k} of {result.num_images} images, "
                 f"receptive field {size[0]}x{size[1]}")
        if (sh, sw) != tuple(size):
            title += f"\n(larger than the images: canvas cut to {sh}x{sw})"
    if u == 1:
        fig, ax = _show(image_grid(padded[0], per_row, pad=pad, fill=1.0), ax,
                        (unit_size, unit_size + 0.3))
        ax.set_title(title, fontsize=9)
        return fig
    ncols = ncols or math.ceil(math.sqrt(u))
    nrows = math.ceil(u / ncols)
    if ax is None:
        fig, ax = plt.subplots(figsize=(unit_size * ncols, (unit_size + 0.2) * nrows + 0.3))
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.35 / fig.get_figheight())
    else:
        fig = ax.figure
    ax.set_axis_off()
    cell_w, cell_h = 1.0 / ncols, 1.0 / nrows
    for i, unit in enumerate(result.units):
        r, col = divmod(i, ncols)
        # one inset per unit, leaving room for its label above
        sub = ax.inset_axes([col * cell_w + 0.07 * cell_w, 1 - (r + 1) * cell_h + 0.02 * cell_h,
                             0.86 * cell_w, 0.84 * cell_h])
        _show(image_grid(padded[i], per_row, pad=pad, fill=1.0), sub, (1, 1))
        sub.set_title(f"unit {unit}", fontsize=7, pad=2)
    ax.set_title(title, fontsize=9)
    return fig
