"""The machinery shared by every self-check: cases, running them, one-line reports.

Every ``check_*`` module builds on this one (a new exercise's check included): describe the
cases with :class:`Case` and :class:`Mistake`, draw inputs with :func:`randn`/:func:`rand`/
:func:`floats`, and return :func:`run_check`'s result.

A check is a list of :class:`Case` objects run by :func:`run_check`. Each case calls the student's
function on fresh copies of its inputs, compares the result with the expected value, and on a
mismatch looks through the case's known mistakes (the value a classic slip would give) to pick the
matching hint (values are described and compared by :func:`_describe` and :func:`_compare`). A
check prints exactly one line and returns ``True``/``False``; it never raises, except in grading
mode (``COURSEKIT_GRADING=1``, see :func:`grading_mode`), where a failure raises
``AssertionError`` with the same line, for nbgrader or otter-grader to score.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import numbers
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["GRADING_ENV", "NOT_IMPLEMENTED", "Case", "CheckResult", "Mistake", "floats", "gen",
           "grading_mode", "rand", "randn", "run_check"]

NOT_IMPLEMENTED = "not implemented yet — fill in the cell above and run it again"


@dataclass(frozen=True)
class Mistake:
    """The result a classic mistake would produce on a case, and the hint that names it."""

    value: Any
    hint: str


@dataclass
class Case:
    """One input of a check.

    Attributes:
        name: short name printed on failure (it says what the case is built to expose).
        args: positional arguments; deep-copied before each call, so the student's function
            can neither change the expected value nor the next case.
        expected: the right result (tensor, float, int, bool, None, str, or tuples of these).
        hint: printed when the result is wrong and no known mistake matches.
        kwargs: keyword arguments, copied like ``args``.
        mistakes: results of classic mistakes on these inputs, each with its own hint.
        call: replaces the plain call ``fn(*args, **kwargs)``, e.g. to also run a backward pass.
        inputs: description of the inputs; built from ``args``/``kwargs`` when empty.
        rtol, atol: tolerances for floating-point values.
    """

    name: str
    args: tuple
    expected: Any
    hint: str
    kwargs: dict = field(default_factory=dict)
    mistakes: Sequence[Mistake] = ()
    call: Callable[[Callable, tuple, dict], Any] | None = None
    inputs: str = ""
    rtol: float = 1e-4
    atol: float = 1e-5


def gen(seed: int) -> torch.Generator:
    """A local generator, so a check never reads or moves the global RNG state."""
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, seed: int) -> torch.Tensor:
    """A float32 normal tensor drawn from a local generator."""
    return torch.randn(*shape, generator=gen(seed))


def rand(*shape: int, seed: int) -> torch.Tensor:
    """A float32 uniform [0, 1) tensor drawn from a local generator."""
    return torch.rand(*shape, generator=gen(seed))


def floats(*values: float) -> torch.Tensor:
    """A float32 vector of the given values, e.g. ``floats(3, 4, 0)`` for a hand-made case."""
    return torch.tensor(values, dtype=torch.float32)


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


def _fmt(value: Any, *, brief: bool = False) -> str:
    """A short description: tensors as shape plus a few rounded numbers (``brief``: shape only).

    Example:
        >>> _fmt(torch.arange(6.0))
        'tensor (6,) [0.0, 1.0, 2.0, 3.0, …]'
    """
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
        items = ", ".join(f"{k!r}: {_fmt(v, brief=True)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, tuple | list):
        inner = ", ".join(_fmt(v, brief=brief) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return _num(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fmt_input(value: Any) -> str:
    small = not isinstance(value, torch.Tensor) or value.numel() <= 6
    return _fmt(value, brief=not small)


def _describe(args: tuple, kwargs: dict) -> str:
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


def _compare(got: Any, expected: Any, rtol: float, atol: float) -> str | None:
    """``None`` when ``got`` matches ``expected``, otherwise a short reason.

    Example:
        >>> _compare(torch.ones(2), torch.ones(3), rtol=1e-4, atol=1e-5)
        'expected shape (3,), got (2,)'
    """
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
            reason = _compare(g, e, rtol, atol)
            if reason is not None:
                return reason
        return None
    return None if got == expected else "wrong value"


# ---------------------------------------------------------------------------------------------
# running


def _error_text(err: BaseException) -> str:
    message = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if len(message) > 100:
        message = message[:97] + "..."
    return f"{type(err).__name__}: {message}" if message else type(err).__name__


@dataclass
class _Outcome:
    """What the student's function did on one case."""

    got: Any = None
    error: BaseException | None = None
    not_implemented: bool = False


def _call(fn: Callable, case: Case) -> _Outcome:
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    try:
        # the one-line report is the whole output: no warnings or debug prints in between
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            got = case.call(fn, args, kwargs) if case.call else fn(*args, **kwargs)
    except NotImplementedError:
        return _Outcome(not_implemented=True)
    except Exception as err:  # noqa: BLE001 - any error in the student's code is a failed case
        return _Outcome(error=err)
    return _Outcome(got=got)


def _matches(outcome: _Outcome, value: Any, case: Case) -> bool:
    if outcome.error is not None:
        return False
    try:
        return _compare(outcome.got, value, case.rtol, case.atol) is None
    except Exception:  # noqa: BLE001 - an odd return type matches nothing
        return False


def _pick_hint(index: int, cases: Sequence[Case], outcomes: Sequence[_Outcome]) -> str | None:
    """The hint of the known mistake that explains the failing case ``index`` — when several
    mistakes give the same value there, the one that also explains the most other cases."""
    case, outcome = cases[index], outcomes[index]
    candidates = [m.hint for m in case.mistakes if _matches(outcome, m.value, case)]
    best, fewest = None, len(cases) + 1
    for hint in dict.fromkeys(candidates):
        contradictions = 0  # cases where this mistake would have given another result
        for other, result in zip(cases, outcomes):
            values = [m.value for m in other.mistakes if m.hint == hint]
            contradictions += bool(values) and not any(_matches(result, v, other) for v in values)
        if contradictions < fewest:
            best, fewest = hint, contradictions
    return best


# Hints for errors whose message says more than the case's hint.
_ERROR_HINTS = (
    ("view size is not compatible", ".view() needs a contiguous tensor: use .reshape() after a "
     "transpose or permute"),
    ("must match the size of tensor", "the two shapes do not line up: print the shapes of your "
     "intermediate tensors"),
    ("mat1 and mat2 shapes cannot be multiplied", "check the matrix product's shapes: "
     "(n, k) @ (k, m)"),
    ("dimension out of range", "this input has fewer dimensions than your code assumes: check "
     "which axis you index or sum over"),
    ("expected scalar type", "mixed dtypes: create new tensors with dtype=x.dtype"),
    ("expected all tensors to be on the same device", "create new tensors with device=x.device "
     "(the check passes CPU tensors)"),
)


def _error_hint(err: BaseException, default: str) -> str:
    text = str(err).lower()
    for needle, hint in _ERROR_HINTS:
        if needle in text:
            return hint
    return default


def _failure(index: int, cases: Sequence[Case], outcomes: Sequence[_Outcome]) -> str:
    case, outcome = cases[index], outcomes[index]
    inputs = case.inputs or _describe(case.args, case.kwargs)
    head = f"case '{case.name}' failed — input: {inputs}, expected: {_fmt(case.expected)}, got: "
    if outcome.error is not None:
        return f"{head}{_error_text(outcome.error)} — hint: {_error_hint(outcome.error, case.hint)}"
    try:
        hint = _pick_hint(index, cases, outcomes)
        if hint is None:
            reason = _compare(outcome.got, case.expected, case.rtol, case.atol)
            generic = reason in (None, "wrong value", "wrong values", "wrong truth value")
            hint = case.hint if generic else f"{reason}; {case.hint}"
        return f"{head}{_fmt(outcome.got)} — hint: {hint}"
    except Exception as err:  # noqa: BLE001 - an odd return type must not crash the check
        return f"{head}an unexpected value ({_error_text(err)}) — hint: {case.hint}"


class CheckResult:
    """Whether a self-check passed: truthy/falsy, equal to ``True``/``False``, and silent in Jupyter.

    A check's last-line value must not add an output to the cell: nbval executes cells without
    IPython's history, where a trailing ``;`` does not hide a plain ``True``. This object
    displays nothing (``_ipython_display_``) so ``check_x(fn)`` shows only its one printed line.

    Example:
        >>> r = CheckResult(True)
        >>> bool(r), r == True, r
        (True, True, CheckResult(passed=True))
    """

    __slots__ = ("passed",)

    def __init__(self, passed: bool) -> None:
        self.passed = bool(passed)

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CheckResult):
            return self.passed == other.passed
        return self.passed == other if isinstance(other, bool) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.passed)

    def __repr__(self) -> str:
        return f"CheckResult(passed={self.passed})"

    def _ipython_display_(self) -> None:
        """Show nothing: the check has already printed its line."""


GRADING_ENV = "COURSEKIT_GRADING"


def grading_mode() -> bool:
    """Whether checks run for a grader: the environment variable ``COURSEKIT_GRADING`` is set to
    anything but ``""``/``"0"``.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, {GRADING_ENV: "1"}):
        ...     grading_mode()
        True
    """
    return os.environ.get(GRADING_ENV, "").strip() not in ("", "0")


def _fail(line: str) -> CheckResult:
    """Report a failed check: print the line, or raise it as an ``AssertionError`` when grading
    (so nbgrader or otter-grader score the cell as failed and show the hint)."""
    if grading_mode():
        raise AssertionError(line)
    print(line)
    return CheckResult(False)


def run_check(check_name: str, fn: Any, cases: Sequence[Case]) -> CheckResult:
    """Run ``cases`` against ``fn``; print one line and return whether every case passed.

    Every case is run (so that a mistake can be recognised from all of its results); the line
    reports the first failing case, or "not implemented yet" when ``fn`` raised
    ``NotImplementedError`` anywhere. In grading mode (:func:`grading_mode`) a failure raises
    ``AssertionError`` with that line instead of printing it.

    Example:
        >>> cases = [Case("two plus two", (2, 2), 4, "add the two numbers")]
        >>> run_check("check_add", lambda a, b: a * b + 1, cases)
        check_add: case 'two plus two' failed — input: 2, 2, expected: 4, got: 5 — hint: add the two numbers
        CheckResult(passed=False)
    """
    if not callable(fn):
        return _fail(f"{check_name}: expected your function, got {_fmt(fn)} — pass the function "
                     "itself, e.g. check(my_function), not check(my_function(...))")
    outcomes = [_call(fn, case) for case in cases]
    if any(o.not_implemented for o in outcomes):
        return _fail(f"{check_name}: {NOT_IMPLEMENTED}")
    for index, (case, outcome) in enumerate(zip(cases, outcomes)):
        if outcome.error is not None or not _matches(outcome, case.expected, case):
            return _fail(f"{check_name}: {_failure(index, cases, outcomes)}")
    print(f"{check_name}: all {len(cases)} cases passed")
    return CheckResult(True)
