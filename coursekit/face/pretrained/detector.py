"""dlib's CNN face detector (``mmod_human_face_detector``) in PyTorch.

Davis King's max-margin object detector (King, "Max-Margin Object Detection", 2015) as a small
fully convolutional network (dlib's ``dnn_mmod_face_detection_ex.cpp``): three strided 5 x 5
convolutions take the image to 1/8 of its size, three more 5 x 5 convolutions of 45 filters and
a 9 x 9 one give a score for an ``80 x 80`` window centred on every 8th pixel.

Faces of other sizes are found on an **image pyramid**, built as dlib builds it
(``input_rgb_image_pyramid<pyramid_down<6>>``, ``dlib/dnn/input.h``,
``dlib/image_transforms/image_pyramid.h``): each level is 5/6 the size of the one before
(bilinear resizing), down to 5 rows, and all levels are packed side by side in **one** image,
10 pixels apart with an 11-pixel border, so the network runs once. Each window scoring above 0
is mapped back to the level it lies in and up to the original image; overlapping windows are
then suppressed greedily, best first (``loss_mmod_``: two boxes overlap when their intersection
is more than 0.4 of the box bounding both, or more than the stored fraction of either box).
``upsample=n`` first enlarges the image n times by about 2 (dlib's ``pyramid_up``), which finds
faces smaller than the 80-pixel window (about 40 pixels after one upsampling).
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from coursekit.face.pretrained.dlib_net import DlibNetwork, read_dlib_network
from coursekit.face.pretrained.landmarks import to_uint8_image
from coursekit.face.pretrained.model_files import model_path

__all__ = ["FaceDetector", "detector_spec", "load_face_detector", "tiled_pyramid_rects"]


def detector_spec() -> list[str]:
    """The detector's layer names from the loss down to the first convolution (dlib's
    ``loss_mmod<con<1,9,9,1,1, rcon5<rcon5<rcon5<downsampler<input_rgb_image_pyramid<...>>>>>>>``).

    Example:
        >>> detector_spec()[:5], len(detector_spec())
        (['loss_mmod', 'con', 'relu', 'affine', 'con'], 20)
    """
    rcon = ["relu", "affine", "con"]
    return ["loss_mmod", "con", *rcon * 3, *rcon * 3]


def tiled_pyramid_rects(height: int, width: int, *, padding: int = 10, outer_padding: int = 11,
                        ratio: float = 5 / 6) -> tuple[list[tuple[int, int, int, int]], int, int]:
    """Where each pyramid level goes in dlib's tiled pyramid image
    (``compute_tiled_image_pyramid_details``).

    Args:
        height, width: the image size.
        padding: gap between levels; outer_padding: border around the whole tiled image.
        ratio: size of each level relative to the previous one (``pyramid_down<6>``: 5/6).

    Returns:
        ``(rects, H, W)``: ``(left, top, right, bottom)`` of each level (inclusive), and the
        tiled image's size. The first column holds the large levels top to bottom; the small
        ones fill a second column from the bottom up, beside them.

    Example:
        >>> rects, h, w = tiled_pyramid_rects(60, 80)
        >>> rects[:2], (h, w)
        ([(11, 11, 90, 70), (11, 81, 76, 130)], (275, 102))
    """
    sizes = [(height, width)]
    nr, nc = height, width
    while True:
        nr, nc = math.floor(ratio * nr), math.floor(ratio * nc)
        if nr * nc == 0 or nr < 5:
            break
        sizes.append((nr, nc))
    total_height = sum(h + padding for h, _ in sizes) - 2 * padding
    column_height, prev_width = 0, 0
    for h, w in sizes:
        if w <= width - prev_width - padding and (column_height - height) * 2 >= total_height - height:
            break
        column_height += h + padding
        prev_width = w
    column_height -= padding
    rects = []
    y = outer_padding
    i = 0
    while y < column_height + outer_padding and i < len(sizes):
        h, w = sizes[i]
        rects.append((outer_padding, y, outer_padding + w - 1, y + h - 1))
        y += h + padding
        i += 1
    y -= padding
    while i < len(sizes):
        h, w = sizes[i]
        right, bottom = outer_padding + width - 1, y - 1
        rect = (right - (w - 1), bottom - (h - 1), right, bottom)
        first = rects[0]
        if not (rect[0] > first[2] or rect[2] < first[0] or rect[1] > first[3] or rect[3] < first[1]):
            break  # it would overlap the original image
        rects.append(rect)
        y -= h + padding
        i += 1
    return rects, column_height + 2 * outer_padding, width + 2 * outer_padding


def _lround(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _box_area(b: np.ndarray) -> np.ndarray:
    w, h = b[..., 2] - b[..., 0] + 1, b[..., 3] - b[..., 1] + 1
    return np.where((w > 0) & (h > 0), w * h, 0)


def _pyramid_up(image: torch.Tensor) -> torch.Tensor:
    """dlib's ``pyramid_up`` with ``pyramid_down<2>``: ``(3, H, W)`` -> ``(3, 2H + 1, 2W + 2)``,
    bilinear with corners aligned, truncated to whole numbers."""
    _, h, w = image.shape
    out_h, out_w = 2 * h + 1, 2 * w + 2
    y = torch.arange(out_h, dtype=torch.float64, device=image.device) * ((h - 1) / max(out_h - 1, 1))
    x = torch.arange(out_w, dtype=torch.float64, device=image.device) * ((w - 1) / max(out_w - 1, 1))
    top, left = y.floor().long(), x.floor().long()
    bottom, right = (top + 1).clamp(max=h - 1), (left + 1).clamp(max=w - 1)
    tb, lr = (y - top)[:, None], (x - left)[None, :]
    src = image.double()
    value = ((1 - tb) * ((1 - lr) * src[:, top][:, :, left] + lr * src[:, top][:, :, right])
             + tb * ((1 - lr) * src[:, bottom][:, :, left] + lr * src[:, bottom][:, :, right]))
    return value.trunc().to(torch.uint8)


class FaceDetector(nn.Module):
    """dlib's MMOD CNN face detector: an image -> face boxes with scores.

    Build it with :func:`load_face_detector`. Its weights are buffers that follow
    ``.to(device)``.

    Args:
        layers: the layers read by :func:`~coursekit.face.pretrained.dlib_net.read_dlib_network`.

    Shape:
        - input: ``(3, H, W)`` or grey ``(H, W)`` image, ``uint8`` or float in [0, 1], any size;
          or ``(B, 3, H, W)`` images of one size.
        - output: ``(boxes, scores)``: ``(N, 4)`` float32 boxes ``(left, top, right, bottom)`` in
          whole pixels (inclusive, as dlib's rectangles) and ``(N,)`` scores, best first; a list
          of such pairs for a batch.
    """

    def __init__(self, layers) -> None:
        super().__init__()
        if layers[0].kind != "input_rgb_image_pyramid" or layers[-1].kind != "loss_mmod":
            raise ValueError("expected an MMOD network on an RGB image pyramid")
        inp, loss = layers[0].params, layers[-1].params
        if loss["bbr"] or len(loss["windows"]) != 1:
            raise ValueError("only one detector window without box regression is supported")
        self.register_buffer("mean", torch.tensor(inp["mean"], dtype=torch.float32).reshape(3, 1, 1))
        self.padding, self.outer_padding = int(inp["padding"]), int(inp["outer_padding"])
        self.window = loss["windows"][0][:2]  # (width, height)
        self.nms_iou, self.nms_covered = loss["nms_iou"], loss["nms_covered"]
        # output pixel -> input pixel: p * stride - padding + kernel // 2, from the last layer down
        scale, offset = 1.0, 0.0
        for layer in reversed(layers[1:-1]):
            if layer.kind == "con":
                stride, pad = layer.params["stride"][0], layer.params["padding"][0]
                k = layer.params["weight"].shape[-1]
                scale, offset = scale * stride, offset * stride - pad + k // 2
        self.stride, self.offset = scale, offset
        self.net = DlibNetwork(layers)
        self.eval()

    def tiled_pyramid(self, images: torch.Tensor) -> tuple[torch.Tensor, list]:
        """The network's input: ``(B, 3, H, W)`` uint8-valued images -> ``(B, 3, H', W')`` tiled
        pyramid, normalised as dlib does (``(v - mean) / 256``), and the levels' rectangles."""
        b, _, h, w = images.shape
        rects, th, tw = tiled_pyramid_rects(h, w, padding=self.padding, outer_padding=self.outer_padding)
        out = images.new_zeros((b, 3, th, tw), dtype=torch.float32)
        level = (images.float() - self.mean.to(images.device)) / 256.0
        for i, (left, top, right, bottom) in enumerate(rects):
            if i > 0:
                level = F.interpolate(level, size=(bottom - top + 1, right - left + 1), mode="bilinear",
                                      align_corners=True)
            out[:, :, top:bottom + 1, left:right + 1] = level
        return out, rects

    def forward(self, image: torch.Tensor, *, upsample: int = 0, threshold: float = 0.0):
        single = image.dim() != 4
        images = to_uint8_image(image)[None] if single else torch.stack([to_uint8_image(x) for x in image])
        if upsample < 0:
            raise ValueError(f"upsample must be >= 0, got {upsample}")
        for _ in range(upsample):
            images = torch.stack([_pyramid_up(x) for x in images])
        with torch.inference_mode():
            tiled, rects = self.tiled_pyramid(images)
            scores = self.net(tiled)[:, 0]  # (B, h, w)
        results = [self._decode(s, rects, threshold, upsample) for s in scores]
        return results[0] if single else results

    def _decode(self, scores: torch.Tensor, rects: list, threshold: float, upsample: int):
        hits = torch.nonzero(scores > threshold).cpu().numpy()  # (M, 2): row, col
        values = scores[scores > threshold].float().cpu().numpy()
        dev = scores.device
        if len(hits) == 0:
            return torch.zeros(0, 4, device=dev), torch.zeros(0, device=dev)
        py = hits[:, 0] * self.stride + self.offset
        px = hits[:, 1] * self.stride + self.offset
        half_w, half_h = (self.window[0] - 1) / 2, (self.window[1] - 1) / 2
        box = np.stack([px - half_w, py - half_h, px + half_w, py + half_h], axis=1)  # tensor space
        # the level each window lies in: the first level containing its centre, else the nearest
        r = np.array(rects, dtype=np.float64)  # (L, 4)
        cx = np.floor((box[:, 0] + box[:, 2]) / 2 + 0.5)[:, None]
        cy = np.floor((box[:, 1] + box[:, 3]) / 2 + 0.5)[:, None]
        inside = (cx >= r[:, 0]) & (cx <= r[:, 2]) & (cy >= r[:, 1]) & (cy <= r[:, 3])
        dx, dy = np.clip(cx, r[:, 0], r[:, 2]) - cx, np.clip(cy, r[:, 1], r[:, 3]) - cy
        level = np.where(inside.any(1), inside.argmax(1), np.hypot(dx, dy).argmin(1))
        box = box - np.tile(r[level, :2], 2)
        for n in range(1, level.max() + 1):  # point_up: p * 6/5 + 0.3, once per level
            up = level >= n
            box[up] = box[up] * (6 / 5) + 0.3
        box = _lround(box)
        order = np.argsort(-values, kind="stable")
        keep: list[int] = []
        for i in order:
            if keep and self._overlaps(box[keep], box[i]).any():
                continue
            keep.append(i)
        box = box[keep]
        for _ in range(upsample):  # back to the original image: pyramid_down<2>::rect_down
            box = _lround(box / 2 - np.array([1.25, 0.75, 1.25, 0.75]))
        return (torch.tensor(box, dtype=torch.float32, device=dev),
                torch.tensor(values[keep], dtype=torch.float32, device=dev))

    def _overlaps(self, kept: np.ndarray, b: np.ndarray) -> np.ndarray:
        inter = np.concatenate([np.maximum(kept[:, :2], b[:2]), np.minimum(kept[:, 2:], b[2:])], axis=1)
        inner = _box_area(inter)
        union = np.concatenate([np.minimum(kept[:, :2], b[:2]), np.maximum(kept[:, 2:], b[2:])], axis=1)
        return (inner > 0) & ((inner / _box_area(union) > self.nms_iou)
                              | (inner / _box_area(kept) > self.nms_covered)
                              | (inner / _box_area(b) > self.nms_covered))


def load_face_detector(path: str | os.PathLike | None = None, *, cache: bool = True) -> FaceDetector:
    """Read dlib's CNN face detector from its ``.dat`` file.

    Args:
        path: the file (default: ``mmod_human_face_detector.dat`` from the installed
            ``face_recognition_models`` package).
        cache: keep the converted network in the course cache and read it from there while
            the file is unchanged (:mod:`~coursekit.face.pretrained.model_cache`); ``False``
            always decodes the file.

    Returns:
        The detector on the CPU, in ``eval`` mode.

    Raises:
        DlibFormatError: the file is not this network.

    Example:
        >>> from skimage import data
        >>> det = load_face_detector()
        >>> boxes, scores = det(torch.from_numpy(data.astronaut()).permute(2, 0, 1))
        >>> boxes.tolist()
        [[168.0, 69.0, 263.0, 164.0]]
    """
    path = path if path is not None else model_path("detector")
    return FaceDetector(read_dlib_network(path, detector_spec(), cache=cache))
