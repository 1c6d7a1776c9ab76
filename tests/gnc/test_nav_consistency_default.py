"""Navigation consistency on the default scenario's sensor set (``benchmarks.navmc``: 50 seeded closed-loop runs
of scenarios/inspection.toml from the 250 m hold through the inspection-ellipse entry, 6-DOF chaser, every
dispersion but injected faults). Slow (~12 min on two loaded cores): its figures are `gnc bench navmc`'s."""

import numpy as np
import pytest

from benchmarks import navmc
from gnc.nav.ekf_kernels import hcw_predict_matrices


def test_short_scenario_keeps_the_default_sensor_set_and_the_ellipse_entry():
    d = navmc.short_scenario_dict(navmc.SCENARIO.read_text())
    assert [p["kind"] for p in d["mission"]["phases"]] == ["hold", "inspect"]
    assert d["run"]["max_duration_s"] > d["mission"]["phases"][0]["duration_s"] + d["mission"]["phases"][1]["entry_s"]
    for table in ("sensor", "nav", "thrusters", "attitude", "imu", "star_tracker", "truth"):
        assert table in d
    assert "faults" not in d["dispersions"] and d["dispersions"]["vehicle"]["thrust_scale_sigma"] > 0


def test_unmodelled_psd_recovers_white_noise_and_removes_the_thrust_scale():
    """HCW truth with a 4 % thrust-scale error and white acceleration noise of PSD q (exact discrete
    samples, hcw_process_noise): the window-q is q at every window; a constant 5e-6 m/s^2 bias is not noise
    and makes the long-window q grow (to ~ q + b^2 T = 19 q at 300 s)."""
    n, dt, q, k = 2 * np.pi / 5677.0, 1.0, 4e-10, 3000
    Phi, Gam, Q = hcw_predict_matrices(n, dt, q)
    L = np.linalg.cholesky(Q)
    rng = np.random.default_rng(7)
    u = 2e-4 * rng.standard_normal((k, 3))
    runs, biased = [], []
    for b in (0.0, 5e-6):
        x = np.zeros((k, 6))
        x[0] = [0.0, -250.0, 0.0, 0.0, 0.0, 0.0]
        for i in range(k - 1):
            x[i + 1] = Phi @ x[i] + Gam @ (1.04 * u[i] + b) + L @ rng.standard_normal(6)
        (biased if b else runs).append((x, u))
    for w in (1, 10, 100):
        assert navmc.unmodelled_psd(runs, n, dt, w) == pytest.approx(q, rel=0.25 if w < 100 else 0.5)
    assert navmc.unmodelled_psd(biased, n, dt, 1) == pytest.approx(q, rel=0.25)
    assert navmc.unmodelled_psd(biased, n, dt, 300) > 8 * q


@pytest.mark.slow
def test_nees_and_nis_inside_their_95_percent_bounds_over_50_runs():
    f = navmc.run(runs=50)
    assert f["divergences"] == 0
    for key in ("nees", "nees_pos", "nis"):
        lo, hi = f[f"{key}_bounds"]
        assert lo <= f[f"{key}_mean"] <= hi, key
