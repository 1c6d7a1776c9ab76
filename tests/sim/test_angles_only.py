"""scenarios/angles_only.toml: a camera only. Range is unobservable while the chaser coasts (the along-track sigma
stays at its level) and becomes observable with a known manoeuvre (the sigma falls after the hop's first burn)."""

import tomllib
from pathlib import Path

import numpy as np

from sim.scenario import scenario_from_dict
from tests.sim.test_relative_sensors_loop import fly

ROOT = Path(__file__).resolve().parents[2]


def test_scenario_flies_the_camera_alone():
    scn = scenario_from_dict(tomllib.loads((ROOT / "scenarios" / "angles_only.toml").read_text()))
    assert not scn.sensors.lidar and scn.sensors.camera and not scn.sensors.rel_gnss


def test_range_sigma_stays_while_coasting_and_falls_after_a_manoeuvre():
    d = tomllib.loads((ROOT / "scenarios" / "angles_only.toml").read_text())
    d["mission"]["phases"][0]["duration_s"] = 600.0  # hold at 5 km, then the hop to 3.5 km starts
    d["run"]["max_duration_s"] = 900.0
    exe, xs, xh, Ps = fly(d, seed=7)
    assert set(exe.nav.sensor_stats) == {"camera"}
    sig_y = np.sqrt(Ps[:, 1, 1])  # the line of sight is along-track: sigma_y is the range sigma
    rng = np.linalg.norm(xs[:, :3], axis=1)
    # holding (t = 200..600 s, no manoeuvre but station-keeping): the range sigma stays above 2 % of the range
    assert np.all(sig_y[200:600] > 0.02 * rng[200:600])
    assert sig_y[600] > 0.97 * sig_y[200]
    # while the cross-range sigmas are centimetres (the direction is observed)
    assert np.sqrt(Ps[600, 0, 0]) < 0.2 and np.sqrt(Ps[600, 2, 2]) < 0.2
    # 300 s into the hop (its first burn): the range sigma has fallen below half its coasting value
    assert sig_y[900] < 0.5 * sig_y[600]
    e = xh - xs
    assert np.all(np.abs(e[:, 1]) <= 3.0 * sig_y)  # and the estimate stays within its 3 sigma
    assert abs(e[900, 1]) < abs(e[600, 1])
