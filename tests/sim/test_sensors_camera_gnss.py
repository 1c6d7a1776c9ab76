"""sim.sensors.CameraSensor and RelGnssSensor: noise and bias statistics, field of view, range,
dropouts, latency with jitter (out-of-order delivery), determinism per seed."""

import numpy as np
import pytest
from scipy.stats import chi2

from gnc.models.rae import rae_from_rel, wrap_angle
from sim.sensors import CameraSensor, RelGnssSensor

P_NS = 100_000_000
R_CT = np.array([-50.0, -200.0, 30.0])


def camera(seed=0, **kw):
    cfg = dict(period_ns=P_NS, angle_noise_rad=2e-3, az_bias_rad=0.0, el_bias_rad=0.0,
               fov_half_angle_rad=np.radians(15.0), max_range_m=2000.0, dropout_prob=0.0, latency_ns=0,
               latency_jitter_ns=0, rng=np.random.default_rng(seed))
    cfg.update(kw)
    return CameraSensor(**cfg)


def gnss(seed=0, **kw):
    cfg = dict(period_ns=P_NS, pos_noise_m=0.3, bias_m=(0.0, 0.0, 0.0), max_range_m=10_000.0, dropout_prob=0.0,
               latency_ns=0, latency_jitter_ns=0, rng=np.random.default_rng(seed))
    cfg.update(kw)
    return RelGnssSensor(**cfg)


def _stats_ok(d, sigma, bias):
    n = d.shape[0]
    assert np.all(np.abs(d.mean(axis=0) - bias) < 5 * sigma / np.sqrt(n)), d.mean(axis=0)
    stat = (n - 1) * d.var(axis=0, ddof=1) / sigma**2
    assert np.all((chi2.ppf(1e-6, n - 1) < stat) & (stat < chi2.isf(1e-6, n - 1))), stat / (n - 1)
    c = np.corrcoef(d.T)[np.triu_indices(d.shape[1], 1)]
    assert np.all(np.abs(c) < 5 / np.sqrt(n))


@pytest.mark.parametrize("r_CT_H, bias", [(R_CT, (0.0, 0.0)), (R_CT, (3e-3, -1e-3)),
                                          (np.array([100.0, -0.05, 0.0]), (2e-3, 0.0))])  # az wraps at pi
def test_camera_noise_and_bias(r_CT_H, bias):
    n = 20_000
    s = camera(seed=4, az_bias_rad=bias[0], el_bias_rad=bias[1])
    point = -r_CT_H / np.linalg.norm(r_CT_H)
    for k in range(n):
        s.sample(k * P_NS, r_CT_H, point)
    z = np.array([m.as_array() for m in s.read(n * P_NS)])
    assert z.shape == (n, 2) and np.all((z[:, 0] >= -np.pi) & (z[:, 0] < np.pi))
    d = z - rae_from_rel(r_CT_H)[1:]
    d[:, 0] = wrap_angle(d[:, 0])
    _stats_ok(d, 2e-3, np.array(bias))


def test_gnss_noise_and_bias():
    n, bias = 20_000, np.array([0.5, -1.0, 0.2])
    s = gnss(seed=5, bias_m=bias)
    for k in range(n):
        s.sample(k * P_NS, R_CT)
    z = np.array([m.as_array() for m in s.read(n * P_NS)])
    _stats_ok(z - R_CT, 0.3, bias)


def test_camera_field_of_view_and_range():
    r = np.array([0.0, -300.0, 0.0])
    for point, rmax, seen in [((0, 1, 0), 2000.0, True), ((np.sin(0.25), np.cos(0.25), 0), 2000.0, True),
                              ((0, np.cos(0.27), np.sin(0.27)), 2000.0, False), ((0, -1, 0), 2000.0, False),
                              ((0, 1, 0), 299.0, False)]:
        s = camera(max_range_m=rmax)
        s.sample(0, r, np.array(point, float))
        assert (len(s.read(0)) == 1) == seen, (point, rmax)
    s = gnss(max_range_m=250.0)
    s.sample(0, r)
    assert s.read(0) == []


@pytest.mark.parametrize("make", [camera, gnss])
def test_dropout_rate(make):
    n, p = 20_000, 0.2
    s = make(seed=6, dropout_prob=p)
    for k in range(n):
        s.sample(k * P_NS, R_CT, -R_CT) if make is camera else s.sample(k * P_NS, R_CT)
    lost = 1 - len(s.read(n * P_NS)) / n
    assert abs(lost - p) < 5 * np.sqrt(p * (1 - p) / n), lost


def test_latency_and_out_of_order_delivery():
    lat, jit = 250_000_000, 300_000_000  # jitter > period: samples overtake each other
    s = gnss(seed=7, latency_ns=lat, latency_jitter_ns=jit)
    n = 2000
    got = []
    for k in range(n):
        t = k * P_NS
        s.sample(t, R_CT)
        for m in s.read(t):
            got.append((t, m.t_ns))
    delay = np.array([a - t for a, t in got])
    got += [(n * P_NS + lat + jit, m.t_ns) for m in s.read(n * P_NS + lat + jit)]
    assert sorted(t for _, t in got) == [k * P_NS for k in range(n)]  # every sample delivered once
    assert np.all(delay >= lat) and np.all(delay <= lat + jit + P_NS)  # read only at grid times
    tags = np.array([t for _, t in got])
    assert np.any(np.diff(tags) < 0), "no out-of-order delivery"
    # no latency: delivered at its own time
    s = camera()
    s.sample(5 * P_NS, R_CT, -R_CT)
    assert [m.t_ns for m in s.read(5 * P_NS)] == [5 * P_NS]


def test_deterministic_per_seed():
    def run(seed):
        s = camera(seed=seed, dropout_prob=0.1, latency_ns=10, latency_jitter_ns=P_NS)
        for k in range(300):
            s.sample(k * P_NS, R_CT, -R_CT)
        return s.read(10**12)
    assert run(1) == run(1) and run(1) != run(2)


def test_validation():
    with pytest.raises(ValueError):
        camera(period_ns=0)
    with pytest.raises(ValueError):
        gnss(latency_ns=-1)
    with pytest.raises(ValueError):
        gnss(bias_m=(0.0, 0.0))
    with pytest.raises(TypeError):
        camera(rng=3)
