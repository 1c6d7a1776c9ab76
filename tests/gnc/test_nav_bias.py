"""Lidar bias states (range, azimuth, elevation): measurement model against finite differences, a filter
that recovers constant biases in a manoeuvring scenario, and the NavConfig keys that switch them on."""

import numpy as np
import pytest
from scipy.stats import chi2

from gnc.config import NavConfig
from gnc.models.hcw import hcw_input_matrix, hcw_stm
from gnc.models.measurements import MEAS_RAE, meas_jacobian, meas_predict
from gnc.models.rae import rae_from_rel, wrap_angle
from gnc.nav.relnav import RelNavFilter, filter_from_config
from gnc.ports import RaeMeasurement
from gnc.schema import ConfigError, load

N_MEAN = 2 * np.pi / 5400.0
NS = 1_000_000_000
NAV = dict(period_s=1.0, q_psd_m2_s3=1e-10, range_sigma_m=0.3, angle_sigma_rad=3e-4, gate_chi2=16.27,
           init_pos_sigma_m=5.0, init_vel_sigma_m_s=0.01)


def test_rae_with_bias_states_and_its_jacobian():
    x = np.array([120.0, -400.0, 35.0, 0.02, -0.01, 0.005, 0.3, -2e-4, 1e-4])
    z = meas_predict(MEAS_RAE, x)
    np.testing.assert_allclose(z, rae_from_rel(x[:3]) + x[6:], rtol=0, atol=1e-15)
    H = meas_jacobian(MEAS_RAE, x)
    Hn = np.empty_like(H)
    for j in range(9):
        h = 1e-6 * max(1.0, abs(x[j]))
        d = np.zeros(9)
        d[j] = h
        Hn[:, j] = (meas_predict(MEAS_RAE, x + d) - meas_predict(MEAS_RAE, x - d)) / (2 * h)
    np.testing.assert_allclose(H, Hn, rtol=1e-7, atol=1e-12)


def test_filter_recovers_constant_lidar_biases_through_manoeuvres():
    rng = np.random.default_rng(5)
    bias = np.array([0.4, 3e-4, -2e-4])
    sig = np.array([0.3, 3e-4, 3e-4])
    x = np.array([0.0, -300.0, 0.0, 0.0, 0.0, 0.0])
    f = RelNavFilter(N_MEAN, 1e-10, sig**2, chi2.ppf(0.999, 3), x + [3, -4, 2, 0, 0, 0],
                     np.diag([25.0] * 3 + [1e-4] * 3), 0, range_bias_sigma_m=0.5, angle_bias_sigma_rad=5e-4)
    assert f.x.shape == (9,) and f.x_rv.shape == (6,) and f.P_rv.shape == (6, 6)
    Phi, Gam = hcw_stm(N_MEAN, 1.0), hcw_input_matrix(N_MEAN, 1.0)
    for k in range(1, 5401):  # one orbit, with a radial/cross-track manoeuvre pattern that varies the geometry
        u = np.array([2e-4, 0.0, -2e-4]) * np.sign(np.sin(2 * np.pi * k / 1800.0))
        x = Phi @ x + Gam @ u
        z = rae_from_rel(x[:3]) + bias + sig * rng.standard_normal(3)
        f.update(RaeMeasurement(k * NS, z[0], wrap_angle(z[1]), z[2]))
        f.predict_to(k * NS, u)
    err = f.x[6:] - bias
    assert np.all(np.abs(err) < 3 * f.sigma[6:])  # consistent
    assert np.all(f.sigma[6:] < 0.5 * np.array([0.5, 5e-4, 5e-4]))  # and learned: sigma below half its prior


def test_nav_config_builds_bias_and_thrust_noise_states():
    nav = load(NavConfig, dict(NAV, range_bias_sigma_m=0.2, angle_bias_sigma_rad=1e-4, thrust_noise_frac=0.05))
    f = filter_from_config(N_MEAN, nav, np.zeros(6) + [0, -500, 0, 0, 0, 0], np.eye(6), 0)
    assert f.x.shape == (9,)
    np.testing.assert_allclose(f.sigma[6:], [0.2, 1e-4, 1e-4])
    assert filter_from_config(N_MEAN, load(NavConfig, NAV), np.ones(6), np.eye(6), 0).x.shape == (6,)
    nav = load(NavConfig, dict(NAV, range_bias_sigma_m=0.2, angle_bias_sigma_rad=1e-4, thrust_scale_sigma=0.04))
    f = filter_from_config(N_MEAN, nav, np.zeros(6) + [0, -500, 0, 0, 0, 0], np.eye(6), 0)
    assert f.x.shape == (10,) and f.sigma[9] == 0.04


@pytest.mark.parametrize("extra, field", [
    (dict(angle_bias_sigma_rad=1e-4), "nav.angle_bias_sigma_rad"),
    (dict(thrust_noise_frac=-0.1), "nav.thrust_noise_frac"),
    (dict(thrust_noise_dir_rad=1.0), "nav.thrust_noise_dir_rad"),
    (dict(range_bias_sigma_m=-1.0), "nav.range_bias_sigma_m"),
    (dict(range_bias_sigma_m=0.2, thrust_scale_sigma=0.05), "nav.thrust_scale_sigma"),
])
def test_bad_nav_keys_name_the_field(extra, field):
    with pytest.raises(ConfigError, match=f"^{field}"):
        load(NavConfig, dict(NAV, **extra), "nav")
