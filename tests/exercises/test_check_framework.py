"""Every check prints one line, never raises, reports errors without a traceback, and leaves
the global RNG alone, whatever the student's function does."""

from __future__ import annotations

import random
import re
import warnings

import numpy as np
import pytest
import torch
from check_helpers import NOT_IMPLEMENTED, stub

import coursekit.exercises as exercises

CHECKS = [getattr(exercises, name) for name in exercises.__all__ if name.startswith("check_")]


def test_all_fifteen_checks_are_exported():
    assert sorted(c.__name__ for c in CHECKS) == sorted([
        "check_verify", "check_who_is_it", "check_encoding_distance", "check_triplet_loss",
        "check_chi2_features", "check_vgg_preprocess", "check_receptive_field", "check_total_cost",
        "check_content_cost", "check_gram_matrix", "check_layer_style_cost", "check_style_cost",
        "check_conv_output_shape", "check_conv1d", "check_train_step"])


def one_line(check, fn, capsys):
    ok = check(fn)
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1 and captured.err == "", captured
    assert lines[0].startswith(f"{check.__name__}: ")
    assert "Traceback" not in lines[0]
    return ok, lines[0]


def raises_value_error(*args, **kwargs):
    raise ValueError("shapes (3,) and (4,) do not match")


def returns_garbage(*args, **kwargs):
    return object()


def returns_none(*args, **kwargs):
    return None


def returns_string(*args, **kwargs):
    return "42"


def returns_nan_tensor(*args, **kwargs):
    return torch.full((2, 2), float("nan"))


def warns_and_prints(*args, **kwargs):
    warnings.warn("student warning", UserWarning, stacklevel=1)
    print("debug: shapes are", [getattr(a, "shape", a) for a in args])
    raise IndexError("index 5 is out of bounds")


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_unfilled_stub_is_not_implemented_yet(check, capsys):
    ok, line = one_line(check, stub, capsys)
    assert not ok and line == f"{check.__name__}: {NOT_IMPLEMENTED}"


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("fn", [returns_garbage, returns_none, returns_string, returns_nan_tensor])
def test_odd_results_fail_in_one_line(check, fn, capsys):
    ok, line = one_line(check, fn, capsys)
    assert not ok and "failed — input: " in line and " — hint: " in line


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_exception_is_reported_with_type_and_message(check, capsys):
    ok, line = one_line(check, raises_value_error, capsys)
    assert not ok
    assert "got: ValueError: shapes (3,) and (4,) do not match — hint: " in line


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_student_warnings_and_prints_do_not_add_lines(check, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a leaked warning would raise here
        ok, line = one_line(check, warns_and_prints, capsys)
    assert not ok and "IndexError: index 5 is out of bounds" in line


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_not_a_function(check, capsys):
    ok, line = one_line(check, 3.0, capsys)
    assert not ok and "pass the function itself" in line


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_global_rng_is_untouched(check, capsys):
    states = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    check(raises_value_error)
    capsys.readouterr()
    assert random.getstate() == states[0]
    assert np.array_equal(np.random.get_state()[1], states[1])
    assert torch.equal(torch.get_rng_state(), states[2])


def test_cases_do_not_depend_on_global_seed(capsys):
    def verify(encoding, database, name, threshold):
        d = float(((encoding - database[name]) ** 2).sum())
        return d, d < threshold  # fails on the boundary case

    lines = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        exercises.check_verify(verify)
        lines.append(capsys.readouterr().out)
    assert lines[0] == lines[1]


def test_student_cannot_corrupt_the_expected_value(capsys):
    def encoding_distance(f1, f2):  # changes its inputs in place, then answers from them
        f1.zero_()
        f2.zero_()
        return ((f1 - f2) ** 2).sum(dim=1)

    assert exercises.check_encoding_distance(encoding_distance) == False  # noqa: E712
    line = capsys.readouterr().out
    assert "expected: tensor (3,) [" in line and "got: tensor (3,) [0.0, 0.0, 0.0]" in line


def test_partial_not_implemented_counts_as_not_implemented(capsys):
    def gram_matrix(A):
        if A.shape[0] > 4:
            raise NotImplementedError()
        return A @ A.T

    assert exercises.check_gram_matrix(gram_matrix) == False  # noqa: E712
    assert "not implemented yet" in capsys.readouterr().out


# ----------------------------------------------------------------------------- grading mode


@pytest.fixture
def grading(monkeypatch):
    monkeypatch.setenv("COURSEKIT_GRADING", "1")


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("fn", [stub, raises_value_error, returns_garbage, 3.0],
                         ids=["stub", "raises", "garbage", "not-a-function"])
def test_grading_mode_raises_assertion_error_with_the_line(check, fn, grading, capsys, monkeypatch):
    with pytest.raises(AssertionError) as info:
        check(fn)
    assert capsys.readouterr().out == ""  # the line is the error's message, not printed too
    monkeypatch.setenv("COURSEKIT_GRADING", "0")  # the same check, as students run it
    ok, line = one_line(check, fn, capsys)
    same = re.compile(r" at 0x[0-9a-f]+")  # the repr of a fresh object() on each call
    assert not ok and same.sub("", str(info.value)) == same.sub("", line)


def test_grading_mode_names_the_mistake(grading):
    def triplet_loss(anchor, positive, negative, alpha=0.2):  # max(., 0) on the total
        loss = ((anchor - positive) ** 2).sum(-1) - ((anchor - negative) ** 2).sum(-1) + alpha
        return torch.clamp(loss.sum(), min=0)

    with pytest.raises(AssertionError, match=r"check_triplet_loss: case .* hint: apply max\(·, 0\) to "
                                             r"EACH triplet"):
        exercises.check_triplet_loss(triplet_loss)


@pytest.mark.parametrize("value", ["", "0"])
def test_grading_mode_off(value, monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_GRADING", value)
    assert exercises.check_gram_matrix(stub) == False  # noqa: E712
    assert "not implemented yet" in capsys.readouterr().out


def test_grading_mode_passes_silently_on_success(grading, capsys):
    assert exercises.check_gram_matrix(lambda A: A @ A.T) == True  # noqa: E712
    assert capsys.readouterr().out == "check_gram_matrix: all 5 cases passed\n"
