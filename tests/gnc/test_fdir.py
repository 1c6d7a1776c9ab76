"""Relative-sensor health monitor: silence and consecutive gate rejections become events, once each."""

import pytest

from gnc.fdir import NS, SensorHealth


def _monitor():
    events = []
    return SensorHealth("lidar", 0, 5.0, 3, lambda t, x: events.append((t // NS, x))), events


def test_silence_is_detected_once_and_its_end_logged():
    h, ev = _monitor()
    for t in range(0, 20):
        h.update(t * NS, [True] if t < 4 or t >= 15 else [])
    assert ev == [(9, "lidar silent: no measurement for 6 s"), (15, "lidar measurements back after 12 s")]
    assert h.detections == 1 and not h.silent


def test_consecutive_rejections_isolate_and_an_acceptance_restores():
    h, ev = _monitor()
    h.update(1 * NS, [False, False])
    h.update(2 * NS, [True])  # a streak of 2 < 3 is just gating
    assert ev == [] and not h.isolated
    h.update(3 * NS, [False, False, False, False])
    assert h.isolated and ev == [(3, "lidar isolated: 3 consecutive measurements rejected by the innovation gate")]
    h.update(4 * NS, [True])
    assert not h.isolated and ev[-1] == (4, "lidar restored: measurement accepted after 4 rejections")
    assert h.detections == 1


@pytest.mark.parametrize("silent_after_s, limit", [(0.0, 3), (5.0, 0)])
def test_bad_settings_are_refused(silent_after_s, limit):
    with pytest.raises(ValueError, match="lidar"):
        SensorHealth("lidar", 0, silent_after_s, limit, print)


# --- thruster FDIR, IMU and star-tracker health (gnc.fdir_thrusters, gnc.fdir.AttitudeSensorHealth) ---

def _six_dof():
    from sim.scenario import load_scenario
    from pathlib import Path
    return load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "fdir_quick.toml").flight()


def _synthetic_run(fault, n_s, seed):
    """ThrusterFdir fed IMU samples made here from the table itself (Euler's equation, white noise of the
    declared densities) while random thrusters fire; fault = (index, mode, onset s) or None. Returns the
    first declaration (t s, index, mode, last time its statistic was 0 s) or None."""
    import numpy as np
    from gnc.control.allocation import wrench_matrix
    from gnc.fdir_thrusters import STUCK_ON, ThrusterFdir
    from gnc.ports import ImuSample
    cfg = _six_dof()
    th, f = cfg.thrusters, cfg.fdir
    A = wrench_matrix(th.position_B_m, th.direction_B, th.max_thrust_N)
    J = np.array(cfg.attitude.inertia_B_kg_m2)
    fd = ThrusterFdir(A, cfg.vehicle.mass_kg, J, f.gyro_noise_density, f.accel_noise_density, f.thruster_threshold,
                      f.thruster_isolate_margin, f.accel_bias_window_s, f.noise_margin, f.thrust_model_error)
    rng = np.random.default_rng(seed)
    w_true, bias = np.zeros(3), rng.normal(0, 1e-3, 3)
    on = np.zeros(24)
    for k in range(n_s):
        actual = on.copy()
        if fault is not None and k >= fault[2]:
            actual[fault[0]] = 1.0 if fault[1] == STUCK_ON else 0.0
        accel = A[:3] @ (actual == 1.0) / cfg.vehicle.mass_kg  # full-duty valves are open at the sample
        w_true = w_true + np.linalg.solve(J, A[3:] @ actual)  # 1 s periods, torque mean over the period
        m = ImuSample(k * NS, tuple(w_true + rng.normal(0, f.gyro_noise_density, 3)),
                      tuple(accel + bias + rng.normal(0, f.accel_noise_density, 3)))
        found = fd.imu(m)
        if found is not None:
            return k, found[0], found[1], fd.since_ns[found[1], found[0]] / NS
        on = np.where(rng.random(24) < 0.1, rng.uniform(0.01, 0.3, 24), 0.0)  # sparse short pulses
        fd.command(k * NS, on)
    return None


def test_thruster_fdir_raises_no_false_alarm_over_a_long_nominal_run():
    assert _synthetic_run(None, 3000, 1) is None


def test_thruster_fdir_isolates_every_stuck_on_thruster_within_30_s():
    from gnc.fdir_thrusters import STUCK_ON
    for i in range(24):
        got = _synthetic_run((i, STUCK_ON, 100), 200, 10 + i)
        assert got is not None and got[1:3] == (i, STUCK_ON) and 100 <= got[0] <= 130, (i, got)
        assert 80 <= got[3] <= 100, (i, got)  # the change time the response widens navigation from


def test_thruster_fdir_isolates_a_failed_off_thruster_once_it_is_commanded():
    from gnc.fdir_thrusters import FAILED_OFF
    for i in (0, 5, 12, 19):
        got = _synthetic_run((i, FAILED_OFF, 100), 600, 50 + i)
        assert got is not None and got[1:3] == (i, FAILED_OFF) and got[0] >= 100 and got[3] < got[0], (i, got)


def test_stuck_thruster_is_subtracted_from_the_demand_and_its_counterability_checked():
    import numpy as np
    from gnc.control.attitude import AttitudeLoop
    loop = AttitudeLoop(_six_dof(), np.array([1.0, 0, 0, 0]), 0)
    assert loop.counterable(0)
    loop.mark_stuck_on(0)
    on = np.array(loop.step(0, np.zeros(3), (1.0, 0.0, 0.0)))  # already pointing: little torque
    assert on[0] == 0.0
    # healthy thrusters cancel the stuck one's full wrench (plus the small pointing torque)
    net = loop.A @ (on / loop.period_s) + loop.A[:, 0]
    np.testing.assert_allclose(net[:3], 0.0, atol=1e-2)
    assert np.abs(net[3:] - loop.torque_B).max() < 2e-3


def test_attitude_sensor_health_declares_stale_stuck_and_silent_once():
    from gnc.fdir import AttitudeSensorHealth
    events = []
    h = AttitudeSensorHealth(0, 3.0, 5, 10.0, lambda t, x: events.append((t / NS, x)))
    for k in range(1, 6):
        h.imu(k * NS, ((k, 0, 0), (0, 0, 0)))
        h.fix(k * NS)
        h.check(k * NS)
    for k in range(6, 10):  # stale: the same time tag again
        h.imu(5 * NS, ((5, 0, 0), (0, 0, 0)))
        h.check(k * NS)
    assert events == [(9.0, "IMU stale: no new sample for 4 s")] and h.imu_failed
    h2 = AttitudeSensorHealth(0, 3.0, 5, 10.0, lambda t, x: events.append((t / NS, x)))
    for k in range(1, 8):
        h2.imu(k * NS, ((1, 2, 3), (4, 5, 6)))
    assert events[-1] == (5.0, "IMU stuck: 5 identical samples")
    h2.check(16 * NS)
    assert events[-1][1].startswith("star tracker silent: no fix for 16 s") and h2.fix_age_s(16 * NS) == 16.0
    h2.fix(17 * NS)
    assert events[-1] == (17.0, "star tracker fixes back after 17 s")
