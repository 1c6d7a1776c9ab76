"""`gnc hil run` closed loop across a real process boundary: the flight loop here, the rig emulator in
another process, over a pseudo-terminal (serial) and python-can's slcan on a pseudo-terminal (CAN).
Faults injected mid-run must each be detected, counted and answered, with every tick in telemetry."""

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from gnc.schema import ConfigError
from hil.emulator import EmulatorProcess
from hil.link import CanLink, SerialLink
from hil.messages import DecodeError, FaultCommand, FaultKind, ImuSample, RigStatus, ThrusterCommand
from hil.recorder import RX, TX, replay
from hil.run import check_tick, run_hil
from sim.scenario import load_scenario, parse_scenario

pytestmark = pytest.mark.realtime  # wall-clock timing: run alone (Makefile test)

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "hil_hold.toml"
# The emulator's own lifetime (s; the test stops it sooner): on a fresh clone the flight side compiles the
# truth's numba kernels before it connects, > 60 s on a loaded 2-core machine.
COLD_START_S = 400


def _faults_at(schedule: dict[float, tuple]):
    """on_tick callback sending FaultCommand(kind, target, count, value_s) at the given scenario times (s)."""
    pending = dict(sorted(schedule.items()))

    def on_tick(t_s, io):
        for t in [t for t in pending if t <= t_s]:
            kind, target, count, value = pending.pop(t)
            io.link.send(FaultCommand(0, int(kind), target, count, value))
    return on_tick


def _telemetry(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f}


def _check_every_tick_recorded(out: Path, summary: dict) -> dict:
    d = _telemetry(out / "telemetry.h5")
    assert len(d["t_s"]) == summary["hil"]["cycles"]["cycles"]
    assert np.allclose(np.diff(d["t_s"]), 0.01)  # no tick missing, faults or not
    for k in ("r_true_H", "r_est_H", "on_time_cmd_s", "on_time_rig_s", "imu_dv_B"):
        assert np.isfinite(d[k]).all(), k
    return d


def _assert_each_fault_answered(t, safe, faults, lag_s: float = 0.3):
    """Safe mode within each (onset_s, duration_s) fault, or lag_s after its end (the fault command reaches
    the emulator and the rig's answer reaches flight through two loaded processes), held for most of what
    is left of the fault once entered."""
    for onset, dur in faults:
        window = (t >= onset) & (t <= onset + dur + lag_s)
        assert safe[window].any(), f"fault at {onset} s not answered"
        entered = t[window][safe[window]][0]
        held = (t >= entered) & (t <= onset + dur)
        assert not held.any() or safe[held].mean() > 0.6, (onset, entered, safe[held].mean())


def test_serial_closed_loop_with_faults(tmp_path):
    scn = load_scenario(SCENARIO)
    faults = _faults_at({1.0: (FaultKind.CORRUPT, 0, 5, 0.0), 1.5: (FaultKind.DROP, 0, 4, 0.0),
                         2.0: (FaultKind.STUCK_IMU, 0, 0, 0.3), 3.0: (FaultKind.DISCONNECT, 0, 0, 0.4),
                         4.0: (FaultKind.THRUSTER_STUCK_ON, 2, 0, 0.8)})  # thruster 2 pushes +y
    with EmulatorProcess(["--serial", "pty"], duration_s=COLD_START_S) as emu:
        link = SerialLink(emu.pty_path, "flight")
        try:
            s = run_hil(scn, SCENARIO.read_text(), link, tmp_path, duration_s=6.5, plots=False, on_tick=faults)
        finally:
            link.close()
    h = s["hil"]
    assert h["loop_rate_hz"] == pytest.approx(100, rel=0.05)
    assert s["keep_out_violation_s"] == 0 and not s["interrupted"]
    # detected and counted
    bad_frames = h["link"]["crc_errors"] + h["link"]["decode_errors"]  # a flipped COBS code byte: a decode error
    assert bad_frames >= 5  # the 5 corrupted frames, and any frame the disconnect cut in two (timing-dependent)
    assert h["link"]["seq_gaps"] >= 2  # the dropped frames, and the disconnect
    assert h["imu"]["frozen"] >= 20  # 0.3 s of repeated samples at 100 Hz
    assert h["valves"]["rig_watchdog"] >= 1  # the rig closed its valves during the disconnect ...
    assert h["valves"]["stuck_on_detected"] >= 1  # ... and reported the stuck valve, which flight noticed
    assert h["cycles"]["safe_entries"] >= 3  # frozen IMU, disconnect, stuck valve: each answered by safe mode
    assert emu.report["faults_applied"]["tx"]["CORRUPT"] == 5
    # answered: safe mode closes every valve; recovered by the end
    d = _check_every_tick_recorded(tmp_path, s)
    safe = d["safe"].astype(bool)
    assert not d["on_time_cmd_s"][safe].any()
    t = d["t_s"]
    _assert_each_fault_answered(t, safe, ((2.0, 0.3), (3.0, 0.4), (4.0, 0.8)))
    # recovered after the last fault; frame faults alone need no safe mode (a loaded host can still stall
    # both processes past the 50 ms IMU timeout now and then: that is a real stale IMU, answered the same way)
    assert safe[t > 5.5].mean() < 0.2 and safe[(t > 0.5) & (t < 1.9)].mean() < 0.2
    felt = d["on_time_rig_s"][(t > 4.0) & (t <= 5.5), 2].sum()  # the truth felt the stuck valve, open 0.8 s
    assert felt == pytest.approx(0.8, rel=0.25)  # (+ what flight commanded on it before it saw the fault)
    # the raw log replays to what the link received
    log = replay(tmp_path / "frames.bin")
    rx = [m for _, d_, m in log if d_ == RX]
    # every corrupted frame is in the log as undecodable; frames the disconnect cut are counted by the link but
    # may replay differently (known: off by one in 1 of 3 CI runs; to investigate in hil/recorder.py)
    assert 5 <= sum(isinstance(m, DecodeError) for m in rx) <= bad_frames
    n_imu = sum(isinstance(m, ImuSample) for m in rx)
    assert n_imu >= h["imu"]["samples"] + h["imu"]["frozen"]
    assert sum(isinstance(m, ThrusterCommand) for _, d_, m in log if d_ == TX) == h["valves"]["commands"]


def test_can_closed_loop_with_bus_off(tmp_path):
    scn = load_scenario(SCENARIO)
    faults = _faults_at({1.0: (FaultKind.CORRUPT, 0, 3, 0.0), 2.0: (FaultKind.BUS_OFF, 0, 0, 0.3)})
    with EmulatorProcess(["--can", "slcan:pty"], duration_s=COLD_START_S) as emu:
        link = CanLink("slcan", emu.pty_path, "flight", 12)
        try:
            s = run_hil(scn, SCENARIO.read_text(), link, tmp_path, duration_s=3.5, plots=False, on_tick=faults)
        finally:
            link.close()
    h = s["hil"]
    assert h["link"]["crc_errors"] == 3 and s["keep_out_violation_s"] == 0
    assert h["valves"]["rig_bus_off"] == 1 and h["valves"]["rig_watchdog"] >= 1
    assert h["cycles"]["safe_entries"] >= 1
    assert emu.report["faults_applied"]["tx"]["BUS_OFF"] > 0
    d = _check_every_tick_recorded(tmp_path, s)
    t, safe = d["t_s"], d["safe"].astype(bool)
    _assert_each_fault_answered(t, safe, ((2.0, 0.3),))
    assert safe[t > 3.0].mean() < 0.2
    log = replay(tmp_path / "frames.asc")
    assert sum(isinstance(m, DecodeError) and m.kind == "crc" for _, d_, m in log if d_ == RX) == 3
    assert sum(isinstance(m, RigStatus) for _, d_, m in log if d_ == RX) >= h["valves"]["statuses"]


def test_a_slow_flight_tick_is_refused_with_the_fix():
    text = SCENARIO.read_text().replace("period_s = 0.01", "period_s = 1.0")
    with pytest.raises(ConfigError, match=r"nav.period_s = 1.0: .*set nav.period_s = 0.01"):
        check_tick(parse_scenario(text))
    assert check_tick(load_scenario(SCENARIO)) == 10_000_000


def test_a_six_dof_chaser_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match=r"^thrusters = '\[\.\.\.\]': a HIL run flies the 3-axis chaser.*remove \[thrusters\]"):
        check_tick(load_scenario(ROOT / "scenarios" / "inspection.toml"))


def test_cli_without_a_rig_says_so(tmp_path):
    """A pty nobody serves: the run stops before flying, naming the link and the remedy."""
    import os
    master, slave = os.openpty()
    try:
        r = subprocess.run([sys.executable, "-m", "cli.main", "hil", "run", str(SCENARIO), "--serial",
                            os.ttyname(slave), "--out", str(tmp_path / "run"), "--no-plots", "--connect-timeout", "2"],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
    finally:
        os.close(master)
        os.close(slave)
    assert r.returncode == 2 and "no rig answers" in r.stderr and "within 2.0 s" in r.stderr and "gnc hil emulate" in r.stderr
    assert not (tmp_path / "run" / "summary.json").exists()
