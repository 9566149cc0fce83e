"""Conversions from upstream files to the course's files (named in :mod:`coursekit.data.registry`).

Each conversion takes the downloaded upstream files (in the registry's order) and writes one
course file, in the layout the loaders read (the same as in the course team's shared folder; with
the same NumPy and Pillow, the same bytes):

* ``mitdb`` — WFDB header + format 212 signal + MIT annotations (:mod:`coursekit.data.wfdb`)
  -> ``signal`` (L, leads) float32 in mV and the annotations, npz;
* ``scipy_ecg`` — SciPy's ``ecg.dat`` -> (L,) float32 in mV, as ``scipy.datasets.electrocardiogram``;
* ``tiff_stack`` — a multi-page TIFF (read with Pillow) -> ``volume`` (D, H, W), npz;
* ``nifti`` — a NIfTI-1 file (``.nii`` or ``.nii.gz``) -> ``volume`` and ``affine``, npz;
* ``painting`` — an image -> RGB, Lanczos resize to a longer side of 512 px, JPEG quality 90;
* ``olivetti`` — Roweis's ``olivettifaces.mat`` -> the cache file scikit-learn's
  ``fetch_olivetti_faces`` reads (``olivetti_py3.pkz``);
* ``copy`` — the upstream file is the course file.
"""

from __future__ import annotations

import gzip
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np

from coursekit.data.wfdb import decode_212, parse_header, read_annotations

__all__ = ["CONVERSIONS", "convert_mitdb", "convert_nifti", "convert_olivetti", "convert_painting",
           "convert_scipy_ecg", "convert_tiff_stack", "copy_file", "read_nifti"]

PAINTING_SIZE = 512  # the longer side of the course's paintings, in pixels


def _savez(output: Path, **arrays) -> None:
    with open(output, "wb") as f:  # np.savez_compressed would add ".npz" to a name without it
        np.savez_compressed(f, **arrays)


def convert_mitdb(inputs: list[Path], output: Path, note: str = "") -> None:
    """A WFDB record (``.hea``, ``.dat`` in format 212, ``.atr``) -> the course's ECG npz.

    Args:
        inputs: the header, signal and annotation files, in that order.
        output: the npz to write: ``signal`` (L, leads) float32 = (adc - baseline) / gain,
            ``fs``, ``leads``, ``units``, ``ann_sample``, ``ann_symbol``, ``ann_aux``,
            ``adc_gain``, ``adc_zero``, ``record``.
    """
    header_path, dat_path, atr_path = inputs
    header = parse_header(header_path.read_text(encoding="latin-1"))
    if set(header.formats) != {212} or len(set(header.files)) != 1:
        raise ValueError(f"expected every signal in one format-212 file, got formats {header.formats} "
                         f"in files {header.files}")
    adc = decode_212(dat_path.read_bytes(), len(header.names))  # (L, leads)
    if header.n_samples and adc.shape[0] < header.n_samples:
        raise ValueError(f"{dat_path.name}: expected {header.n_samples} samples per signal, "
                         f"got {adc.shape[0]}")
    adc = adc[: header.n_samples or None]
    gains, baselines = np.array(header.gains), np.array(header.baselines)
    signal = ((adc - baselines) / gains).astype(np.float32)
    sample, symbol, aux = read_annotations(atr_path.read_bytes())
    _savez(output, signal=signal, fs=np.int64(round(header.fs)), leads=np.array(header.names),
           units=np.array(header.units[0]), ann_sample=sample, ann_symbol=symbol, ann_aux=aux,
           adc_gain=np.float32(header.gains[0]), adc_zero=np.int64(header.baselines[0]),
           record=np.array(header.record))


def convert_scipy_ecg(inputs: list[Path], output: Path, note: str = "") -> None:
    """SciPy's ``ecg.dat`` (an npz of uint16 ADC values) -> (L,) float32 mV, fs 360, lead MLII."""
    with np.load(inputs[0], allow_pickle=False) as d:
        ecg = d["ecg"].astype(np.int64)
    signal = ((ecg - 1024) / 200.0).astype(np.float32)  # as scipy.datasets.electrocardiogram
    _savez(output, signal=signal, fs=np.int64(360), leads=np.array(["MLII"]), units=np.array("mV"),
           record=np.array("208 (excerpt 19:35-24:35)"))


def convert_tiff_stack(inputs: list[Path], output: Path, note: str = "") -> None:
    """A multi-page TIFF -> ``volume`` (pages, H, W) in the pages' own dtype (uint16 for 16 bit),
    and ``source`` (``note``, else the file's name)."""
    from PIL import Image, ImageSequence

    with Image.open(inputs[0]) as im:
        volume = np.stack([np.array(page) for page in ImageSequence.Iterator(im)])
    _savez(output, volume=volume, source=np.array(note or inputs[0].name))


_NIFTI_DTYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4"}


def read_nifti(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a single-file NIfTI-1 image (``.nii`` or ``.nii.gz``) without nibabel.

    Args:
        path: the file.

    Returns:
        ``(data, affine)``: the voxels indexed (x, y, z, ...) as stored, in Fortran order (scaled
        by ``scl_slope`` and ``scl_inter`` when those are set), and the (4, 4) voxel -> world
        affine (the sform, else a diagonal of the voxel sizes).
    """
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 348:
        raise ValueError(f"{path.name}: {len(raw)} bytes, too short for a NIfTI-1 header (348)")
    endian = "<" if struct.unpack("<i", raw[:4])[0] == 348 else ">"
    if struct.unpack(endian + "i", raw[:4])[0] != 348 or raw[344:347] not in (b"n+1", b"ni1"):
        raise ValueError(f"{path.name}: not a NIfTI-1 file")
    dim = struct.unpack(endian + "8h", raw[40:56])
    datatype = struct.unpack(endian + "h", raw[70:72])[0]
    pixdim = struct.unpack(endian + "8f", raw[76:108])
    vox_offset, slope, inter = struct.unpack(endian + "3f", raw[108:120])
    sform_code = struct.unpack(endian + "h", raw[254:256])[0]
    if datatype not in _NIFTI_DTYPES:
        raise ValueError(f"{path.name}: NIfTI datatype {datatype} is not supported, expected one of "
                         f"{sorted(_NIFTI_DTYPES)}")
    shape = tuple(int(n) for n in dim[1:1 + dim[0]])
    data = np.frombuffer(raw, dtype=endian + _NIFTI_DTYPES[datatype], count=int(np.prod(shape)),
                         offset=int(vox_offset)).reshape(shape, order="F")  # x varies fastest
    if slope not in (0.0, 1.0) or inter != 0.0:
        data = data * (slope or 1.0) + inter
    affine = np.eye(4)
    if sform_code > 0:
        affine[:3] = np.array(struct.unpack(endian + "12f", raw[280:328])).reshape(3, 4)
    else:
        affine[[0, 1, 2], [0, 1, 2]] = pixdim[1:4]
    return data.copy(order="K"), affine  # Fortran order, as stored: (x, y, z) with x fastest


def convert_nifti(inputs: list[Path], output: Path, note: str = "") -> None:
    """A NIfTI-1 image -> ``volume``, ``affine`` float32, ``voxel_size_mm`` float32 and ``source``
    (``note``, else the file's name)."""
    volume, affine = read_nifti(inputs[0])
    _savez(output, volume=volume, affine=affine.astype(np.float32),
           voxel_size_mm=np.sqrt((affine[:3, :3] ** 2).sum(axis=0)).astype(np.float32),
           source=np.array(note or inputs[0].name))


def convert_painting(inputs: list[Path], output: Path, note: str = "") -> None:
    """An image -> RGB, Lanczos resize to a longer side of 512 px (never enlarged), JPEG quality 90."""
    from PIL import Image

    with Image.open(inputs[0]) as im:
        rgb = im.convert("RGB")
    w, h = rgb.size
    scale = PAINTING_SIZE / max(w, h)
    if scale < 1:
        rgb = rgb.resize((round(w * scale), round(h * scale)), Image.Resampling.LANCZOS)
    rgb.save(output, format="JPEG", quality=90)


def convert_olivetti(inputs: list[Path], output: Path, note: str = "") -> None:
    """``olivettifaces.mat`` -> the joblib file (``faces`` transposed to (400, 4096) uint8,
    compress=6) that scikit-learn's ``fetch_olivetti_faces`` writes after its own download."""
    import joblib
    from scipy.io import loadmat

    faces = loadmat(inputs[0])["faces"].T.copy()  # (4096, 400) -> (400, 4096)
    if faces.shape[1] != 64 * 64:
        raise ValueError(f"expected faces of 64 x 64 = 4096 pixels, got {faces.shape[1]}")
    joblib.dump(faces, output, compress=6)


def copy_file(inputs: list[Path], output: Path, note: str = "") -> None:
    """The upstream file is the course file."""
    shutil.copyfile(inputs[0], output)


CONVERSIONS: dict[str, Callable[[list[Path], Path, str], None]] = {
    "mitdb": convert_mitdb,
    "scipy_ecg": convert_scipy_ecg,
    "tiff_stack": convert_tiff_stack,
    "nifti": convert_nifti,
    "painting": convert_painting,
    "olivetti": convert_olivetti,
    "copy": copy_file,
}
"""Conversion name (``CourseFile.convert``) -> function ``(inputs, output, note) -> None``; ``note``
is the registry's provenance line, stored in the file where its format has room for it."""
