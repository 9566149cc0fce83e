"""The one timer the benchmark scripts share: median wall time of repeated calls."""

from __future__ import annotations

import ctypes
import ctypes.util
import statistics
import time
from collections.abc import Callable

import torch

__all__ = ["median_seconds", "steady_allocator"]


def median_seconds(fn: Callable[[], object], repeats: int, device: torch.device | None = None) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls, after one warm-up call.

    On a CUDA ``device`` the GPU is synchronised before and after each call, so queued
    kernels are counted.
    """
    sync = torch.cuda.synchronize if device is not None and device.type == "cuda" else (lambda: None)
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def steady_allocator() -> bool:
    """Keep freed memory in the process (glibc ``mallopt``), so that repeated calls reuse it.

    By default glibc returns large freed blocks to the system and adapts its thresholds as the
    program runs, so whether a call's multi-MB outputs land on fresh pages (a page fault per 4 KiB,
    slow in a virtual machine) depends on what ran before: the same ``conv3d`` measured 2.8 ms or
    7.5 ms in one process. Fixed thresholds give every implementation warm memory. Returns whether
    the settings were applied (False off glibc).
    """
    path = ctypes.util.find_library("c")
    libc = ctypes.CDLL(path) if path else None
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    mmap_ok = libc.mallopt(m_mmap_threshold, 32 * 2**20)  # glibc's largest: 32 MiB
    return bool(mmap_ok) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
