"""Nonlinear relative motion under point-mass + J2 gravity, in the Hill frame of the J2-perturbed target.

State x = [r_CT_H (m), v_CT_H (m/s)] (Hill frame of ``gnc.frames`` attached to the target's actual,
perturbed orbit; rotating-frame velocity, frame rate with the J2 out-of-plane term). The target is
propagated with its own J2 acceleration (its orbit plane precesses, its perigee and argument of
latitude drift), and the chaser's offset from it in the inertial frame N:
    d'' = g(r_T + d) - g(r_T) + C_NH u,   g(r) = -mu r / |r|^3 + a_J2(r),
    a_J2(r) = -(3/2) J2 mu R^2 / |r|^5 [(1 - 5 z^2 / |r|^2) r + 2 z k],  z = r . k,
k the Earth's spin axis (N's z). u (m/s^2) is held constant along the target's Hill axes of each
instant. No linearisation and no mean-element averaging: the only approximations are the
gravity model (no J3+, drag, third bodies) and classical RK4 with steps no longer than max_step.
The J2 field is symmetric about k, so the right ascension of the node does not matter: the
target's initial state is built in a node-aligned N (RAAN = 0) from its osculating elements.
Constants: WGS 84 GM and equatorial radius, J2 = -sqrt(5) C20bar of EGM96 (the values of sim.gravity).
"""

import numpy as np
from numba import njit

from gnc.frames import eci_to_hill, hill_dcm_and_rate, hill_to_eci

MU_EARTH = 3.986004418e14  # m^3/s^2
R_EARTH = 6378137.0  # m, J2 reference radius
J2_EARTH = 1.08262668e-3  # -


@njit(cache=True)
def gravity_j2(r, mu, j2, re):
    """Point-mass + J2 acceleration (m/s^2, N) at r (m, N; z along the Earth's spin axis)."""
    r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2]
    rn = np.sqrt(r2)
    k = 1.5 * j2 * mu * re * re / (r2 * r2 * rn)
    f = -mu / (r2 * rn) - k * (1.0 - 5.0 * r[2] * r[2] / r2)
    a = np.empty(3)
    a[0] = f * r[0]
    a[1] = f * r[1]
    a[2] = f * r[2] - 2.0 * k * r[2]
    return a


@njit(cache=True)
def _target_deriv(y, mu, j2, re):
    d = np.empty(6)
    d[:3] = y[3:]
    d[3:] = gravity_j2(y[:3], mu, j2, re)
    return d


@njit(cache=True)
def target_propagate(yT, mu, j2, re, dt, max_step):
    """Target state [r_TN_N m, v_TN_N m/s] after dt (s), RK4 with equal steps no longer than max_step (s)."""
    m = max(1, int(np.ceil(abs(dt) / max_step)))
    h = dt / m
    y = yT.copy()
    for _ in range(m):
        k1 = _target_deriv(y, mu, j2, re)
        k2 = _target_deriv(y + 0.5 * h * k1, mu, j2, re)
        k3 = _target_deriv(y + 0.5 * h * k2, mu, j2, re)
        k4 = _target_deriv(y + h * k3, mu, j2, re)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return y


@njit(cache=True)
def nerm_j2_propagate_points(X, u, mu, j2, re, yT0, dt, max_step):
    """Rows of X (k, 6) [r_CT_H, v_CT_H] propagated over dt (s) with u (m/s^2, H) held, the target
    starting at yT0 = [r_TN_N, v_TN_N]; returns (Y (k, 6), target state after dt).

    One RK4 of the coupled (target, offset) system per row; the target's stage states, gravity and
    Hill axes are computed once for all rows."""
    m = max(1, int(np.ceil(abs(dt) / max_step)))
    h = dt / m
    rs = np.empty((m, 4, 3))  # target position at each RK4 stage
    gs = np.empty((m, 4, 3))  # its gravity
    us = np.empty((m, 4, 3))  # u in N at each stage
    y = yT0.copy()
    for s in range(m):
        ks = np.empty((4, 6))
        for j in range(4):
            ys = y if j == 0 else y + (h if j == 3 else 0.5 * h) * ks[j - 1]
            g = gravity_j2(ys[:3], mu, j2, re)
            C, _ = hill_dcm_and_rate(ys[:3], ys[3:], g)
            rs[s, j], gs[s, j], us[s, j] = ys[:3], g, C.T @ u
            ks[j, :3], ks[j, 3:] = ys[3:], g
        y = y + h / 6.0 * (ks[0] + 2.0 * ks[1] + 2.0 * ks[2] + ks[3])
    a0 = gravity_j2(yT0[:3], mu, j2, re)
    a1 = gravity_j2(y[:3], mu, j2, re)
    Y = np.empty_like(X)
    d = np.empty(6)
    kd = np.empty((4, 6))
    for i in range(X.shape[0]):
        rC, vC = hill_to_eci(yT0[:3], yT0[3:], X[i, :3], X[i, 3:], a0)
        d[:3], d[3:] = rC - yT0[:3], vC - yT0[3:]
        for s in range(m):
            for j in range(4):
                ds = d if j == 0 else d + (h if j == 3 else 0.5 * h) * kd[j - 1]
                kd[j, :3] = ds[3:]
                kd[j, 3:] = gravity_j2(rs[s, j] + ds[:3], mu, j2, re) - gs[s, j] + us[s, j]
            d = d + h / 6.0 * (kd[0] + 2.0 * kd[1] + 2.0 * kd[2] + kd[3])
        r, v = eci_to_hill(y[:3], y[3:], y[:3] + d[:3], y[3:] + d[3:], a1)
        Y[i, :3], Y[i, 3:] = r, v
    return Y, y
