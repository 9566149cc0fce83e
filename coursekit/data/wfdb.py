"""Reading PhysioNet WFDB records without the ``wfdb`` package: header, format 212, MIT annotations.

Enough of the WFDB formats (Moody, "WFDB Programmer's Guide", PhysioNet) for the MIT-BIH
Arrhythmia Database: a header (``.hea``) naming each signal's file, format, gain and baseline;
signal format 212 (two 12-bit two's-complement samples packed in three bytes, channels
interleaved frame by frame); and the MIT annotation format (``.atr``: 16-bit little-endian words
of a 6-bit code and a 10-bit sample increment, with SKIP, AUX, NUM, SUB and CHN pseudo-codes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["WFDBHeader", "decode_212", "parse_header", "read_annotations"]

# MIT annotation codes 0..41 (WFDB's ecgcodes.h); 15 and 17 are unused
_SYMBOLS = {i: s for i, s in enumerate(' NLRaVFJASEj/Q~') if i}
_SYMBOLS.update(zip(range(16, 42), '|?sT*D"=pB^t+u?![]en@xf()r'))
del _SYMBOLS[17]
_SKIP, _NUM, _SUB, _CHN, _AUX = 59, 60, 61, 62, 63


@dataclass(frozen=True)
class WFDBHeader:
    """The parts of a WFDB header a signal reader needs.

    Attributes:
        record: the record's name.
        fs: sampling frequency in Hz.
        n_samples: samples per signal.
        files: each signal's file name.
        formats: each signal's storage format (212, 16, ...).
        gains: ADC units per physical unit.
        baselines: the ADC value of 0 physical units.
        units: physical units per signal (``mV`` when not given).
        names: signal names (the lead, e.g. ``MLII``).
    """

    record: str
    fs: float
    n_samples: int
    files: tuple[str, ...]
    formats: tuple[int, ...]
    gains: tuple[float, ...]
    baselines: tuple[int, ...]
    units: tuple[str, ...]
    names: tuple[str, ...]


def parse_header(text: str) -> WFDBHeader:
    """Parse a single-segment WFDB header.

    Args:
        text: the ``.hea`` file's text.

    Returns:
        A :class:`WFDBHeader`.

    Example:
        >>> h = parse_header("100 2 360 650000\\n100.dat 212 200 11 1024 995 -22131 0 MLII\\n"
        ...                  "100.dat 212 200(0)/mV 11 1024 1011 20052 0 V5\\n# 69 M")
        >>> h.fs, h.n_samples, h.formats, h.gains, h.baselines, h.units, h.names
        (360.0, 650000, (212, 212), (200.0, 200.0), (1024, 0), ('mV', 'mV'), ('MLII', 'V5'))
    """
    lines = [ln.split() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ValueError("empty WFDB header")
    record_line = lines[0]
    if "/" in record_line[0]:
        raise ValueError(f"multi-segment records are not supported, got record line {record_line}")
    n_signals = int(record_line[1])
    fs = float(record_line[2].split("/")[0]) if len(record_line) > 2 else 250.0
    n_samples = int(record_line[3]) if len(record_line) > 3 else 0
    if len(lines) < 1 + n_signals:
        raise ValueError(f"header names {n_signals} signals but has {len(lines) - 1} signal lines")
    files, formats, gains, baselines, units, names = [], [], [], [], [], []
    for fields in lines[1:1 + n_signals]:
        files.append(fields[0])
        formats.append(int(fields[1].split("x")[0].split(":")[0].split("+")[0]))
        gain_field = fields[2] if len(fields) > 2 else "200"
        gain_text, _, unit = gain_field.partition("/")
        gain_text, _, baseline_text = gain_text.partition("(")
        adc_zero = int(fields[4]) if len(fields) > 4 else 0
        gains.append(float(gain_text) or 200.0)
        baselines.append(int(baseline_text.rstrip(")")) if baseline_text else adc_zero)
        units.append(unit or "mV")
        names.append(" ".join(fields[8:]) if len(fields) > 8 else f"signal{len(names)}")
    return WFDBHeader(record_line[0], fs, n_samples, tuple(files), tuple(formats), tuple(gains),
                      tuple(baselines), tuple(units), tuple(names))


def decode_212(data: bytes, n_signals: int) -> np.ndarray:
    """Decode WFDB format 212: every 3 bytes hold two 12-bit two's-complement samples.

    Sample ``2k`` is byte 0 plus the low nibble of byte 1 as its high bits; sample ``2k + 1`` is
    byte 2 plus the high nibble of byte 1. Samples run frame by frame (all channels of one
    instant, then the next).

    Args:
        data: the ``.dat`` file's bytes.
        n_signals: channels interleaved in the file.

    Returns:
        (L, n_signals) int16 ADC values.

    Example:
        >>> decode_212(bytes([0x01, 0xF0, 0xFF]), 2).tolist()  # samples 1 and -1
        [[1, -1]]
    """
    raw = np.frombuffer(data[: len(data) // 3 * 3], dtype=np.uint8).reshape(-1, 3).astype(np.int16)
    first = raw[:, 0] | ((raw[:, 1] & 0x0F) << 8)
    second = raw[:, 2] | ((raw[:, 1] & 0xF0) << 4)
    samples = np.stack([first, second], axis=1).reshape(-1)  # (2 * triples,)
    samples = np.where(samples >= 2048, samples - 4096, samples).astype(np.int16)
    n = samples.size // n_signals * n_signals
    return samples[:n].reshape(-1, n_signals)


def read_annotations(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode an annotation file in MIT format (e.g. ``100.atr``).

    Args:
        data: the file's bytes.

    Returns:
        ``(sample, symbol, aux)``: (N,) int64 sample index of each annotation, (N,) ``<U1``
        symbols (``N``, ``V``, ``+``, ...; unknown codes become ``' '``), (N,) aux strings (the
        rhythm, e.g. ``'(N'``, for ``+`` annotations; ``''`` otherwise).

    Example:
        >>> words = [(1 << 10) | 100, (28 << 10) | 2, (63 << 10) | 2, 0x4e28, (5 << 10) | 50, 0]
        >>> s, sym, aux = read_annotations(np.array(words, "<u2").tobytes())  # 0x4e28: b"(N"
        >>> s.tolist(), sym.tolist(), aux.tolist()
        ([100, 102, 152], ['N', '+', 'V'], ['', '(N', ''])
    """
    words = np.frombuffer(data[: len(data) // 2 * 2], dtype="<u2")
    samples: list[int] = []
    symbols: list[str] = []
    aux: list[str] = []
    time, i = 0, 0
    while i < len(words):
        word = int(words[i])
        code, value = word >> 10, word & 0x3FF
        i += 1
        if code == 0 and value == 0:
            break  # end of file
        if code == _SKIP:  # a 32-bit interval follows, high 16 bits first
            if i + 2 > len(words):
                break
            interval = (int(words[i]) << 16) | int(words[i + 1])
            time += interval - (1 << 32) if interval >= 1 << 31 else interval
            i += 2
        elif code == _AUX:  # ``value`` bytes of text follow, padded to an even length
            text = words[i:i + (value + 1) // 2].tobytes()[:value]
            if aux:
                aux[-1] = text.split(b"\0")[0].decode("latin-1")
            i += (value + 1) // 2
        elif code in (_NUM, _SUB, _CHN):
            continue  # fields the course does not use
        else:
            time += value
            samples.append(time)
            symbols.append(_SYMBOLS.get(code, " "))
            aux.append("")
    return (np.array(samples, dtype=np.int64), np.array(symbols, dtype="<U1"),
            np.array(aux, dtype=str if aux else "<U1"))
