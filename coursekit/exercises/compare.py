"""How a self-check describes values and compares a student's answer with the expected one.

Used by :mod:`coursekit.exercises.framework`: :func:`fmt` and :func:`describe` write the short
descriptions in a check's one-line report (tensors as shape plus a few rounded numbers);
:func:`compare` returns ``None`` on a match and otherwise the reason, e.g.
``"expected shape (3, 3), got (3,)"``.

Example:
    >>> compare(torch.ones(2), torch.ones(3), rtol=1e-4, atol=1e-5)
    'expected shape (3,), got (2,)'
    >>> fmt(torch.arange(6.0))
    'tensor (6,) [0.0, 1.0, 2.0, 3.0, …]'
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

__all__ = ["compare", "describe", "fmt"]


# ---------------------------------------------------------------------------------------------
# formatting


def _num(x: float) -> str:
    if isinstance(x, bool):
        return repr(x)
    if isinstance(x, numbers.Integral):
        return str(int(x))
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == int(x) and abs(x) < 1e6:
        return f"{x:.1f}"
    return f"{x:.4g}"


def fmt(value: Any, *, brief: bool = False) -> str:
    """A short description: tensors as shape plus a few rounded numbers (``brief``: shape only)."""
    if isinstance(value, torch.Tensor):
        t = value.detach()
        if t.dim() == 0:
            return _num(t.item()) if not t.dtype == torch.bool else repr(bool(t.item()))
        shape = "(" + ", ".join(str(s) for s in t.shape) + ("," if t.dim() == 1 else "") + ")"
        if brief or t.is_complex():
            return f"tensor {shape}"
        flat = t.reshape(-1)
        shown = ", ".join(_num(v) for v in flat[:4].tolist())
        more = ", …" if flat.numel() > 4 else ""
        return f"tensor {shape} [{shown}{more}]"
    if isinstance(value, dict):
        items = ", ".join(f"{k!r}: {fmt(v, brief=True)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, tuple | list):
        inner = ", ".join(fmt(v, brief=brief) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return _num(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fmt_input(value: Any) -> str:
    small = not isinstance(value, torch.Tensor) or value.numel() <= 6
    return fmt(value, brief=not small)


def describe(args: tuple, kwargs: dict) -> str:
    """The inputs of a case: small tensors with their values, larger ones as shapes."""
    parts = [_fmt_input(a) for a in args] + [f"{k}={_fmt_input(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# comparison


def _as_float(value: Any) -> float | None:
    """A real number from a Python/NumPy number or a one-element tensor; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.dtype == torch.bool:
        return float(value.detach().reshape(()).item())
    if hasattr(value, "item") and getattr(value, "size", None) == 1:  # numpy scalar / array
        try:
            return float(value.item())
        except (TypeError, ValueError):
            return None
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype == torch.bool:
        return bool(value.item())
    if type(value).__name__ == "bool_":  # numpy.bool_
        return bool(value)
    return None


def compare(got: Any, expected: Any, rtol: float, atol: float) -> str | None:
    """``None`` when ``got`` matches ``expected``, otherwise a short reason."""
    if expected is None:
        return None if got is None else "expected None"
    if isinstance(expected, bool):
        b = _as_bool(got)
        if b is None:
            return "expected True or False"
        return None if b == expected else "wrong truth value"
    if isinstance(expected, str):
        return None if got == expected else "wrong value"
    if isinstance(expected, numbers.Integral):
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            f = _as_float(got)
            if f is not None and f == expected:
                return "expected an int, got a float"
            return "wrong value"
        return None if int(got) == int(expected) else "wrong value"
    if isinstance(expected, numbers.Real):
        f = _as_float(got)
        if f is None:
            if isinstance(got, torch.Tensor):
                return f"expected a single number, got a tensor of shape {tuple(got.shape)}"
            return "expected a number"
        if math.isnan(f):
            return "got nan"
        return None if math.isclose(f, float(expected), rel_tol=rtol, abs_tol=atol) else "wrong value"
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return "expected a tensor"
        if tuple(got.shape) != tuple(expected.shape):
            return f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
        g, e = got.detach().cpu().double(), expected.detach().cpu().double()
        if torch.isnan(g).any() and not torch.isnan(e).any():
            return "got nan"
        return None if torch.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True) else "wrong values"
    if isinstance(expected, tuple):
        if not isinstance(got, tuple | list) or len(got) != len(expected):
            return f"expected a tuple of {len(expected)} values"
        for g, e in zip(got, expected):
            reason = compare(g, e, rtol, atol)
            if reason is not None:
                return reason
        return None
    return None if got == expected else "wrong value"
