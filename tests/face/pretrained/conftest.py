"""A tiny writer of dlib's serialisation format (``dlib/serialize.h``), to hand-write test files,
and the dlib reference (``dlib-bin``) when it is installed."""

from __future__ import annotations

import math
import struct

import pytest


class DlibBytes:
    """Encoders for dlib's primitives; each returns ``bytes``."""

    @staticmethod
    def int(v: int) -> bytes:
        mag = abs(v).to_bytes(max(1, (abs(v).bit_length() + 7) // 8), "little")
        return bytes([len(mag) | (0x80 if v < 0 else 0)]) + mag

    @staticmethod
    def float(v: float) -> bytes:
        if math.isinf(v):
            return DlibBytes.int(0) + DlibBytes.int(32000 if v > 0 else 32001)
        if math.isnan(v):
            return DlibBytes.int(0) + DlibBytes.int(32002)
        m, e = math.frexp(v)
        mant, exp = int(m * 2**53), e - 53
        for _ in range(8):  # drop zero low bytes, as float_details does
            if mant & 0xFF:
                break
            mant >>= 8
            exp += 8
        return DlibBytes.int(mant) + DlibBytes.int(exp)

    @staticmethod
    def string(s: str) -> bytes:
        return DlibBytes.int(len(s)) + s.encode("latin-1")

    @staticmethod
    def bool(b: bool) -> bytes:
        return b"1" if b else b"0"

    @staticmethod
    def tensor(values, shape=None) -> bytes:
        values = [float(v) for v in values]
        shape = shape or (len(values), 1, 1, 1)
        head = DlibBytes.int(2) + b"".join(DlibBytes.int(s) for s in shape)
        return head + struct.pack(f"<{len(values)}f", *values)

    @staticmethod
    def alias(shape) -> bytes:
        return DlibBytes.int(1) + b"".join(DlibBytes.int(s) for s in shape)

    @staticmethod
    def floats(values) -> bytes:
        return b"".join(DlibBytes.float(v) for v in values)


@pytest.fixture
def dlib_bytes() -> type[DlibBytes]:
    return DlibBytes


@pytest.fixture(scope="session")
def dlib():
    """The dlib reference implementation, or a skip when ``dlib-bin`` is not installed."""
    return pytest.importorskip("dlib")
