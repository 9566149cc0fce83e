"""Helpers shared by the tests of the self-checks."""

from __future__ import annotations

NOT_IMPLEMENTED = "not implemented yet — fill in the cell above and run it again"


def stub(*args, **kwargs):
    """The unfilled exercise, as the student version has it."""
    raise NotImplementedError()


def run(check, fn, capsys):
    """Run ``check(fn)``; assert it printed one line; return (result, line)."""
    ok = check(fn)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    return ok, lines[0]


def assert_catches(check, fn, hint, capsys):
    """``fn`` fails the check on some case, and the line carries ``hint``."""
    ok, line = run(check, fn, capsys)
    assert not ok and f"{check.__name__}: case '" in line and hint in line, line
