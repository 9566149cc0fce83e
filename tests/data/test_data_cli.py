"""``coursekit data list | fetch | verify`` against the local mirror."""

from __future__ import annotations

import json

import pytest

from coursekit.cli import main
from coursekit.data import registry
from coursekit.data.download import cache_dir, upstream_path
from coursekit.data.registry import REGISTRY


@pytest.fixture
def small_registry(mirror, monkeypatch):
    """The registry replaced by two test files on the mirror."""
    a = mirror.add("a.bin", b"a" * 5000)
    b = mirror.add("b.bin", b"b" * 7000)
    monkeypatch.setattr(registry, "REGISTRY", {
        "one": mirror.entry("one", "misc/one.bin", [a]),
        "two": mirror.entry("two", "other/two.bin", [b]),
    })
    return mirror


def test_list_json_shows_the_real_registry(capsys, monkeypatch, tmp_path):
    (tmp_path / "data" / "ecg").mkdir(parents=True)
    (tmp_path / "data" / "ecg" / "mitdb_100.npz").write_bytes(b"x")
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "data"))
    assert main(["data", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(REGISTRY)
    assert rows["mitdb_100"]["status"] == "local" and rows["ct_head"]["status"] == "missing"
    assert [u["sha256"] for u in rows["mitdb_100"]["upstream"]] == [
        u.sha256 for u in REGISTRY["mitdb_100"].upstream]
    assert all(r["licence"] and r["upstream"][0]["verified"] for r in rows.values())
    assert main(["data", "list"]) == 0
    assert "ct_head" in capsys.readouterr().out


def test_fetch_then_verify(small_registry, capsys):
    assert main(["data", "fetch"]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 files real and verified" in out
    assert (cache_dir() / "misc/one.bin").read_bytes() == b"a" * 5000
    assert main(["data", "fetch", "misc"]) == 0 and "already cached" in capsys.readouterr().out
    assert main(["data", "list", "--json"]) == 0
    assert {r["status"] for r in json.loads(capsys.readouterr().out)} == {"cache"}
    assert main(["data", "verify"]) == 0 and "0 problem(s)" in capsys.readouterr().out
    upstream_path(registry.REGISTRY["one"].upstream[0]).write_bytes(b"corrupt")
    assert main(["data", "verify"]) == 1
    assert "sha256 mismatch" in capsys.readouterr().out
    (cache_dir() / "other/two.bin").write_bytes(b"changed")
    assert main(["data", "verify"]) == 1
    assert "changed since it was made" in capsys.readouterr().out


def test_fetch_fails_when_any_file_fails(small_registry, capsys):
    small_registry.fail[f"/{small_registry.host}/b.bin"] = 404
    assert main(["data", "fetch"]) == 2
    captured = capsys.readouterr()
    assert "1 of 2 files" in captured.out and "FAILED two" in captured.err and "404" in captured.err
    assert main(["data", "fetch", "nope"]) == 2  # an unknown name: one error line
    assert "unknown dataset" in capsys.readouterr().err


def test_fetch_offline_needs_the_cache(small_registry, capsys, monkeypatch):
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    assert main(["data", "fetch", "one"]) == 2
    assert "COURSEKIT_OFFLINE" in capsys.readouterr().err and small_registry.requests == []
