"""Nothing lost: a run killed with SIGKILL leaves telemetry.h5 readable up to its last flush."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from sim.run import TLM_FLUSH_ROWS

pytestmark = pytest.mark.realtime  # wall-clock timing: run alone (Makefile test)

ROOT = Path(__file__).resolve().parents[1]


def test_sigkill_mid_run_leaves_readable_telemetry(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "run", str(ROOT / "scenarios" / "inspection.toml"),
                             "--out", str(out), "--quiet", "--no-plots"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tlm = out / "telemetry.h5"
    deadline = time.monotonic() + 240
    rows = 0
    try:
        while time.monotonic() < deadline and rows < 3 * TLM_FLUSH_ROWS:  # wait for a few flushes
            time.sleep(1.0)
            if tlm.exists():
                try:
                    with h5py.File(tlm, "r", swmr=True) as f:
                        rows = f["t_s"].shape[0]
                except OSError:
                    pass  # file still being created
        assert proc.poll() is None, "run finished before it could be killed"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert rows >= 3 * TLM_FLUSH_ROWS
    # a killed SWMR writer leaves its "open for write" flag set: readers open in SWMR mode
    with h5py.File(tlm, "r", swmr=True) as f:
        t = f["t_s"][()]
        r = f["r_true_H"][()]
        assert len(t) >= rows and np.all(np.diff(t) > 0)
        assert np.all(np.isfinite(r)) and f["r_true_H"].attrs["unit"] == "m"
