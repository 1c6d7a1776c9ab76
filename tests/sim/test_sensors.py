"""sim.sensors.RaeSensor: noise statistics, bias, visibility limits, dropout, schedule, determinism."""

import numpy as np
import pytest
from scipy.stats import chi2

from gnc.models.rae import rae_from_rel, wrap_angle
from sim.sensors import RaeSensor, rae_in_view

PERIOD_NS = 100_000_000


def sensor(seed=0, **kw):
    cfg = dict(period_ns=PERIOD_NS, range_noise_m=0.5, angle_noise_rad=1e-3, range_bias_m=0.0, angle_bias_rad=0.0,
               fov_half_angle_rad=np.radians(10.0), max_range_m=5000.0, min_range_m=1.0, dropout_prob=0.0,
               rng=np.random.default_rng(seed))
    cfg.update(kw)
    return RaeSensor(**cfg)


def boresight(r_CT_H):
    return -np.asarray(r_CT_H) / np.linalg.norm(r_CT_H)


def residuals(s, r_CT_H, n):
    truth = rae_from_rel(np.asarray(r_CT_H, float))
    z = np.array([s.sample(k * PERIOD_NS, r_CT_H, boresight(r_CT_H)).as_array() for k in range(n)])
    d = z - truth
    d[:, 1] = wrap_angle(d[:, 1])
    return z, d


@pytest.mark.parametrize("r_CT_H, range_bias, angle_bias", [
    ([-50.0, -200.0, 30.0], 0.0, 0.0),
    ([-50.0, -200.0, 30.0], 2.0, 5e-3),
    ([100.0, -0.1, 0.0], -1.0, 0.01),  # azimuth ~ pi - 1e-3: the biased value wraps through +-pi
])
def test_noise_and_bias_statistics(r_CT_H, range_bias, angle_bias):
    n = 20_000
    s = sensor(seed=7, range_bias_m=range_bias, angle_bias_rad=angle_bias)
    z, d = residuals(s, r_CT_H, n)
    sigma = np.array([0.5, 1e-3, 1e-3])
    bias = np.array([range_bias, angle_bias, angle_bias])
    # mean: 5-sigma of the sample mean; variance: (n-1) s^2 / sigma^2 ~ chi2(n-1), two-sided 1e-6 quantiles
    assert np.all(np.abs(d.mean(axis=0) - bias) < 5 * sigma / np.sqrt(n)), d.mean(axis=0)
    stat = (n - 1) * d.var(axis=0, ddof=1) / sigma**2
    assert np.all((chi2.ppf(1e-6, n - 1) < stat) & (stat < chi2.isf(1e-6, n - 1))), stat / (n - 1)
    assert np.all((z[:, 1] >= -np.pi) & (z[:, 1] < np.pi))
    # the three channels are independent
    assert np.all(np.abs(np.corrcoef(d.T)[np.triu_indices(3, 1)]) < 5 / np.sqrt(n))


def test_in_view_kernel_matches_angle_definition():
    rng = np.random.default_rng(5)
    fov = np.radians(20.0)
    for _ in range(2000):
        r, p = rng.normal(size=3) * 100, rng.normal(size=3)
        off = np.arccos(-(r @ p) / (np.linalg.norm(r) * np.linalg.norm(p)))
        if abs(off - fov) > 1e-9:
            assert rae_in_view(r, p, fov, 1.0, 1e4) == (off <= fov)


def test_field_of_view():
    r = np.array([0.0, -300.0, 0.0])  # target along +y from the chaser
    s = sensor()
    assert s.sample(0, r, [0.0, 1.0, 0.0]) is not None
    tilt = np.radians(9.0)
    assert s.sample(0, r, [np.sin(tilt), np.cos(tilt), 0.0]) is not None
    tilt = np.radians(11.0)
    assert s.sample(0, r, [0.0, np.cos(tilt), np.sin(tilt)]) is None
    assert s.sample(0, r, [0.0, -1.0, 0.0]) is None  # looking away
    assert s.sample(0, r, [0.0, 7.0, 0.0]) is not None  # boresight length does not matter


def test_range_limits():
    s = sensor(max_range_m=1000.0, min_range_m=5.0)
    for rng_m, visible in [(999.0, True), (1001.0, False), (6.0, True), (4.0, False), (0.0, False)]:
        r = np.array([0.0, -rng_m, 0.0])
        assert (s.sample(0, r, [0.0, 1.0, 0.0]) is not None) == visible, rng_m


def test_dropout_rate():
    n, p = 20_000, 0.3
    s = sensor(seed=3, dropout_prob=p)
    r = np.array([0.0, -300.0, 0.0])
    lost = sum(s.sample(k * PERIOD_NS, r, [0.0, 1.0, 0.0]) is None for k in range(n))
    assert abs(lost / n - p) < 5 * np.sqrt(p * (1 - p) / n), lost / n
    s = sensor(dropout_prob=1.0)
    assert all(s.sample(k * PERIOD_NS, r, [0.0, 1.0, 0.0]) is None for k in range(100))


def test_deterministic_per_seed_and_geometry_independent_stream():
    r = np.array([-50.0, -200.0, 30.0])
    run = lambda s, pts: [s.sample(k * PERIOD_NS, r, pts[k]) for k in range(200)]
    on, off = boresight(r), -boresight(r)
    pts_all = [on] * 200
    pts_mixed = [on if k % 3 else off for k in range(200)]
    a, b, c = run(sensor(seed=11), pts_all), run(sensor(seed=11), pts_all), run(sensor(seed=12), pts_all)
    assert a == b
    assert a != c
    # a sample lost to geometry still consumes its draws: the visible ones are unchanged
    mixed = run(sensor(seed=11), pts_mixed)
    assert all(m is None if k % 3 == 0 else m == a[k] for k, m in enumerate(mixed))


def test_schedule_on_integer_ns_grid():
    s = sensor()
    r, p = np.array([0.0, -300.0, 0.0]), [0.0, 1.0, 0.0]
    assert s.due(0)
    m = s.sample(0, r, p)
    assert m.t_ns == 0 and s.next_t_ns == PERIOD_NS
    assert not s.due(PERIOD_NS - 1) and s.due(PERIOD_NS)
    s.sample(PERIOD_NS * 5 // 2, r, p)  # a late sample does not shift the grid
    assert s.next_t_ns == 3 * PERIOD_NS
    for k in range(100_000, 1_000_001, 100_000):  # no drift: t_ns stays an exact multiple far out
        s.sample(k * PERIOD_NS, r, p)
        assert s.next_t_ns == (k + 1) * PERIOD_NS


@pytest.mark.parametrize("bad", [
    dict(period_ns=0), dict(period_ns=1e8), dict(range_noise_m=-1.0), dict(fov_half_angle_rad=0.0),
    dict(min_range_m=0.0), dict(min_range_m=6000.0), dict(dropout_prob=1.5),
])
def test_rejects_bad_configuration(bad):
    with pytest.raises(ValueError):
        sensor(**bad)
