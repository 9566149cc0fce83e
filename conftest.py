"""Test-wide settings for the unit tests and the docstring examples (``coursekit/``)."""

import tempfile

import pytest


@pytest.fixture(autouse=True)
def _temporary_files_under_tmp_path(tmp_path, monkeypatch):
    """Send ``tempfile``'s folders and files of a test or an example to its ``tmp_path``, which
    pytest prunes, instead of leaving them in the system's temporary folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@pytest.fixture(autouse=True)
def _no_downloads(tmp_path, monkeypatch):
    """No test or example downloads anything or touches the user's download cache: an empty cache
    under ``tmp_path`` and ``COURSEKIT_OFFLINE=1`` (the download tests lift it for their own
    server on 127.0.0.1)."""
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "coursekit-cache"))
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    monkeypatch.delenv("COURSEKIT_DATA_MIRROR", raising=False)


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    """The same for the module- and session-scoped fixtures, which are set up before the
    per-test settings above: a cache of their own (the converted pretrained models, say)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSEKIT_CACHE", str(tmp_path_factory.mktemp("coursekit-cache")))
        mp.setenv("COURSEKIT_OFFLINE", "1")
        yield
