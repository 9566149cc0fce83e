"""Colour preservation helpers: YIQ conversion and luminance matching."""

from __future__ import annotations

import pytest
import torch

from coursekit.style import match_luminance, rgb_to_yiq, yiq_to_rgb


def test_yiq_round_trip_and_luminance_matching():
    x = torch.rand(2, 3, 5, 6, dtype=torch.float64)
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(x)), x)
    grey = torch.full((3, 4, 4), 0.3)
    assert torch.allclose(rgb_to_yiq(grey)[0], torch.full((4, 4), 0.3), atol=1e-6)
    y = match_luminance(torch.rand(3, 9, 9), torch.rand(3, 4, 4) * 0.5)
    assert y.shape == (3, 9, 9) and torch.equal(y[0], y[1])
    with pytest.raises(ValueError, match="3, H, W"):
        rgb_to_yiq(torch.rand(4, 4))
