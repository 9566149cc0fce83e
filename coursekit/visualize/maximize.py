"""Activation maximisation, lesson 4.7: the image a unit would like to see.

Instead of searching a collection for the patches that excite a unit (Zeiler & Fergus), start
from a grey image and climb the gradient of the unit's activation with respect to the pixels
(Erhan et al., 2009; Simonyan, Vedaldi & Zisserman, 2013). Plain gradient ascent finds
high-frequency noise that the network loves but we cannot read, so we use the usual
regularisers (Olah, Mordvintsev & Schubert, "Feature Visualization", Distill 2017):

* **frequency penalty** — the image is parameterised by its 2-D Fourier spectrum, each
  frequency :math:`f` scaled by :math:`1/\\max(f, 1/S)^{\\gamma}` (``decay_power`` :math:`\\gamma`),
  so gradient steps change low frequencies much more than high ones;
* **decorrelated colours** — the three channels are mixed by the square root of ImageNet's
  colour covariance, so the optimiser moves along natural colour directions; a sigmoid keeps
  pixels in [0, 1];
* **jitter** — the image is shifted by a random few pixels at every step, so the result must
  excite the unit wherever it sits, not rely on one exact pixel alignment.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from coursekit.visualize.activations import eval_mode, layer_activations, place_model

__all__ = ["activation_maximization", "fourier_image"]

# Square root of ImageNet's RGB colour covariance (from its SVD), as in Lucid; columns scaled
# so the largest has norm 1.
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR_SQRT = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


def _spectrum_scale(h: int, w: int, decay_power: float, device, dtype) -> Tensor:
    fy = torch.fft.fftfreq(h, device=device, dtype=dtype)[:, None]
    fx = torch.fft.rfftfreq(w, device=device, dtype=dtype)[None, :]
    freq = (fy**2 + fx**2).sqrt()  # (H, W//2 + 1), cycles per pixel
    return 1.0 / freq.clamp_min(1.0 / max(h, w)) ** decay_power


def fourier_image(spectrum: Tensor, size: tuple[int, int], *, decay_power: float = 1.0) -> Tensor:
    """Render an image from its (scaled) Fourier parameters.

    Args:
        spectrum: ``(2, C, H, W // 2 + 1)``: real and imaginary parts.
        size: ``(H, W)``.
        decay_power: the frequency penalty :math:`\\gamma` (0: every frequency alike, like
            optimising pixels directly).

    Returns:
        ``(C, H, W)`` in (0, 1); with ``C = 3`` the colours are decorrelated as in Lucid.

    Example:
        >>> x = fourier_image(torch.zeros(2, 3, 8, 5), (8, 8))
        >>> tuple(x.shape), round(float(x.mean()), 2)
        ((3, 8, 8), 0.5)
    """
    h, w = size
    if spectrum.ndim != 4 or spectrum.shape[0] != 2 or spectrum.shape[-2:] != (h, w // 2 + 1):
        raise ValueError(f"expected a spectrum (2, C, {h}, {w // 2 + 1}) for size {size}, "
                         f"got {tuple(spectrum.shape)}")
    scale = _spectrum_scale(h, w, decay_power, spectrum.device, spectrum.dtype)
    z = torch.complex(spectrum[0], spectrum[1]) * scale  # (C, H, W//2 + 1)
    x = torch.fft.irfft2(z, s=(h, w), norm="ortho")  # (C, H, W)
    if x.shape[0] == 3:
        colour = _COLOR_SQRT.to(device=x.device, dtype=x.dtype)
        x = torch.einsum("ij,jhw->ihw", colour, x)
    return torch.sigmoid(x)


def _in_channels(model) -> int:
    if isinstance(model, nn.Sequential):
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                return m.in_channels
    return 3


def activation_maximization(
    model,
    layer: str,
    unit: int,
    num_steps: int = 128,
    *,
    size: int | tuple[int, int] = 128,
    lr: float = 0.05,
    jitter: int = 8,
    decay_power: float = 1.0,
    objective: str = "channel",
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> Tensor:
    """An image that excites one unit strongly, by regularised gradient ascent.

    Args:
        model: a feature model (``VGG19Features`` or an ``nn.Sequential``, see
            :mod:`coursekit.visualize.patches`); its weights are not changed.
        layer: the layer's name.
        unit: the channel index.
        num_steps: gradient steps (Adam).
        size: ``H = W`` (int) or ``(H, W)`` of the image.
        lr: Adam's learning rate on the Fourier parameters.
        jitter: largest random shift in pixels per step (0: none).
        decay_power: frequency penalty, see :func:`fourier_image` (1 is a good default; larger
            gives smoother images).
        objective: ``"channel"`` maximises the unit's mean over all positions (a pattern that
            tiles the image); ``"center"`` only the unit at the centre of the feature map (a
            single receptive field's worth of pattern).
        generator: seeds the initial spectrum and the jitter.
        device: where to run; ``None``: where the model's parameters are.
        progress: show a progress bar.

    Returns:
        ``(C, H, W)`` in [0, 1] on ``device`` (``C`` = the model's input channels).

    Raises:
        ValueError: bad ``num_steps``, ``objective`` or ``unit``.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
        >>> img = activation_maximization(net, "1", 2, 3, size=16, progress=False)
        >>> tuple(img.shape), bool(0 <= img.min() and img.max() <= 1)
        ((3, 16, 16), True)
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be positive, got {num_steps}")
    if objective not in ("channel", "center"):
        raise ValueError(f"objective must be 'channel' or 'center', got {objective!r}")
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    dev = place_model(model, device)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    c = _in_channels(model)
    init = torch.randn(2, c, h, w // 2 + 1, generator=g) * 0.01
    spectrum = init.to(dev).requires_grad_(True)
    opt = torch.optim.Adam([spectrum], lr=lr)
    shifts = torch.randint(-jitter, jitter + 1, (num_steps, 2), generator=g).tolist()
    with eval_mode(model):
        for step in tqdm(range(num_steps), disable=not progress, desc=f"{layer}:{unit}",
                         leave=False):
            x = fourier_image(spectrum, (h, w), decay_power=decay_power)
            if jitter:
                x = torch.roll(x, shifts=tuple(shifts[step]), dims=(-2, -1))
            act = layer_activations(model, x[None], [layer])[layer]  # (1, C_l, h_l, w_l)
            if not 0 <= unit < act.shape[1]:
                raise ValueError(f"layer {layer!r} has {act.shape[1]} units, got unit {unit}")
            a = act[0, unit]
            value = a.mean() if objective == "channel" else a[a.shape[0] // 2, a.shape[1] // 2]
            (grad,) = torch.autograd.grad(-value, [spectrum])  # model weights get no .grad
            spectrum.grad = grad
            opt.step()
            opt.zero_grad(set_to_none=True)
    return fourier_image(spectrum.detach(), (h, w), decay_power=decay_power)
