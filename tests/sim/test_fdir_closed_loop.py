"""The fault matrix on the short 6-DOF scenario (scenarios/fdir_quick.toml): each fault kind of the flight code's
fault protection, declared in [[faults]] at 600 s (on the approach to the 1 km hold), flown closed loop once."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from sim.run import run_scenario
from sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[2]
QUICK6 = (ROOT / "scenarios" / "fdir_quick.toml").read_text()
FAULT_WORDS = ("thruster", "IMU", "star tracker", "control stage failed", "ABORT")  # overruns: wall clock


def _fly(tmp_path, fault_toml=""):
    text = QUICK6 + (f"\n[[faults]]\n{fault_toml}\n" if fault_toml else "")
    s = run_scenario(parse_scenario(text), text, tmp_path, plots=False)
    return s, [(e["t_s"], e["text"]) for e in s["events"]]


def _first(events, words):
    return next(((t, x) for t, x in events if words in x), (None, None))


def test_nominal_run_raises_no_fault_event(tmp_path):
    s, events = _fly(tmp_path)
    assert s["success"] and s["keep_out_violation_s"] == 0.0
    assert not [x for _, x in events if any(w in x for w in FAULT_WORDS)], events


@pytest.mark.parametrize("index", [0, 19])
def test_stuck_on_thruster_is_isolated_and_countered(tmp_path, index):
    s, events = _fly(tmp_path, f'kind = "thruster_stuck_on"\nindex = {index}\nstart_s = 600.0')
    declared = [(t, x) for t, x in events if x.startswith("thruster ")]
    assert len(declared) == 1 and declared[0][1].startswith(f"thruster {index} stuck on"), events
    assert 600.0 < declared[0][0] <= 630.0
    assert _first(events, "countered as a known disturbance")[0] == declared[0][0]
    # without the response the chaser loses its pointing and aborts (measured: ABORT at ~670 s); before navigation
    # was widened by the thrust it had not been told of and a transfer past its plan's end tracked the end point
    # without the plan's L1 price, thruster 0 left the chaser 7 m short of the hold, still approaching at 1500 s
    assert s["success"] and s["keep_out_violation_s"] == 0.0


def test_failed_off_thruster_is_isolated_when_commanded_and_the_mission_goes_on(tmp_path):
    s, events = _fly(tmp_path, 'kind = "thruster_failed_off"\nindex = 10\nstart_s = 600.0')
    declared = [(t, x) for t, x in events if x.startswith("thruster ")]
    assert len(declared) == 1 and declared[0][1].startswith("thruster 10 failed off"), events
    assert 600.0 < declared[0][0] < 900.0  # thruster 10 fires a few % of the time after 600 s
    # navigation is not widened (only missed pulses; widened by the full thrust since its CUSUM last stood at 0,
    # 1068 s on the inspection ellipse, it aborted on its own covariance)
    with h5py.File(tmp_path / "telemetry.h5", "r") as f:
        t, sig = f["t_s"][()], f["sigma_H"][()][:, :3].max(axis=1)
    k = np.searchsorted(t, declared[0][0])
    assert sig[k + 1] < 1.1 * sig[k - 1]
    assert s["success"] and s["keep_out_violation_s"] == 0.0


@pytest.mark.parametrize("kind,text", [("imu_stuck", "IMU stuck: 5 identical samples"),
                                       ("imu_stale", "IMU stale: no new sample for 4 s")])
def test_failed_imu_is_detected_and_the_star_tracker_takes_over_the_rate(tmp_path, kind, text):
    s, events = _fly(tmp_path, f'kind = "{kind}"\nstart_s = 600.0\nduration_s = 300.0')
    assert (603.0, text) in events
    assert _first(events, "IMU isolated: attitude rate from the star tracker")[0] == 603.0
    assert s["success"] and s["keep_out_violation_s"] == 0.0


def test_short_star_tracker_loss_is_flown_on_the_gyro(tmp_path):
    s, events = _fly(tmp_path, 'kind = "star_tracker_loss"\nstart_s = 600.0\nduration_s = 120.0')
    t_silent, _ = _first(events, "star tracker silent")
    assert 605.0 <= t_silent <= 612.0  # 10 s timeout after the last fix (latency 0.2 s, 98 % availability)
    assert _first(events, "star tracker fixes back")[0] is not None
    assert s["success"] and s["keep_out_violation_s"] == 0.0


def test_long_star_tracker_loss_aborts_after_the_attitude_fix_limit(tmp_path):
    s, events = _fly(tmp_path, 'kind = "star_tracker_loss"\nstart_s = 400.0\nduration_s = 900.0')
    t_abort, text = _first(events, "ABORT")
    assert "no attitude fix" in text and 1000.0 <= t_abort <= 1010.0  # 600 s limit, next control cycle
    assert s["final_mode"] == "ABORT" and s["keep_out_violation_s"] == 0.0


def test_infeasible_mpc_falls_back_and_aborts_after_the_failure_limit(tmp_path):
    s, events = _fly(tmp_path, 'kind = "mpc_infeasible"\nstart_s = 600.0\nduration_s = 100.0')
    assert _first(events, "control stage failed (MPC failed)")[0] == 600.0
    t_abort, text = _first(events, "ABORT")
    assert t_abort == 630.0 and "3 consecutive control-stage failures" in text  # mpc_fail_limit = 3, 10 s period
    assert s["fallbacks"] == 3 and s["mpc_failures"] == 3
    assert s["final_mode"] == "ABORT" and s["keep_out_violation_s"] == 0.0


def test_control_overrun_falls_back_and_a_short_one_is_survived(tmp_path):
    s, events = _fly(tmp_path, 'kind = "stage_overrun"\nstage = "control"\nstart_s = 600.0\nduration_s = 15.0\n'
                               'extra_s = 3.0')
    assert _first(events, "control stage overran its deadline")[0] == 600.0
    assert s["deadline_misses"]["ctrl"] == 2 and s["fallbacks"] == 2  # the solves at 600 and 610 s
    assert s["success"] and s["keep_out_violation_s"] == 0.0


def test_navigation_overruns_abort_after_the_limit(tmp_path):
    s, events = _fly(tmp_path, 'kind = "stage_overrun"\nstage = "nav"\nstart_s = 600.0\nduration_s = 100.0\n'
                               'extra_s = 2.0')
    assert _first(events, "navigation stage overran its deadline")[0] == 600.0
    t_abort, text = _first(events, "ABORT")
    assert "5 consecutive navigation overruns" in text and 604.0 <= t_abort <= 610.0
    assert s["deadline_misses"]["nav"] >= 5 and s["keep_out_violation_s"] == 0.0
