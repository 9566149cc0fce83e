"""augment_faces: shapes, range, device and seed; no change when every amount is zero."""

import pytest
import torch

from coursekit.face import augment_faces


def test_augment_shapes_range_and_seed(device):
    x = torch.rand(6, 1, 32, 32, device=device)
    a = augment_faces(x, generator=torch.Generator().manual_seed(0))
    b = augment_faces(x, generator=torch.Generator().manual_seed(0))
    assert a.shape == x.shape and a.device.type == device.type
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    still = augment_faces(x, max_shift=0, max_rotation=0, max_zoom=0, flip=False, brightness=0,
                          contrast=0)
    torch.testing.assert_close(still, x, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r"\(1, 32, 32\)"):
        augment_faces(x[0])
