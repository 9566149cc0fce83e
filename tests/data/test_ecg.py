"""ECG loaders: the real MIT-BIH files when COURSEKIT_DATA is set, the synthetic fallback offline."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.data import ECGRecord, load_ecg_208, load_mitdb_100, synthetic_ecg
from coursekit.data.sources import local_file

needs_data = pytest.mark.skipif(local_file("ecg/mitdb_100.npz") is None,
                                reason="COURSEKIT_DATA does not hold ecg/mitdb_100.npz")


@needs_data
def test_mitdb_100_local():
    rec = load_mitdb_100()
    assert rec.source == "local" and rec.fs == 360 and rec.signal.shape == (650000, 2)
    assert rec.leads == ("MLII", "V5")
    samples, symbols = rec.beats()
    assert len(samples) == 2273 and (symbols == "N").sum() == 2239
    assert np.all(np.diff(samples) > 0)


@pytest.mark.skipif(local_file("ecg/scipy_ecg_mitdb208.npz") is None, reason="no local ECG 208")
def test_ecg_208_local():
    rec = load_ecg_208()
    assert rec.source == "local" and rec.signal.shape == (108000, 1) and rec.fs == 360
    assert len(rec.ann_sample) == 0


def test_fallbacks_are_synthetic_and_announced(no_data, capsys):
    rec = load_ecg_208()
    assert rec.source == "synthetic" and rec.signal.shape == (108000, 1)
    assert "[coursekit.data] ecg_208: using the synthetic fallback" in capsys.readouterr().err
    rec = load_mitdb_100()
    assert rec.source == "synthetic" and rec.signal.shape == (650000, 2)
    assert len(rec.beats()[0]) > 2000


def test_synthetic_ecg_annotations_mark_r_peaks():
    rec = synthetic_ecg(60.0, heart_rate=80.0, seed=3)
    assert isinstance(rec, ECGRecord) and rec.source == "synthetic"
    assert 70 <= len(rec.ann_sample) <= 90
    x = rec.signal[:, 0]
    for s in rec.ann_sample[:20]:  # each annotation sits within 10 ms of a local maximum
        window = x[max(0, s - 20): s + 20]
        assert abs(int(np.argmax(window)) + max(0, s - 20) - s) <= 4
    assert np.array_equal(synthetic_ecg(5.0, seed=1).signal, synthetic_ecg(5.0, seed=1).signal)


def test_synthetic_ecg_bad_arguments():
    with pytest.raises(ValueError, match="duration_s"):
        synthetic_ecg(-1.0)
