"""Electrocardiograms for lesson 4.11 (1-D convolutions): MIT-BIH records and a synthetic ECG.

* :func:`load_mitdb_100` — MIT-BIH Arrhythmia Database record 100: 30 min, 2 leads (MLII, V5),
  360 Hz, 2,273 annotated beats (Moody & Mark, IEEE EMB 2001; Goldberger et al., Circulation 2000).
  File ``ecg/mitdb_100.npz``, made from PhysioNet's ``100.hea``, ``100.dat`` and ``100.atr``
  (:mod:`coursekit.data.wfdb` decodes them).
* :func:`load_ecg_208` — the 5-minute MLII excerpt of record 208 that scipy ships as
  ``scipy.datasets.electrocardiogram`` (no annotations). File ``ecg/scipy_ecg_mitdb208.npz``, made
  from SciPy's ``ecg.dat``.
* :func:`synthetic_ecg` — the announced fallback: PQRST beats as sums of Gaussian waves (in the
  spirit of McSharry et al., "A dynamical model for generating synthetic electrocardiogram
  signals", IEEE TBME 2003), heart-rate variability, baseline wander and noise, with the R-peak
  positions as beat annotations.

Each file is read from ``COURSEKIT_DATA``, else the download cache, else downloaded and converted
once (:mod:`coursekit.data.registry` names the upstream files and their checksums).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coursekit.data.sources import resolve

__all__ = ["ECGRecord", "load_ecg_208", "load_mitdb_100", "synthetic_ecg"]

# (offset from the R peak in s at 60 bpm, amplitude in mV, width in s) of the P, Q, R, S, T waves
_WAVES = ((-0.20, 0.15, 0.025), (-0.035, -0.12, 0.010), (0.0, 1.10, 0.011),
          (0.035, -0.25, 0.010), (0.28, 0.30, 0.045))
_BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")  # MIT-BIH annotation codes that mark a beat


@dataclass
class ECGRecord:
    """An ECG recording with its beat annotations.

    Attributes:
        signal: (L, leads) float32 in mV.
        fs: sampling rate in Hz.
        leads: lead names, one per column of ``signal``.
        ann_sample: (N,) int64 sample index of each annotation (empty when none).
        ann_symbol: (N,) annotation codes ('N' normal, 'V' ventricular, 'A' atrial premature, ...).
        name: the record's name.
        source: ``"local"``, ``"cache"``, ``"download"`` or ``"synthetic"``.

    Example:
        >>> rec = ECGRecord(np.zeros((720, 1), np.float32), 360, ("MLII",),
        ...                 np.array([100, 150, 460]), np.array(["N", "+", "V"]))
        >>> rec.duration_s, rec.beats()[0].tolist(), rec.beats()[1].tolist()  # '+' is no beat
        (2.0, [100, 460], ['N', 'V'])
    """

    signal: np.ndarray
    fs: int
    leads: tuple[str, ...]
    ann_sample: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ann_symbol: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="<U1"))
    name: str = ""
    source: str = "local"

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds."""
        return self.signal.shape[0] / self.fs

    def beats(self) -> tuple[np.ndarray, np.ndarray]:
        """``(sample, symbol)`` of the beat annotations only (rhythm markers such as '+' dropped)."""
        keep = np.isin(self.ann_symbol, list(_BEAT_SYMBOLS))
        return self.ann_sample[keep], self.ann_symbol[keep]


def synthetic_ecg(
    duration_s: float = 60.0,
    *,
    fs: int = 360,
    heart_rate: float = 72.0,
    n_leads: int = 1,
    noise_mv: float = 0.03,
    seed: int = 0,
) -> ECGRecord:
    """A synthetic ECG: Gaussian P, Q, R, S, T waves per beat, with rate variability and noise.

    RR intervals follow a respiratory sinus arrhythmia (0.25 Hz) plus random jitter; the wave
    offsets and widths scale with the square root of the RR interval (Bazett-like QT scaling).
    About 1 beat in 60 is an ectopic ventricular beat ('V': early, wide, no P wave).

    Args:
        duration_s: length in seconds.
        fs: sampling rate in Hz.
        heart_rate: mean rate in beats per minute.
        n_leads: number of leads (later leads are scaled, slightly shifted copies).
        noise_mv: standard deviation of the white noise in mV.
        seed: NumPy seed; the same seed gives the same record.

    Returns:
        An :class:`ECGRecord` whose annotations are the R-peak samples ('N' or 'V').

    Example:
        >>> rec = synthetic_ecg(10.0, heart_rate=60.0)
        >>> rec.signal.shape, rec.fs, 8 <= len(rec.ann_sample) <= 12
        ((3600, 1), 360, True)
    """
    if duration_s <= 0 or fs <= 0 or heart_rate <= 0 or n_leads < 1:
        raise ValueError(f"need duration_s, fs, heart_rate > 0 and n_leads >= 1, got "
                         f"{duration_s}, {fs}, {heart_rate}, {n_leads}")
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * fs))
    t = np.arange(n) / fs
    rr_mean = 60.0 / heart_rate
    peaks, symbols, now = [], [], 0.3 + rng.uniform(0, rr_mean)
    while now < duration_s - 0.3:
        peaks.append(now)
        symbols.append("V" if rng.random() < 1 / 60 and symbols and symbols[-1] == "N" else "N")
        rr = rr_mean * (1 + 0.05 * np.sin(2 * np.pi * 0.25 * now) + 0.03 * rng.standard_normal())
        now += rr * (0.75 if rng.random() < 1 / 60 else 1.0)
    x = np.zeros(n)
    for r, sym in zip(peaks, symbols):
        scale = np.sqrt(rr_mean)
        lo, hi = max(0, int((r - 0.5) * fs)), min(n, int((r + 0.8) * fs))
        tt = t[lo:hi] - r
        amp_jitter = 1 + 0.05 * rng.standard_normal()
        for k, (offset, amp, width) in enumerate(_WAVES):
            if sym == "V":
                if k == 0:  # no P wave before a ventricular beat
                    continue
                width, amp = width * 2.5, amp * (1.3 if k == 2 else 1.8)
            x[lo:hi] += amp * amp_jitter * np.exp(-0.5 * ((tt - offset * scale) / (width * scale)) ** 2)
    x += 0.15 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 2 * np.pi))  # baseline wander
    x += 0.02 * np.sin(2 * np.pi * 60.0 * t)  # mains hum
    leads = [x + noise_mv * rng.standard_normal(n)]
    for i in range(1, n_leads):
        shifted = np.roll(x, i * 3) * (0.6 / i)
        leads.append(shifted + noise_mv * rng.standard_normal(n))
    signal = np.stack(leads, axis=1).astype(np.float32)
    samples = np.round(np.array(peaks) * fs).astype(np.int64)
    names = ("MLII", "V5", "V1", "V2", "V4", "V6")
    return ECGRecord(signal, fs, tuple(names[i] if i < len(names) else f"lead{i}" for i in range(n_leads)),
                     samples, np.array(symbols, dtype="<U1"), name=f"synthetic-{seed}", source="synthetic")


def _load_mitdb_npz(path: Path) -> ECGRecord:
    d = np.load(path, allow_pickle=False)
    leads = tuple(str(u) for u in d["leads"]) if "leads" in d else ("MLII", "V5")
    return ECGRecord(d["signal"].astype(np.float32), int(d["fs"]), leads,
                     d["ann_sample"].astype(np.int64), d["ann_symbol"].astype("<U1"), name="mitdb/100")


def load_mitdb_100() -> ECGRecord:
    """MIT-BIH record 100 (30 min, leads MLII and V5, 360 Hz, beat annotations).

    Order: ``ecg/mitdb_100.npz`` in ``COURSEKIT_DATA``, then in the cache, then downloaded
    (PhysioNet's WFDB files, decoded here); else a 30-minute two-lead :func:`synthetic_ecg`
    (announced).

    Returns:
        An :class:`ECGRecord` with ``signal`` (650000, 2) for the real record.

    Example:
        >>> import os
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, COURSEKIT_OFFLINE="1"):  # local or cached copy, or synthetic
        ...     rec = load_mitdb_100()
        >>> rec.signal.shape, rec.fs, rec.leads, rec.source in ("local", "cache", "synthetic")
        ((650000, 2), 360, ('MLII', 'V5'), True)
    """
    rec, source = resolve(
        "mitdb_100", local="ecg/mitdb_100.npz", load_local=_load_mitdb_npz,
        synthetic=lambda: synthetic_ecg(650000 / 360, n_leads=2, heart_rate=75.0, seed=100),
    )
    rec.source = source
    return rec


def load_ecg_208() -> ECGRecord:
    """The 5-minute excerpt of MIT-BIH record 208 (scipy's ``electrocardiogram``), no annotations.

    Order: ``ecg/scipy_ecg_mitdb208.npz`` in ``COURSEKIT_DATA``, then in the cache, then
    downloaded (SciPy's ``ecg.dat``, converted as ``scipy.datasets.electrocardiogram`` does); else
    a 5-minute :func:`synthetic_ecg` (announced).

    Returns:
        An :class:`ECGRecord` with ``signal`` (108000, 1).

    Example:
        >>> import os
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, COURSEKIT_OFFLINE="1"):  # local or cached copy, or synthetic
        ...     rec = load_ecg_208()
        >>> rec.signal.shape, rec.fs, rec.leads, rec.duration_s
        ((108000, 1), 360, ('MLII',), 300.0)
    """
    def load(path: Path) -> ECGRecord:
        d = np.load(path, allow_pickle=False)
        return ECGRecord(d["signal"].astype(np.float32).reshape(-1, 1), int(d["fs"]), ("MLII",),
                         name="mitdb/208 excerpt")

    rec, source = resolve("ecg_208", local="ecg/scipy_ecg_mitdb208.npz", load_local=load,
                          synthetic=lambda: synthetic_ecg(300.0, seed=208))
    rec.source = source
    return rec
