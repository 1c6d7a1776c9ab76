"""The executive hands late (out-of-order) lidar samples to the filter's history ([nav].history_s): the estimate is
the one of on-time delivery; without a history, or older than it, a late sample is skipped and not counted as a
rejection by the sensor health."""

import dataclasses
import math
from pathlib import Path

import numpy as np

from gnc.executive import Executive
from gnc.ports import RaeMeasurement
from sim.scenario import load_scenario

SCN = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "inspection.toml")
NS = 1_000_000_000
LATENCY_NS = 100_000_000  # time of validity 0.1 s before the cycle that reads the sample (the lidar's)


class DelayedIO:
    """Lidar samples of a chaser 5 km behind on V-bar (seeded noise), valid 0.1 s before each cycle; the samples
    valid at the cycles in `held` are delivered at cycle `release` instead, newest first (out of order)."""

    def __init__(self, held=(), release=None):
        self.t_ns, self.held, self.release, self.pending = 0, set(held), release, []

    def now_ns(self):
        return self.t_ns

    def wait_until(self, t_ns):
        self.t_ns = t_ns

    def _sample(self, k):
        rng = np.random.default_rng(k)
        z = np.array([5000.0, math.pi / 2, 0.0]) + np.array([0.5, 5e-4, 5e-4]) * rng.standard_normal(3)
        return RaeMeasurement(k * NS - LATENCY_NS, *z)

    def read_sensors(self):
        k = self.t_ns // NS
        if k == 0:
            return []
        m = self._sample(k)
        if k in self.held:
            self.pending.insert(0, m)
            return []
        out = self.pending + [m] if k == self.release else [m]
        if k == self.release:
            self.pending = []
        return out

    def write_actuators(self, cmd):
        pass


def _exe(io, history_s):
    f = SCN.flight()
    f = dataclasses.replace(f, nav=dataclasses.replace(f.nav, history_s=history_s))
    x0 = np.array([0.0, -5000.0, 0.0, 0.0, 0.0, 0.0])
    return Executive(f, io, x0, np.diag([100.0] * 3 + [0.0025] * 3), lambda: 0)


def _fly(io, history_s, cycles):
    exe, states = _exe(io, history_s), []
    for _ in range(cycles):
        io.wait_until(exe.t_ns)
        states.append(exe.step().x_hat)
        exe.t_ns += exe.tick_ns
    return exe, np.array(states)


def test_late_samples_give_the_on_time_estimate():
    # samples valid at 2.9 s and 3.9 s arrive at the 6 s cycle, after the 5.9 s one was processed, newest first;
    # the control stage runs at 0 s and 10 s: the estimates agree again before 10 s, so do the commands
    on_time, a = _fly(DelayedIO(), 5.0, 30)
    late, b = _fly(DelayedIO(held=(3, 4), release=6), 5.0, 30)
    assert late.nav.n_late == 0 and late.nav.n_rejected == on_time.nav.n_rejected == 0
    assert late.nav.n_updates == on_time.nav.n_updates == 29
    assert np.max(np.abs(b[3:6] - a[3:6])) > 1e-3  # while held, the estimate differs
    np.testing.assert_allclose(b[6:], a[6:], rtol=0.0, atol=1e-8)
    np.testing.assert_allclose(late.nav.P, on_time.nav.P, rtol=1e-9, atol=0.0)


def test_without_history_or_older_than_it_a_late_sample_is_skipped_not_rejected():
    for history_s, offered in ((0.0, 27), (0.5, 29)):  # 0.5 s: the 2.9 s and 3.9 s samples are too old at 6 s
        exe, x = _fly(DelayedIO(held=(3, 4), release=6), history_s, 30)
        assert exe.nav.n_updates == offered and exe.nav.n_rejected == 0
        assert exe.nav.n_late == (offered - 27)
        assert not exe.sensor_health.isolated and np.all(np.isfinite(x))
