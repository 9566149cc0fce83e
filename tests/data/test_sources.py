"""The resolution order: COURSEKIT_DATA, then the real source, then the announced fallback."""

import pytest

from coursekit.data.sources import data_dir, local_file, offline, resolve


def _loaders(calls):
    return dict(
        load_local=lambda p: calls.append("local") or ("local", p.name),
        fetch=lambda: calls.append("download") or "downloaded",
        synthetic=lambda: calls.append("synthetic") or "fake",
    )


def test_local_first(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.npz").write_bytes(b"0")
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    monkeypatch.delenv("COURSEKIT_OFFLINE", raising=False)
    calls = []
    data, source = resolve("x", local="sub/x.npz", **_loaders(calls))
    assert (data, source, calls) == (("local", "x.npz"), "local", ["local"])
    assert data_dir() == tmp_path and local_file("sub/x.npz") == tmp_path / "sub" / "x.npz"


def test_download_when_no_local(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    monkeypatch.delenv("COURSEKIT_OFFLINE", raising=False)
    calls = []
    assert resolve("x", local="missing.npz", **_loaders(calls)) == ("downloaded", "download")
    assert calls == ["download"] and capsys.readouterr().err == ""


def test_failed_download_falls_back_with_one_line(monkeypatch, capsys):
    monkeypatch.delenv("COURSEKIT_DATA", raising=False)
    monkeypatch.delenv("COURSEKIT_OFFLINE", raising=False)

    def no_network():
        raise OSError("no route to host")

    data, source = resolve("olivetti", local="a.pkz", load_local=None, fetch=no_network,
                           synthetic=lambda: 1)
    assert (data, source) == (1, "synthetic")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "olivetti" in err[0] and "synthetic" in err[0] and "OSError" in err[0]


def test_offline_skips_download(no_data, capsys):
    calls = []
    assert offline()
    assert resolve("x", local="x.npz", **_loaders(calls)) == ("fake", "synthetic")
    assert calls == ["synthetic"]
    assert "COURSEKIT_OFFLINE" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["", "/definitely/not/a/folder"])
def test_data_dir_unset_or_missing(monkeypatch, value):
    monkeypatch.setenv("COURSEKIT_DATA", value)
    assert data_dir() is None and local_file("x") is None
