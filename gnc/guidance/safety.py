"""Passive safety on the HCW model: free-drift minimum range and the abort (escape) burn.

A state is passively safe over a horizon when, with all thrust stopped, the HCW free drift stays
outside the keep-out sphere (radius in m) for that horizon (ISS practice: 24 h). With an estimate's
covariance P the check is robust: at each checked instant the range must clear keep-out by k_sigma
standard deviations of the drifted position along the line of sight. Forces the HCW model leaves out
(differential drag, J2) are not in this margin; the abort re-checks the drift as it flies (modes.py).
"""

import numpy as np
from numba import njit

from gnc.models.hcw import hcw_stm

DRIFT_SAMPLE_S = 20.0  # s between checked points; at <= 1 m/s this misses < 10 m between samples


@njit(cache=True)
def drift_position_covs(n, P, horizon_s, sample_s):
    """Position covariance (m^2, H) of the free HCW drift from an estimate of covariance P (6x6, m and m/s,
    H) at each checked instant (every sample_s (s) over horizon_s (s), the start included): (K+1, 3, 3)."""
    Phi = hcw_stm(n, sample_s)
    steps = int(horizon_s / sample_s)
    out = np.empty((steps + 1, 3, 3))
    C = P.copy()
    out[0] = C[:3, :3]
    for k in range(steps):
        C = Phi @ C @ Phi.T
        out[k + 1] = C[:3, :3]
    return out


@njit(cache=True)
def drift_min_clearance(n, x0, steps, sample_s, pos_covs, k_sigma):
    """Minimum over the free HCW drift from x0 (m, m/s, H), checked every sample_s (s) for steps steps,
    of |r| - k_sigma * sigma_los (m): sigma_los from pos_covs (drift_position_covs; an empty array: 0)."""
    Phi = hcw_stm(n, sample_s)
    robust = pos_covs.shape[0] > 0
    x = x0.copy()
    y = np.empty(6)
    best = np.inf
    for k in range(steps + 1):
        if k > 0:
            for i in range(6):
                acc = 0.0
                for j in range(6):
                    acc += Phi[i, j] * x[j]
                y[i] = acc
            x, y = y, x
        r = np.sqrt(x[0] ** 2 + x[1] ** 2 + x[2] ** 2)
        c = r
        if robust:
            S = pos_covs[k]
            if r > 0:
                var = 0.0
                for i in range(3):
                    for j in range(3):
                        var += x[i] * S[i, j] * x[j]
                c -= k_sigma * np.sqrt(max(var, 0.0)) / r
            else:
                c -= k_sigma * np.sqrt(max(S[0, 0], S[1, 1], S[2, 2]))
        if c < best:
            best = c
    return best


@njit(cache=True)
def free_drift_min_range(n, x0, horizon_s, sample_s):
    """Minimum |r_CT_H| (m) over the free HCW drift from x0 for horizon_s (s), sampled every sample_s."""
    return drift_min_clearance(n, x0, int(horizon_s / sample_s), sample_s, np.zeros((0, 3, 3)), 0.0)


@njit(cache=True)
def _escape_rank(n, x, steps, covs, k_sigma, keep_out_m):
    """(tier, score) of a post-burn state: tier 2 clears keep_out_m robustly, 1 only with its mean drift
    (score: the robust clearance), 0 neither (score: the mean drift's minimum range)."""
    robust = drift_min_clearance(n, x, steps, DRIFT_SAMPLE_S, covs, k_sigma)
    if robust >= keep_out_m:
        return 2, robust
    plain = drift_min_clearance(n, x, steps, DRIFT_SAMPLE_S, covs[:0], 0.0)
    if plain >= keep_out_m:
        return 1, robust
    return 0, plain


@njit(cache=True)
def escape_burn(n, x0, P, k_sigma, keep_out_m, dv_max, horizon_s):
    """Smallest impulsive delta-v (m/s, H) from a fixed candidate set after which the free drift from the
    estimate x0 (covariance P) clears keep_out_m by k_sigma line-of-sight sigmas (drift_min_clearance).
    From inside that (a docking abort), the drift must never come closer than the clearance it starts with.

    Candidates: +-x, +-y, +-z and the outward line of sight, at 1/8, 1/4, 1/2 and 1 of dv_max.
    Returns (dv, clearance_m); when no candidate is robustly safe, the best of those whose mean drift is
    safe (by robust clearance), else the one whose mean drift comes least close (clearance: that range).
    """
    steps = int(horizon_s / DRIFT_SAMPLE_S)
    covs = drift_position_covs(n, P, horizon_s, DRIFT_SAMPLE_S)
    r = x0[0:3]
    rn = np.sqrt(r @ r)
    dirs = np.zeros((7, 3))
    for i in range(3):
        dirs[2 * i, i] = 1.0
        dirs[2 * i + 1, i] = -1.0
    dirs[6] = r / rn if rn > 0 else np.array([0.0, -1.0, 0.0])
    keep_out_m = min(keep_out_m, drift_min_clearance(n, x0, 0, DRIFT_SAMPLE_S, covs, k_sigma))
    best_dv = np.zeros(3)
    best_tier, best = _escape_rank(n, x0, steps, covs, k_sigma, keep_out_m)
    if best_tier == 2:
        return best_dv, best
    for frac in (0.125, 0.25, 0.5, 1.0):
        for k in range(7):
            dv = dirs[k] * dv_max * frac
            x = x0.copy()
            x[3:6] += dv
            tier, score = _escape_rank(n, x, steps, covs, k_sigma, keep_out_m)
            if tier > best_tier or (tier == best_tier and score > best):
                best_tier, best, best_dv = tier, score, dv
        if best_tier == 2:
            break
    return best_dv, best
