"""The result of a top-activating-patch search (lesson 4.7): :class:`TopPatches` holds, for some
units of one layer, the ``k`` strongest activations, where they were, and the input patches
behind them; it can pick units and lay the patches out on receptive-field-sized canvases for
plotting. The search itself is :func:`coursekit.visualize.top_activating_patches`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from coursekit.visualize.receptive_fields import LayerField

__all__ = ["TopPatches"]


@dataclass
class TopPatches:
    """The ``k`` strongest activations of some units of one layer, and the patches behind them.

    Units are in the order asked; for each unit the ``k`` entries go from the strongest down
    (each from a different image: the spatial maximum of the unit in that image).

    Attributes:
        layer: the layer's name.
        units: the channel indices, ``U`` of them.
        values: ``(U, k)`` activation values.
        image_indices: ``(U, k)`` positions of the source images in the collection (int64).
        positions: ``(U, k, 2)`` ``(row, col)`` of the maximum in the layer's feature map.
        boxes: ``(U, k, 4)`` input boxes ``(top, left, bottom, right)``, bottom/right exclusive,
            clipped at the image borders.
        patches: ``patches[u][i]`` is the ``(C, bottom - top, right - left)`` crop of the source
            image (clipped patches are smaller than the receptive field).
        field: the layer's :class:`LayerField` (``field.size`` is the patch size before clipping).
        num_images: how many images were searched.
        image_sizes: ``(U, k, 2)`` ``(height, width)`` of each patch's source image, or ``None``
            (then :meth:`padded` cannot ``fit``).

    Example:
        >>> from coursekit.visualize import top_activating_patches
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.ReLU())
        >>> top = top_activating_patches(net, "1", torch.rand(5, 3, 8, 8), [0, 1], k=3, progress=False)
        >>> top.k, top.num_images, len(top.patches[0]), tuple(top.select([1]).padded().shape)
        (3, 5, 3, (1, 3, 3, 3, 3))
    """

    layer: str
    units: list[int]
    values: Tensor
    image_indices: Tensor
    positions: Tensor
    boxes: Tensor
    patches: list[list[Tensor]]
    field: LayerField
    num_images: int
    image_sizes: Tensor | None = None

    @property
    def k(self) -> int:
        """Patches per unit."""
        return int(self.values.shape[1])

    def select(self, units: Sequence[int]) -> TopPatches:
        """The same result for a subset of the units (channel indices, in the order given).

        Raises:
            ValueError: a unit that is not in :attr:`units`.
        """
        missing = [u for u in units if u not in self.units]
        if missing:
            raise ValueError(f"unit(s) {missing} not analysed; available: {self.units}")
        rows = [self.units.index(u) for u in units]
        return TopPatches(self.layer, list(units), self.values[rows], self.image_indices[rows],
                          self.positions[rows], self.boxes[rows], [self.patches[r] for r in rows],
                          self.field, self.num_images,
                          None if self.image_sizes is None else self.image_sizes[rows])

    def padded(self, fill: float = 0.5, *, fit: bool = False) -> Tensor:
        """All patches on canvases of the full receptive-field size.

        A patch clipped at an image border sits where it was in the field, the rest of the
        canvas (outside the image) is ``fill``, so every patch is shown at the same scale.

        Args:
            fill: the value outside the image.
            fit: along an axis where every patch spans its whole image (the receptive field
                is larger than the images, as for a deep layer on small images), cut the
                canvas to the largest patch instead of showing whole images lost in a canvas
                mostly outside them. Patches keep their place in the field as far as the
                smaller canvas allows. Needs :attr:`image_sizes`.

        Returns:
            ``(U, k, C, size_h, size_w)``; with ``fit``, each size at most the field's.

        Example:
            >>> from coursekit.visualize import top_activating_patches
            >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 5, padding=2))  # a 5x5 field
            >>> top = top_activating_patches(net, "0", torch.rand(4, 1, 3, 3), [0], k=2,
            ...                              progress=False)  # on 3x3 images
            >>> tuple(top.padded().shape), tuple(top.padded(fit=True).shape)
            ((1, 2, 1, 5, 5), (1, 2, 1, 3, 3))
        """
        sh, sw = self.field.size
        if fit:
            sh, sw = self._fitted_size()
        first = self.patches[0][0]
        out = torch.full((len(self.units), self.k, first.shape[0], sh, sw), fill,
                         dtype=first.dtype, device=first.device)
        for u, row in enumerate(self.patches):
            for i, patch in enumerate(row):
                r, c = self.positions[u, i].tolist()
                top, left, _, _ = self.field.box(r, c)  # unclipped
                dy, dx = int(self.boxes[u, i, 0]) - top, int(self.boxes[u, i, 1]) - left
                dy, dx = min(dy, sh - patch.shape[1]), min(dx, sw - patch.shape[2])  # fit
                out[u, i, :, dy:dy + patch.shape[1], dx:dx + patch.shape[2]] = patch
        return out


    def _fitted_size(self) -> tuple[int, int]:
        """The canvas size of ``padded(fit=True)``: per axis, the field's size, or the largest
        patch where every patch spans its whole image."""
        if self.image_sizes is None:
            raise ValueError("fit needs the image sizes, which this TopPatches does not have")
        size = list(self.field.size)
        for axis in (0, 1):
            lo, hi = self.boxes[..., axis], self.boxes[..., axis + 2]  # (U, k)
            if bool(((lo == 0) & (hi == self.image_sizes[..., axis])).all()):
                size[axis] = min(size[axis], int((hi - lo).max()))
        return size[0], size[1]
