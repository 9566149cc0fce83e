"""dlib's 5-point face landmarks (``shape_predictor_5_face_landmarks``) with tensor ops.

The model is an ensemble of regression trees (Kazemi & Sullivan, "One Millisecond Face
Alignment with an Ensemble of Regression Trees", CVPR 2014; dlib's
``image_processing/shape_predictor.h``): starting from a mean shape placed in the face box, each
of ``K`` cascade levels reads the grey values of a few hundred pixels placed relative to the
current shape, runs each of its trees on differences of two of those pixels, and adds the
chosen leaves' shape corrections. The five points are the outer and inner corners of each eye
and the bottom of the nose (dlib's order: right eye outer, right eye inner, left eye outer,
left eye inner, nose; "right" is the person's right, on the image's left).

Here every face of a batch and every tree of a level run at once: the pixel look-ups are one
gather, each of the (fixed) tree depth's comparisons is one gather over ``(faces, trees)``, and
the chosen leaves are one more. The steps follow dlib's exactly (pixel positions rounded to whole
pixels, grey level ``(R + G + B) // 3``, pixels outside the image read as 0, the leaves added to
the shape tree by tree in float32, the final points rounded to whole pixels) so that the points
equal dlib's: a sum in another order moves a feature pixel by a few 1e-5 px, enough to cross a
pixel boundary now and then and change a split.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from coursekit.face.pretrained.dlib_format import DlibReader, floats_from_integers
from coursekit.face.pretrained.model_files import model_path

__all__ = ["ShapePredictor", "load_shape_predictor", "similarity_transform", "to_uint8_image"]


def to_uint8_image(image: torch.Tensor) -> torch.Tensor:
    """``(3, H, W)`` or ``(1, H, W)`` / ``(H, W)`` image, ``uint8`` or float in [0, 1] -> ``(3, H, W)``
    ``uint8``-valued tensor (float images are scaled by 255 and rounded; grey is repeated).

    Example:
        >>> to_uint8_image(torch.tensor([[0.0, 1.0]])).tolist()
        [[[0, 255]], [[0, 255]], [[0, 255]]]
    """
    if image.dim() == 2:
        image = image.unsqueeze(0)
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"image must be (3, H, W), (1, H, W) or (H, W), got shape {tuple(image.shape)}")
    if image.dtype != torch.uint8:
        image = (image.float() * 255).round().clamp(0, 255).to(torch.uint8)
    return image.expand(3, -1, -1) if image.shape[0] == 1 else image


def similarity_transform(source: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The least-squares similarity (rotation, uniform scale, translation) taking ``source``
    points to ``target`` points (Umeyama, 1991; dlib's ``find_similarity_transform``).

    Args:
        source: ``(..., P, 2)`` points ``(x, y)``.
        target: ``(..., P, 2)`` points.

    Returns:
        ``(m, t)`` with ``m`` ``(..., 2, 2)`` and ``t`` ``(..., 2)``: ``target ~ source @ m.T + t``.

    Example:
        >>> src = torch.tensor([[0., 0.], [1., 0.], [0., 1.]], dtype=torch.float64)
        >>> rot90 = torch.tensor([[0., -1.], [1., 0.]], dtype=torch.float64)
        >>> m, t = similarity_transform(src, 2 * src @ rot90 + 3)
        >>> m.round(decimals=6).tolist(), t.round(decimals=6).tolist()
        ([[0.0, 2.0], [-2.0, 0.0]], [3.0, 3.0])
    """
    mean_s, mean_t = source.mean(-2, keepdim=True), target.mean(-2, keepdim=True)
    s, t = source - mean_s, target - mean_t
    var = (s * s).sum((-2, -1))
    a = (s * t).sum((-2, -1))  # sum of x.x' + y.y'
    b = (s[..., 0] * t[..., 1] - s[..., 1] * t[..., 0]).sum(-1)  # sum of x.y' - y.x'
    safe = torch.where(var > 0, var, torch.ones_like(var))
    a = torch.where(var > 0, a / safe, torch.ones_like(a))
    b = torch.where(var > 0, b / safe, torch.zeros_like(b))
    m = torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], -2)  # (..., 2, 2)
    shift = mean_t[..., 0, :] - (m @ mean_s[..., 0, :].unsqueeze(-1)).squeeze(-1)
    return m, shift


def _round_half_up(x: torch.Tensor) -> torch.Tensor:
    """dlib's conversion of a coordinate to a whole pixel: ``floor(x + 0.5)``."""
    return torch.floor(x + 0.5)


class ShapePredictor(nn.Module):
    """dlib's regression-tree landmark predictor, batched over faces.

    Build it with :func:`load_shape_predictor`.

    Args:
        initial_shape: ``(P, 2)`` mean shape in box coordinates (0..1).
        splits: ``(K, T, S, 2)`` pixel indices compared by each split node, and
        thresholds: ``(K, T, S)`` their thresholds (``K`` levels, ``T`` trees, ``S`` splits).
        leaves: ``(K, T, S + 1, P, 2)`` shape corrections at the leaves.
        anchors: ``(K, F)`` the shape point each feature pixel is placed from, and
        deltas: ``(K, F, 2)`` its offset from that point in the mean shape.

    Shape:
        - input: ``image`` ``(3, H, W)`` (or grey), ``boxes`` ``(N, 4)`` as ``(left, top, right,
          bottom)`` in whole pixels (dlib's inclusive rectangles).
        - output: ``(N, P, 2)`` float32 points ``(x, y)`` in whole pixels.
    """

    def __init__(self, initial_shape, splits, thresholds, leaves, anchors, deltas) -> None:
        super().__init__()
        self.register_buffer("initial_shape", torch.as_tensor(initial_shape, dtype=torch.float32))
        self.register_buffer("splits", torch.as_tensor(splits, dtype=torch.long))
        self.register_buffer("thresholds", torch.as_tensor(thresholds, dtype=torch.float32))
        self.register_buffer("leaves", torch.as_tensor(leaves, dtype=torch.float32))
        self.register_buffer("anchors", torch.as_tensor(anchors, dtype=torch.long))
        self.register_buffer("deltas", torch.as_tensor(deltas, dtype=torch.float32))
        num_splits = self.splits.shape[2]
        self.depth = int(round(np.log2(num_splits + 1)))
        if 2 ** self.depth != num_splits + 1:
            raise ValueError(f"trees must be complete: {num_splits} splits is not 2**depth - 1")

    @property
    def num_parts(self) -> int:
        """The number ``P`` of points (5)."""
        return self.initial_shape.shape[0]

    def forward(self, image: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        rgb = to_uint8_image(image).to(torch.int32)
        grey = (rgb.sum(0) // 3).float()  # (H, W), dlib's get_pixel_intensity
        dev = grey.device
        boxes = torch.as_tensor(boxes).to(device=dev, dtype=torch.float64).reshape(-1, 4)
        n = boxes.shape[0]
        height, width = grey.shape
        origin = boxes[:, None, :2]  # (N, 1, 2): left, top
        extent = (boxes[:, 2:] - boxes[:, :2])[:, None, :]  # (N, 1, 2): right - left, bottom - top
        initial = self.initial_shape.to(dev)
        shape = initial.expand(n, -1, -1).clone()  # (N, P, 2) float32
        trees = torch.arange(self.splits.shape[1], device=dev)
        for k in range(self.splits.shape[0]):
            m, _ = similarity_transform(initial.double().expand(n, -1, -1), shape.double())
            m = m.float()  # dlib casts the 2x2 part to float
            deltas, anchors = self.deltas[k].to(dev), self.anchors[k].to(dev)
            # m @ delta in float32, products then sum (as dlib's matrix<float,2,2> * vector)
            dx, dy = deltas[:, 0], deltas[:, 1]  # (F,)
            px = m[:, 0, 0, None] * dx + m[:, 0, 1, None] * dy
            py = m[:, 1, 0, None] * dx + m[:, 1, 1, None] * dy
            points = torch.stack([px, py], -1) + shape[:, anchors]  # (N, F, 2) float32
            pixels = _round_half_up(origin + points.double() * extent).long()  # (N, F, 2)
            x, y = pixels[..., 0], pixels[..., 1]
            inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            values = grey[y.clamp(0, height - 1), x.clamp(0, width - 1)] * inside  # (N, F)
            splits, thresholds = self.splits[k].to(dev), self.thresholds[k].to(dev)
            node = torch.zeros(n, len(trees), dtype=torch.long, device=dev)  # (N, T)
            for _ in range(self.depth):
                pair = splits[trees, node]  # (N, T, 2)
                diff = values.gather(1, pair[..., 0]) - values.gather(1, pair[..., 1])
                node = torch.where(diff > thresholds[trees, node], 2 * node + 1, 2 * node + 2)
            leaf = node - splits.shape[1]
            corrections = self.leaves[k].to(dev)[trees, leaf]  # (N, T, P, 2)
            for t in range(corrections.shape[1]):  # one tree at a time: dlib's float32 rounding
                shape = shape + corrections[:, t]
        return _round_half_up(origin + shape.double() * extent).float()


def load_shape_predictor(path: str | os.PathLike | None = None, *, cache: bool = True) -> ShapePredictor:
    """Read dlib's shape predictor from its ``.dat`` file.

    Args:
        path: the file (default: ``shape_predictor_5_face_landmarks.dat`` from the installed
            ``face_recognition_models`` package).
        cache: keep the converted trees in the course cache and read them from there while the
            file is unchanged (:mod:`~coursekit.face.pretrained.model_cache`); ``False`` always
            decodes the file.

    Returns:
        The predictor on the CPU.

    Raises:
        DlibFormatError: the file is not a shape predictor (truncated or another kind).

    Example:
        >>> sp = load_shape_predictor()
        >>> sp.num_parts, tuple(sp.splits.shape)
        (5, (15, 500, 15, 2))
    """
    path = path if path is not None else model_path("landmarks")
    if not cache:
        return ShapePredictor(**_read_shape_predictor(path))
    from coursekit.face.pretrained.model_cache import cached_conversion

    def convert(source) -> dict[str, torch.Tensor]:
        return dict(ShapePredictor(**_read_shape_predictor(source)).named_buffers())

    return ShapePredictor(**cached_conversion(path, "landmarks", convert))


def _read_shape_predictor(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arguments of :class:`ShapePredictor`, decoded from dlib's file."""
    r = DlibReader.from_file(path)
    r.expect_int(1, what="the shape predictor's version (is this a shape predictor file?)")
    v = r.integers_to_end("the shape predictor")
    i = 0

    def take(count: int, what: str) -> np.ndarray:
        nonlocal i
        if i + count > len(v):
            raise r.error(f"truncated shape predictor: {what} needs {count} numbers, {len(v) - i} left")
        out = v[i:i + count]
        i += count
        return out

    def floats(count: int, what: str) -> np.ndarray:
        pairs = take(2 * count, what).reshape(count, 2)
        return floats_from_integers(pairs[:, 0], pairs[:, 1])

    rows, cols = np.abs(take(2, "the initial shape's size"))
    if cols != 1 or rows % 2 or rows == 0:
        raise r.error(f"the initial shape must be a column of 2P numbers, got {rows}x{cols}")
    initial = floats(int(rows), "the initial shape").reshape(-1, 2)
    num_levels = int(take(1, "the number of cascade levels")[0])
    splits, thresholds, leaves = [], [], []
    for level in range(num_levels):
        num_trees = int(take(1, "the number of trees")[0])
        # every tree of a level has the same layout: read the first one's sizes
        num_splits = int(v[i]) if i < len(v) else 0
        leaf_start = i + 1 + 4 * num_splits
        if num_splits <= 0 or leaf_start + 3 > len(v):
            raise r.error(f"truncated or malformed tree in cascade level {level}")
        num_leaves, leaf_rows = int(v[leaf_start]), abs(int(v[leaf_start + 1]))
        if num_leaves != num_splits + 1 or leaf_rows != rows:
            raise r.error(f"tree with {num_splits} splits, {num_leaves} leaves of {leaf_rows} values")
        width = 1 + 4 * num_splits + 1 + num_leaves * (2 + 2 * leaf_rows)
        block = take(num_trees * width, f"the trees of level {level}").reshape(num_trees, width)
        head = block[:, [0, 1 + 4 * num_splits]]
        if (head[:, 0] != num_splits).any() or (head[:, 1] != num_leaves).any():
            raise r.error(f"the trees of level {level} do not all have {num_splits} splits")
        split = block[:, 1:1 + 4 * num_splits].reshape(num_trees, num_splits, 4)
        splits.append(split[..., :2])
        thresholds.append(floats_from_integers(split[..., 2], split[..., 3]))
        leaf = block[:, 2 + 4 * num_splits:].reshape(num_trees, num_leaves, 2 + 2 * leaf_rows)
        if (np.abs(leaf[..., :2]) != [leaf_rows, 1]).any():
            raise r.error(f"a leaf of level {level} is not a column of {leaf_rows} numbers")
        values = floats_from_integers(leaf[..., 2::2], leaf[..., 3::2])
        leaves.append(values.reshape(num_trees, num_leaves, -1, 2))
    if int(take(1, "the number of anchor lists")[0]) != num_levels:
        raise r.error("the anchor lists do not match the cascade levels")
    anchors = []
    for _ in range(num_levels):
        anchors.append(take(int(take(1, "an anchor list's size")[0]), "the anchors"))
    if int(take(1, "the number of delta lists")[0]) != num_levels:
        raise r.error("the delta lists do not match the cascade levels")
    deltas = []
    for level in range(num_levels):
        count = int(take(1, "a delta list's size")[0])
        if count != len(anchors[level]):
            raise r.error(f"level {level} has {len(anchors[level])} anchors but {count} deltas")
        deltas.append(floats(2 * count, "the deltas").reshape(count, 2))
    if i != len(v):
        raise r.error(f"{len(v) - i} unexpected numbers after the shape predictor")
    num_features = len(anchors[0])
    if any(len(a) != num_features for a in anchors) or any(
            (s < 0).any() or (s >= num_features).any() for s in splits):
        raise r.error("feature indices out of range")
    if any((a < 0).any() or (a >= len(initial)).any() for a in anchors):
        raise r.error("anchor indices out of range")
    return {"initial_shape": initial, "splits": np.stack(splits), "thresholds": np.stack(thresholds),
            "leaves": np.stack(leaves), "anchors": np.stack(anchors), "deltas": np.stack(deltas)}
