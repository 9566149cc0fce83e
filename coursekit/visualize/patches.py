"""Top activating image patches, lesson 4.7 (Zeiler & Fergus, "Visualizing and Understanding
Convolutional Networks", 2013).

Pick a unit (a channel of a conv layer), run many images through the network and keep the
``k`` images in which the unit fires most strongly. In each image the strongest position is the
spatial maximum of the unit's feature map; the receptive-field arithmetic of
:mod:`coursekit.visualize.receptive_fields` turns that position into the input patch the unit
saw. Layer-1 units pick edges and colours; deeper units see larger patches and respond to
textures, parts and objects.

The images stream through the model once, in batches: only a running top-``k`` per unit (value,
image index, position and the cropped patch) is kept, never all the activations, so memory
stays flat however many images there are. Each image gives a unit at most one patch; when
several images are crops of one photograph, ``sources`` (one id per image) makes that at most
one patch per photograph, so a unit's nine are nine different scenes.

The model is a *feature model* as described in :mod:`coursekit.visualize.activations`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from coursekit.visualize.activations import eval_mode, layer_activations, layer_fields, place_model
from coursekit.visualize.receptive_fields import LayerField
from coursekit.visualize.top_patches import TopPatches

__all__ = ["top_activating_patches", "top_patches_by_layer"]


def _batches(images: Tensor | Iterable[Tensor], batch_size: int) -> Iterator[Tensor]:
    """Stack consecutive ``(C, H, W)`` images of one size into ``(B, C, H, W)`` batches."""
    if isinstance(images, Tensor):
        if images.ndim != 4:
            raise ValueError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
        for i in range(0, images.shape[0], batch_size):
            yield images[i:i + batch_size]
        return
    pending: list[Tensor] = []
    for image in images:
        if not isinstance(image, Tensor) or image.ndim != 3:
            raise ValueError("expected each image as a (C, H, W) tensor, got "
                             f"{getattr(image, 'shape', type(image).__name__)}")
        if pending and (len(pending) == batch_size or image.shape != pending[0].shape):
            yield torch.stack(pending)
            pending = []
        pending.append(image)
    if pending:
        yield torch.stack(pending)


class _RunningTopK:
    """Running top-``k`` over images of one layer's units: values, sources, positions, crops;
    at most one entry per source (image, or photograph when several images share one)."""

    def __init__(self, units: list[int], k: int):
        self.units, self.k = units, k
        self.values = self.indices = self.positions = self.boxes = self.sizes = None
        self.patches: list[list[Tensor]] = [[] for _ in units]
        self.sources: list[list[Hashable]] = [[] for _ in units]

    def update(self, act: Tensor, batch: Tensor, first: int, field: LayerField,
               batch_sources: list[Hashable]) -> None:
        b, _, h, w = act.shape
        a = act[:, self.units].flatten(2)  # (B, U, h*w)
        vmax, arg = a.max(dim=2)  # (B, U): the strongest position of each unit in each image
        vals = vmax.T.float().cpu()  # (U, B)
        arg = arg.T.cpu()
        pos = torch.stack([arg // w, arg % w], dim=-1)  # (U, B, 2) as (row, col)
        idx = torch.arange(first, first + b).expand(len(self.units), b)
        n_old = 0 if self.values is None else self.values.shape[1]
        if n_old:
            vals = torch.cat([self.values, vals], 1)
            pos = torch.cat([self.positions, pos], 1)
            idx = torch.cat([self.indices, idx], 1)
        # stable: among equal values the earlier image wins, so results are reproducible
        ranked = torch.sort(vals, dim=1, descending=True, stable=True).indices  # (U, n_old + B)
        picks, picked_sources = [], []
        for u in range(len(self.units)):
            row, taken = [], set()
            for j in ranked[u].tolist():
                src = self.sources[u][j] if j < n_old else batch_sources[j - n_old]
                if src in taken:  # this photograph already gave this unit a patch
                    continue
                taken.add(src)
                row.append(j)
                if len(row) == self.k:
                    break
            picks.append(row)
            picked_sources.append([self.sources[u][j] if j < n_old else batch_sources[j - n_old]
                                   for j in row])
        order = torch.tensor(picks, dtype=torch.long)  # (U, k'): as many sources for every unit
        self.sources = picked_sources
        self.values = vals.gather(1, order)
        self.positions = pos.gather(1, order[..., None].expand(-1, -1, 2))
        self.indices = idx.gather(1, order)
        new_boxes, new_patches, new_sizes = [], [], []
        hw = tuple(batch.shape[-2:])
        for u in range(len(self.units)):
            row_boxes, row_patches, row_sizes = [], [], []
            for j in order[u].tolist():
                if j < n_old:  # already kept: reuse its crop
                    row_boxes.append(self.boxes[u, j])
                    row_sizes.append(self.sizes[u, j])
                    row_patches.append(self.patches[u][j])
                    continue
                r, c = pos[u, j].tolist()
                top, left, bottom, right = field.box(r, c, hw)
                row_boxes.append(torch.tensor([top, left, bottom, right]))
                row_sizes.append(torch.tensor(hw))
                # clone: the crop must not keep the whole batch alive
                row_patches.append(batch[j - n_old, :, top:bottom, left:right].clone())
            new_boxes.append(torch.stack(row_boxes))
            new_sizes.append(torch.stack(row_sizes))
            new_patches.append(row_patches)
        self.boxes = torch.stack(new_boxes)  # (U, k, 4)
        self.sizes = torch.stack(new_sizes)  # (U, k, 2): (height, width) of the source image
        self.patches = new_patches

    def result(self, layer: str, field: LayerField, num_images: int) -> TopPatches:
        return TopPatches(layer, list(self.units), self.values, self.indices, self.positions,
                          self.boxes, self.patches, field, num_images, self.sizes)


def top_patches_by_layer(
    model,
    units: Mapping[str, Sequence[int]],
    images: Tensor | Iterable[Tensor],
    k: int = 9,
    *,
    batch_size: int = 16,
    device: str | torch.device | None = None,
    progress: bool = True,
    fields: Mapping[str, LayerField] | None = None,
    sources: Sequence[Hashable] | None = None,
) -> dict[str, TopPatches]:
    """:func:`top_activating_patches` for several layers in one pass over the images.

    Args:
        model: a feature model (see the module docstring).
        units: layer name -> the channel indices to analyse in that layer.
        images: ``(N, C, H, W)``, or an iterable of ``(C, H, W)`` tensors (consecutive images
            of the same size are batched together; sizes may change along the way).
        k: patches kept per unit.
        batch_size: images per forward pass.
        device: where the model runs. ``None``: where the model's parameters are. A different
            device moves the model there.
        progress: show a progress bar over batches.
        fields: layer -> :class:`LayerField`, for models whose geometry cannot be read
            (neither an ``nn.Sequential`` nor a ``VGG19Features``). Only ``size``, ``jump`` and
            ``start`` are used.
        sources: one id per image (e.g. the photograph it was cropped from): each unit then
            keeps at most one patch per id. ``None``: every image is its own source.

    Returns:
        layer -> :class:`TopPatches` (fewer than ``k`` patches per unit when there are fewer
        than ``k`` sources). Patches and values live on the CPU when the images do
        (crops are taken from the images as given).

    Raises:
        ValueError: no units, a unit out of range, ``k < 1``, no images, or ``sources`` of
            another length than the images.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.MaxPool2d(2))
        >>> tops = top_patches_by_layer(net, {"0": [1], "1": [2]}, torch.rand(6, 3, 9, 9), 2, progress=False)
        >>> {name: (t.units, tuple(t.values.shape), t.field.size) for name, t in tops.items()}
        {'0': ([1], (1, 2), (3, 3)), '1': ([2], (1, 2), (4, 4))}
        >>> photo = ["a", "a", "a", "b", "b", "b"]              # six crops of two photographs
        >>> top = top_patches_by_layer(net, {"1": [0]}, torch.rand(6, 3, 9, 9), 4, sources=photo,
        ...                            progress=False)["1"]
        >>> sorted(photo[i] for i in top.image_indices[0].tolist())  # one patch per photograph
        ['a', 'b']
    """
    if k < 1 or batch_size < 1:
        raise ValueError(f"k and batch_size must be positive, got k={k}, batch_size={batch_size}")
    units = {str(layer): [int(u) for u in us] for layer, us in units.items()}
    if not units or any(not us for us in units.values()):
        raise ValueError(f"give at least one unit per layer, got {units}")
    layers = list(units)
    dev = place_model(model, device)
    trackers = {layer: _RunningTopK(units[layer], k) for layer in layers}
    seen, geometry, size = 0, None, None
    total = math.ceil(len(images) / batch_size) if hasattr(images, "__len__") else None
    with eval_mode(model), torch.no_grad():
        for batch in tqdm(_batches(images, batch_size), total=total, disable=not progress,
                          desc="patch search", leave=False):
            if tuple(batch.shape[-2:]) != size:
                size = tuple(batch.shape[-2:])
                geometry = dict(fields) if fields is not None else layer_fields(
                    model, layers, size)
            acts = layer_activations(model, batch.to(dev), layers)
            for layer in layers:
                c = acts[layer].shape[1]
                bad = [u for u in units[layer] if not 0 <= u < c]
                if bad:
                    raise ValueError(f"layer {layer!r} has {c} units; got unit(s) {bad}")
            batch_sources = (list(range(seen, seen + batch.shape[0])) if sources is None
                             else list(sources[seen:seen + batch.shape[0]]))
            if len(batch_sources) != batch.shape[0]:
                raise ValueError(f"sources has {len(sources)} ids but there are more images")
            for layer in layers:
                trackers[layer].update(acts[layer], batch, seen, geometry[layer], batch_sources)
            seen += batch.shape[0]
    if seen == 0:
        raise ValueError("no images were given")
    if sources is not None and len(sources) != seen:
        raise ValueError(f"sources has {len(sources)} ids but there are {seen} images")
    return {layer: trackers[layer].result(layer, geometry[layer], seen) for layer in layers}


def top_activating_patches(
    model,
    layer: str,
    images: Tensor | Iterable[Tensor],
    units: Sequence[int],
    k: int = 9,
    *,
    batch_size: int = 16,
    device: str | torch.device | None = None,
    progress: bool = True,
    field: LayerField | None = None,
    sources: Sequence[Hashable] | None = None,
) -> TopPatches:
    """The ``k`` image patches that excite each unit most (Zeiler & Fergus).

    Each image contributes at most one patch per unit: the one around the unit's spatial
    maximum. The patch is the unit's receptive field, clipped at the image borders.

    Args:
        model: a feature model: ``VGG19Features`` or an ``nn.Sequential``.
        layer: the layer's name (``"relu3_1"``, or ``"4"`` in an ``nn.Sequential``).
        images: ``(N, C, H, W)`` or an iterable of ``(C, H, W)`` tensors, values as the model
            expects (RGB in [0, 1] for VGG19).
        units: channel indices.
        k: patches per unit (9 in the lecture).
        batch_size, device, progress: see :func:`top_patches_by_layer`.
        field: the layer's :class:`LayerField`, for models whose geometry cannot be read.
        sources: one id per image; at most one patch per id (see :func:`top_patches_by_layer`).

    Returns:
        A :class:`TopPatches`.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
        >>> top = top_activating_patches(net, "2", torch.rand(10, 3, 12, 12), [0, 3], k=4,
        ...                              progress=False)
        >>> tuple(top.values.shape), tuple(top.boxes.shape), top.field.size
        ((2, 4), (2, 4, 4), (4, 4))
        >>> bool((top.values[:, :-1] >= top.values[:, 1:]).all())
        True
    """
    fields = None if field is None else {layer: field}
    return top_patches_by_layer(model, {layer: units}, images, k, batch_size=batch_size,
                                device=device, progress=progress, fields=fields,
                                sources=sources)[layer]
