"""Test-wide settings for the unit tests and the docstring examples (``coursekit/``)."""

import tempfile

import pytest


@pytest.fixture(autouse=True)
def _temporary_files_under_tmp_path(tmp_path, monkeypatch):
    """Send ``tempfile``'s folders and files of a test or an example to its ``tmp_path``, which
    pytest prunes, instead of leaving them in the system's temporary folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
