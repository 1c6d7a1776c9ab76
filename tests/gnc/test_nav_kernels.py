"""The fused, allocation-free EKF step (``ekf_step`` on the class's work buffer) against the pure kernels,
with model slots reused and evicted across many interval lengths, every measurement kind, rejections."""

import numpy as np
import pytest
from scipy.stats import chi2

from gnc.models.measurements import MEAS_ANGLES, MEAS_RAE, MEAS_RELPOS
from gnc.models.rae import rae_from_rel
from gnc.nav.ekf_kernels import (N_SLOTS, PG_GATE, ekf_predict, ekf_step, ekf_step_dt, ekf_update,
                                 hcw_predict_matrices)
from gnc.nav.relnav import RelNavFilter
from gnc.ports import AnglesMeasurement, RaeMeasurement, RelPosMeasurement

N_MEAN = 2 * np.pi / 5400.0
NS = 1_000_000_000
R_RAE = np.array([0.5**2, 1e-3**2, 1e-3**2])
R_ANG = np.array([2e-3**2, 2e-3**2])
R_POS = np.array([1.0, 1.0, 1.0])
Q_PSD = 1e-9
GATE = chi2.ppf(0.9973, 3)


def test_fused_step_equals_pure_kernels_over_kinds_intervals_and_rejections():
    rng = np.random.default_rng(3)
    x = np.array([80.0, -300.0, 20.0, 0.01, 0.02, -0.01])
    P = np.diag([25.0] * 3 + [1e-3] * 3)
    f = RelNavFilter(N_MEAN, Q_PSD, R_RAE, GATE, x, P, 0, angles_R_diag=R_ANG, relpos_R_diag=R_POS)
    R = {MEAS_RAE: np.diag(R_RAE), MEAS_ANGLES: np.diag(R_ANG), MEAS_RELPOS: np.diag(R_POS)}
    gate = {MEAS_RAE: GATE, MEAS_ANGLES: chi2.ppf(0.9973, 2), MEAS_RELPOS: GATE}
    t_ns, n_rejected = 0, 0
    dts = rng.choice([1, 2, 3, 5, 7, 11], size=120) * NS // 2  # more intervals than model slots
    assert len(set(dts)) > N_SLOTS
    for k, dt_ns in enumerate(dts):
        t_ns += int(dt_ns)
        u = rng.normal(0.0, 1e-4, 3)
        f.predict_to(f.t_ns, u)
        kind = (MEAS_RAE, MEAS_ANGLES, MEAS_RELPOS)[k % 3]
        z = rae_from_rel(x[:3]) if kind != MEAS_RELPOS else x[:3].copy()
        z = z + rng.normal(0.0, 1e-3, 3) * (30.0 if k % 10 == 9 else 1.0) * np.array([100.0, 1.0, 1.0])
        meas = {MEAS_RAE: RaeMeasurement(t_ns, *z), MEAS_ANGLES: AnglesMeasurement(t_ns, z[1], z[2]),
                MEAS_RELPOS: RelPosMeasurement(t_ns, tuple(z))}[kind]
        zk = meas.as_array()
        Phi, Gam, Q = hcw_predict_matrices(N_MEAN, dt_ns / NS, Q_PSD)
        x, P = ekf_predict(x, P, Phi, Gam, u, Q)
        x, P, y, S, nis, accepted = ekf_update(x, P, zk, R[kind], gate[kind], kind)
        res = f.update(meas)
        n_rejected += not accepted
        assert res.accepted == accepted and res.nis == nis and res.t_ns == t_ns
        np.testing.assert_array_equal(f.x, x)
        np.testing.assert_array_equal(f.P, P)
        np.testing.assert_array_equal(f.last_innovation, y)
        np.testing.assert_array_equal(f.last_S, S)
    assert 0 < n_rejected == f.n_rejected < len(dts) // 2


def test_geometry_rejection_reports_inf_nis_and_nan_innovation():
    # line of sight along the orbit normal: the azimuth is undefined, the camera sample is refused
    f = RelNavFilter(N_MEAN, Q_PSD, R_RAE, GATE, [0.1, 0.1, 50.0, 0, 0, 0], np.eye(6), 0, angles_R_diag=R_ANG)
    res = f.update(AnglesMeasurement(NS, 0.0, -np.pi / 2))
    assert not res.accepted and res.nis == np.inf and f.n_rejected == 1
    assert np.all(np.isnan(f.last_innovation)) and f.last_innovation.shape == (2,)


def test_unconfigured_measurement_kind_names_the_option():
    f = RelNavFilter(N_MEAN, Q_PSD, R_RAE, GATE, [100.0, 0, 0, 0, 0, 0], np.eye(6), 0)
    with pytest.raises(ValueError, match="relpos_R_diag"):
        f.update(RelPosMeasurement(NS, (100.0, 0.0, 0.0)))
    with pytest.raises(ValueError, match="angles_R_diag"):
        f.update(AnglesMeasurement(NS, 0.0, 0.0))


@pytest.mark.parametrize("thrust_noise", [0.0, 0.05])
def test_update_predict_equals_update_then_predict_to(thrust_noise):
    # one kernel call against the two calls, bit for bit: many interval pairs (slot eviction between the two
    # models of one call), every kind, gate rejections (reinit_after set: the fallback path runs too)
    rng = np.random.default_rng(8)
    x = np.array([80.0, -300.0, 20.0, 0.01, 0.02, -0.01])
    P = np.diag([25.0] * 3 + [1e-3] * 3)
    opts = dict(angles_R_diag=R_ANG, relpos_R_diag=R_POS, thrust_noise_frac=thrust_noise, reinit_after=3)
    f, g = (RelNavFilter(N_MEAN, Q_PSD, R_RAE, GATE, x, P, 0, **opts) for _ in range(2))
    t_ns = 0
    for k in range(300):
        t_m = t_ns + int(rng.choice([0, 1, 2, 3, 5, 7, 11])) * NS // 4
        t_ns = t_m + int(rng.choice([0, 1, 2, 3, 5, 7, 11, 13])) * NS // 4
        u = rng.normal(0.0, 1e-4, 3)
        kind = (MEAS_RAE, MEAS_RAE, MEAS_ANGLES, MEAS_RELPOS)[k % 4]
        z = rae_from_rel(x[:3]) if kind != MEAS_RELPOS else x[:3].copy()
        z = z + rng.normal(0.0, 1e-3, 3) * (300.0 if k % 9 == 8 else 1.0) * np.array([100.0, 1.0, 1.0])
        meas = {MEAS_RAE: RaeMeasurement(t_m, *z), MEAS_ANGLES: AnglesMeasurement(t_m, z[1], z[2]),
                MEAS_RELPOS: RelPosMeasurement(t_m, tuple(z))}[kind]
        r = f.update_predict(meas, t_ns, u)
        res = g.update(meas)
        g.predict_to(t_ns, u)
        assert (r >= 0.0) == res.accepted and abs(r) == res.nis
        np.testing.assert_array_equal(f.x, g.x)
        np.testing.assert_array_equal(f.P, g.P)
        np.testing.assert_array_equal(f.accel_H, g.accel_H)
        assert f.t_ns == g.t_ns == t_ns
    assert f.n_rejected == g.n_rejected > 0 and f.sensor_stats == g.sensor_stats


def test_step_by_interval_refuses_an_unloaded_interval_and_otherwise_equals_the_step_by_slot():
    f = RelNavFilter(N_MEAN, Q_PSD, R_RAE, GATE, [80.0, -300.0, 20.0, 0.0, 0.0, 0.0], np.eye(6), 0)
    f.predict_to(NS, np.zeros(3))  # loads the 1 s model into slot 0
    u = np.array([1e-4, -2e-4, 3e-5])
    W = f._w.copy()
    r = ekf_step_dt(W, 3 * NS, MEAS_RAE, 320.0, 1.3, 0.05, 0, u)  # no slot holds 3 s
    assert np.isnan(r) and W[PG_GATE, 1, 2] == 1.0
    W[PG_GATE, 1, 2] = 0.0
    np.testing.assert_array_equal(W, f._w)
    for dt1, dt2, slot, slot2 in ((NS, 0, 0, -1), (0, NS, -1, 0), (NS, NS, 0, 0), (0, 0, -1, -1)):
        W1, W2 = f._w.copy(), f._w.copy()
        r1 = ekf_step_dt(W1, dt1, MEAS_RAE, 320.0, 1.3, 0.05, dt2, u)
        r2 = ekf_step(W2, slot, MEAS_RAE, 320.0, 1.3, 0.05, slot2, u)
        assert r1 == r2 and W1[PG_GATE, 1, 2] == 0.0
        W1[PG_GATE, 1, 2] = W2[PG_GATE, 1, 2]
        np.testing.assert_array_equal(W1, W2)


def test_update_predict_names_a_wrong_sized_acceleration():
    f = RelNavFilter(N_MEAN, Q_PSD, R_RAE, GATE, [80.0, -300.0, 20.0, 0.0, 0.0, 0.0], np.eye(6), 0)
    f.predict_to(NS, np.zeros(3))
    x, P = f.x, f.P
    with pytest.raises(ValueError, match="accel_H"):
        f.update_predict(RaeMeasurement(2 * NS, 320.0, 1.3, 0.05), 2 * NS, np.zeros(4))
    np.testing.assert_array_equal(f.x, x)  # refused before any change
    np.testing.assert_array_equal(f.P, P)


def _acc(terms, start=0.0):
    """start + terms[0] + terms[1] + ..., left to right."""
    for t in terms:
        start += t
    return start


def _predict_in_python(x, P, Phi, Gam, u, Q):
    """``ekf_predict_inplace``'s dense sums in their documented order, in plain Python floats (IEEE double)."""
    n = len(x)
    xn = [_acc([Phi[i, j] * x[j] for j in range(n)] + [Gam[i, j] * u[j] for j in range(3)]) for i in range(n)]
    T = [[_acc([Phi[i, k] * P[k, j] for k in range(n)]) for j in range(n)] for i in range(n)]
    Pn = np.empty((n, n))
    for i in range(n):
        for j in range(i + 1):
            Pn[i, j] = Pn[j, i] = _acc([Phi[i, k] * T[j][k] for k in range(n)], Q[i, j])
    return np.array(xn), Pn


@pytest.mark.parametrize("coupled", [False, True])
def test_predict_equals_the_dense_sums_bit_for_bit(coupled):
    """The 6-state prediction skips the zero blocks of an in-plane / out-of-plane decoupled Phi (HCW) and
    multiplies densely otherwise (a Phi with J2-like coupling terms): both give the dense sums exactly."""
    rng = np.random.default_rng(3)
    Phi, Gam, Q = hcw_predict_matrices(N_MEAN, 7.0, Q_PSD)
    if coupled:
        Phi = Phi.copy()
        Phi[2, 0], Phi[0, 5], Phi[4, 2] = 1e-7, -3e-6, 2e-8
    A = rng.standard_normal((6, 6))
    P = A @ A.T + np.eye(6)
    x, u = rng.standard_normal(6) * 100.0, np.array([1e-4, -2e-4, 3e-5])
    xe, Pe = _predict_in_python(x, P, Phi, Gam, u, Q)
    xk, Pk = ekf_predict(x, P, Phi, Gam, u, Q)
    assert np.array_equal(xk, xe) and np.array_equal(Pk, Pe)


def test_step_kernels_do_without_reference_counting():
    """The hot path is compiled without numba's reference counting (``gnc.jit.kernel``): such a function
    cannot allocate, and its calls cost no atomic counts."""
    for f in (ekf_step, ekf_step_dt):
        assert f.targetoptions.get("_nrt") is False, f.__name__
