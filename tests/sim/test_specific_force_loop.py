"""The IMU's specific force as a navigation measurement in the closed loop (scenarios/fdir_quick.toml, the 6-DOF
chaser): the executive hands the filter one sample a nav period after the FDIR's bias window, and a stuck-on
thruster's acceleration enters the estimate of d before the FDIR isolates the thruster."""

from pathlib import Path

import numpy as np
import pytest

from gnc.frames import dcm_from_quat
from gnc.schema import ConfigError
from sim.run import build
from sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[2]
NS = 1_000_000_000
KEYS = ("[nav]\naccel_state_sigma_m_s2 = 5e-4\naccel_state_tau_s = 3600.0\nspecific_force_noise_density = 8e-4\n"
        "specific_force_bias_m_s2 = 1e-4\n")
STUCK_AT_S = 100.0


def test_stuck_thruster_enters_d_before_its_isolation():
    """Seed 42, thruster 0 stuck on at 100 s, isolated by the FDIR at 112 s. The accelerometer (8e-4 m/s^2 per
    1 Hz sample) against the stuck 1.7e-3 m/s^2: d grows along it from the onset (at isolation ~2.7 of its
    sigmas, ~17 % of the way: d's Gauss-Markov model, sigma 5e-4 m/s^2 over 3600 s, smooths over ~60 s); before
    the onset d is zero within 3 sigma."""
    text = (ROOT / "scenarios" / "fdir_quick.toml").read_text().replace("[nav]\n", KEYS, 1)
    text += f'\n[[faults]]\nkind = "thruster_stuck_on"\nindex = 0\nstart_s = {STUCK_AT_S}\n'
    world, io, exe = build(parse_scenario(text), 42)
    i_d = exe.nav.accel_state_index
    assert i_d == 6
    a_stuck_B = exe.att.A[:3, 0] / exe.cfg.vehicle.mass_kg  # full thrust of thruster 0 (m/s^2, B)
    before = at_isolation = None
    while exe.t_ns <= 160 * NS:
        io.wait_until(exe.t_ns)
        exe.step()
        if exe.t_ns == round(STUCK_AT_S) * NS:
            before = exe.nav.x[i_d:i_d + 3], exe.nav.sigma[i_d:i_d + 3]
        if at_isolation is None and any(e.text.startswith("thruster 0 stuck on") for e in exe.guidance.events):
            a_H = dcm_from_quat(exe.att.q_BH).T @ a_stuck_B
            at_isolation = (exe.t_ns / NS, exe.nav.x[i_d:i_d + 3], exe.nav.sigma[i_d:i_d + 3], a_H)
        exe.t_ns += exe.tick_ns
    st = exe.nav.sensor_stats["imu"]
    window_s = exe.cfg.fdir.accel_bias_window_s
    assert st.offered == round(160 - window_s) + 1 and st.rejected <= 2 and st.late == 0, st
    assert np.all(np.abs(before[0]) < 3.0 * before[1]), before
    assert at_isolation is not None, "the FDIR did not isolate the stuck thruster"
    t_iso, d, sd, a_H = at_isolation
    assert STUCK_AT_S < t_iso <= STUCK_AT_S + 30.0
    along = d @ a_H / np.linalg.norm(a_H)
    assert 2.0 * sd.max() < along < np.linalg.norm(a_H), (along, sd, a_H)


def test_specific_force_needs_a_six_dof_chaser():
    text = (ROOT / "scenarios" / "angles_only.toml").read_text().replace("[nav]\n", KEYS, 1)
    with pytest.raises(ConfigError, match="nav.specific_force_noise_density"):
        build(parse_scenario(text), 1)
