"""Small 1-D and 3-D ConvNets for lesson 4.11.

* :class:`ECGPeakNet` — a fully convolutional 1-D network that maps an ECG (B, C, L) to one
  R-peak logit per sample (B, 1, L): dilated convolutions give a receptive field of about a
  third of a second at 360 Hz, enough to see a whole QRS complex (WaveNet-style dilation:
  van den Oord et al., "WaveNet: A generative model for raw audio", 2016).
* :class:`VolumeNet` — a 3-D classifier for volumes (B, C, D, H, W), three conv blocks and global
  average pooling, for MedMNIST 3-D data (Yang et al., "MedMNIST v2", Scientific Data 2023).

Both use torch's ``nn.Conv1d``/``nn.Conv3d`` by default; ``use_convnd=True`` swaps in the
from-scratch :class:`coursekit.conv.ConvNd` (same numbers, slower).
"""

from __future__ import annotations

import torch
from torch import nn

from coursekit.conv.convnd import ConvNd

__all__ = ["ECGPeakNet", "VolumeNet", "conv_layer"]


def conv_layer(
    n_dims: int,
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    use_convnd: bool = False,
) -> nn.Module:
    """A 1-D, 2-D or 3-D convolution layer: torch's, or :class:`ConvNd` when ``use_convnd``.

    Example:
        >>> conv_layer(1, 1, 16, 5)
        Conv1d(1, 16, kernel_size=(5,), stride=(1,))
        >>> type(conv_layer(3, 1, 16, 5, use_convnd=True)).__name__
        'ConvNd'
    """
    if use_convnd:
        return ConvNd(in_channels, out_channels, kernel_size, n_dims=n_dims, stride=stride,
                      padding=padding, dilation=dilation)
    layer = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}.get(n_dims)
    if layer is None:
        raise ValueError(f"n_dims must be 1, 2 or 3, got {n_dims}")
    return layer(in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation)


class ECGPeakNet(nn.Module):
    """Per-sample R-peak logits from an ECG, with dilated 1-D convolutions ('same' length).

    Args:
        in_channels: number of leads C.
        width: channels of the hidden layers.
        kernel_size: odd width of every filter.
        dilations: one hidden conv block per entry (receptive field 1 + (k−1)·Σd samples).
        use_convnd: use the from-scratch :class:`ConvNd` instead of ``nn.Conv1d``.

    Shape:
        input (B, C, L) → logits (B, 1, L).

    Example:
        >>> net = ECGPeakNet()
        >>> net(torch.randn(2, 1, 720)).shape
        torch.Size([2, 1, 720])
        >>> net.receptive_field
        121
    """

    def __init__(self, in_channels: int = 1, width: int = 16, kernel_size: int = 9,
                 dilations: tuple[int, ...] = (1, 2, 4, 8), *, use_convnd: bool = False) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep the length, got {kernel_size}")
        layers: list[nn.Module] = []
        channels = in_channels
        for d in dilations:
            layers += [conv_layer(1, channels, width, kernel_size, padding=d * (kernel_size - 1) // 2,
                                  dilation=d, use_convnd=use_convnd),
                       nn.BatchNorm1d(width), nn.ReLU()]
            channels = width
        layers.append(conv_layer(1, channels, 1, 1, use_convnd=use_convnd))
        self.net = nn.Sequential(*layers)
        self.receptive_field = 1 + (kernel_size - 1) * sum(dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"expected an ECG batch (B, C, L), got shape {tuple(x.shape)}")
        return self.net(x)


class VolumeNet(nn.Module):
    """A small 3-D ConvNet classifier: three conv–BN–ReLU blocks, pooling, a linear head.

    The first convolution has stride 2 (28³ → 14³), the second block ends in a 2×2×2 max-pool
    (→ 7³), and the third is averaged over the whole volume before the linear classifier.

    Args:
        in_channels: C.
        num_classes: number of outputs.
        width: channels of the first block (doubled in each later block).
        use_convnd: use the from-scratch :class:`ConvNd` instead of ``nn.Conv3d``.

    Shape:
        input (B, C, D, H, W) → logits (B, num_classes).

    Example:
        >>> VolumeNet()(torch.randn(2, 1, 28, 28, 28)).shape
        torch.Size([2, 2])
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: int = 8, *,
                 use_convnd: bool = False) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for i, out in enumerate((width, 2 * width, 4 * width)):
            blocks += [conv_layer(3, channels, out, 3, stride=2 if i == 0 else 1, padding=1,
                                  use_convnd=use_convnd),
                       nn.BatchNorm3d(out), nn.ReLU()]
            if i == 1:
                blocks.append(nn.MaxPool3d(2))
            channels = out
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"expected volumes (B, C, D, H, W), got shape {tuple(x.shape)}")
        h = self.features(x).mean(dim=(2, 3, 4))  # global average pool: (B, 4*width)
        return self.head(h)
