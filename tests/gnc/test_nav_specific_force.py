"""The unmodelled-acceleration state d and the IMU specific-force measurement (h = (1 + s) u + d): the model and
its Jacobian, the EKF against filterpy's ExtendedKalmanFilter of the same model, the UKF against the EKF on a
linear case, and a stuck thruster's acceleration seen by the IMU at once (open loop)."""

import numpy as np
import pytest
from filterpy.kalman import ExtendedKalmanFilter

from gnc.config import NavConfig
from gnc.models.hcw import hcw_input_matrix, hcw_stm
from gnc.models.measurements import (MEAS_ACCEL, MEAS_RAE, meas_jacobian_layout, meas_predict_layout,
                                     state_layout)
from gnc.models.rae import rae_from_rel, rae_jacobian, wrap_angle
from gnc.nav.ekf_kernels import hcw_process_noise
from gnc.nav.relnav import RelNavFilter, RelNavUKF, filter_from_config, specific_force_variance
from gnc.ports import RaeMeasurement, RelPosMeasurement, SpecificForceMeasurement
from gnc.schema import ConfigError

NS = 1_000_000_000
N_MEAN = 0.0011  # rad/s
R_RAE = np.array([0.5**2, 5e-4**2, 5e-4**2])
SIG_F = 8e-4  # m/s^2: the default scenario's accelerometer, 8e-4 m/s/sqrt(s) over 1 s
STUCK = np.array([1.0, -2.0, 2.0]) * 1e-4  # m/s^2, |a| = 3e-4: a stuck-on thruster's acceleration, H


def test_layout_model_and_jacobian():
    nx, lay = state_layout(3, True, True)
    assert nx == 13 and list(lay[:3]) == [3, 9, 10]
    assert state_layout(0, False, True)[0] == 9 and state_layout(1, False, False)[0] == 7
    with pytest.raises(ValueError, match="n_bias"):
        state_layout(2, False, False)
    rng = np.random.default_rng(3)
    x = np.concatenate(([30.0, -240.0, 12.0, 0.01, -0.02, 0.003], [0.2, 1e-4, -5e-5], [0.03], [1e-4, -3e-4, 2e-4]))
    lay[3:6] = [4e-4, -1e-3, 2e-4]
    np.testing.assert_allclose(meas_predict_layout(MEAS_ACCEL, x, lay), 1.03 * lay[3:6] + x[10:13], rtol=1e-15)
    z = meas_predict_layout(MEAS_RAE, x, lay)
    np.testing.assert_allclose(z, rae_from_rel(x[:3]) + x[6:9], rtol=1e-14)
    for kind in (MEAS_ACCEL, MEAS_RAE):
        H = meas_jacobian_layout(kind, x, lay)
        Hn = np.empty_like(H)
        for j in range(nx):  # central differences, steps scaled to each state
            d = np.zeros(nx)
            d[j] = 1e-6 * max(abs(x[j]), 1e-3)
            Hn[:, j] = (meas_predict_layout(kind, x + d, lay) - meas_predict_layout(kind, x - d, lay)) / (2 * d[j])
        np.testing.assert_allclose(H, Hn, rtol=1e-6, atol=1e-9)
    x6 = x[:6] + rng.standard_normal(6)  # no d, no s: the measurement is the command
    np.testing.assert_array_equal(meas_predict_layout(MEAS_ACCEL, x6, state_layout(0, False, False)[1]), 0.0)


def _truth(seed, n_steps, dt, a_unknown, u_of):
    """HCW truth with the commanded u_of(k) scaled by 1.03 plus a_unknown (m/s^2, H), lidar and IMU samples."""
    rng = np.random.default_rng(seed)
    Phi, Gam = hcw_stm(N_MEAN, dt), hcw_input_matrix(N_MEAN, dt)
    x = np.array([0.0, -250.0, 0.0, 0.0, 0.0, 0.0])
    xs, us, z_rae, z_f = [], [], [], []
    for k in range(n_steps):
        u = u_of(k)
        a = 1.03 * u + a_unknown
        x = Phi @ x + Gam @ a
        xs.append(x)
        us.append(u)
        z_rae.append(rae_from_rel(x[:3]) + np.sqrt(R_RAE) * rng.standard_normal(3))
        z_f.append(a + SIG_F * rng.standard_normal(3))
    return np.array(xs), np.array(us), np.array(z_rae), np.array(z_f)


def _burns(k):
    return np.array([2e-4, -1e-3, 3e-4]) * (1.0 if (k // 20) % 3 == 0 else 0.0)


def test_ekf_with_specific_force_matches_filterpy():
    """The flight EKF (13 states: lidar biases, thrust scale, d; thrust execution noise, whose covariance also
    enters the specific force's R) against filterpy's ExtendedKalmanFilter with the same model written out
    here: F = Phi + (Gam u) e_s' with d's columns Gam and its Gauss-Markov decay."""
    dt, q, sig_d, tau, frac, dirr = 1.0, 1e-9, 1e-3, 300.0, 0.02, 0.01
    xs, us, z_rae, z_f = _truth(5, 150, dt, STUCK, _burns)
    P0 = np.diag([4.0, 4.0, 4.0, 1e-4, 1e-4, 1e-4])
    x0 = np.array([1.0, -252.0, 0.5, 0.0, 0.0, 0.0])
    R_f = np.full(3, SIG_F**2)
    f = RelNavFilter(N_MEAN, q, R_RAE, np.inf, x0, P0, 0, range_bias_sigma_m=0.2, angle_bias_sigma_rad=1e-4,
                     thrust_scale_sigma=0.05, accel_state_sigma_m_s2=sig_d, accel_state_tau_s=tau, accel_R_diag=R_f,
                     thrust_noise_frac=frac, thrust_noise_dir_rad=dirr)
    assert f.x.shape == (13,) and f.accel_state_index == 10
    Phi, Gam = hcw_stm(N_MEAN, dt), hcw_input_matrix(N_MEAN, dt)
    phi = np.exp(-dt / tau)
    fp = ExtendedKalmanFilter(dim_x=13, dim_z=3, dim_u=3)
    fp.x = f.x.reshape(13, 1).copy()
    fp.P = f.P.copy()

    def exec_cov(u):  # execution error of u: 2 % along it, 10 mrad across (per axis)
        uu = np.outer(u, u)
        return frac**2 * uu + dirr**2 * (u @ u * np.eye(3) - uu)

    def residual(a, b):
        y = a - b
        y[1] = wrap_angle(y[1, 0])
        return y

    def h_rae(xx):
        xx = xx.ravel()
        return (rae_from_rel(xx[:3]) + xx[6:9]).reshape(3, 1)

    def H_rae(xx):
        H = np.zeros((3, 13))
        H[:, :6] = rae_jacobian(xx.ravel()[:6])
        H[:, 6:9] = np.eye(3)
        return H

    worst = 0.0
    for k, u in enumerate(us):
        t = (k + 1) * NS
        F = np.eye(13)
        F[:6, :6] = Phi
        F[:6, 9] = Gam @ u
        F[:6, 10:13] = Gam
        F[10:13, 10:13] = phi * np.eye(3)
        Q = np.zeros((13, 13))
        Q[:6, :6] = hcw_process_noise(N_MEAN, dt, q) + Gam @ exec_cov(u) @ Gam.T
        Q[10:13, 10:13] = sig_d**2 * (1.0 - phi**2) * np.eye(3)
        B = np.zeros((13, 3))
        B[:6] = Gam
        fp.F, fp.B, fp.Q = F, B, Q
        fp.predict(u=u.reshape(3, 1))
        fp.update(z_rae[k].reshape(3, 1), H_rae, h_rae, R=np.diag(R_RAE), residual=residual)
        H_f = np.zeros((3, 13))
        H_f[:, 9] = u
        H_f[:, 10:13] = np.eye(3)
        fp.update(z_f[k].reshape(3, 1), lambda xx, H=H_f: H,
                  lambda xx, u=u: ((1.0 + xx[9, 0]) * u + xx[10:13, 0]).reshape(3, 1),
                  R=np.diag(R_f) + exec_cov(u))
        f.predict_to(t, u)
        assert f.update(RaeMeasurement(t, *z_rae[k])).accepted
        r = f.update(SpecificForceMeasurement(t, tuple(z_f[k]), tuple(u)))
        assert r.accepted
        np.testing.assert_allclose(f.last_innovation, fp.y.ravel(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(f.x, fp.x.ravel(), rtol=0, atol=1e-9)
        np.testing.assert_allclose(f.P, fp.P, rtol=0, atol=1e-9)
        worst = max(worst, np.max(np.abs(f.P - fp.P) / np.sqrt(np.outer(np.diag(fp.P), np.diag(fp.P)))))
    assert worst < 1e-6, worst  # relative to the scales of P too (its d entries are ~1e-9)
    # and the estimate is of the truth: d near the stuck acceleration, s near 0.03
    sd = f.sigma
    assert np.all(np.abs(f.x[10:13] - STUCK) < 3 * sd[10:13]), (f.x[10:13], sd[10:13])
    assert abs(f.x[9] - 0.03) < 3 * sd[9]


def test_ukf_equals_ekf_on_a_linear_case():
    """Relative position and specific force are linear in (r, v, d), HCW too: the UKF is the EKF (to rounding)."""
    xs, us, _, z_f = _truth(6, 80, 1.0, STUCK, _burns)
    opts = dict(relpos_R_diag=np.full(3, 0.3**2), accel_state_sigma_m_s2=1e-3, accel_state_tau_s=300.0,
                accel_R_diag=np.full(3, SIG_F**2), thrust_noise_frac=0.02, thrust_noise_dir_rad=0.01)
    x0, P0 = np.array([1.0, -252.0, 0.5, 0.0, 0.0, 0.0]), np.diag([4.0, 4.0, 4.0, 1e-4, 1e-4, 1e-4])
    e = RelNavFilter(N_MEAN, 1e-9, R_RAE, np.inf, x0, P0, 0, **opts)
    u_ = RelNavUKF(N_MEAN, 1e-9, R_RAE, np.inf, x0, P0, 0, **opts)
    rng = np.random.default_rng(8)
    for k, u in enumerate(us):
        t = (k + 1) * NS
        z_pos = tuple(xs[k, :3] + 0.3 * rng.standard_normal(3))
        for flt in (e, u_):
            flt.predict_to(t, u)
            flt.update(RelPosMeasurement(t, z_pos))
            flt.update(SpecificForceMeasurement(t, tuple(z_f[k]), tuple(u)))
        np.testing.assert_allclose(u_.x, e.x, rtol=0, atol=1e-9 * np.sqrt(np.diag(e.P)).max() + 1e-12)
        scale = np.sqrt(np.outer(np.diag(e.P), np.diag(e.P)))  # each entry against its correlation scale
        assert np.max(np.abs(u_.P - e.P) / scale) < 1e-9
    np.testing.assert_allclose(u_.last_innovation, e.last_innovation, rtol=0, atol=1e-12)


def _open_loop(with_d, seed, n_steps=600):
    """The default scenario's lidar (1 Hz) on a 250 m hold with station-keeping burns and a stuck thruster's
    STUCK from t = 0, with or without d (sigma 1e-3 m/s^2, 3600 s: a failure persists) and the IMU measurement.
    Returns (nav errors, sigmas, d errors, d sigmas), one row a second."""
    xs, us, z_rae, z_f = _truth(seed, n_steps, 1.0, STUCK, _burns)
    x0 = np.array([0.0, -250.0, 0.0, 0.0, 0.0, 0.0]) + np.array([0.5, -0.5, 0.5, 0.002, -0.002, 0.001])
    P0 = np.diag([1.0, 1.0, 1.0, 0.005**2, 0.005**2, 0.005**2])
    opts = dict(thrust_scale_sigma=0.045, range_bias_sigma_m=1e-3, angle_bias_sigma_rad=1e-7, thrust_noise_frac=0.02,
                thrust_noise_dir_rad=0.01)
    if with_d:
        opts.update(accel_state_sigma_m_s2=1e-3, accel_state_tau_s=3600.0, accel_R_diag=np.full(3, SIG_F**2))
    f = RelNavFilter(N_MEAN, 1.5e-9, R_RAE, 16.27, x0, P0, 0, **opts)
    err, sig, d_err, d_sig = [], [], [], []
    for k, u in enumerate(us):
        t = (k + 1) * NS
        f.predict_to(t, u)
        f.update(RaeMeasurement(t, *z_rae[k]))
        if with_d:
            f.update(SpecificForceMeasurement(t, tuple(z_f[k]), tuple(u)))
            d_err.append(f.x[10:13] - STUCK)
            d_sig.append(f.sigma[10:13])
        err.append(f.x_rv - xs[k])
        sig.append(f.sigma_rv)
    return np.array(err), np.array(sig), np.array(d_err), np.array(d_sig)


def test_stuck_thruster_is_estimated_in_d_at_once():
    """600 s, 1 Hz: with d and the IMU the position stays inside its 3 sigma (0.35 m at most, seed 11); without,
    the unknown 3e-4 m/s^2 drives it 24 m off at 39 sigma (position NEES ~1200 for 3 dof)."""
    err, sig, d_err, d_sig = _open_loop(True, 11)
    # d converges onto the stuck acceleration inside 3 sigma, its sigma below half of it within 60 s
    assert np.all(np.abs(d_err[30:]) < 3 * d_sig[30:]), np.max(np.abs(d_err[30:]) / d_sig[30:])
    assert np.all(d_sig[60] < np.linalg.norm(STUCK) / 2), d_sig[60]
    ratio = np.abs(err[:, :3]) / sig[:, :3]
    assert np.mean(ratio < 3.0) > 0.99 and np.max(np.linalg.norm(err[:, :3], axis=1)) < 1.0
    nees_pos = np.mean(np.sum(ratio[60:] ** 2, axis=1))
    assert nees_pos < 4.0, nees_pos  # 3 dof
    err0, sig0, _, _ = _open_loop(False, 11)
    ratio0 = np.abs(err0[:, :3]) / sig0[:, :3]
    assert np.max(ratio0) > 10.0 and np.max(np.linalg.norm(err0[:, :3], axis=1)) > 10.0
    assert np.mean(np.sum(ratio0[60:] ** 2, axis=1)) > 100.0


def test_nav_config_keys():
    base = dict(period_s=1.0, q_psd_m2_s3=1e-9, range_sigma_m=0.5, angle_sigma_rad=5e-4, gate_chi2=16.0,
                init_pos_sigma_m=1.0, init_vel_sigma_m_s=0.01)
    x0, P0 = np.array([0.0, -250.0, 0.0, 0.0, 0.0, 0.0]), np.eye(6)
    assert filter_from_config(N_MEAN, NavConfig(**base), x0, P0, 0).x.shape == (6,)  # default: no d
    nav = NavConfig(**base, accel_state_sigma_m_s2=1e-3, specific_force_noise_density=8e-4,
                    specific_force_bias_m_s2=1e-4)
    NavConfig.validate(nav, "nav")
    f = filter_from_config(N_MEAN, nav, x0, P0, 0)
    assert f.x.shape == (9,) and f.accel_state_index == 6
    np.testing.assert_allclose(specific_force_variance(nav), 8e-4**2 / 1.0 + 1e-7**2 + 1e-4**2, rtol=1e-15)
    with pytest.raises(ConfigError, match="nav.specific_force_noise_density"):
        NavConfig.validate(NavConfig(**base, specific_force_noise_density=8e-4), "nav")
    with pytest.raises(ValueError, match="accel_R_diag"):
        RelNavFilter(N_MEAN, 1e-9, R_RAE, 16.0, x0, P0, 0, accel_R_diag=[1e-6] * 3)
    with pytest.raises(ValueError, match="specific force"):
        filter_from_config(N_MEAN, NavConfig(**base, accel_state_sigma_m_s2=1e-3), x0, P0, 0).update(
            SpecificForceMeasurement(1, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)))
