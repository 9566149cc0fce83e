"""atomic_write: the target is replaced whole or not at all, with sensible permissions."""

import os
import stat

import pytest

from coursekit.files import atomic_write


def _leftovers(folder):
    return [p for p in os.listdir(folder) if p.endswith(".tmp")]


def test_writes_bytes_and_text_and_creates_the_folder(tmp_path):
    target = tmp_path / "new" / "out.bin"
    with atomic_write(target) as f:
        f.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    with atomic_write(tmp_path / "t.txt", "w") as f:
        f.write("é")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "é"


def test_an_error_inside_the_block_keeps_the_old_file(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write(target, "w") as f:
            f.write("half of the new")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_permissions_of_a_replaced_file_are_kept(tmp_path):
    target = tmp_path / "shared.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with atomic_write(target, "w") as f:
        f.write("new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_new_file_gets_the_umask_permissions_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "new.txt", "w") as f:
            f.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644


def test_bad_mode():
    with pytest.raises(ValueError, match="mode must be"):
        with atomic_write("x.txt", "a"):
            pass
