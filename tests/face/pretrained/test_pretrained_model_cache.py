"""The cache of converted pretrained models: the same tensors as decoding the ``.dat`` file,
re-read when the file changes, and safe against broken entries and unwritable folders."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from coursekit.face.pretrained import dlib_net, landmarks
from coursekit.face.pretrained.detector import load_face_detector
from coursekit.face.pretrained.dlib_format import DlibFormatError
from coursekit.face.pretrained.encoder import load_pretrained_encoder
from coursekit.face.pretrained.landmarks import load_shape_predictor
from coursekit.face.pretrained.model_cache import cache_entry_path, cached_conversion
from coursekit.face.pretrained.model_files import model_path


def _same_buffers(a: torch.nn.Module, b: torch.nn.Module) -> None:
    buffers_a, buffers_b = dict(a.named_buffers()), dict(b.named_buffers())
    assert buffers_a.keys() == buffers_b.keys()
    for name, value in buffers_a.items():
        assert value.dtype == buffers_b[name].dtype, name
        assert torch.equal(value, buffers_b[name]), name  # bit for bit


@pytest.mark.parametrize("load", [load_pretrained_encoder, load_face_detector, load_shape_predictor])
def test_cached_models_equal_the_decoded_files(load, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "cache"))
    decoded = load(cache=False)
    assert not (tmp_path / "cache").exists()  # cache=False writes nothing
    first = load()  # converts and writes the entry
    entries = list((tmp_path / "cache" / "pretrained").iterdir())
    assert len(entries) == 1 and entries[0].suffix == ".pt"
    second = load()  # from the entry
    for model in (first, second):
        _same_buffers(decoded, model)
    if hasattr(decoded, "net"):
        assert second.net.ops == decoded.net.ops


def test_second_load_does_not_decode(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "cache"))
    load_shape_predictor()
    load_pretrained_encoder()

    def fail(*args, **kwargs):
        raise AssertionError("the .dat file was decoded again")

    monkeypatch.setattr(landmarks, "_read_shape_predictor", fail)
    monkeypatch.setattr(dlib_net.DlibReader, "from_file", fail)
    load_shape_predictor()
    load_pretrained_encoder()


def test_a_changed_file_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "sp.dat"
    shutil.copy(model_path("landmarks"), source)
    reference = load_shape_predictor(source)
    entry = cache_entry_path(source, "landmarks")
    assert entry.is_file()
    # the same bytes with a new modification time: decoded again, the same result
    stamp = source.stat().st_mtime_ns + 10**9
    os.utime(source, ns=(stamp, stamp))
    calls = []
    original = landmarks._read_shape_predictor
    monkeypatch.setattr(landmarks, "_read_shape_predictor", lambda p: calls.append(p) or original(p))
    _same_buffers(reference, load_shape_predictor(source))
    assert len(calls) == 1
    _same_buffers(reference, load_shape_predictor(source))
    assert len(calls) == 1  # the rewritten entry is used
    # another file under the same name: its own content, never the stale entry
    source.write_bytes(source.read_bytes()[:50_000])
    with pytest.raises(DlibFormatError, match="truncated"):
        load_shape_predictor(source)


def test_a_broken_entry_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "cache"))
    reference = load_shape_predictor(cache=False)
    entry = cache_entry_path(model_path("landmarks"), "landmarks")
    entry.parent.mkdir(parents=True)
    for junk in (b"", b"not a torch file", b"PK\x03\x04" + bytes(100)):
        entry.write_bytes(junk)
        _same_buffers(reference, load_shape_predictor())
        assert entry.stat().st_size > 1_000_000  # rewritten
    torch.save({"key": "another key", "value": {}}, entry)  # a foreign entry
    _same_buffers(reference, load_shape_predictor())
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temporary files left


def test_an_unwritable_cache_is_not_an_error(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("COURSEKIT_CACHE", str(not_a_folder))
    assert cached_conversion(model_path("detector"), "size", lambda p: p.stat().st_size) > 0
    _same_buffers(load_face_detector(cache=False), load_face_detector())


def test_entries_hold_only_plain_data(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "cache"))
    load_face_detector()
    (entry,) = (tmp_path / "cache" / "pretrained").iterdir()
    stored = torch.load(entry, weights_only=True)  # no pickled classes or code
    assert stored["key"]["source"] == str(model_path("detector").resolve())
    assert stored["key"]["size"] == model_path("detector").stat().st_size
