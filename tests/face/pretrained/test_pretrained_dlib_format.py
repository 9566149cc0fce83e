"""The dlib format reader on hand-written bytes: primitives, truncation, foreign files."""

from __future__ import annotations

import math

import pytest
import torch

from coursekit.face.pretrained.dlib_format import DlibFormatError, DlibReader


def test_integers_both_signs_and_widths(dlib_bytes):
    values = [0, 1, 255, 256, -1, -300, 2**40 + 7, -(2**63 - 1)]
    r = DlibReader(b"".join(dlib_bytes.int(v) for v in values))
    assert [r.int() for _ in values] == values
    assert r.at_end()


def test_floats_exact_and_special(dlib_bytes):
    values = [0.0, 0.5, -3.25, 122.782, 1e-30, 6.02e23]
    r = DlibReader(dlib_bytes.floats(values) + dlib_bytes.floats([math.inf, -math.inf, math.nan]))
    assert [r.float() for _ in values] == values
    assert r.float() == math.inf and r.float() == -math.inf and math.isnan(r.float())


def test_float_as_dlib_writes_it():
    # 0.6f as dlib stores it: mantissa 0x99999a (3 bytes), exponent -24
    r = DlibReader(bytes([0x03, 0x9A, 0x99, 0x99, 0x81, 0x18]))
    assert r.float() == pytest.approx(0.6, abs=1e-7)


def test_strings_bools_tensors(dlib_bytes):
    data = (dlib_bytes.string("con_6") + dlib_bytes.bool(True) + dlib_bytes.bool(False)
            + dlib_bytes.tensor([1.5, -2.0, 3.0, 4.0, 5.0, 6.0], (1, 2, 3, 1))
            + dlib_bytes.alias((2, 3, 1, 1)))
    r = DlibReader(data)
    assert r.string() == "con_6" and r.bool() is True and r.bool() is False
    t = r.tensor()
    assert t.shape == (1, 2, 3, 1) and t.dtype == torch.float32
    assert t.flatten().tolist() == [1.5, -2.0, 3.0, 4.0, 5.0, 6.0]
    assert r.alias_tensor() == (2, 3, 1, 1)
    assert r.at_end()


def test_matrix_either_sign_convention(dlib_bytes):
    new = dlib_bytes.int(-2) + dlib_bytes.int(-1) + dlib_bytes.floats([1.0, 2.0])
    old = dlib_bytes.int(2) + dlib_bytes.int(1) + dlib_bytes.floats([1.0, 2.0])
    for data in (new, old):
        assert DlibReader(data).float_matrix().tolist() == [[1.0], [2.0]]


@pytest.mark.parametrize("cut", [1, 3, 7, 20])
def test_truncated_tensor(dlib_bytes, cut):
    data = dlib_bytes.tensor([1.0] * 5)
    with pytest.raises(DlibFormatError, match="truncated"):
        DlibReader(data[:-cut], name="tiny.dat").tensor()


def test_truncated_integer_and_string(dlib_bytes):
    with pytest.raises(DlibFormatError, match="truncated"):
        DlibReader(dlib_bytes.int(2**30)[:-1]).int()
    with pytest.raises(DlibFormatError, match="truncated"):
        DlibReader(dlib_bytes.string("input_rgb_image")[:-2]).string()
    with pytest.raises(DlibFormatError, match="truncated"):
        DlibReader(b"").int()


def test_bad_control_byte_and_bool():
    with pytest.raises(DlibFormatError, match="control byte"):
        DlibReader(b"\x89PNG").int()
    with pytest.raises(DlibFormatError, match="'0' or '1'"):
        DlibReader(b"x").bool()


def test_old_text_float_is_refused():
    with pytest.raises(DlibFormatError, match="old text format"):
        DlibReader(b"1.5 ").float()


def test_error_names_file_and_offset(dlib_bytes):
    r = DlibReader(dlib_bytes.int(5) + b"\x00", name="model.dat")
    r.int()
    with pytest.raises(DlibFormatError, match=r"model\.dat: .* \(at byte 2\)"):
        r.int()


def test_wrong_version_tensor(dlib_bytes):
    with pytest.raises(DlibFormatError, match="version"):
        DlibReader(dlib_bytes.int(3) + dlib_bytes.tensor([1.0])[1:]).tensor()


def test_expect_string_names_what_it_found(dlib_bytes):
    with pytest.raises(DlibFormatError, match="found 'relu_2'"):
        DlibReader(dlib_bytes.string("relu_2")).expect_string("con_6", what="a con layer")


def test_is_a_value_error():
    assert issubclass(DlibFormatError, ValueError)
