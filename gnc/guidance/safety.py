"""Passive safety on the HCW model: free-drift minimum range and the abort (escape) burn.

A state is passively safe over a horizon when, with all thrust stopped, the HCW free drift stays
outside the keep-out sphere (radius in m) for that horizon (ISS practice: 24 h).
"""

import numpy as np
from numba import njit

from gnc.models.hcw import hcw_stm

DRIFT_SAMPLE_S = 20.0  # s between checked points; at <= 1 m/s this misses < 10 m between samples


@njit(cache=True)
def free_drift_min_range(n, x0, horizon_s, sample_s):
    """Minimum |r_CT_H| (m) over the free HCW drift from x0 for horizon_s (s), sampled every sample_s."""
    Phi = hcw_stm(n, sample_s)
    x = x0.copy()
    best = np.sqrt(x[0] ** 2 + x[1] ** 2 + x[2] ** 2)
    for _ in range(int(horizon_s / sample_s)):
        x = Phi @ x
        r = np.sqrt(x[0] ** 2 + x[1] ** 2 + x[2] ** 2)
        if r < best:
            best = r
    return best


@njit(cache=True)
def escape_burn(n, x0, keep_out_m, dv_max, horizon_s):
    """Smallest impulsive delta-v (m/s, H) from a fixed candidate set that makes x0 passively safe.

    Candidates: +-x, +-y, +-z and the outward line of sight, at 1/8, 1/4, 1/2 and 1 of dv_max.
    Returns (dv, min_range_m); when no candidate is safe, the one with the largest minimum range.
    """
    r = x0[0:3]
    rn = np.sqrt(r @ r)
    dirs = np.zeros((7, 3))
    for i in range(3):
        dirs[2 * i, i] = 1.0
        dirs[2 * i + 1, i] = -1.0
    dirs[6] = r / rn if rn > 0 else np.array([0.0, -1.0, 0.0])
    best_dv = np.zeros(3)
    best_min = free_drift_min_range(n, x0, horizon_s, DRIFT_SAMPLE_S)
    if best_min >= keep_out_m:
        return best_dv, best_min
    for frac in (0.125, 0.25, 0.5, 1.0):
        found = False
        for k in range(7):
            dv = dirs[k] * dv_max * frac
            x = x0.copy()
            x[3:6] += dv
            m = free_drift_min_range(n, x, horizon_s, DRIFT_SAMPLE_S)
            if m > best_min:
                best_min, best_dv = m, dv
                if m >= keep_out_m:
                    found = True
        if found:
            break
    return best_dv, best_min
