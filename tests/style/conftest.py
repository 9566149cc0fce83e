"""Shared fixtures for the style tests."""

import pytest
import torch

from coursekit.style import vgg19_features


@pytest.fixture(scope="module")
def net():
    """VGG19 on seeded random weights (fast, no meaningful features)."""
    return vgg19_features("random", device="cpu", generator=torch.Generator().manual_seed(0))


class EmulatedGraph:
    """Stands in for ``coursekit.style.graphed``'s CUDA graph on the CPU: recording runs nothing
    (as a capture runs no kernel), each replay runs the recorded function, ``fail`` makes
    recording raise the error a host read raises during a capture. ``check`` (optional) wraps
    each replay, e.g. in a dispatch mode that watches the operations a capture would record."""

    def __init__(self, fail: bool = False, check=None):
        self.fail, self.check = fail, check
        self.fn, self.recorded, self.replays = None, 0, 0

    def warmup(self):
        import contextlib

        return contextlib.nullcontext()

    def record(self, fn):
        self.recorded += 1
        if self.fail:  # as on CUDA: the failed operation, then capture_end's error on top
            try:
                raise RuntimeError("CUDA error: operation not permitted when stream is capturing\n"
                                   "CUDA kernel errors might be asynchronously reported ...")
            finally:
                raise RuntimeError("CUDA error: operation failed due to a previous error during "
                                   "capture")
        self.fn = fn

    def replay(self):
        self.replays += 1
        if self.check is None:
            self.fn()
        else:
            with self.check():
                self.fn()

    def mark(self, in_warmup=False):
        import time

        return time.perf_counter()

    @staticmethod
    def seconds(start, end):
        return end - start


@pytest.fixture
def emulated_graph(monkeypatch):
    """Install an :class:`EmulatedGraph` factory in ``coursekit.style.graphed``; returns the list
    of the graphs made, and a setter for their options."""
    from coursekit.style import graphed

    made: list[EmulatedGraph] = []
    options: dict = {}

    def new_graph(device):
        made.append(EmulatedGraph(**options))
        return made[-1]

    monkeypatch.setattr(graphed, "_new_graph", new_graph)
    return made, options
