"""Scenario-declared and dispersed faults of the relative sensor, and how the closed loop answers them."""

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest

from gnc.guidance.modes import Mode
from gnc.guidance.safety import free_drift_min_range
from gnc.schema import ConfigError
from sim.dispersions import apply, draw, to_toml
from sim.faults import FaultySensor, SensorBiasJump, SensorOutage, SensorOutliers
from sim.run import run_scenario
from sim.scenario import parse_scenario
from sim.sensors import RaeSensor

ROOT = Path(__file__).resolve().parents[2]
QUICK = (ROOT / "scenarios" / "mc_quick.toml").read_text()
NS = 1_000_000_000


def _lidar(seed):
    return RaeSensor(NS, 0.5, 5e-4, 0.1, 5e-5, np.radians(20), 8000.0, 1.0, 0.0, np.random.default_rng(seed))


def _samples(sensor, n):
    r, point = np.array([0.0, -500.0, 0.0]), np.array([0.0, 1.0, 0.0])
    return [sensor.sample(k * NS, r, point) for k in range(n)]


def test_outage_discards_samples_and_leaves_the_noise_sequence_alone():
    faults = (SensorOutage(kind="sensor_outage", start_s=10.0, duration_s=5.0),)
    clean, faulty = _samples(_lidar(1), 30), _samples(FaultySensor(_lidar(1), faults, None), 30)
    for k, (a, b) in enumerate(zip(clean, faulty)):
        assert (b is None) if 10 <= k < 15 else (b == a)


def test_bias_jump_adds_its_steps_from_its_start_time():
    faults = (SensorBiasJump(kind="sensor_bias_jump", start_s=5.0, range_bias_m=3.0, angle_bias_rad=1e-3),
              SensorBiasJump(kind="sensor_bias_jump", start_s=8.0, range_bias_m=-1.0))
    clean, faulty = _samples(_lidar(2), 12), _samples(FaultySensor(_lidar(2), faults, None), 12)
    for k, (a, b) in enumerate(zip(clean, faulty)):
        dr = (3.0 if k >= 5 else 0.0) + (-1.0 if k >= 8 else 0.0)
        da = 1e-3 if k >= 5 else 0.0
        assert b.range_m == pytest.approx(a.range_m + dr, abs=1e-12)
        assert b.az_rad == pytest.approx(a.az_rad + da, abs=1e-12)
        assert b.el_rad == pytest.approx(a.el_rad + da, abs=1e-12)


def test_outliers_hit_with_their_probability_and_exact_magnitude_inside_their_window():
    f = SensorOutliers(kind="sensor_outliers", start_s=100.0, duration_s=4000.0, prob=0.3, range_m=20.0,
                       angle_rad=0.01)
    n = 4200
    clean, faulty = _samples(_lidar(3), n), _samples(FaultySensor(_lidar(3), (f,), np.random.default_rng(9)), n)
    dr = np.array([b.range_m - a.range_m for a, b in zip(clean, faulty)])
    dl = np.array([b.el_rad - a.el_rad for a, b in zip(clean, faulty)])
    assert not dr[:100].any() and not dr[4100:].any()
    hit = dr[100:4100] != 0
    assert hit.mean() == pytest.approx(0.3, abs=0.025)
    np.testing.assert_allclose(np.abs(dr[100:4100][hit]), 20.0, rtol=1e-9)
    np.testing.assert_allclose(np.abs(dl[100:4100][hit]), 0.01, rtol=1e-6)
    assert 0.45 < (dr[100:4100][hit] > 0).mean() < 0.55


def test_fault_tables_are_validated_by_name():
    bad = QUICK + '\n[[faults]]\nkind = "sensor_outage"\nstart_s = 100.0\nduration_s = -5.0\n'
    with pytest.raises(ConfigError, match=r"^faults\[0\]\.duration_s = -5\.0: must be > 0"):
        parse_scenario(bad)
    bad = QUICK + '\n[[faults]]\nkind = "thruster_on_fire"\nstart_s = 100.0\n'
    with pytest.raises(ConfigError, match=r"^faults\[0\]\.kind = 'thruster_on_fire': must be one of"):
        parse_scenario(bad)


def test_dispersed_outages_follow_their_probability_and_duration_range():
    text = QUICK + "\n[dispersions.faults]\nsensor_outage_prob = 0.25\noutage_duration_s = [20.0, 80.0]\n"
    scn = parse_scenario(text)
    v = [draw(scn, s) for s in range(4000)]
    got = [x["faults"][0] for x in v if x["faults"]]
    assert len(got) / len(v) == pytest.approx(0.25, abs=0.02)
    dur = np.array([f["duration_s"] for f in got])
    start = np.array([f["start_s"] for f in got])
    assert 20.0 <= dur.min() and dur.max() <= 80.0 and dur.mean() == pytest.approx(50.0, abs=1.5)
    assert 0 <= start.min() and start.max() <= scn.run.max_duration_s
    k = next(i for i, x in enumerate(v) if x["faults"])
    d = apply(scn, v[k], k)
    assert d.faults == (SensorOutage(**v[k]["faults"][0]),)
    assert parse_scenario(to_toml(dataclasses.asdict(d))) == d


def _quick_with(fault_toml, tmp_path):
    text = QUICK + "\n" + fault_toml
    scn = parse_scenario(text)
    return scn, run_scenario(scn, text, tmp_path, plots=False)


def test_short_outage_is_coasted_through(tmp_path):
    scn, s = _quick_with('[[faults]]\nkind = "sensor_outage"\nstart_s = 600.0\nduration_s = 40.0\n', tmp_path)
    assert s["success"], s["events"]
    texts = [(e["t_s"], e["text"]) for e in s["events"]]
    assert (610.0, "relative sensor silent: no measurement for 11 s") in texts  # last sample at 599 s
    assert (640.0, "relative sensor measurements back after 41 s") in texts
    with h5py.File(tmp_path / "telemetry.h5", "r") as f:
        t, n_meas, sig = f["t_s"][()], f["n_meas"][()], f["sigma_H"][()]
    inside = (t > 600) & (t < 640)
    assert n_meas[inside].sum() == 0 and n_meas[t > 650].min() > 0
    # the covariance grows while coasting and shrinks again once measurements return
    k_in, k_after = np.flatnonzero(inside)[-1], np.flatnonzero(t > 700)[0]
    assert sig[k_in, :3].max() > sig[np.flatnonzero(t < 600)[-1], :3].max()
    assert sig[k_after, :3].max() < sig[k_in, :3].max()


def test_long_outage_aborts_to_a_passively_safe_drift(tmp_path):
    scn, s = _quick_with('[[faults]]\nkind = "sensor_outage"\nstart_s = 600.0\nduration_s = 600.0\n', tmp_path)
    assert not s["success"] and s["final_mode"] == "ABORT"
    texts = [e["text"] for e in s["events"]]
    assert any(x.startswith("relative sensor silent") for x in texts)
    abort = next(e for e in s["events"] if "no relative measurement" in e["text"])
    assert 600 + scn.mission.abort.sensor_timeout_s <= abort["t_s"] <= 600 + scn.mission.abort.sensor_timeout_s + 20
    with h5py.File(tmp_path / "telemetry.h5", "r") as f:
        mode, r, v = f["mode"][()], f["r_true_H"][()], f["v_true_H"][()]
    assert mode[-1] == Mode.ABORT
    x_end = np.concatenate([r[-1], v[-1]])
    assert free_drift_min_range(scn.flight().n_rad_s, x_end, 86400.0, 20.0) > scn.control.keep_out_radius_m


@pytest.mark.parametrize("jump", ["range_bias_m = 30.0", "angle_bias_rad = 0.005"])  # 55 / 9 sigma per sample
def test_bias_jump_is_isolated_by_the_gate_and_the_chaser_aborts_safely(tmp_path, jump):
    scn, s = _quick_with(f'[[faults]]\nkind = "sensor_bias_jump"\nstart_s = 600.0\n{jump}\n', tmp_path)
    texts = [(e["t_s"], e["text"]) for e in s["events"]]
    iso = [t for t, x in texts if "isolated" in x]
    assert len(iso) == 1 and 600 <= iso[0] <= 610  # 5 rejections at 1 Hz
    assert s["final_mode"] == "ABORT" and s["keep_out_violation_s"] == 0.0
    assert any("no relative measurement" in x for _, x in texts)


def test_outlier_burst_is_gated_out_and_the_mission_goes_on(tmp_path):
    scn, s = _quick_with('[[faults]]\nkind = "sensor_outliers"\nstart_s = 400.0\nduration_s = 300.0\nprob = 0.1\n'
                         'range_m = 30.0\nangle_rad = 0.02\n', tmp_path)
    assert s["success"] and s["keep_out_violation_s"] == 0.0
    assert 15 <= s["nav_rejected"] <= 50  # ~30 outliers of 30 m / 20 mrad, all far outside the gate
    assert not any("isolated" in e["text"] for e in s["events"])


def test_each_dispersed_fault_kind_occurs_with_its_own_probability():
    text = QUICK + ("\n[dispersions.faults]\nsensor_outage_prob = 0.1\nbias_jump_prob = 0.2\n"
                    "bias_jump_range_sigma_m = 5.0\noutliers_prob = 0.3\n")
    scn = parse_scenario(text)
    v = [draw(scn, s) for s in range(3000)]
    for kind, p in (("sensor_outage", 0.1), ("sensor_bias_jump", 0.2), ("sensor_outliers", 0.3)):
        hits = [f for x in v for f in x["faults"] if f["kind"] == kind]
        assert len(hits) / len(v) == pytest.approx(p, abs=0.02), kind
    jumps = np.array([f["range_bias_m"] for x in v for f in x["faults"] if f["kind"] == "sensor_bias_jump"])
    assert jumps.std() == pytest.approx(5.0, rel=0.1)
    d = apply(scn, next(x for x in v if len(x["faults"]) == 3), 1)
    assert {type(f).__name__ for f in d.faults} == {"SensorOutage", "SensorBiasJump", "SensorOutliers"}


def test_each_dispersed_6dof_fault_kind_occurs_with_its_own_probability():
    six = (ROOT / "scenarios" / "fdir_quick.toml").read_text()
    probs = {"thruster_failed_off": 0.1, "thruster_stuck_on": 0.05, "imu_stuck": 0.08, "imu_stale": 0.06,
             "star_tracker_loss": 0.12}
    text = six + "\n[dispersions.faults]\n" + "".join(
        f"{k}_prob = {p}\n" for k, p in probs.items())
    scn = parse_scenario(text)
    v = [draw(scn, s) for s in range(4000)]
    for kind, p in probs.items():
        hits = [f for x in v for f in x["faults"] if f["kind"] == kind]
        assert len(hits) / len(v) == pytest.approx(p, abs=0.015), kind
    idx = np.array([f["index"] for x in v for f in x["faults"] if f["kind"].startswith("thruster")])
    assert idx.min() == 0 and idx.max() == 23
    dur = np.array([f["duration_s"] for x in v for f in x["faults"] if f["kind"] == "star_tracker_loss"])
    assert 30.0 <= dur.min() and dur.max() <= 1200.0
    # independent kinds: both IMU faults together about p1 p2 of the time
    both = sum(1 for x in v if {"imu_stuck", "imu_stale"} <= {f["kind"] for f in x["faults"]})
    assert both / len(v) < 0.02
    d = apply(scn, next(x for x in v if len(x["faults"]) >= 2), 1)
    assert len(d.faults) >= 2
    # a 3-DOF scenario draws no 6-DOF fault, whatever its probabilities
    scn3 = parse_scenario(QUICK + "\n[dispersions.faults]\nthruster_stuck_on_prob = 1.0\nimu_stuck_prob = 1.0\n")
    assert all(not draw(scn3, s)["faults"] for s in range(50))


def test_6dof_fault_tables_are_validated_by_name():
    with pytest.raises(ConfigError, match=r"^faults\[0\]\.kind = 'imu_stuck': needs the 6-DOF chaser"):
        parse_scenario(QUICK + '\n[[faults]]\nkind = "imu_stuck"\nstart_s = 1.0\nduration_s = 5.0\n')
    six = (ROOT / "scenarios" / "fdir_quick.toml").read_text()
    with pytest.raises(ConfigError, match=r"^faults\[0\]\.index = 24: must be < 24"):
        parse_scenario(six + '\n[[faults]]\nkind = "thruster_stuck_on"\nindex = 24\nstart_s = 1.0\n')
    with pytest.raises(ConfigError, match=r"^faults\[0\]\.stage = 'guidance': must be one of"):
        parse_scenario(six + '\n[[faults]]\nkind = "stage_overrun"\nstage = "guidance"\nstart_s = 1.0\n'
                             'duration_s = 5.0\nextra_s = 1.0\n')


def test_faulty_imu_freezes_or_repeats_and_the_star_tracker_loses_its_window():
    from gnc.ports import ImuSample
    from sim.faults import FaultyImu, FaultyStarTracker, ImuStale, ImuStuck, StarTrackerLoss

    class Imu:
        next_t_ns = 0

        def sample(self, t_ns, w, a):
            return ImuSample(t_ns, (t_ns * 1e-9, 0.0, 0.0), (0.0, 0.0, t_ns * 1e-9))

    stuck = FaultyImu(Imu(), (ImuStuck(kind="imu_stuck", start_s=3.0, duration_s=2.0),))
    out = [stuck.sample(k * NS, None, None) for k in range(7)]
    assert [m.t_ns for m in out] == [k * NS for k in range(7)]
    assert out[3].omega_BN_B == out[4].omega_BN_B == out[2].omega_BN_B and out[5].omega_BN_B == (5.0, 0.0, 0.0)
    stale = FaultyImu(Imu(), (ImuStale(kind="imu_stale", start_s=3.0, duration_s=2.0),))
    out = [stale.sample(k * NS, None, None) for k in range(7)]
    assert out[3] is out[2] and out[4] is out[2] and out[5].t_ns == 5 * NS

    class Tracker:
        next_t_ns = 0

        def read(self, now):
            return [ImuSample(k * NS, (0.0,) * 3, (0.0,) * 3) for k in range(10)]

    lost = FaultyStarTracker(Tracker(), (StarTrackerLoss(kind="star_tracker_loss", start_s=2.0, duration_s=5.0),))
    assert [m.t_ns // NS for m in lost.read(0)] == [0, 1, 7, 8, 9]
