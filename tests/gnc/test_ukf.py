"""UKF kernels and RelNavUKF against filterpy's UnscentedKalmanFilter (same sigma-point parameters,
same models, same data), for every measurement kind and for the nonlinear process model."""

import numpy as np
import pytest
from filterpy.kalman import MerweScaledSigmaPoints, UnscentedKalmanFilter
from scipy.stats import chi2

from gnc.models.measurements import MEAS_ANGLES, MEAS_RAE, MEAS_RELPOS, meas_predict
from gnc.models.nerm import nerm_propagate
from gnc.models.rae import wrap_angle
from gnc.nav.ekf_kernels import ekf_predict, hcw_predict_matrices
from gnc.nav.process import NermProcess
from gnc.nav.relnav import RelNavUKF
from gnc.nav.ukf_kernels import ukf_predict_linear, ukf_update, ukf_weights
from gnc.ports import AnglesMeasurement, RaeMeasurement, RelPosMeasurement

MU = 3.986004418e14
N = 2 * np.pi / 5400.0
NS = 1_000_000_000
ALPHA, BETA, KAPPA = 0.5, 2.0, 0.0
R_OF = {MEAS_RAE: [0.5**2, 1e-3**2, 1e-3**2], MEAS_ANGLES: [1e-3**2, 1e-3**2], MEAS_RELPOS: [0.3**2] * 3}
WRAP = {MEAS_RAE: 1, MEAS_ANGLES: 0, MEAS_RELPOS: -1}
X0 = np.array([100.0, 40.0, 20.0, 0.0, -2 * N * 100.0, 0.01])  # ellipse: the azimuth crosses +-pi
P0 = np.diag([5.0**2] * 3 + [0.02**2] * 3)


def _fp_ukf(kind, fx, x0):
    iw = WRAP[kind]

    def z_mean(sigmas, Wm):
        z = sigmas[0] + Wm @ (sigmas - sigmas[0])
        if iw >= 0:
            d = wrap_angle(sigmas[:, iw] - sigmas[0, iw])
            z[iw] = wrap_angle(sigmas[0, iw] + Wm @ d)
        return z

    def residual_z(a, b):
        y = a - b
        if iw >= 0:
            y[iw] = wrap_angle(y[iw])
        return y

    pts = MerweScaledSigmaPoints(6, alpha=ALPHA, beta=BETA, kappa=KAPPA)
    f = UnscentedKalmanFilter(dim_x=6, dim_z=len(R_OF[kind]), dt=10.0, hx=lambda x: meas_predict(kind, x), fx=fx,
                              points=pts, z_mean_fn=z_mean, residual_z=residual_z)
    f.x, f.P, f.R = x0.copy(), P0.copy(), np.diag(R_OF[kind])
    return f


def _data(kind, n_steps, dt, seed, propagate):
    rng = np.random.default_rng(seed)
    x, us, zs = X0.copy(), [], []
    for k in range(n_steps):
        u = np.array([0.0, 1e-3, 0.0]) if 20 <= k < 30 else np.zeros(3)
        x = propagate(x, u, dt)
        z = meas_predict(kind, x) + np.sqrt(R_OF[kind]) * rng.standard_normal(len(R_OF[kind]))
        if WRAP[kind] >= 0:
            z[WRAP[kind]] = wrap_angle(z[WRAP[kind]])
        us.append(u)
        zs.append(z)
    return us, zs, X0 + np.sqrt(np.diag(P0)) * rng.standard_normal(6)


@pytest.mark.parametrize("kind", [MEAS_RAE, MEAS_ANGLES, MEAS_RELPOS])
def test_kernels_match_filterpy_linear_model(kind):
    dt, q = 10.0, 1e-10
    Phi, Gam, Q = hcw_predict_matrices(N, dt, q)
    us, zs, x0 = _data(kind, 120, dt, 1, lambda x, u, dt: Phi @ x + Gam @ u)
    fp = _fp_ukf(kind, lambda x, dt, u: Phi @ x + Gam @ u, x0)
    fp.Q = Q
    Wm, Wc, lam = ukf_weights(6, ALPHA, BETA, KAPPA)
    np.testing.assert_allclose(Wm, fp.Wm, rtol=1e-14)
    np.testing.assert_allclose(Wc, fp.Wc, rtol=1e-14)
    x, P, R = x0.copy(), P0.copy(), np.diag(R_OF[kind])
    for u, z in zip(us, zs):
        fp.predict(u=u)
        fp.update(z)
        x, P, ok = ukf_predict_linear(x, P, Phi, Gam, u, Q, Wm, Wc, lam)
        # the unscented transform of a linear map is exact: equal to the EKF prediction
        assert ok
        x, P, y, S, nis, acc = ukf_update(x, P, z, R, np.inf, kind, Wm, Wc, lam)
        assert acc
        np.testing.assert_allclose(x, fp.x, rtol=0, atol=1e-9)
        np.testing.assert_allclose(P, fp.P, rtol=0, atol=1e-9)
        np.testing.assert_allclose(y, fp.y, rtol=0, atol=1e-9)
        np.testing.assert_allclose(S, fp.S, rtol=1e-9, atol=1e-12 * np.max(np.diag(S)))
        assert abs(nis - fp.y @ np.linalg.solve(fp.S, fp.y)) < 1e-9 * max(1.0, nis)
    if kind != MEAS_ANGLES:
        assert np.max(np.abs(zs[-1] - meas_predict(kind, x))) < 5 * np.sqrt(np.max(R_OF[kind]))


def test_ukf_linear_prediction_equals_ekf():
    Phi, Gam, Q = hcw_predict_matrices(N, 30.0, 1e-9)
    u = np.array([1e-3, -2e-3, 5e-4])
    Wm, Wc, lam = ukf_weights(6, ALPHA, BETA, KAPPA)
    xu, Pu, ok = ukf_predict_linear(X0, P0, Phi, Gam, u, Q, Wm, Wc, lam)
    xe, Pe = ekf_predict(X0, P0, Phi, Gam, u, Q)
    np.testing.assert_allclose(xu, xe, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Pu, Pe, rtol=1e-9, atol=1e-12)


def test_class_with_nonlinear_model_matches_filterpy():
    e, th0, dt, q = 0.1, 0.3, 10.0, 1e-10
    proc = NermProcess(MU, N, e, th0, max_step_s=10.0)
    kind = MEAS_RAE
    t_ns = [0]

    def prop(x, u, dt_s):
        y, _ = nerm_propagate(x, u, MU, N, e, proc.theta(t_ns[0]), dt_s, 10.0)
        return y

    us, zs, x0 = _data(kind, 60, dt, 2, lambda x, u, d: _step_truth(x, u, d, t_ns, prop))
    f = RelNavUKF(N, q, R_OF[kind], np.inf, x0, P0, 0, process=proc, alpha=ALPHA, beta=BETA, kappa=KAPPA)
    t_ns[0] = 0
    fp = _fp_ukf(kind, lambda x, dt_s, u: prop(x, u, dt_s), x0)
    for k, (u, z) in enumerate(zip(us, zs)):
        fp.Q = proc.linear(t_ns[0], int(dt * NS), q)[2]
        fp.predict(u=u)
        f.predict_to(k * int(dt * NS), u)
        res = f.update(RaeMeasurement((k + 1) * int(dt * NS), *z))
        t_ns[0] += int(dt * NS)
        fp.update(z)
        assert res.accepted
        np.testing.assert_allclose(f.x, fp.x, rtol=0, atol=1e-9)
        np.testing.assert_allclose(f.P, fp.P, rtol=0, atol=1e-9)
        np.testing.assert_allclose(f.last_innovation, fp.y, rtol=0, atol=1e-9)


def _step_truth(x, u, d, t_ns, prop):
    """Nonlinear truth step from the time t_ns[0], which it advances."""
    y = prop(x, u, d)
    t_ns[0] += int(d * NS)
    return y


@pytest.mark.parametrize("kind, make", [(MEAS_ANGLES, lambda t, z: AnglesMeasurement(t, *z)),
                                        (MEAS_RELPOS, lambda t, z: RelPosMeasurement(t, tuple(z)))])
def test_class_equals_kernels(kind, make):
    dt, q = 10.0, 1e-10
    Phi, Gam, Q = hcw_predict_matrices(N, dt, q)
    us, zs, x0 = _data(kind, 40, dt, 3, lambda x, u, dt: Phi @ x + Gam @ u)
    opts = {"angles_R_diag": R_OF[MEAS_ANGLES]} if kind == MEAS_ANGLES else {"relpos_R_diag": R_OF[MEAS_RELPOS]}
    gate = chi2.ppf(0.9973, 3)
    f = RelNavUKF(N, q, R_OF[MEAS_RAE], gate, x0, P0, 0, alpha=ALPHA, beta=BETA, kappa=KAPPA, **opts)
    Wm, Wc, lam = ukf_weights(6, ALPHA, BETA, KAPPA)
    x, P, R = x0.copy(), P0.copy(), np.diag(R_OF[kind])
    g = chi2.ppf(0.9973, len(R_OF[kind]))
    for k, (u, z) in enumerate(zip(us, zs)):
        f.predict_to(k * int(dt * NS), u)
        res = f.update(make((k + 1) * int(dt * NS), z))
        x, P, _ = ukf_predict_linear(x, P, Phi, Gam, u, Q, Wm, Wc, lam)
        x, P, y, S, nis, acc = ukf_update(x, P, z, R, g, kind, Wm, Wc, lam)
        assert res.accepted == acc and abs(res.nis - nis) <= 1e-12 * nis
        np.testing.assert_allclose(f.x, x, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(f.P, P, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(f.last_innovation, y)
    assert f.sensor_stats[make(0, zs[0]).sensor].offered == len(zs)


def test_ukf_geometry_guard_and_validation():
    Wm, Wc, lam = ukf_weights(6, ALPHA, BETA, KAPPA)
    x = np.array([0.0, 0.0, 100.0, 0.0, 0.0, 0.0])
    out = ukf_update(x, P0, np.array([100.0, 0.0, -np.pi / 2]), np.diag(R_OF[MEAS_RAE]), np.inf, MEAS_RAE,
                     Wm, Wc, lam)
    assert not out[5] and out[4] == np.inf and out[0] is x
    with pytest.raises(ValueError):
        RelNavUKF(N, 1e-10, R_OF[MEAS_RAE], 10.0, X0, P0, 0, alpha=0.0)
