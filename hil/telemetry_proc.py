"""Telemetry written by a separate process, so that HDF5 flushes (tens of ms) never stall a real-time loop.

``TelemetryProcess`` has the interface of ``sim.telemetry.TelemetryWriter`` (append, close) and writes the
same file: rows are copied into one preallocated array per signal (its shape and dtype) and go as pickled
batches of these columns (a few pickles per batch, not one per value), written by a feeder thread, down a
pipe to ``python -m hil.telemetry_proc``, which appends them row by row with a TelemetryWriter as they come
(a crash loses little, as in `gnc run`). The writer runs on the CPUs hil.realtime leaves off the loop.
"""

import os
import pickle
import queue
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from hil.realtime import helper_thread, off_loop_cpus

BATCH_ROWS = 20  # rows per batch (0.2 s at 100 Hz)


class TelemetryProcess:
    """append(**row) buffers; every BATCH_ROWS rows the batch goes to the writer. close() waits for it."""

    def __init__(self, path, signals: dict, attrs: dict):
        root = Path(__file__).resolve().parent.parent
        self._proc = subprocess.Popen([sys.executable, "-m", "hil.telemetry_proc"], stdin=subprocess.PIPE, cwd=root)
        if (cpus := off_loop_cpus()) is not None:
            os.sched_setaffinity(self._proc.pid, cpus)
        self._batches: queue.SimpleQueue = queue.SimpleQueue()
        self._put((str(Path(path).resolve()), signals, attrs))
        self._feeder = threading.Thread(target=self._feed, daemon=True)
        self._feeder.start()
        self._cols = {k: np.empty((BATCH_ROWS, *s.shape), dtype=s.dtype) for k, s in signals.items()}
        self._n = 0
        self.rows = 0

    def _feed(self) -> None:
        """Writes the pickled batches; writing releases the GIL, so a slow writer never blocks the loop. Runs
        as a helper of the loop (hil.realtime.helper_thread)."""
        helper_thread()
        while (data := self._batches.get()) is not None:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        self._proc.stdin.close()

    def _put(self, item) -> None:
        self._batches.put(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))  # here: no GIL contention later

    def append(self, **row) -> None:
        for k, col in self._cols.items():
            col[self._n] = row[k]
        self._n += 1
        self.rows += 1
        if self._n == BATCH_ROWS:
            self._put_batch()

    def _put_batch(self) -> None:
        self._put({k: col[:self._n] for k, col in self._cols.items()})
        self._n = 0

    def close(self, timeout_s: float = 60.0) -> None:
        if self._proc is None:
            return
        if self._n:
            self._put_batch()
        self._put(None)
        self._batches.put(None)
        self._feeder.join(timeout_s)
        if self._proc.wait(timeout_s) != 0:
            raise RuntimeError(f"telemetry writer failed (exit code {self._proc.returncode})")
        self._proc = None


def _main() -> None:
    """The writer: (path, signals, attrs), then batches ({signal: rows of it}), then None, pickled on stdin."""
    from sim.telemetry import TelemetryWriter

    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))  # never inherit the loop's real-time policy
    src = sys.stdin.buffer
    path, signals, attrs = pickle.load(src)
    tlm = TelemetryWriter(path, signals, attrs)
    try:
        while (batch := pickle.load(src)) is not None:
            for i in range(len(next(iter(batch.values())))):
                tlm.append(**{k: col[i] for k, col in batch.items()})
    finally:
        tlm.close()


if __name__ == "__main__":
    _main()
