"""`gnc bench nav`: one navigation step as the executive runs it, against filterpy on the same data.

Data: a seeded linear HCW truth (1 Hz, process noise, an approach with thrust arcs) and noisy
range/azimuth/elevation samples. One step = ``RelNavFilter.update_predict(meas, t, accel)`` (predict to
the measurement, gated Joseph-form update of the 3-component measurement, then hold accel and predict to
t: one kernel call), exactly the executive's nav stage for its last sample; nav_two_calls_us_p50 times
the same step as ``update(meas)`` + ``predict_to(t, accel)`` (same results). Baseline, same run, same data: filterpy's ExtendedKalmanFilter
``predict(u)`` + ``update(z, HJacobian, Hx, residual)`` with the same model matrices and the same
(numba) measurement functions. They run the sequence in alternating blocks of BLOCK steps, each filter
(and the two-call form) a whole block in its own loop (warm caches for each; a change of machine load hits
all).
Figures: nav_step_us_p50, filterpy_step_us_p50, speedup_vs_filterpy,
max_abs_diff_vs_filterpy (largest |x - x_fp| and |P - P_fp| over the run, SI units), steps;
nav_step_us_p50_interleaved, speedup_vs_filterpy_interleaved: both again from the start, step by step, each of
our steps right after one of filterpy's (the caches and branch predictors as filterpy left them, closer to
a flight cycle's nav stage between other work than a loop of nav steps).
"""

import time

import numpy as np
from filterpy.kalman import ExtendedKalmanFilter

from gnc.models.rae import rae_from_rel, rae_jacobian, wrap_angle
from gnc.nav.ekf_kernels import hcw_predict_matrices
from gnc.nav.relnav import RelNavFilter
from gnc.ports import RaeMeasurement

NS = 1_000_000_000
N_MEAN = 2 * np.pi / 5554.0  # rad/s, 500 km circular orbit
Q_PSD = 1e-9
R_DIAG = np.array([0.1**2, 1e-3**2, 1e-3**2])
BLOCK = 250  # steps a block (see run)


def _data(n_steps, seed=42):
    Phi, Gam, Q = hcw_predict_matrices(N_MEAN, 1.0, Q_PSD)
    LQ = np.linalg.cholesky(Q)
    rng = np.random.default_rng(seed)
    x = np.array([-100.0, -1000.0, 30.0, 0.0, 2 * N_MEAN * 100.0, 0.0])
    us, zs = np.zeros((n_steps, 3)), np.empty((n_steps, 3))
    for k in range(n_steps):
        if (k // 100) % 3 == 1:
            us[k] = (2e-4, 5e-4, -1e-4)
        x = Phi @ x + Gam @ us[k] + LQ @ rng.standard_normal(6)
        zs[k] = rae_from_rel(x[:3]) + np.sqrt(R_DIAG) * rng.standard_normal(3)
        zs[k, 1] = wrap_angle(zs[k, 1])
    x0 = np.array([-95.0, -1010.0, 28.0, 0.001, 2 * N_MEAN * 100.0, 0.0])
    return x0, np.diag([10.0**2] * 3 + [0.01**2] * 3), us, zs, (Phi, Gam, Q)


def _residual(a, b):
    y = a - b
    y[1] = wrap_angle(y[1, 0])
    return y


def _hx(x):
    return rae_from_rel(x.ravel()[:3]).reshape(3, 1)


def _hjac(x):
    return rae_jacobian(x.ravel())


def run(quick: bool = False) -> dict:
    n_steps = 500 if quick else 5000
    x0, P0, us, zs, (Phi, Gam, Q) = _data(n_steps)
    meas = [RaeMeasurement((k + 1) * NS, *map(float, zs[k])) for k in range(n_steps)]  # floats, as the sensors give

    # warm-up (compilation or cache load) on a throwaway filter
    w = RelNavFilter(N_MEAN, Q_PSD, R_DIAG, np.inf, x0, P0, 0)
    w.update(meas[0])
    w.predict_to(meas[0].t_ns, us[0])

    f, f2 = (RelNavFilter(N_MEAN, Q_PSD, R_DIAG, np.inf, x0, P0, 0) for _ in range(2))
    fp = ExtendedKalmanFilter(dim_x=6, dim_z=3, dim_u=3)
    fp.x, fp.P = x0.reshape(6, 1).copy(), P0.copy()
    fp.F, fp.B, fp.Q, fp.R = Phi, Gam, Q, np.diag(R_DIAG)
    nav_ns, two_ns, fp_ns = np.empty(n_steps), np.empty(n_steps), np.empty(n_steps)
    xs, Ps = np.empty((n_steps, 6)), np.empty((n_steps, 6, 6))
    xs_fp, Ps_fp = np.empty_like(xs), np.empty_like(Ps)
    clock = time.perf_counter_ns
    for b0 in range(0, n_steps, BLOCK):  # blocks of steps, ours then filterpy's: both see the same machine load
        for k in range(b0, min(b0 + BLOCK, n_steps)):
            m, u = meas[k], us[k]
            f.predict_to(f.t_ns, u)  # the command held over (t_k, t_k+1], as the executive's control stage sets it
            t0 = clock()
            f.update_predict(m, m.t_ns, u)
            nav_ns[k] = clock() - t0
            xs[k], Ps[k] = f.x, f.P
        for k in range(b0, min(b0 + BLOCK, n_steps)):
            m, u = meas[k], us[k]
            f2.predict_to(f2.t_ns, u)
            t0 = clock()
            f2.update(m)
            f2.predict_to(m.t_ns, u)
            two_ns[k] = clock() - t0
        for k in range(b0, min(b0 + BLOCK, n_steps)):
            u, z = us[k].reshape(3, 1), zs[k].reshape(3, 1)
            t0 = clock()
            fp.predict(u=u)
            fp.update(z, HJacobian=_hjac, Hx=_hx, residual=_residual)
            fp_ns[k] = clock() - t0
            xs_fp[k], Ps_fp[k] = fp.x.ravel(), fp.P
    if not (np.array_equal(f.x, f2.x) and np.array_equal(f.P, f2.P)):
        raise AssertionError("update_predict and update + predict_to disagree")
    # the two again from the start, step by step side by side: each step of ours right after one of filterpy's
    f3 = RelNavFilter(N_MEAN, Q_PSD, R_DIAG, np.inf, x0, P0, 0)
    fp3 = ExtendedKalmanFilter(dim_x=6, dim_z=3, dim_u=3)
    fp3.x, fp3.P = x0.reshape(6, 1).copy(), P0.copy()
    fp3.F, fp3.B, fp3.Q, fp3.R = Phi, Gam, Q, np.diag(R_DIAG)
    inter_ns, inter_fp_ns = np.empty(n_steps), np.empty(n_steps)
    for k in range(n_steps):
        m, u = meas[k], us[k]
        f3.predict_to(f3.t_ns, u)
        t0 = clock()
        fp3.predict(u=u.reshape(3, 1))
        fp3.update(zs[k].reshape(3, 1), HJacobian=_hjac, Hx=_hx, residual=_residual)
        t1 = clock()
        f3.update_predict(m, m.t_ns, u)
        inter_fp_ns[k], inter_ns[k] = t1 - t0, clock() - t1
    # np.max propagates NaN: a diverged filter cannot pass as a match
    max_diff = max(float(np.max(np.abs(xs - xs_fp))), float(np.max(np.abs(Ps - Ps_fp))))
    nav_us, fp_us = float(np.median(nav_ns)) / 1e3, float(np.median(fp_ns)) / 1e3
    return {"nav_step_us_p50": nav_us, "nav_step_us_p99": float(np.percentile(nav_ns, 99)) / 1e3,
            "nav_two_calls_us_p50": float(np.median(two_ns)) / 1e3, "filterpy_step_us_p50": fp_us, "speedup_vs_filterpy": fp_us / nav_us,
            "max_abs_diff_vs_filterpy": max_diff, "steps": n_steps,
            "nav_step_us_p50_interleaved": float(np.median(inter_ns)) / 1e3,
            "speedup_vs_filterpy_interleaved": float(np.median(inter_fp_ns) / np.median(inter_ns))}
