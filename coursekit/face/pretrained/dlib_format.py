"""Reading dlib's binary serialisation format (the ``.dat`` model files), from its public spec.

dlib (``dlib/serialize.h``, ``dlib/float_details.h``, ``dlib/cuda/tensor.h``) writes every
object as a plain sequence of a few primitive encodings, with no type tags:

* **integers** (signed or unsigned): a control byte whose high bit is the sign and whose low
  4 bits give the number ``n`` (1..8) of little-endian magnitude bytes that follow;
* **floating point** (float and double alike): two integers, a signed 64-bit ``mantissa`` and a
  signed 16-bit ``exponent``, meaning ``mantissa * 2**exponent`` (exponents 32000, 32001 and
  32002 stand for +inf, -inf and NaN);
* **strings**: an unsigned length, then the bytes; **bools**: the ASCII byte ``'1'`` or ``'0'``;
* **tensors** (``resizable_tensor``): version 2, then four integers ``(num_samples, k, nr, nc)``
  and the values as little-endian IEEE float32; **alias tensors**: version 1 and four integers;
* **matrices** (``matrix<T>``): ``-rows``, ``-cols`` (negated by the newer format), then the
  elements row by row; **vectors** (``std::vector``): a length, then the elements.

:class:`DlibReader` decodes these from bytes already in memory. It never executes anything
from the file; every read checks that enough bytes are left and raises
:class:`DlibFormatError` (a ``ValueError``) naming the offset and what was being read.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import torch

__all__ = ["DlibFormatError", "DlibReader", "floats_from_integers"]

_INF, _NINF, _NAN = 32000, 32001, 32002
# One integer: a control byte of size n (1..8, high bit the sign), then n bytes.
_INTEGER = re.compile(b"|".join(b"[" + bytes([n, n | 0x80]) + b"].{" + str(n).encode() + b"}"
                                for n in range(1, 9)), re.DOTALL)


class DlibFormatError(ValueError):
    """A file is not in dlib's format, is truncated, or holds something else than expected."""


class DlibReader:
    """A cursor over the bytes of a dlib-serialised object.

    Args:
        data: the file's bytes.
        name: how error messages name the source (the file path, say).

    Example:
        >>> r = DlibReader(bytes([0x01, 0x05, 0x81, 0x02, 0x01, 0x03, 0x61, 0x62, 0x63, 0x31]))
        >>> r.int(), r.int(), r.string(), r.bool()
        (5, -2, 'abc', True)
        >>> r.at_end()
        True
    """

    def __init__(self, data: bytes, *, name: str = "<bytes>") -> None:
        self.data = bytes(data)
        self.pos = 0
        self.name = name

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> DlibReader:
        """A reader over a whole file (read into memory once)."""
        path = Path(path)
        return cls(path.read_bytes(), name=str(path))

    # -- errors ------------------------------------------------------------------------------
    def error(self, message: str, *, at: int | None = None) -> DlibFormatError:
        """A :class:`DlibFormatError` naming the source and the byte offset."""
        return DlibFormatError(f"{self.name}: {message} (at byte {self.pos if at is None else at})")

    def _need(self, n: int, what: str) -> None:
        if self.pos + n > len(self.data):
            raise self.error(f"truncated file: {what} needs {n} more bytes, "
                             f"{len(self.data) - self.pos} left")

    def at_end(self) -> bool:
        """Whether every byte has been read."""
        return self.pos >= len(self.data)

    # -- primitives --------------------------------------------------------------------------
    def int(self, what: str = "an integer") -> int:
        """One integer (signed or unsigned: the encoding is the same)."""
        self._need(1, what)
        start = self.pos
        control = self.data[start]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise self.error(f"bad control byte 0x{control:02x} while reading {what}", at=start)
        self._need(1 + size, what)
        value = int.from_bytes(self.data[start + 1:start + 1 + size], "little")
        self.pos = start + 1 + size
        return -value if control & 0x80 else value

    def float(self, what: str = "a float") -> float:
        """One float or double (dlib's portable mantissa/exponent encoding)."""
        self._need(1, what)
        if self.data[self.pos] & 0x70:
            raise self.error(f"{what} is in dlib's old text format, which is not supported")
        mantissa = self.int(what)
        exponent = self.int(what)
        if exponent < _INF:
            return math.ldexp(float(mantissa), exponent)
        if exponent == _INF:
            return math.inf
        if exponent == _NINF:
            return -math.inf
        return math.nan

    def bool(self, what: str = "a bool") -> bool:
        """One bool: the byte ``'1'`` or ``'0'``."""
        self._need(1, what)
        byte = self.data[self.pos]
        if byte not in (0x30, 0x31):
            raise self.error(f"expected '0' or '1' for {what}, found byte 0x{byte:02x}")
        self.pos += 1
        return byte == 0x31

    def string(self, what: str = "a string") -> str:
        """One string (length, then bytes), decoded as Latin-1 so any byte is accepted."""
        n = self.int(f"the length of {what}")
        if n < 0:
            raise self.error(f"negative length {n} for {what}")
        self._need(n, what)
        s = self.data[self.pos:self.pos + n].decode("latin-1")
        self.pos += n
        return s

    def expect_string(self, *accepted: str, what: str = "a layer") -> str:
        """Read a string and check it is one of ``accepted`` (dlib's version tags)."""
        start = self.pos
        try:
            s = self.string(what)
        except DlibFormatError as e:
            raise self.error(f"expected {what} tagged {' or '.join(map(repr, accepted))}: {e}",
                             at=start) from None
        if s not in accepted:
            raise self.error(f"expected {what} tagged {' or '.join(map(repr, accepted))}, "
                             f"found {s[:40]!r}", at=start)
        return s

    def expect_int(self, *accepted: int, what: str = "a version number") -> int:
        """Read an integer and check it is one of ``accepted``."""
        start = self.pos
        v = self.int(what)
        if v not in accepted:
            raise self.error(f"expected {what} in {list(accepted)}, found {v}", at=start)
        return v

    # -- composites --------------------------------------------------------------------------
    def tensor(self, what: str = "a tensor") -> torch.Tensor:
        """A ``resizable_tensor``: ``(num_samples, k, nr, nc)`` float32 values."""
        self.expect_int(2, what=f"the version of {what}")
        shape = tuple(self.int(f"the shape of {what}") for _ in range(4))
        if min(shape) < 0:
            raise self.error(f"negative shape {shape} for {what}")
        n = math.prod(shape)
        self._need(4 * n, f"{what} of shape {shape}")
        values = np.frombuffer(self.data, dtype="<f4", count=n, offset=self.pos)
        self.pos += 4 * n
        return torch.from_numpy(values.astype(np.float32)).reshape(shape)

    def alias_tensor(self, what: str = "an alias tensor") -> tuple[int, int, int, int]:
        """An ``alias_tensor``: only its shape ``(num_samples, k, nr, nc)``."""
        self.expect_int(1, what=f"the version of {what}")
        return tuple(self.int(f"the shape of {what}") for _ in range(4))

    def matrix_shape(self, what: str = "a matrix") -> tuple[int, int]:
        """The ``(rows, cols)`` header of a ``dlib::matrix`` (either sign convention)."""
        return abs(self.int(f"the rows of {what}")), abs(self.int(f"the columns of {what}"))

    def float_matrix(self, what: str = "a matrix") -> np.ndarray:
        """A ``dlib::matrix`` of floats or doubles, as a float64 ``(rows, cols)`` array."""
        rows, cols = self.matrix_shape(what)
        return self.floats(rows * cols, what).reshape(rows, cols)

    def floats(self, n: int, what: str = "floats") -> np.ndarray:
        """``n`` consecutive floats as a float64 array."""
        out = np.empty(n, dtype=np.float64)
        for i in range(n):
            out[i] = self.float(what)
        return out

    def integers_to_end(self, what: str = "the rest of the file") -> np.ndarray:
        """Every remaining byte as a run of integers (for objects made only of integers and
        floats, like a shape predictor): an ``int64`` array, the cursor moved to the end.

        The scan runs in C (a regular expression that matches one integer at a time), so
        millions of numbers take a fraction of a second.
        """
        start = self.pos
        pieces = _INTEGER.findall(self.data, start)
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        if int(lengths.sum()) != len(self.data) - start:
            covered = start + int(lengths.sum())
            raise self.error(f"{what} is not a run of dlib integers (truncated or another kind "
                             f"of file)", at=covered)
        positions = start + np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        a = np.frombuffer(self.data + bytes(8), dtype=np.uint8)
        control = a[positions]
        size = control & 0x0F
        windows = np.lib.stride_tricks.sliding_window_view(a, 8)[positions + 1]  # (N, 8) bytes
        windows = windows * (np.arange(8) < size[:, None])  # zero the bytes past each number
        values = np.ascontiguousarray(windows, dtype=np.uint8).view("<u8")[:, 0]
        if (values >> np.uint64(63)).any():
            raise self.error(f"an integer in {what} does not fit in 63 bits")
        out = values.astype(np.int64)
        out[(control & 0x80) != 0] *= -1
        self.pos = len(self.data)
        return out


def floats_from_integers(mantissa: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """dlib floats from their ``(mantissa, exponent)`` integer pairs, as float64.

    Example:
        >>> floats_from_integers(np.array([3, 1, 0]), np.array([-1, 32000, 32002])).tolist()
        [1.5, inf, nan]
    """
    mantissa, exponent = np.asarray(mantissa), np.asarray(exponent)
    special = exponent >= _INF
    out = np.ldexp(mantissa.astype(np.float64), np.where(special, 0, exponent).astype(np.int32))
    out[exponent == _INF] = np.inf
    out[exponent == _NINF] = -np.inf
    out[exponent == _NAN] = np.nan
    return out
