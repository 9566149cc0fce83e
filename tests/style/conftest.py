"""Shared fixtures for the style tests."""

import pytest
import torch

from coursekit.style import vgg19_features


@pytest.fixture(scope="module")
def net():
    """VGG19 on seeded random weights (fast, no meaningful features)."""
    return vgg19_features("random", device="cpu", generator=torch.Generator().manual_seed(0))
