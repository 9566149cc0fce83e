"""Shared fixtures: devices, dtypes with tolerances, RNG state, and an offline data setup."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="CUDA not available"))]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Each test runs on cpu, and on cuda when present (skipped otherwise)."""
    return torch.device(request.param)


@pytest.fixture(autouse=True, scope="session")
def ieee_float32_on_cuda():
    """The tests compare float32 results across devices at float32 tolerances, so on CUDA they
    turn TF32 off for convolutions and matrix products (torch lets cuDNN convolutions use TF32
    by default; see the TF32 policy in ``coursekit.runtime``). The library itself never sets
    these switches; the previous values are restored after the session."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.fixture(params=[torch.float32, torch.float64], ids=["f32", "f64"])
def dtype(request) -> torch.dtype:
    return request.param


@pytest.fixture
def tol(dtype) -> dict:
    """``rtol``/``atol`` for ``torch.testing.assert_close`` at the current dtype."""
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-9, "atol": 1e-10}


@pytest.fixture(autouse=True)
def restore_rng_state():
    """Every test leaves Python's, NumPy's and torch's global RNG as it found them."""
    py, npy, th = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    yield
    random.setstate(py)
    np.random.set_state(npy)
    torch.set_rng_state(th)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


@pytest.fixture
def no_data(monkeypatch):
    """No ``COURSEKIT_DATA`` and no network: every loader must use its synthetic fallback."""
    monkeypatch.delenv("COURSEKIT_DATA", raising=False)
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    monkeypatch.setenv("SCIKIT_LEARN_DATA", "/nonexistent-coursekit-test")


@pytest.fixture(autouse=True)
def _matplotlib_agg():
    import matplotlib

    matplotlib.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
