"""Telemetry written as the run goes: one HDF5 dataset per signal, units as attributes.

Rows are buffered and appended every ``flush_rows`` rows; the file is in SWMR mode and flushed
after each append, so a run killed mid-way leaves a file readable up to its last flush.
"""

from dataclasses import dataclass

import h5py
import numpy as np


@dataclass(frozen=True)
class Signal:
    """One telemetry column: per-row shape, dtype, unit and description (frame included)."""

    shape: tuple[int, ...]
    unit: str
    doc: str
    dtype: str = "f8"


class TelemetryWriter:
    """Append-only HDF5 writer for a fixed set of signals (see module doc)."""

    def __init__(self, path, signals: dict[str, Signal], attrs: dict, flush_rows: int = 60):
        self.signals = signals
        self.flush_rows = flush_rows
        self.rows = 0
        self._rows: list[dict] = []  # buffered rows, written column by column at the next flush
        self.file = h5py.File(path, "w", libver="latest")
        for k, v in attrs.items():
            self.file.attrs[k] = v
        for name, s in signals.items():
            ds = self.file.create_dataset(name, shape=(0, *s.shape), maxshape=(None, *s.shape),
                                          dtype=s.dtype, chunks=(max(flush_rows, 1), *s.shape))
            ds.attrs["unit"] = s.unit
            ds.attrs["doc"] = s.doc
        self.file.swmr_mode = True
        self._ds = [(name, self.file[name]) for name in signals]

    def append(self, **row) -> None:
        """Add one row: a value for every signal."""
        missing = self.signals.keys() - row.keys()
        if missing:
            raise KeyError(f"telemetry row without {sorted(missing)}")
        self._rows.append(row)
        if len(self._rows) >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        """Write buffered rows and flush the file to disk."""
        n = len(self._rows)
        if n == 0 or self.file is None:
            return
        for name, ds in self._ds:
            ds.resize(self.rows + n, axis=0)
            ds[self.rows:self.rows + n] = np.asarray([r[name] for r in self._rows], dtype=ds.dtype)
        self._rows.clear()
        self.rows += n
        self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.flush()
            self.file.close()
            self.file = None
