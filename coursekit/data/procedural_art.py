"""Procedural paintings: the style images used when the real artworks are not available.

Three generators, each ``fn(size, *, generator) -> (3, H, W)`` float32 in [0, 1]:

* :func:`starry_swirls`: brush strokes that follow a swirling flow field (line integral
  convolution of coarse noise along the field, Cabral & Leedom, 1993), coloured with a palette:
  ``"night"`` (blue sky, yellow stars), ``"wave"``, ``"scream"`` or ``"storm"``;
* :func:`kandinsky_shapes`: circles with rings, black lines, triangles, a chequerboard and arcs
  on a washed background, after Kandinsky's abstract compositions;
* :func:`stained_glass`: a Voronoi mosaic of jewel-coloured glass pieces with dark leading.

They are stand-ins with strong, distinct textures and colours, so style transfer still shows
something recognisable offline; they are not copies of any painting.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter
from torch import Tensor

__all__ = ["SWIRL_PALETTES", "kandinsky_shapes", "stained_glass", "starry_swirls"]

SWIRL_PALETTES: dict[str, dict[str, tuple]] = {
    # colour stops from the top of the image to the bottom, and the swirl-centre highlight
    "night": {"stops": ((0.10, 0.18, 0.45), (0.22, 0.38, 0.72), (0.30, 0.48, 0.78),
                        (0.12, 0.22, 0.48), (0.04, 0.08, 0.16)), "glow": (0.98, 0.86, 0.35)},
    "wave": {"stops": ((0.90, 0.84, 0.68), (0.80, 0.78, 0.68), (0.10, 0.22, 0.42),
                       (0.28, 0.48, 0.66), (0.86, 0.90, 0.94)), "glow": (0.97, 0.97, 0.95)},
    "scream": {"stops": ((0.95, 0.52, 0.15), (0.86, 0.26, 0.10), (0.96, 0.74, 0.30),
                         (0.20, 0.30, 0.55), (0.28, 0.22, 0.16)), "glow": (0.98, 0.82, 0.40)},
    "storm": {"stops": ((0.78, 0.72, 0.50), (0.55, 0.50, 0.38), (0.30, 0.34, 0.30),
                        (0.62, 0.60, 0.50), (0.20, 0.20, 0.18)), "glow": (0.95, 0.92, 0.80)},
}
"""Colour stops (top to bottom) and highlight colour of each :func:`starry_swirls` palette."""


def _hw(size: int | tuple[int, int], aspect: float = 0.75) -> tuple[int, int]:
    """An int is the longer side of a landscape image with height/width ``aspect``."""
    if isinstance(size, int):
        return max(8, round(size * aspect)), max(8, size)
    return int(size[0]), int(size[1])


def _gen(generator: torch.Generator | None) -> torch.Generator:
    return generator if generator is not None else torch.Generator().manual_seed(0)


def _gradient(stops: tuple, v: Tensor) -> Tensor:
    """Piecewise-linear colour map: ``v`` (H, W) in [0, 1] -> (3, H, W)."""
    c = torch.tensor(stops, dtype=torch.float32)  # (S, 3)
    pos = v.clamp(0, 1) * (len(stops) - 1)
    i = pos.floor().long().clamp(max=len(stops) - 2)
    f = (pos - i).unsqueeze(-1)
    return (c[i] * (1 - f) + c[i + 1] * f).permute(2, 0, 1)


def starry_swirls(size: int | tuple[int, int] = 512, *, generator: torch.Generator | None = None,
                  palette: str = "night") -> Tensor:
    """Swirling brush strokes in the manner of Van Gogh's night skies.

    Args:
        size: ``(H, W)``, or an int for a landscape image with that longer side.
        generator: seeds the vortices and the strokes.
        palette: a key of :data:`SWIRL_PALETTES`.

    Returns:
        ``(3, H, W)`` float32 in [0, 1].

    Example:
        >>> tuple(starry_swirls(40, generator=torch.Generator().manual_seed(0)).shape)
        (3, 30, 40)
    """
    if palette not in SWIRL_PALETTES:
        raise ValueError(f"unknown palette {palette!r}; available: {', '.join(SWIRL_PALETTES)}")
    h, w = _hw(size)
    g = _gen(generator)
    s = max(h, w)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    # flow field: a gentle wind plus a few vortices (big swirls) and small ones (stars)
    vx = 0.35 + 0.15 * torch.sin(yy / s * 9.0)
    vy = 0.12 * torch.sin(xx / s * 7.0 + 1.0)
    glow = torch.zeros(h, w)
    n_big = 3
    centres = torch.rand(n_big + 6, 2, generator=g)
    for k, (cy, cx) in enumerate(centres.tolist()):
        big = k < n_big
        cy, cx = (0.2 + 0.35 * cy) * h if big else 0.55 * cy * h, cx * w
        radius = (0.16 if big else 0.05) * s
        dy, dx = yy - cy, xx - cx
        r2 = dy**2 + dx**2
        fall = torch.exp(-r2 / (2 * radius**2))
        spin = (1.0 if k % 2 == 0 else -1.0) * (2.5 if big else 1.5)
        vx, vy = vx - spin * dy / radius * fall, vy + spin * dx / radius * fall
        glow = torch.maximum(glow, torch.exp(-r2 / (2 * (radius * (0.35 if big else 0.45)) ** 2)))
    norm = (vx**2 + vy**2).sqrt().clamp_min(1e-6)
    vx, vy = vx / norm, vy / norm
    # coarse noise (one value per "bristle" of 3 px) smeared along the field: brush strokes
    cell = max(2, s // 170)
    noise = torch.rand(1, 1, h // cell + 1, w // cell + 1, generator=g)
    noise = F.interpolate(noise, scale_factor=cell, mode="nearest")[0, 0, :h, :w]
    length = max(4, s // 40)
    acc, py0, px0 = noise.clone(), yy.clone(), xx.clone()
    for direction in (1.0, -1.0):
        py, px = py0.clone(), px0.clone()
        for _ in range(length):
            iy, ix = py.round().long().clamp(0, h - 1), px.round().long().clamp(0, w - 1)
            py, px = py + direction * vy[iy, ix], px + direction * vx[iy, ix]
            iy, ix = py.round().long().clamp(0, h - 1), px.round().long().clamp(0, w - 1)
            acc = acc + noise[iy, ix]
    strokes = acc / (2 * length + 1)
    strokes = ((strokes - strokes.mean()) / strokes.std().clamp_min(1e-6)).clamp(-2.5, 2.5) / 2.5
    pal = SWIRL_PALETTES[palette]
    height = yy / (h - 1 if h > 1 else 1) + 0.08 * strokes + 0.05 * torch.sin(xx / s * 11.0)
    img = _gradient(pal["stops"], height)
    img = img * (1.0 + 0.35 * strokes)  # light and dark strokes
    glow = (glow * (0.7 + 0.5 * strokes)).clamp(0, 1)
    img = img * (1 - glow) + torch.tensor(pal["glow"]).view(3, 1, 1) * glow
    return img.clamp(0.0, 1.0)


def _pil_to_tensor(img: Image.Image) -> Tensor:
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)


def kandinsky_shapes(size: int | tuple[int, int] = 512, *, generator: torch.Generator | None = None
                     ) -> Tensor:
    """Abstract composition: ringed circles, black lines, triangles, a chequerboard, arcs.

    Args:
        size: ``(H, W)``, or an int for a landscape image with that longer side.
        generator: seeds the composition.

    Returns:
        ``(3, H, W)`` float32 in [0, 1].

    Example:
        >>> tuple(kandinsky_shapes((24, 32)).shape)
        (3, 24, 32)
    """
    h, w = _hw(size)
    g = _gen(generator)
    rnd = iter(torch.rand(4000, generator=g).tolist())

    def u(lo: float = 0.0, hi: float = 1.0) -> float:
        return lo + (hi - lo) * next(rnd)

    colours = [(214, 40, 40), (247, 187, 38), (30, 78, 160), (20, 20, 20), (46, 139, 87),
               (232, 110, 40), (120, 60, 140), (90, 170, 210), (240, 230, 210)]

    def pick() -> tuple[int, int, int]:
        return colours[int(u() * len(colours)) % len(colours)]

    H, W = 2 * h, 2 * w  # draw at twice the size, then downsample (anti-aliasing)
    m = min(H, W)
    wash = Image.new("RGB", (W, H), (236, 226, 200))
    d = ImageDraw.Draw(wash)
    for _ in range(7):  # soft coloured washes
        cx, cy, r = u(0, W), u(0, H), u(0.15, 0.4) * m
        c = pick()
        soft = tuple(int(0.45 * v + 0.55 * b) for v, b in zip(c, (236, 226, 200)))
        d.ellipse([cx - r, cy - r * u(0.5, 1.2), cx + r, cy + r * u(0.5, 1.2)], fill=soft)
    img = wash.filter(ImageFilter.GaussianBlur(m * 0.06))
    d = ImageDraw.Draw(img, "RGBA")
    for _ in range(4):  # chequerboard patches
        x0, y0, n, cs = u(0, W * 0.8), u(0, H * 0.8), 4, u(0.02, 0.04) * m
        c1, c2 = pick(), pick()
        for i in range(n):
            for j in range(n):
                c = c1 if (i + j) % 2 else c2
                d.rectangle([x0 + i * cs, y0 + j * cs, x0 + (i + 1) * cs, y0 + (j + 1) * cs], fill=c + (220,))
    for _ in range(5):  # translucent triangles
        pts = [(u(0, W), u(0, H)) for _ in range(3)]
        d.polygon(pts, fill=pick() + (150,))
    for _ in range(6):  # circles with concentric rings, the largest first
        cx, cy, r = u(0.1, 0.9) * W, u(0.1, 0.9) * H, u(0.05, 0.18) * m
        for ring in range(int(u(1, 4))):
            rr = r * (1 - 0.3 * ring)
            d.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=pick() + (235,), outline=(15, 15, 15, 255),
                      width=max(1, int(m * 0.004)))
    for _ in range(12):  # straight black lines of varied weight
        x0, y0 = u(0, W), u(0, H)
        ang, ln = u(0, math.pi), u(0.2, 0.7) * m
        d.line([x0, y0, x0 + ln * math.cos(ang), y0 + ln * math.sin(ang)], fill=(15, 15, 15, 255),
               width=max(1, int(u(0.002, 0.012) * m)))
    for _ in range(6):  # arcs
        cx, cy, r = u(0, W), u(0, H), u(0.1, 0.3) * m
        a0 = u(0, 360)
        d.arc([cx - r, cy - r, cx + r, cy + r], a0, a0 + u(60, 180), fill=pick() + (255,),
              width=max(2, int(0.01 * m)))
    for _ in range(25):  # small dots
        cx, cy, r = u(0, W), u(0, H), u(0.004, 0.015) * m
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=pick() + (255,))
    img = img.resize((w, h), Image.LANCZOS)
    return _pil_to_tensor(img).clamp(0.0, 1.0)


def stained_glass(size: int | tuple[int, int] = 512, *, generator: torch.Generator | None = None,
                  cell: float = 0.07) -> Tensor:
    """A stained-glass window: Voronoi pieces of jewel-coloured glass held by dark leading.

    Args:
        size: ``(H, W)``, or an int for a landscape image with that longer side.
        generator: seeds the pieces and their colours.
        cell: the typical piece size as a fraction of the longer side.

    Returns:
        ``(3, H, W)`` float32 in [0, 1].

    Example:
        >>> tuple(stained_glass(32).shape)
        (3, 24, 32)
    """
    h, w = _hw(size)
    g = _gen(generator)
    s = max(h, w)
    step = max(3.0, cell * s)
    gy, gx = torch.meshgrid(torch.arange(0, h + step, step), torch.arange(0, w + step, step), indexing="ij")
    pts = torch.stack([gy.flatten(), gx.flatten()], 1)  # (K, 2) on a jittered grid
    pts = pts + (torch.rand(pts.shape, generator=g) - 0.5) * step * 0.9
    jewels = torch.tensor([(0.70, 0.08, 0.12), (0.10, 0.20, 0.65), (0.05, 0.50, 0.25), (0.95, 0.65, 0.10),
                           (0.45, 0.12, 0.55), (0.10, 0.60, 0.65), (0.85, 0.35, 0.10), (0.90, 0.85, 0.55)])
    colour = jewels[torch.randint(len(jewels), (len(pts),), generator=g)]  # (K, 3)
    colour = colour * (0.75 + 0.4 * torch.rand(len(pts), 1, generator=g))
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    pix = torch.stack([yy.flatten(), xx.flatten()], 1)  # (H*W, 2)
    dist = torch.cdist(pix, pts)  # (H*W, K)
    two = dist.topk(2, dim=1, largest=False)
    nearest = two.indices[:, 0]
    edge = (two.values[:, 1] - two.values[:, 0]).view(h, w)  # distance to the nearest border, x2
    img = colour[nearest].view(h, w, 3).permute(2, 0, 1)
    # glass texture: light falls off towards each piece's edge, plus fine mottling
    shade = (edge / step).clamp(0, 0.5) * 0.6 + 0.7
    mottle = F.interpolate(torch.rand(1, 1, h // 3 + 1, w // 3 + 1, generator=g), size=(h, w),
                           mode="bilinear", align_corners=False)[0, 0]
    img = img * shade * (0.85 + 0.3 * mottle)
    window = 1.15 - 0.35 * (((yy / h - 0.5) ** 2 + (xx / w - 0.5) ** 2).sqrt() * 1.4)  # backlight
    img = img * window
    lead = (edge < max(1.5, 0.008 * s)).float()
    img = img * (1 - lead) + 0.06 * lead
    return img.clamp(0.0, 1.0)
