"""sim.imu and sim.star_tracker: long sample runs against the declared error figures.

Allan variance: the overlapping estimator of IEEE Std 952-1997 (Annex C) and El-Sheimy, Hou & Niu 2008
(IEEE Trans. Instrum. Meas. 57(1), eq. 4): angle random walk read on the tau^-1/2 line at tau = 1 s, bias
instability at the floor, sigma_floor / 0.664 (Table 1 there), the white part removed."""

import numpy as np
import pytest
from scipy.signal import lfilter
from scipy.stats import chi2

from gnc.frames import quat_from_dcm
from sim.imu import FLICKER_FLOOR, ImuChannel, gauss_markov_allan_peak
from sim.star_tracker import StarTracker, rotation_error

DT = 0.1


def allan_deviation(y, dt, taus):
    """Overlapping Allan deviation of the rate samples y (n,) taken every dt, at cluster times taus."""
    theta = np.concatenate([[0.0], np.cumsum(y) * dt])
    out = []
    for tau in taus:
        m = int(round(tau / dt))
        d = theta[2 * m:] - 2 * theta[m:-m] + theta[:-2 * m]
        out.append(np.sqrt(np.mean(d**2) / (2 * (m * dt) ** 2)))
    return np.array(out)


def test_gauss_markov_allan_peak_matches_a_simulated_process():
    """The closed-form peak (El-Sheimy et al. 2008) against a long simulated first-order Markov process."""
    rng = np.random.default_rng(5)
    T, n = 20.0, 2_000_000
    phi = np.exp(-DT / T)
    w = rng.standard_normal(n) * np.sqrt(1 - phi**2)
    x = lfilter([1.0], [1.0, -phi], w, zi=[phi * rng.standard_normal()])[0]  # scipy, not sim.imu's kernel
    taus = np.array([1.6, 1.8, 1.9, 2.0, 2.2]) * T
    assert allan_deviation(x, DT, taus).max() == pytest.approx(gauss_markov_allan_peak(), rel=0.04)


def allan_estimates(arw, b_inst, t_corr, n, seed):
    """(ARW, bias instability) read from the Allan deviation of n zero-input samples of each gyro axis."""
    ch = ImuChannel(DT, arw, 1e-3, b_inst, t_corr, 0.0, 0.0, 0.0, 10.0, np.random.default_rng(seed))
    y = ch.run(np.zeros((n, 3)))
    taus = np.array([0.2, 0.5, 1.0, 2.0])
    floor_taus = t_corr * np.linspace(1.4, 2.6, 7)
    arw_est, b_est = [], []
    for axis in range(3):
        yy = y[:, axis] - y[:, axis].mean()
        n_est = np.mean(allan_deviation(yy, DT, taus) * np.sqrt(taus))  # sigma_A = N / sqrt(tau), white part
        fl = allan_deviation(yy, DT, floor_taus)
        k = np.argmax(fl)
        arw_est.append(n_est)
        b_est.append(np.sqrt(fl[k] ** 2 - n_est**2 / floor_taus[k]) / FLICKER_FLOOR)
    return np.mean(arw_est), np.mean(b_est)


def test_allan_variance_recovers_declared_arw_and_bias_instability():
    """The default scenario's gyro (ARW 0.15 deg/sqrt(h), 1 deg/h), correlation time shortened to 20 s so
    that 10 h of 10 Hz samples hold ~900 clusters per axis at the floor."""
    arw, b = allan_estimates(4.4e-5, 4.8e-6, 20.0, 360_000, 11)
    assert arw == pytest.approx(4.4e-5, rel=0.02)
    assert b == pytest.approx(4.8e-6, rel=0.08)


def test_allan_variance_recovers_bias_instability_over_a_long_run():
    arw, b = allan_estimates(1e-4, 2e-5, 50.0, 1_500_000, 12)
    assert arw == pytest.approx(1e-4, rel=0.01)
    assert b == pytest.approx(2e-5, rel=0.05)


def test_channel_errors_scale_misalignment_quantisation_saturation():
    rng = np.random.default_rng(2)
    ch = ImuChannel(DT, 0.0, 0.0, 0.0, 100.0, 0.01, 0.002, 1e-3, 0.05, rng)
    x = np.array([[0.01, -0.02, 0.03], [0.2, 0.0, -0.3]])
    y = ch.run(x)
    expect = np.clip(np.round((ch.M @ x.T).T / 1e-3) * 1e-3, -0.05, 0.05)
    np.testing.assert_allclose(y, expect, atol=1e-15)
    assert np.abs(y[1]).max() == 0.05  # saturated
    np.testing.assert_allclose(np.diag(ch.M) - 1, np.diag(ch.M) - 1)  # drawn, not identity
    assert not np.allclose(ch.M, np.eye(3))
    ch1 = ImuChannel(DT, 1e-3, 1e-3, 1e-5, 100.0, 0.01, 0.002, 1e-6, 1.0, np.random.default_rng(3))
    ch2 = ImuChannel(DT, 1e-3, 1e-3, 1e-5, 100.0, 0.01, 0.002, 1e-6, 1.0, np.random.default_rng(3))
    np.testing.assert_array_equal(np.array([ch1.sample(xx) for xx in x]), ch2.run(x))  # class = kernel


def test_star_tracker_errors_have_the_declared_statistics_and_availability():
    """Per-axis error of 6000 fixes: mean within 4 sigma / sqrt(n), variance within the chi-square
    99.99 % interval; availability within 4 binomial sigma."""
    rng = np.random.default_rng(8)
    sig = np.array([2.4e-5, 2.4e-5, 2.0e-4])
    st = StarTracker(10**8, sig[0], sig[2], 0.9, 0, 0, rng)
    truth = np.random.default_rng(9).normal(size=(6000, 4))
    truth /= np.linalg.norm(truth, axis=1)[:, None]
    errs = []
    for k, q in enumerate(truth):
        t = k * 10**8
        st.sample(t, q)
        for m in st.read(t):
            errs.append(rotation_error(m.q_BH, truth[m.t_ns // 10**8]))
    e = np.array(errs)
    n = len(e)
    assert abs(n / 6000 - 0.9) < 4 * np.sqrt(0.9 * 0.1 / 6000)
    assert np.all(np.abs(e.mean(0)) < 4 * sig / np.sqrt(n))
    lo, hi = chi2.ppf([5e-5, 1 - 5e-5], n - 1) / (n - 1)
    ratio = e.var(0, ddof=1) / sig**2
    assert np.all((lo < ratio) & (ratio < hi)), ratio
    assert quat_from_dcm(np.eye(3))[0] == 1.0


def test_star_tracker_latency_delivers_late_in_time_order():
    st = StarTracker(10**9, 1e-5, 1e-4, 1.0, 250_000_000, 0, np.random.default_rng(1))
    q = np.array([1.0, 0.0, 0.0, 0.0])
    got = []
    for k in range(5):
        t = k * 10**9
        st.sample(t, q)
        got += [(t, m.t_ns) for m in st.read(t)]
        got += [(t + 300_000_000, m.t_ns) for m in st.read(t + 300_000_000)]
    assert [g[1] for g in got] == [0, 10**9, 2 * 10**9, 3 * 10**9, 4 * 10**9]
    assert all(read_at - tag == 300_000_000 for read_at, tag in got)  # not at sampling, after the latency
