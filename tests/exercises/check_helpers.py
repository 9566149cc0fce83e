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


def check_tests(*entries):
    """The two tests every self-check gets, for a module to bind as ``test_passes_reference,
    test_catches_mistake = check_tests(...)``.

    Args:
        entries: ``(check, reference, n_cases, wrong)`` per self-check, with ``wrong`` a dict
            ``{mistake: (fn, hint)}`` of wrong implementations students write.

    ``test_passes_reference``: the reference passes all ``n_cases`` cases in one line.
    ``test_catches_mistake``: each wrong implementation fails, and the line carries its hint.
    """
    import pytest

    passes = [pytest.param(check, ref, n, id=check.__name__) for check, ref, n, _ in entries]
    mistakes = [pytest.param(check, fn, hint, id=f"{check.__name__}-{name}")
                for check, _, _, wrong in entries for name, (fn, hint) in sorted(wrong.items())]

    @pytest.mark.parametrize("check, reference, n_cases", passes)
    def test_passes_reference(check, reference, n_cases, capsys):
        assert run(check, reference, capsys) == (True, f"{check.__name__}: all {n_cases} cases passed")

    @pytest.mark.parametrize("check, fn, hint", mistakes)
    def test_catches_mistake(check, fn, hint, capsys):
        assert_catches(check, fn, hint, capsys)

    return test_passes_reference, test_catches_mistake
