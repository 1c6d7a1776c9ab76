"""The camera and the relative GNSS in the closed loop: scenario keys ([sensors.*]) validated, sampled by the
sim's VehicleIO, handed to the flight filter by the executive (late samples through the filter's history)."""

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from gnc.schema import ConfigError
from sim.run import build, run_scenario
from sim.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]
NS = 1_000_000_000
CAMERA = {"period_s": 1.0, "angle_noise_rad": 1e-3, "fov_half_angle_deg": 20.0, "max_range_m": 10_000.0,
          "latency_s": 0.3, "latency_jitter_s": 1.5}  # jitter > period: samples arrive out of order
REL_GNSS = {"period_s": 1.0, "pos_noise_m": 0.5, "max_range_m": 20_000.0, "latency_s": 0.5}


def short_hold(duration_s=600.0, **sensors) -> dict:
    """The default scenario as a 3-DOF chaser holding at 250 m on V-bar for duration_s, with the [sensors] table
    given (tables of the default kept otherwise; point mass + J2, drag and SRP on, no Sun/Moon or harmonics)."""
    d = tomllib.loads((ROOT / "scenarios" / "inspection.toml").read_text())
    for k in ("thrusters", "attitude", "imu", "star_tracker"):
        d.pop(k)
    d["truth"].pop("thrusters")
    d["truth"].update(gravity_degree=0, third_body=False)
    hold = next(p for p in d["mission"]["phases"] if p["name"] == "hold_250m")
    d["mission"]["phases"] = [dict(hold, duration_s=duration_s)]
    d["chaser"]["r0_CT_H_m"] = list(hold["at_H_m"])
    d["run"]["max_duration_s"] = duration_s
    d["nav"].update(init_pos_sigma_m=2.0, camera_angle_sigma_rad=1e-3, rel_gnss_sigma_m=0.5, history_s=5.0)
    d["sensors"] = sensors
    return d


def fly(d, seed=3):
    """Run the scenario dict d; (executive, true [r, v] per nav cycle (k, 6), estimates (k, 6), P_rv (k, 6, 6))."""
    scn = scenario_from_dict(d)
    world, _, exe = build(scn, seed)
    xs, xh, Ps = [], [], []

    def on_cycle(rec):
        if (rec.t_ns - exe.t0_ns) % exe.nav_period_ns == 0:
            xs.append(np.concatenate(world.relative_state()))
            xh.append(rec.x_hat)
            Ps.append(exe.nav.P_rv)

    exe.run(round(scn.run.max_duration_s * NS), on_cycle)
    return exe, np.array(xs), np.array(xh), np.array(Ps)


def test_sensor_tables_are_optional_and_validated():
    assert scenario_from_dict(short_hold()).sensors.camera == ()
    s = scenario_from_dict(short_hold(camera=CAMERA, rel_gnss=REL_GNSS)).sensors
    assert s.camera_config.latency_jitter_s == 1.5 and s.rel_gnss_config.pos_noise_m == 0.5
    cases = [
        (dict(camera=dict(CAMERA, angle_noise_rad=-1.0)), "sensors.camera.angle_noise_rad = -1.0: must be > 0"),
        (dict(rel_gnss=dict(REL_GNSS, pos_noise_mm=1.0)), "sensors.rel_gnss.pos_noise_mm = 1.0: unknown key"),
        (dict(rel_gnss={k: v for k, v in REL_GNSS.items() if k != "period_s"}),
         "sensors.rel_gnss.period_s = (missing): required"),
        (dict(lidar=False), "sensors.lidar = False: needs [sensors.camera] or [sensors.rel_gnss]"),
    ]
    for sensors, msg in cases:
        with pytest.raises(ConfigError) as e:
            scenario_from_dict(short_hold(**sensors))
        assert str(e.value).startswith(msg) and "\n" not in str(e.value)
    d = short_hold(camera=CAMERA)
    d["nav"]["camera_angle_sigma_rad"] = 0.0
    with pytest.raises(ConfigError, match=r"^nav.camera_angle_sigma_rad = 0.0: must be > 0 with \[sensors.camera\]"):
        scenario_from_dict(d)


def test_rel_gnss_alone_keeps_the_estimate_within_3_sigma():
    exe, xs, xh, Ps = fly(short_hold(lidar=False, rel_gnss=REL_GNSS))
    stats = exe.nav.sensor_stats
    assert set(stats) == {"rel_gnss"} and stats["rel_gnss"].offered >= 590
    assert exe.guidance.mode.name == "DONE"
    e = (xh - xs)[:, :3]
    var = np.einsum("kii->ki", Ps[:, :3, :3])
    # the position error's norm within 3 sigma of its covariance at every cycle (P(chi2_3 > 27) ~ 6e-6 per cycle)
    assert np.all(np.sum(e ** 2, axis=1) <= 9.0 * var.sum(axis=1))
    assert np.mean(np.abs(e) <= 3.0 * np.sqrt(var)) >= 0.99  # per axis
    assert np.sqrt(var[-1]).max() < 0.5  # the GNSS noise, averaged down
    nees = np.einsum("ki,kij,kj->k", e[60:], np.linalg.inv(Ps[60:, :3, :3]), e[60:])
    assert 1.0 < nees.mean() < 6.0  # a consistent 3-dof filter averages 3 (correlated over ~100 s: loose)


def test_lidar_and_camera_are_both_used_and_counted(tmp_path):
    d = short_hold(duration_s=300.0, camera=CAMERA)
    scn = scenario_from_dict(d)
    s = run_scenario(scn, "", tmp_path, plots=False)
    st = s["nav_sensor_stats"]
    assert set(st) == {"rel_rae", "camera"}
    assert st["rel_rae"]["offered"] >= 295 and st["camera"]["offered"] >= 290
    # jitter of 1.5 s against a 5 s history: every camera sample is re-processed in order, none too late
    assert st["camera"]["late"] == 0 and st["camera"]["rejected"] <= 3
    assert s["success"] and s["nav_pos_err_rms_m"] < 2.0
