"""Conversions of real-format inputs written here (a WFDB format-212 record with MIT annotations, a
16-bit multi-page TIFF, a NIfTI-1 file, a JPEG, Roweis's .mat), served by the local mirror and read
by the course's own loaders."""

from __future__ import annotations

import gzip
import io
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from coursekit.data import artworks, load_ct_head, load_mitdb_100, load_mni152, load_olivetti
from coursekit.data.convert import convert_painting, read_nifti
from coursekit.data.registry import REGISTRY
from coursekit.data.wfdb import decode_212, parse_header, read_annotations


def encode_212(adc: np.ndarray) -> bytes:
    """(L, leads) ints in [-2048, 2047] -> format 212 bytes (the inverse of the reader, written out)."""
    flat = (adc.reshape(-1).astype(np.int64) & 0xFFF)
    if flat.size % 2:
        flat = np.append(flat, 0)
    a, b = flat[0::2], flat[1::2]
    out = np.stack([a & 0xFF, ((a >> 8) & 0x0F) | (((b >> 8) & 0x0F) << 4), b & 0xFF], axis=1)
    return out.astype(np.uint8).tobytes()


def encode_annotations(annotations: list[tuple[int, int, str]]) -> bytes:
    """(sample, code, aux) -> MIT annotation bytes, with SKIP for long gaps and NUM/CHN words."""
    words, last = [], 0
    for sample, code, aux in annotations:
        delta = sample - last
        if delta > 1023:
            words += [59 << 10, delta >> 16, delta & 0xFFFF]
            delta = 0
        words.append((code << 10) | delta)
        words.append((60 << 10) | 1)  # NUM 1: ignored
        if aux:
            text = aux.encode() + b"\0"
            text += b"\0" * (len(text) % 2)
            words.append((63 << 10) | (len(aux) + 1))
            words += list(np.frombuffer(text, "<u2"))
        last = sample
    words.append(0)
    return np.array(words, dtype="<u2").tobytes()


def test_212_round_trip_and_header():
    adc = np.array([[0, 1], [-1, 2047], [-2048, 5], [100, -100]], dtype=np.int16)
    assert np.array_equal(decode_212(encode_212(adc), 2), adc)
    h = parse_header("rec 1 250\nrec.dat 212 400(10)/uV 12 0 0 0 0 lead I")
    assert (h.fs, h.gains, h.baselines, h.units, h.names) == (250.0, (400.0,), (10,), ("uV",), ("lead I",))
    with pytest.raises(ValueError, match="signal lines"):
        parse_header("rec 2 360 10\nrec.dat 212 200 11 1024 0 0 0 MLII")


def test_annotations_with_skip_num_and_aux():
    ann = [(18, 28, "(N"), (100, 1, ""), (5000, 5, ""), (5010, 8, ""), (70000, 1, "")]
    sample, symbol, aux = read_annotations(encode_annotations(ann))
    assert sample.tolist() == [18, 100, 5000, 5010, 70000]
    assert symbol.tolist() == ["+", "N", "V", "A", "N"] and aux.tolist() == ["(N", "", "", "", ""]


def test_wfdb_record_through_the_mirror(mirror, monkeypatch):
    rng = np.random.default_rng(0)
    n = 3000
    adc = np.stack([1024 + rng.integers(-300, 300, n), 1024 + rng.integers(-200, 200, n)], 1)
    header = f"100 2 360 {n}\n100.dat 212 200 11 1024 {adc[0, 0]} 0 0 MLII\n" \
             f"100.dat 212 200 11 1024 {adc[0, 1]} 0 0 V5\n# 69 M\n"
    ann = [(18, 28, "(N"), (77, 1, ""), (1500, 5, ""), (2900, 1, "")]
    ups = [mirror.add("mitdb/100.hea", header.encode()), mirror.add("mitdb/100.dat", encode_212(adc)),
           mirror.add("mitdb/100.atr", encode_annotations(ann))]
    monkeypatch.setitem(REGISTRY, "mitdb_100", mirror.entry("mitdb_100", "ecg/mitdb_100.npz", ups, "mitdb"))
    rec = load_mitdb_100()
    assert rec.source == "download" and rec.fs == 360 and rec.leads == ("MLII", "V5")
    np.testing.assert_array_equal(rec.signal, ((adc - 1024) / 200).astype(np.float32))
    assert rec.ann_sample.tolist() == [18, 77, 1500, 2900]
    assert rec.beats()[1].tolist() == ["N", "V", "N"]
    assert load_mitdb_100().source == "cache"


def test_tiff_stack_through_the_mirror(mirror, monkeypatch):
    volume = (np.arange(3 * 16 * 20).reshape(3, 16, 20) * 50).astype(np.uint16)
    pages = [Image.fromarray(v) for v in volume]
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:])
    up = mirror.add("brain.tiff", buf.getvalue())
    monkeypatch.setitem(REGISTRY, "ct_head", mirror.entry(
        "ct_head", "volumes/ct_head_unc_10slices.npz", [up], "tiff_stack"))
    ct = load_ct_head()
    assert ct.source == "download" and ct.volume.shape == (3, 16, 20)
    np.testing.assert_allclose(ct.volume, volume / volume.max(), atol=1e-6)


def _nifti(data: np.ndarray, affine: np.ndarray) -> bytes:
    header = bytearray(352)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, 3, *data.shape, 1, 1, 1, 1)
    struct.pack_into("<2h", header, 70, 2, 8)  # uint8
    struct.pack_into("<8f", header, 76, 1, 2, 2, 2, 0, 0, 0, 0)
    struct.pack_into("<3f", header, 108, 352, 1, 0)
    struct.pack_into("<2h", header, 252, 0, 2)  # qform 0, sform 2
    struct.pack_into("<12f", header, 280, *affine[:3].ravel())
    header[344:348] = b"n+1\0"
    return gzip.compress(bytes(header) + data.tobytes(order="F"))


def test_nifti_through_the_mirror(mirror, monkeypatch, tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, (5, 6, 7)).astype(np.uint8)
    affine = np.array([[2, 0, 0, -10], [0, 2, 0, -12], [0, 0, 2, -7], [0, 0, 0, 1]], float)
    (tmp_path / "t.nii.gz").write_bytes(_nifti(data, affine))
    got, got_affine = read_nifti(tmp_path / "t.nii.gz")
    assert np.array_equal(got, data) and np.array_equal(got_affine, affine)
    up = mirror.add("mni.nii.gz", _nifti(data, affine))
    monkeypatch.setitem(REGISTRY, "mni152", mirror.entry(
        "mni152", "volumes/mni_icbm152_t1_2009a.npz", [up], "nifti"))
    mni = load_mni152()
    assert mni.source == "download" and mni.volume.shape == (5, 6, 7)
    np.testing.assert_allclose(mni.volume, (data - data.min()) / float(data.max() - data.min()), atol=1e-6)
    (tmp_path / "bad.nii").write_bytes(b"\0" * 400)
    with pytest.raises(ValueError, match="not a NIfTI-1 file"):
        read_nifti(tmp_path / "bad.nii")


def test_painting_resized_through_the_mirror(mirror, monkeypatch, tmp_path):
    rng = np.random.default_rng(2)
    image = Image.fromarray(rng.integers(0, 256, (600, 1024, 3)).astype(np.uint8))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=95)
    up = mirror.add("styles/wave.jpg", buf.getvalue())
    monkeypatch.setitem(REGISTRY, "great_wave", mirror.entry(
        "great_wave", "art/great_wave.jpg", [up], "painting"))
    art = artworks(names=["great_wave"])
    assert art.source == "download" and tuple(art["great_wave"].shape) == (3, 300, 512)
    assert art.titles["great_wave"].startswith("The Great Wave off Kanagawa")
    small = tmp_path / "small.png"
    Image.new("L", (40, 30)).save(small)
    convert_painting([small], tmp_path / "out.jpg")
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.size == (40, 30) and out.mode == "RGB"  # never enlarged


def test_olivetti_mat_through_the_mirror(mirror, monkeypatch, tmp_path):
    from scipy.io import savemat

    faces = np.random.default_rng(3).integers(0, 243, (4096, 400)).astype(np.uint8)
    savemat(tmp_path / "olivettifaces.mat", {"faces": faces})
    up = mirror.add("olivettifaces.mat", (tmp_path / "olivettifaces.mat").read_bytes())
    monkeypatch.setitem(REGISTRY, "olivetti", mirror.entry(
        "olivetti", "scikit_learn_data/olivetti_py3.pkz", [up], "olivetti"))
    ds = load_olivetti()
    assert ds.source == "download" and len(ds) == 400 and ds.num_people == 40
    pixels = faces.T.reshape(400, 64, 64).transpose(0, 2, 1).astype(np.float32)  # as scikit-learn
    expected = torch.from_numpy((pixels - pixels.min()) / (pixels.max() - pixels.min()))
    torch.testing.assert_close(ds.images[:, 0], expected)
