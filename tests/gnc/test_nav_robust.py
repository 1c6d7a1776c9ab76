"""RelNavFilter robustness: late measurements re-processed from the history (same result as in order)
or rejected and counted, gating counted per sensor, re-initialisation after a rejection streak,
range-bias state, and the YA process model in the class."""

import numpy as np
import pytest
from scipy.stats import chi2

from gnc.models.measurements import MEAS_RAE, meas_predict
from gnc.models.rae import wrap_angle
from gnc.models.ya import ya_predict_matrices
from gnc.nav.ekf_kernels import ekf_predict, ekf_update, hcw_predict_matrices
from gnc.nav.process import YaProcess
from gnc.nav.relnav import RelNavFilter, RelNavUKF
from gnc.ports import RaeMeasurement, RelPosMeasurement

N = 2 * np.pi / 5554.0
NS = 1_000_000_000
GATE = chi2.ppf(0.9973, 3)
R_RAE = np.array([0.2**2, 1e-3**2, 1e-3**2])
R_POS = np.array([0.5**2] * 3)
X0 = np.array([-150.0, -1000.0, 40.0, 0.0, 2 * N * 150.0, -0.01])
P0 = np.diag([2.0**2] * 3 + [0.01**2] * 3)


def _meas(seed, n, bias=0.0):
    """Alternating lidar (1 Hz) and relative-GNSS samples of a free HCW truth; (t_ns, msg) sorted."""
    Phi, _, _ = hcw_predict_matrices(N, 1.0, 0.0)
    rng = np.random.default_rng(seed)
    x, out = X0.copy(), []
    for k in range(1, n + 1):
        x = Phi @ x
        z = meas_predict(MEAS_RAE, x) + np.sqrt(R_RAE) * rng.standard_normal(3) + (bias, 0.0, 0.0)
        z[1] = wrap_angle(z[1])
        out.append(RaeMeasurement(k * NS, *z))
        if k % 3 == 0:
            p = x[:3] + np.sqrt(R_POS) * rng.standard_normal(3)
            out.append(RelPosMeasurement(k * NS, tuple(p)))  # same time of validity as the lidar sample
    return out, x


def _filter(cls=RelNavFilter, **kw):
    return cls(N, 1e-10, R_RAE, GATE, X0, P0, 0, relpos_R_diag=R_POS, **kw)


@pytest.mark.parametrize("cls", [RelNavFilter, RelNavUKF])
def test_late_measurements_reprocessed_equal_in_order(cls):
    ms, _ = _meas(1, 60)
    a = _filter(cls)
    for m in ms:
        a.update(m)
    # deliver every relative-GNSS sample 2.5 s late (behind two lidar samples)
    b = _filter(cls, history_ns=5 * NS)
    late = sorted(ms, key=lambda m: m.t_ns + (int(2.5 * NS) if isinstance(m, RelPosMeasurement) else 0))
    assert late != ms
    for m in late:
        res = b.update(m)
        assert res.accepted and res.t_ns == m.t_ns
    assert b.t_ns == a.t_ns and b.n_late == 0
    np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b.P, a.P, rtol=1e-9, atol=0)


def test_too_late_and_no_history_are_rejected_and_counted():
    ms, _ = _meas(2, 30)
    f = _filter(history_ns=2 * NS)
    for m in ms:
        f.update(m)
    x = f.x
    res = f.update(RelPosMeasurement(f.t_ns - 10 * NS, (0.0, 0.0, 0.0)))
    assert not res.accepted and np.isnan(res.nis) and f.n_late == 1
    np.testing.assert_array_equal(f.x, x)
    g = _filter()  # history off
    g.update(ms[5])
    assert not g.update(ms[4]).accepted and g.n_late == 1
    assert g.sensor_stats[ms[4].sensor].late == 1


def test_gating_counted_per_sensor_and_outliers_harmless():
    ms, x_end = _meas(3, 90)
    f = _filter()
    bad = {10, 40, 70}
    for i, m in enumerate(ms):
        if i in bad:
            sig = np.sqrt(R_POS[0] + f.P[0, 0]) if isinstance(m, RelPosMeasurement) else np.sqrt(R_RAE[0])
            if isinstance(m, RelPosMeasurement):
                m = RelPosMeasurement(m.t_ns, (m.r_CT_H_m[0] + 10 * sig, *m.r_CT_H_m[1:]))
            else:
                m = RaeMeasurement(m.t_ns, m.range_m + 10 * sig, m.az_rad, m.el_rad)
        f.update(m)
    st = f.sensor_stats
    kinds = [type(ms[i]).__name__ for i in bad]
    assert st["rel_rae"].rejected == kinds.count("RaeMeasurement")
    assert st["rel_gnss"].rejected == kinds.count("RelPosMeasurement")
    assert st["rel_rae"].offered + st["rel_gnss"].offered == len(ms) == f.n_updates
    assert f.n_rejected == len(bad)
    assert np.all(np.abs(f.x[:3] - x_end[:3]) < 4 * f.sigma[:3])


def test_reinitialises_after_rejection_streak():
    ms, x_end = _meas(4, 120)
    x_wrong = X0 + np.array([300.0, -400.0, 100.0, 0.0, 0.0, 0.0])  # far outside P0: every update gated out
    f = RelNavFilter(N, 1e-10, R_RAE, GATE, x_wrong, P0, 0, relpos_R_diag=R_POS, reinit_after=3,
                     reinit_vel_sigma_m_s=0.05)
    for m in ms:
        f.update(m)
    assert f.n_reinit == 1 and 3 <= f.n_rejected <= 4
    assert np.all(np.abs(f.x[:3] - x_end[:3]) < 4 * f.sigma[:3])
    assert np.all(f.sigma[:3] < 1.0)


def test_range_bias_state_is_estimated():
    bias = 1.5
    ms, _ = _meas(5, 300, bias=bias)
    f = _filter(range_bias_sigma_m=3.0)
    for m in ms:
        f.update(m)
    assert f.x.shape == (7,) and abs(f.x[6] - bias) < 3 * f.sigma[6] and f.sigma[6] < 0.3


def test_ya_process_in_class_equals_kernels():
    e, th0, q = 0.1, 0.4, 1e-10
    proc = YaProcess(N, e, th0)
    f = RelNavFilter(N, q, R_RAE, GATE, X0, P0, 0, process=proc)
    ms, _ = _meas(6, 20)
    x, P, t = X0.copy(), P0.copy(), 0
    for m in (m for m in ms if isinstance(m, RaeMeasurement)):
        f.update(m)
        Phi, Gam, Q, _ = ya_predict_matrices(N, e, proc.theta(t), (m.t_ns - t) / NS, q)
        x, P = ekf_predict(x, P, Phi, Gam, np.zeros(3), Q)
        x, P, *_ = ekf_update(x, P, m.as_array(), np.diag(R_RAE), GATE, MEAS_RAE)
        t = m.t_ns
        np.testing.assert_allclose(f.x, x, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(f.P, P, rtol=1e-10, atol=1e-15)



@pytest.mark.parametrize("cls", [RelNavFilter, RelNavUKF])
def test_inflate_widens_position_and_velocity_so_a_displaced_truth_passes_the_gate(cls):
    """An estimate 15 m off (motion the filter was not told of: a thruster found stuck on after a delay) is gated
    out; inflated by the size of the error, the same measurement is accepted (the FDIR response in gnc.executive)."""
    ms, _ = _meas(5, 3)
    off = X0 + np.array([0.0, 15.0, 0.0, 0.0, 0.0, 0.0])
    f, g = (cls(N, 1e-10, R_RAE, GATE, off, P0, 0, relpos_R_diag=R_POS) for _ in range(2))
    assert not g.update(ms[0]).accepted
    P_before = f.P.copy()
    f.inflate(15.0, 0.05)
    np.testing.assert_allclose(np.diag(f.P) - np.diag(P_before), [225.0] * 3 + [0.0025] * 3, rtol=1e-12)
    np.testing.assert_array_equal(f.x, off)
    assert f.update(ms[0]).accepted
    for bad in ((-1.0, 0.1), (1.0, float("nan"))):
        with pytest.raises(ValueError, match="inflate"):
            f.inflate(*bad)
