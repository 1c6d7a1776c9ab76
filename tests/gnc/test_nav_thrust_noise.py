"""Thrust-proportional process noise (``thrust_noise_add_inplace``): against an independent construction
(scipy's matrix exponential of the HCW system, the error covariance built in the thrust's own axes, and a
Monte Carlo of constant acceleration errors), and inside the EKF step and the UKF prediction."""

import numpy as np
import pytest
from scipy.linalg import expm
from scipy.stats import chi2

from gnc.models.hcw import hcw_continuous
from gnc.nav.ekf_kernels import ekf_predict, hcw_predict_matrices, thrust_process_noise
from gnc.nav.relnav import RelNavFilter, RelNavUKF
from gnc.models.rae import rae_from_rel, wrap_angle
from gnc.ports import RaeMeasurement

N_MEAN = 2 * np.pi / 5400.0
NS = 1_000_000_000
R_RAE = np.array([0.5**2, 5e-4**2, 5e-4**2])
GATE = chi2.ppf(0.999, 3)
X0 = np.array([50.0, -800.0, 30.0, 0.01, 0.0, -0.01])
P0 = np.diag([4.0] * 3 + [1e-4] * 3)


def _input_map(n, dt):
    """d x(dt) / d a for an acceleration a held over [0, dt] (6x3), from scipy's expm of the augmented
    HCW system [[A, B], [0, 0]] (independent of the closed-form hcw_input_matrix)."""
    A, B = hcw_continuous(n)
    M = np.zeros((9, 9))
    M[:6, :6], M[:6, 6:] = A, B
    return expm(M * dt)[:6, 6:]


def _cov_in_thrust_axes(u, frac, dir_rad):
    """cov(da) = E diag(frac^2, dir^2, dir^2) |u|^2 E' with E = [u/|u|, e2, e3] orthonormal."""
    e1 = u / np.linalg.norm(u)
    e2 = np.cross(e1, [0.3, -0.5, 0.8])
    e2 /= np.linalg.norm(e2)
    E = np.column_stack([e1, e2, np.cross(e1, e2)])
    return E @ np.diag(np.array([frac, dir_rad, dir_rad]) ** 2 * (u @ u)) @ E.T


@pytest.mark.parametrize("dt", [0.1, 1.0, 10.0, 600.0])
def test_thrust_noise_equals_constant_error_through_hcw(dt):
    u = np.array([1.5e-3, -3.0e-3, 0.7e-3])
    frac, dir_rad = 0.05, 0.01
    _, Gam, _ = hcw_predict_matrices(N_MEAN, dt, 0.0)
    Q = thrust_process_noise(Gam, u, frac**2, dir_rad**2, 0.0)
    G = _input_map(N_MEAN, dt)
    Q_ref = G @ _cov_in_thrust_axes(u, frac, dir_rad) @ G.T
    scale = np.sqrt(np.outer(np.diag(Q_ref), np.diag(Q_ref)))
    assert np.max(np.abs(Q - Q_ref) / scale) < 1e-9
    np.testing.assert_array_equal(Q, Q.T)
    if dt <= 1.0:  # n dt -> 0: the double integrator [dt^2/2 I; dt I]
        G2 = np.vstack([0.5 * dt * dt * np.eye(3), dt * np.eye(3)])
        Q2 = G2 @ _cov_in_thrust_axes(u, frac, dir_rad) @ G2.T
        assert np.max(np.abs(Q - Q2) / scale) < 1e-2 * dt


def test_thrust_noise_matches_monte_carlo_of_random_constant_errors():
    rng = np.random.default_rng(11)
    u, dt, frac, dir_rad = np.array([0.0, 3.3e-3, 0.0]), 5.0, 0.04, 0.02
    # each sample: true thrust = (1 + frac xi) |u| along a direction rotated by small angles across u
    k = 200_000
    xi = rng.standard_normal((k, 3))
    da = np.zeros((k, 3))
    da[:, 1] = frac * xi[:, 0] * 3.3e-3
    da[:, 0] = dir_rad * xi[:, 1] * 3.3e-3
    da[:, 2] = dir_rad * xi[:, 2] * 3.3e-3
    dx = da @ _input_map(N_MEAN, dt).T
    C = np.cov(dx.T)
    _, Gam, _ = hcw_predict_matrices(N_MEAN, dt, 0.0)
    Q = thrust_process_noise(Gam, u, frac**2, dir_rad**2, 0.0)
    d = np.sqrt(np.diag(Q))
    # sample covariance of 2e5 draws: correlations within ~5/sqrt(k) = 0.011
    assert np.max(np.abs(C - Q) / np.outer(d, d)) < 0.011


def test_zero_thrust_adds_nothing():
    _, Gam, _ = hcw_predict_matrices(N_MEAN, 1.0, 0.0)
    np.testing.assert_array_equal(thrust_process_noise(Gam, np.zeros(3), 0.05**2, 0.01**2, 0.0), np.zeros((6, 6)))


@pytest.mark.parametrize("bias", [False, True])
def test_filters_predict_with_thrust_noise(bias):
    u = np.array([2e-3, -1e-3, 0.5e-3])
    opts = dict(thrust_noise_frac=0.05, thrust_noise_dir_rad=0.01)
    if bias:
        opts["range_bias_sigma_m"] = 0.3
    Phi, Gam, Q = hcw_predict_matrices(N_MEAN, 1.0, 1e-8)
    x_ref, P_ref = ekf_predict(X0, P0, Phi, Gam, u, Q + thrust_process_noise(Gam, u, 0.05**2, 0.01**2, 0.0))
    for cls in (RelNavFilter, RelNavUKF):
        f = cls(N_MEAN, 1e-8, R_RAE, GATE, X0, P0, 0, **opts)
        f.predict_to(0, u)
        f.predict_to(NS, u)
        np.testing.assert_allclose(f.x[:6], x_ref, rtol=0, atol=1e-12)
        d = np.sqrt(np.diag(P_ref))
        assert np.max(np.abs(f.P[:6, :6] - P_ref) / np.outer(d, d)) < 1e-12  # UKF: equal up to rounding
        if bias:
            assert f.P[6, 6] == 0.3**2 and np.all(f.P[6, :6] == 0.0)
    # the fused predict + update step carries the same noise as predict_to + update
    f, g = (RelNavFilter(N_MEAN, 1e-8, R_RAE, GATE, X0, P0, 0, **opts) for _ in range(2))
    for h in (f, g):
        h.predict_to(0, u)
    meas = RaeMeasurement(NS, 800.0, -1.5, 0.03)
    f.update(meas)
    g.predict_to(NS, u)
    g.update(meas)
    np.testing.assert_allclose(f.P, g.P, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("dt", [1.0, 60.0])
def test_input_noise_equals_an_isotropic_constant_error_through_hcw(dt):
    """input_var: an error of variance input_var per axis of a measured acceleration (whatever u, zero
    included), constant over the interval, on top of the thrust-proportional terms."""
    u, frac, dir_rad, sig = np.array([1.5e-3, -3.0e-3, 0.7e-3]), 0.05, 0.01, 2e-4
    _, Gam, _ = hcw_predict_matrices(N_MEAN, dt, 0.0)
    G = _input_map(N_MEAN, dt)
    for a in (u, np.zeros(3)):
        Q = thrust_process_noise(Gam, a, frac**2, dir_rad**2, sig**2)
        Sa = sig**2 * np.eye(3) + (_cov_in_thrust_axes(a, frac, dir_rad) if a.any() else 0.0)
        Q_ref = G @ Sa @ G.T
        scale = np.sqrt(np.outer(np.diag(Q_ref), np.diag(Q_ref)))
        assert np.max(np.abs(Q - Q_ref) / scale) < 1e-9
        np.testing.assert_array_equal(Q, Q.T)
    # in both filters' predictions, as for the thrust-proportional noise
    Phi, Gam, Q = hcw_predict_matrices(N_MEAN, dt, 1e-8)
    x_ref, P_ref = ekf_predict(X0, P0, Phi, Gam, u, Q + thrust_process_noise(Gam, u, 0.0, 0.0, sig**2))
    for cls in (RelNavFilter, RelNavUKF):
        f = cls(N_MEAN, 1e-8, R_RAE, GATE, X0, P0, 0, input_accel_sigma_m_s2=sig)
        f.predict_to(0, u)
        f.predict_to(round(dt * NS), u)
        d = np.sqrt(np.diag(P_ref))
        assert np.max(np.abs(f.P - P_ref) / np.outer(d, d)) < 1e-12


@pytest.mark.parametrize("key", ["thrust_noise_frac", "thrust_noise_dir_rad", "input_accel_sigma_m_s2"])
def test_bad_thrust_noise_names_the_option(key):
    with pytest.raises(ValueError, match=key):
        RelNavFilter(N_MEAN, 1e-8, R_RAE, GATE, X0, P0, 0, **{key: -0.1})


def test_thrust_scale_state_predicts_with_the_full_transition():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((10, 10))
    P0 = A @ A.T * 1e-3 + np.diag([4.0] * 3 + [1e-4] * 3 + [0.05, 1e-8, 1e-8, 0.003])
    x0 = np.concatenate([X0, [0.1, 1e-4, -1e-4, 0.02]])
    u = np.array([2e-3, -3e-3, 1e-3])
    opts = dict(range_bias_sigma_m=1.0, angle_bias_sigma_rad=1e-3, thrust_scale_sigma=0.05)
    f = RelNavFilter(N_MEAN, 1e-8, R_RAE, GATE, X0, P0[:6, :6], 0, **opts)
    f._x[:], f._P[:, :] = x0, P0  # a full covariance with cross terms to the scale state
    f.predict_to(0, u)
    f.predict_to(2 * NS, u)
    Phi, Gam, Q6 = hcw_predict_matrices(N_MEAN, 2.0, 1e-8)
    F, Q = np.eye(10), np.zeros((10, 10))
    F[:6, :6], F[:6, 9], Q[:6, :6] = Phi, Gam @ u, Q6
    x_ref = F @ x0
    x_ref[:6] += Gam @ u
    np.testing.assert_allclose(f.x, x_ref, rtol=0, atol=1e-12)
    P_ref = F @ P0 @ F.T + Q
    d = np.sqrt(np.diag(P_ref))
    assert np.max(np.abs(f.P - P_ref) / np.outer(d, d)) < 1e-12


def test_filter_estimates_a_constant_thrust_scale_error():
    rng = np.random.default_rng(2)
    sig = np.array([0.3, 3e-4, 3e-4])
    x = np.array([0.0, -250.0, 0.0, 0.0, 0.0, 0.0])
    f = RelNavFilter(N_MEAN, 1e-10, sig**2, GATE, x, np.diag([1.0] * 3 + [1e-6] * 3), 0, range_bias_sigma_m=0.01,
                     angle_bias_sigma_rad=1e-6, thrust_scale_sigma=0.05)
    Phi, Gam, _ = hcw_predict_matrices(N_MEAN, 1.0, 0.0)
    for k in range(1, 601):  # +- 3.3 mm/s^2 burns along z and x, 6 % weak
        u = 3.3e-3 * np.array([1.0, 0.0, 1.0]) * (1 if (k // 100) % 2 else -1) * (k < 400)
        f.predict_to(f.t_ns, u)
        x = Phi @ x + Gam @ (0.94 * u)
        z = rae_from_rel(x[:3]) + sig * rng.standard_normal(3)
        assert f.update(RaeMeasurement(k * NS, z[0], wrap_angle(z[1]), z[2])).accepted
    s, s_sig = f.x[9], f.sigma[9]
    assert abs(s + 0.06) < 3 * s_sig and s_sig < 0.01


def test_ukf_refuses_the_thrust_scale_state():
    with pytest.raises(ValueError, match="thrust_scale_sigma"):
        RelNavUKF(N_MEAN, 1e-8, R_RAE, GATE, X0, P0, 0, range_bias_sigma_m=0.2, angle_bias_sigma_rad=1e-4,
                  thrust_scale_sigma=0.05)
