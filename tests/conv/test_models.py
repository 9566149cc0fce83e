"""ECGPeakNet and VolumeNet: shapes, the convnd flag, bad arguments."""

from __future__ import annotations

import pytest
import torch

from coursekit.conv import (
    ECGPeakNet,
    VolumeNet,
    conv_layer,
)


@pytest.mark.parametrize("batch", [1, 3])
def test_shapes(batch, device):
    assert ECGPeakNet(in_channels=2).to(device)(torch.randn(batch, 2, 500, device=device)).shape == (
        batch, 1, 500)
    assert VolumeNet(num_classes=3).to(device)(torch.randn(batch, 1, 16, 16, 16, device=device)).shape == (
        batch, 3)


@pytest.mark.parametrize("cls,shape", [(ECGPeakNet, (2, 1, 300)), (VolumeNet, (2, 1, 12, 12, 12))])
def test_convnd_flag_gives_the_same_function(cls, shape):
    torch.manual_seed(0)
    ref, mine = cls(), cls(use_convnd=True)
    mine.load_state_dict(ref.state_dict())
    ref.eval()
    mine.eval()
    x = torch.randn(shape)
    torch.testing.assert_close(mine(x), ref(x), rtol=1e-4, atol=1e-5)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(B, C, L\)"):
        ECGPeakNet()(torch.zeros(1, 100))
    with pytest.raises(ValueError, match=r"\(B, C, D, H, W\)"):
        VolumeNet()(torch.zeros(1, 8, 8, 8))
    with pytest.raises(ValueError, match="odd"):
        ECGPeakNet(kernel_size=4)
    with pytest.raises(ValueError, match="n_dims"):
        conv_layer(4, 1, 1, 3)
