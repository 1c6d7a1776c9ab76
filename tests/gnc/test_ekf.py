"""Relative-navigation EKF: kernels vs filterpy, class vs kernels, process noise, SPD, gating, NEES."""

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
from filterpy.kalman import ExtendedKalmanFilter
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from gnc.models.hcw import hcw_continuous, hcw_input_matrix, hcw_stm
from gnc.models.rae import rae_from_rel, rae_jacobian, rel_from_rae, wrap_angle
from gnc.nav.ekf_kernels import (
    ekf_predict,
    ekf_update_rae,
    hcw_predict_matrices,
    hcw_process_noise,
    rel_from_rae_jacobian,
)
from gnc.nav.relnav import RelNavFilter, RelNavUpdate
from gnc.ports import RaeMeasurement

N_MEAN = 2 * np.pi / 5400.0  # rad/s, 90 min orbit
NS = 1_000_000_000
GATE_3SIG = chi2.ppf(0.9973, 3)


def _accel_schedule(k):
    """A thrust profile with on/off arcs on all axes (m/s^2, H)."""
    if 40 <= k < 70:
        return np.array([0.0, 2e-3, 0.0])
    if 120 <= k < 135:
        return np.array([-1e-3, 0.0, 5e-4])
    if 180 <= k < 190:
        return np.array([5e-4, -5e-4, -1e-3])
    return np.zeros(3)


def _simulate(rng, x0, n_steps, dt, q_psd, R_diag):
    """Linear HCW truth with process noise drawn from Q, and noisy RAE measurements after each step."""
    Phi, Gam, Q = hcw_predict_matrices(N_MEAN, dt, q_psd)
    LQ = np.linalg.cholesky(Q)
    xs, us, zs = [], [], []
    x = np.array(x0, dtype=float)
    for k in range(n_steps):
        u = _accel_schedule(k)
        x = Phi @ x + Gam @ u + LQ @ rng.standard_normal(6)
        z = rae_from_rel(x[:3]) + np.sqrt(R_diag) * rng.standard_normal(3)
        z[1] = wrap_angle(z[1])
        xs.append(x)
        us.append(u)
        zs.append(z)
    return np.array(xs), np.array(us), np.array(zs)


# Inspection ellipse above/below the target: the line of sight crosses the azimuth cut at +-pi.
X_TRUE0 = np.array([100.0, 40.0, 20.0, 0.0, -2 * N_MEAN * 100.0, 0.01])
P0 = np.diag([10.0**2] * 3 + [0.05**2] * 3)
R_DIAG = np.array([0.5**2, 1e-3**2, 1e-3**2])


def _scenario(seed=1, n_steps=250, dt=10.0, q_psd=1e-10):
    rng = np.random.default_rng(seed)
    xs, us, zs = _simulate(rng, X_TRUE0, n_steps, dt, q_psd, R_DIAG)
    x0 = X_TRUE0 + np.sqrt(np.diag(P0)) * rng.standard_normal(6)
    return x0, xs, us, zs


def test_matches_filterpy_ekf():
    dt, q_psd = 10.0, 1e-10
    x0, xs, us, zs = _scenario(dt=dt, q_psd=q_psd)
    az = zs[:, 1]
    assert np.any((np.abs(az[:-1]) > 3.0) & (np.sign(az[:-1]) != np.sign(az[1:]))), "no wrap crossing"
    Phi, Gam, Q = hcw_stm(N_MEAN, dt), hcw_input_matrix(N_MEAN, dt), hcw_process_noise(N_MEAN, dt, q_psd)
    R = np.diag(R_DIAG)

    fp = ExtendedKalmanFilter(dim_x=6, dim_z=3, dim_u=3)
    fp.x = x0.reshape(6, 1).copy()
    fp.P = P0.copy()
    fp.F, fp.B, fp.Q, fp.R = Phi, Gam, Q, R

    def residual(a, b):
        y = a - b
        y[1] = wrap_angle(y[1, 0])
        return y

    x, P = x0.copy(), P0.copy()
    max_dx = max_dP = max_dnis = 0.0
    for u, z in zip(us, zs):
        fp.predict(u=u.reshape(3, 1))
        fp.update(
            z.reshape(3, 1),
            HJacobian=lambda xx: rae_jacobian(xx.ravel()),
            Hx=lambda xx: rae_from_rel(xx.ravel()[:3]).reshape(3, 1),
            residual=residual,
        )
        x, P = ekf_predict(x, P, Phi, Gam, u, Q)
        x, P, y, S, nis, accepted = ekf_update_rae(x, P, z, R, np.inf)
        assert accepted
        nis_fp = (fp.y.T @ np.linalg.solve(fp.S, fp.y)).item()  # filterpy 1.4.5 leaves fp.SI unset
        max_dx = max(max_dx, np.max(np.abs(x - fp.x.ravel())))
        max_dP = max(max_dP, np.max(np.abs(P - fp.P)))
        max_dnis = max(max_dnis, abs(nis - nis_fp))
        np.testing.assert_allclose(y, fp.y.ravel(), rtol=0, atol=1e-9)
        np.testing.assert_allclose(S, fp.S, rtol=1e-9, atol=0)
    assert len(us) >= 200
    assert max_dx < 1e-9 and max_dP < 1e-9, (max_dx, max_dP)
    assert max_dnis < 1e-9
    # the estimate converged onto the truth
    assert np.all(np.abs(x - xs[-1]) < 5 * np.sqrt(np.diag(P)))


def test_class_equals_kernels():
    dt, q_psd = 10.0, 1e-10
    x0, xs, us, zs = _scenario(seed=2, n_steps=60, dt=dt, q_psd=q_psd)
    f = RelNavFilter(N_MEAN, q_psd, R_DIAG, GATE_3SIG, x0, P0, t0_ns=5 * NS)
    x, P = x0.copy(), P0.copy()
    R = np.diag(R_DIAG)
    t_ns = 5 * NS
    for k, (u, z) in enumerate(zip(us, zs)):
        # alternate: explicit predict_to then update at the same time / update alone after a short
        # predict (measurement between nav ticks, predicted with the held acceleration)
        t_mid = t_ns + 3_250_000_000
        t_ns += int(dt * NS)
        f.predict_to(t_mid, u)
        x, P = ekf_predict(x, P, *_mats(3.25, q_psd, u))
        if k % 2:
            f.predict_to(t_ns, u)
            f.predict_to(t_ns, u)  # zero-length: no-op
        res = f.update(RaeMeasurement(t_ns, *z))
        x, P = ekf_predict(x, P, *_mats(6.75, q_psd, u))
        x, P, y, S, nis, acc = ekf_update_rae(x, P, z, R, GATE_3SIG)
        assert isinstance(res, RelNavUpdate)
        assert res.t_ns == t_ns == f.t_ns
        assert res.accepted == acc and res.nis == nis
        np.testing.assert_array_equal(f.x, x)
        np.testing.assert_array_equal(f.P, P)
        np.testing.assert_array_equal(f.last_innovation, y)
        np.testing.assert_array_equal(f.last_S, S)
    np.testing.assert_array_equal(f.r_CT_H, x[:3])
    np.testing.assert_array_equal(f.v_CT_H, x[3:])
    np.testing.assert_array_equal(f.sigma, np.sqrt(np.diag(P)))
    assert f.n_updates == len(zs)
    with pytest.raises(ValueError, match="cannot predict backwards"):
        f.predict_to(t_ns - 1, np.zeros(3))
    with pytest.raises(ValueError):
        f.x[0] = 1.0  # read-only snapshot


def _mats(dt, q_psd, u):
    Phi, Gam, Q = hcw_predict_matrices(N_MEAN, dt, q_psd)
    return Phi, Gam, u, Q


def test_from_measurement():
    z = np.array([800.0, 2.5, -0.3])
    meas = RaeMeasurement(7 * NS, *z)
    f = RelNavFilter.from_measurement(meas, 0.1, n=N_MEAN, q_psd=1e-10, R_diag=R_DIAG, gate_chi2=GATE_3SIG)
    assert f.t_ns == 7 * NS
    np.testing.assert_allclose(rae_from_rel(f.r_CT_H), z, rtol=1e-12)
    np.testing.assert_array_equal(f.v_CT_H, np.zeros(3))
    # first-order covariance: J by central differences
    J = np.empty((3, 3))
    for i in range(3):
        dz = np.zeros(3)
        dz[i] = 1e-6 * max(1.0, abs(z[i]))
        J[:, i] = (rel_from_rae(z + dz) - rel_from_rae(z - dz)) / (2 * dz[i])
    np.testing.assert_allclose(rel_from_rae_jacobian(z), J, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(f.P[:3, :3], J @ np.diag(R_DIAG) @ J.T, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(f.sigma[3:], 0.1)


def test_constructor_validation():
    with pytest.raises(ValueError):
        RelNavFilter(N_MEAN, 1e-10, R_DIAG, GATE_3SIG, np.zeros(6), -np.eye(6), 0)
    with pytest.raises(ValueError):
        RelNavFilter(N_MEAN, 1e-10, R_DIAG[:2], GATE_3SIG, np.zeros(6), np.eye(6), 0)
    with pytest.raises(ValueError):
        RelNavFilter(0.0, 1e-10, R_DIAG, GATE_3SIG, np.zeros(6), np.eye(6), 0)
    with pytest.raises(TypeError):
        RelNavFilter(N_MEAN, 1e-10, R_DIAG, GATE_3SIG, np.zeros(6), np.eye(6), 0.5)


def _q_brute(n, dt, q_psd, stm):
    """q int_0^dt Phi(s) G G' Phi(s)' ds by adaptive Gauss-Kronrod quadrature (scipy quad_vec)."""
    def f(s):
        E = stm(s)[:, 3:]
        return q_psd * (E @ E.T)

    Q, _ = scipy.integrate.quad_vec(f, 0.0, dt, epsabs=0.0, epsrel=1e-13, limit=2000)
    return Q


def _stm_expm(s):
    A, _ = hcw_continuous(N_MEAN)
    return scipy.linalg.expm(A * s)


@pytest.mark.parametrize(
    "dt, stm",
    [(dt, "hcw_stm") for dt in (0.1, 10.0, 600.0, 5400.0, 20000.0)] + [(10.0, "expm"), (5400.0, "expm")],
)
def test_process_noise_vs_brute_force(dt, stm):
    q_psd = 3e-9
    Q = hcw_process_noise(N_MEAN, dt, q_psd)
    Qref = _q_brute(N_MEAN, dt, q_psd, _stm_expm if stm == "expm" else lambda s: hcw_stm(N_MEAN, s))
    # error relative to sqrt(Q_ii Q_jj) (the correlation scale; small coupling terms of hcw_stm
    # suffer cancellation for n*dt << 1, which is irrelevant at that scale)
    scale = np.sqrt(np.outer(np.diag(Qref), np.diag(Qref)))
    err = np.max(np.abs(Q - Qref) / scale)
    assert err < 1e-12, err
    np.testing.assert_array_equal(Q, Q.T)
    assert np.all(np.linalg.eigvalsh(Q / scale) > 0)


def test_process_noise_limits():
    # short interval: double integrator q [[dt^3/3, dt^2/2], [dt^2/2, dt]] per axis
    dt, q = 0.01, 2.0
    Q = hcw_process_noise(N_MEAN, dt, q)
    for i in range(3):
        np.testing.assert_allclose(
            [Q[i, i], Q[i, i + 3], Q[i + 3, i + 3]], [q * dt**3 / 3, q * dt**2 / 2, q * dt], rtol=1e-5
        )
    np.testing.assert_array_equal(hcw_process_noise(N_MEAN, 0.0, q), np.zeros((6, 6)))
    np.testing.assert_allclose(hcw_process_noise(N_MEAN, 100.0, 2 * q), 2 * hcw_process_noise(N_MEAN, 100.0, q))
    with pytest.raises(ValueError):
        hcw_process_noise(N_MEAN, -1.0, q)


_log = st.floats


@settings(max_examples=60, deadline=None)
@given(
    r0=st.tuples(_log(-3000, 3000), _log(-3000, 3000), _log(-3000, 3000)).filter(lambda r: np.linalg.norm(r) > 5.0),
    log_psig=_log(-1, 3),
    log_vsig=_log(-4, 0),
    log_rsig=_log(-2, 1),
    log_asig=_log(-5, -2),
    log_q=_log(-14, -6),
    steps=st.lists(
        st.tuples(
            _log(-1, 3),  # log10 dt (s)
            st.tuples(_log(-1e-2, 1e-2), _log(-1e-2, 1e-2), _log(-1e-2, 1e-2)),  # accel (m/s^2)
            st.booleans(),  # measurement after the prediction?
            st.tuples(_log(-4, 4), _log(-4, 4), _log(-4, 4)),  # measurement offset in sigmas
        ),
        min_size=1,
        max_size=25,
    ),
)
def test_covariance_stays_spd(r0, log_psig, log_vsig, log_rsig, log_asig, log_q, steps):
    x = np.concatenate((np.array(r0), np.zeros(3)))
    P = np.diag([10.0 ** (2 * log_psig)] * 3 + [10.0 ** (2 * log_vsig)] * 3)
    R_diag = np.array([10.0 ** (2 * log_rsig), 10.0 ** (2 * log_asig), 10.0 ** (2 * log_asig)])
    R = np.diag(R_diag)
    q = 10.0**log_q
    for log_dt, u, do_meas, off in steps:
        x, P = ekf_predict(x, P, *_mats(10.0**log_dt, q, np.array(u)))
        _assert_spd(P)
        if do_meas:
            z = rae_from_rel(x[:3]) + np.array(off) * np.sqrt(R_diag)
            z[1] = wrap_angle(z[1])
            x, P, y, S, nis, acc = ekf_update_rae(x, P, z, R, np.inf)
            _assert_spd(P)
            if acc:
                _assert_spd(S)


def _assert_spd(M):
    assert np.all(np.isfinite(M))
    np.testing.assert_array_equal(M, M.T)
    d = np.sqrt(np.diag(M))
    assert np.all(d > 0)
    np.linalg.cholesky(M / np.outer(d, d))  # raises if not positive definite


def test_gate_rejects_ten_sigma_outlier():
    dt, q_psd = 10.0, 1e-10
    x0, xs, us, zs = _scenario(seed=3, n_steps=50, dt=dt, q_psd=q_psd)
    f = RelNavFilter(N_MEAN, q_psd, R_DIAG, GATE_3SIG, x0, P0, t0_ns=0)
    for k, (u, z) in enumerate(zip(us, zs)):
        f.predict_to(k * int(dt * NS), u)
        assert f.update(RaeMeasurement((k + 1) * int(dt * NS), *z)).accepted
    assert (f.n_updates, f.n_rejected) == (50, 0)
    t_ns = 51 * int(dt * NS)
    f.predict_to(t_ns, np.zeros(3))
    x_pred, P_pred = f.x, f.P
    zhat = rae_from_rel(x_pred[:3])
    H = rae_jacobian(np.asarray(x_pred))
    S = H @ P_pred @ H.T + np.diag(R_DIAG)
    for i in range(3):
        z = zhat.copy()
        z[i] += 10.0 * np.sqrt(S[i, i])
        z[1] = wrap_angle(z[1])
        res = f.update(RaeMeasurement(t_ns, *z))
        assert not res.accepted
        assert res.nis >= 99.0
        np.testing.assert_array_equal(f.x, x_pred)
        np.testing.assert_array_equal(f.P, P_pred)
    assert (f.n_updates, f.n_rejected) == (53, 3)
    # a 2-sigma range error passes the gate
    z = zhat + np.array([2.0 * np.sqrt(S[0, 0]), 0.0, 0.0])
    res = f.update(RaeMeasurement(t_ns, *z))
    assert res.accepted and abs(res.nis - 4.0) < 0.5
    assert (f.n_updates, f.n_rejected) == (54, 3)
    # a NaN measurement never passes
    assert not f.update(RaeMeasurement(t_ns, np.nan, 0.0, 0.0)).accepted
    assert f.n_rejected == 4


def test_orbit_normal_line_of_sight_is_rejected():
    # target straight along the orbit normal: azimuth undefined, the update must refuse, not blow up
    R = np.diag(R_DIAG)
    for r in ([0.0, 0.0, 100.0], [0.5, -0.5, -100.0], [0.0, 0.0, 0.0]):
        x = np.array(r + [0.0, 0.0, 0.0])
        x1, P1, y, S, nis, acc = ekf_update_rae(x, P0, np.array([100.0, 0.0, -np.pi / 2]), R, np.inf)
        assert not acc and nis == np.inf and np.all(np.isnan(y))
        assert x1 is x and P1 is P0
    f = RelNavFilter(N_MEAN, 1e-10, R_DIAG, GATE_3SIG, [0.0, 0.0, 100.0, 0, 0, 0], P0, 0)
    assert not f.update(RaeMeasurement(NS, 100.0, 0.0, -np.pi / 2)).accepted
    assert (f.n_updates, f.n_rejected) == (1, 1)


def test_nees_consistency_monte_carlo():
    # ~1 km along-track, well inside the EKF's linear regime (initial sigma 2 m at 1 km range)
    n_runs, n_steps, dt, q_psd = 30, 150, 10.0, 1e-9
    x_true0 = np.array([-200.0, -1000.0, 50.0, 0.0, 2 * N_MEAN * 200.0, -0.02])
    P0_mc = np.diag([2.0**2] * 3 + [0.005**2] * 3)
    R = np.diag(R_DIAG)
    Phi, Gam, Q = hcw_predict_matrices(N_MEAN, dt, q_psd)
    rng = np.random.default_rng(2024)
    nees = np.empty((n_runs, n_steps))
    nis = np.empty((n_runs, n_steps))
    L0 = np.linalg.cholesky(P0_mc)
    for r in range(n_runs):
        xs, us, zs = _simulate(rng, x_true0, n_steps, dt, q_psd, R_DIAG)
        x, P = x_true0 + L0 @ rng.standard_normal(6), P0_mc.copy()
        for k in range(n_steps):
            x, P = ekf_predict(x, P, Phi, Gam, us[k], Q)
            x, P, _, _, nis[r, k], acc = ekf_update_rae(x, P, zs[k], R, np.inf)
            e = x - xs[k]
            nees[r, k] = e @ np.linalg.solve(P, e)
    lo, hi = chi2.ppf([0.025, 0.975], 6 * n_runs) / n_runs
    avg = nees.mean(axis=0)
    inside = np.mean((avg >= lo) & (avg <= hi))
    assert inside >= 0.9, (inside, avg.min(), avg.max())
    # the grand mean (time-averaging only narrows the spread, so these bounds are conservative)
    assert lo <= nees.mean() <= hi, nees.mean()
    nlo, nhi = chi2.ppf([0.025, 0.975], 3 * n_runs) / n_runs
    assert nlo <= nis.mean() <= nhi, nis.mean()
